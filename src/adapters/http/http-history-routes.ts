/**
 * Our extensions GET /digitaltwins/{id}/series (what has history: each series with its latest value)
 * and GET /digitaltwins/{id}/history: raw points (paged by cursor) or fixed-interval
 * aggregates of one series of a twin, from the HistoryStore. Times are ISO 8601 or epoch ms;
 * every bad parameter is reported at once as InvalidHistoryQuery (400) with the parameter named.
 */
import type { FastifyInstance } from 'fastify';
import { errors, type Problem } from '../../core/errors/errors.js';
import type { AggregateFn } from '../../core/ports/storage-ports.js';
import type { HttpServerOptions, HttpWorkspace } from './http-context.js';
import { nextLink } from './http-adt-common.js';

const FNS: readonly AggregateFn[] = ['avg', 'min', 'max', 'sum', 'count', 'first', 'last'];
const DAY = 86_400_000;
export const MAX_HISTORY_LIMIT = 10_000;
export const MAX_HISTORY_BUCKETS = 100_000;

/** ISO 8601 or epoch ms → ms; undefined when absent. */
export function parseTime(raw: string | undefined, name: string, problems: Problem[]): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const ms = /^-?\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (!Number.isSafeInteger(ms)) {
    problems.push({
      code: 'history.time',
      message: `'${name}' must be an ISO 8601 date-time or epoch milliseconds, not '${raw}'.`,
      pointer: `/${name}`,
      source: 'query string',
    });
    return undefined;
  }
  return ms;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: DAY };

/** "500ms", "15s", "5m", "1h", "1d", an ISO 8601 duration (PT5M) or plain milliseconds. */
export function parseInterval(raw: string, problems: Problem[]): number | undefined {
  let ms: number | undefined;
  const simple = /^(\d+)(ms|s|m|h|d)?$/.exec(raw);
  if (simple) ms = Number(simple[1]) * UNIT_MS[simple[2] ?? 'ms']!;
  const iso = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(raw);
  if (!simple && iso && raw !== 'P' && raw !== 'PT') {
    ms =
      Number(iso[1] ?? 0) * DAY +
      Number(iso[2] ?? 0) * 3_600_000 +
      Number(iso[3] ?? 0) * 60_000 +
      Math.round(Number(iso[4] ?? 0) * 1000);
  }
  if (ms === undefined || !Number.isSafeInteger(ms) || ms <= 0) {
    problems.push({
      code: 'history.interval',
      message: `'interval' must be a positive duration such as 500ms, 15s, 5m, 1h, 1d or PT5M, not '${raw}'.`,
      pointer: '/interval',
      source: 'query string',
    });
    return undefined;
  }
  return ms;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export function registerHistoryRoutes(
  app: FastifyInstance,
  ws: HttpWorkspace,
  history: HttpServerOptions['history'],
): void {
  app.get(
    '/digitaltwins/:id/history',
    {
      schema: {
        tags: ['History (Twinloop)'],
        summary: 'Raw points or aggregates of one property/telemetry series of a twin.',
        params: { type: 'object', properties: { id: { type: 'string' } } },
        querystring: {
          type: 'object',
          properties: {
            path: { type: 'string', description: '"temperature" or "component/temperature"' },
            from: { type: 'string', description: 'ISO 8601 or epoch ms (default: to - 24 h)' },
            to: { type: 'string', description: 'ISO 8601 or epoch ms, exclusive (default: now)' },
            interval: { type: 'string', description: 'bucket width: 500ms, 15s, 5m, 1h, 1d, PT5M' },
            fn: {
              type: 'string',
              description: 'comma list of avg,min,max,sum,count,first,last (default avg)',
            },
            limit: { type: 'string' },
            cursor: { type: 'string' },
            order: { type: 'string', enum: ['asc', 'desc'] },
          },
        },
      },
    },
    async (req) => {
      const twinId = (req.params as { id: string }).id;
      const q = req.query as Record<string, string | undefined>;
      const problems: Problem[] = [];
      const path = q.path;
      if (!path)
        problems.push({
          code: 'history.path',
          message: "'path' is required (a property or telemetry name, 'component/name' inside a component).",
          pointer: '/path',
          source: 'query string',
        });
      const to = parseTime(q.to, 'to', problems) ?? Date.now();
      const from = parseTime(q.from, 'from', problems) ?? to - DAY;
      if (from >= to)
        problems.push({
          code: 'history.range',
          message: `'from' (${iso(from)}) must be before 'to' (${iso(to)}).`,
          pointer: '/from',
          source: 'query string',
        });
      const interval = q.interval !== undefined ? parseInterval(q.interval, problems) : undefined;
      let fns: AggregateFn[] = [];
      if (q.fn !== undefined) {
        if (q.interval === undefined)
          problems.push({
            code: 'history.fn',
            message: "'fn' needs an 'interval' (the bucket width).",
            pointer: '/fn',
            source: 'query string',
          });
        fns = q.fn.split(',').map((s) => s.trim()) as AggregateFn[];
        for (const f of fns)
          if (!FNS.includes(f))
            problems.push({
              code: 'history.fn',
              message: `Unknown aggregate '${f}'; use ${FNS.join(', ')}.`,
              pointer: '/fn',
              source: 'query string',
            });
      }
      const limit = q.limit === undefined ? 1000 : Number(q.limit);
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT) {
        problems.push({
          code: 'history.limit',
          message: `'limit' must be a whole number from 1 to ${MAX_HISTORY_LIMIT}.`,
          pointer: '/limit',
          source: 'query string',
        });
      }
      if (interval !== undefined && from < to && (to - from) / interval > MAX_HISTORY_BUCKETS) {
        problems.push({
          code: 'history.buckets',
          message: `That is ${Math.ceil((to - from) / interval)} buckets; at most ${MAX_HISTORY_BUCKETS} are allowed (widen the interval or shorten the range).`,
          pointer: '/interval',
          source: 'query string',
        });
      }
      if (problems.length)
        throw errors.validation('InvalidHistoryQuery', 'The history query is not valid.', problems);
      if (!ws.graph.getTwin(twinId) && (await history.listSeries(ws.name, twinId)).length === 0)
        throw errors.twinNotFound(twinId);

      if (interval !== undefined) {
        const buckets = await history.queryAggregate({
          workspace: ws.name,
          twinId,
          path: path!,
          from,
          to,
          interval,
          fns: fns.length ? fns : ['avg'],
        });
        return {
          twinId,
          path,
          from: iso(from),
          to: iso(to),
          interval,
          value: buckets.map((b) => ({ time: iso(b.start), ...b })),
        };
      }
      const page = await history.queryRaw({
        workspace: ws.name,
        twinId,
        path: path!,
        from,
        to,
        limit,
        ...(q.cursor ? { cursor: q.cursor } : {}),
        ...(q.order === 'desc' ? { order: 'desc' as const } : {}),
      });
      const out: Record<string, unknown> = {
        twinId,
        path,
        from: iso(from),
        to: iso(to),
        value: page.points.map((p) => ({ time: iso(p.ts), ts: p.ts, value: p.value })),
      };
      if (page.cursor) {
        out.cursor = page.cursor;
        out.nextLink = nextLink(req, { cursor: page.cursor, from: String(from), to: String(to) });
      }
      return out;
    },
  );

  app.get(
    '/digitaltwins/:id/series',
    {
      schema: {
        tags: ['History (Twinloop)'],
        summary:
          "The twin's series that have history (telemetry and properties), with the latest value and its time.",
        params: { type: 'object', properties: { id: { type: 'string' } } },
      },
    },
    async (req) => {
      const twinId = (req.params as { id: string }).id;
      const series = await history.listSeries(ws.name, twinId);
      if (!ws.graph.getTwin(twinId) && series.length === 0) throw errors.twinNotFound(twinId);
      return {
        twinId,
        value: series
          .filter((s) => s.twinId === twinId)
          .sort((a, b) =>
            a.kind === b.kind ? a.path.localeCompare(b.path) : a.kind === 'telemetry' ? -1 : 1,
          )
          .map((s) => ({ path: s.path, kind: s.kind, lastTime: iso(s.lastTs), lastValue: s.lastValue })),
      };
    },
  );
}
