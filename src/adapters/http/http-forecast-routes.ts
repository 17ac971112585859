/**
 * Our extension GET /digitaltwins/{id}/forecast: an ETS forecast (src/analytics/forecast) of one
 * numeric series of a twin, from fixed-interval averages read from the HistoryStore, with 80 % and
 * 95 % prediction intervals. Bounded: at most MAX_FORECAST_BUCKETS buckets of history and
 * MAX_HORIZON steps ahead; the fit runs in slices (one model per slice, yielding to the event
 * loop between them). Every bad parameter is reported at once as BadRequest (400) with its pointer.
 */
import type { FastifyInstance } from 'fastify';
import { errors, quote, type Problem } from '../../core/errors/errors.js';
import { forecastSteps, MAX_HORIZON, type ForecastResult } from '../../analytics/forecast/index.js';
import type { HttpServerOptions, HttpWorkspace } from './http-context.js';
import { parseInterval, parseTime } from './http-history-routes.js';

const DAY = 86_400_000;
/** History buckets read for one forecast. */
export const MAX_FORECAST_BUCKETS = 5_000;
/** Default history: 50 horizons, at least 1 day, at most 30 days. */
const DEFAULT_HISTORY = { factor: 50, min: DAY, max: 30 * DAY };
/** Default step: the first of these (ms) that keeps the history within TARGET_BUCKETS buckets. */
const STEPS = [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map(
  (s) => s * 1000,
);
const TARGET_BUCKETS = 1_000;

const iso = (ms: number): string => new Date(ms).toISOString();
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A duration parameter (as history's `interval`), its problems pointing at `name`. */
function duration(raw: string | undefined, name: string, problems: Problem[]): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const local: Problem[] = [];
  const ms = parseInterval(raw, local);
  if (local.length)
    problems.push({
      code: 'forecast.duration',
      message: `'${name}' must be a positive duration such as 15s, 5m, 2h, 1d or PT2H, not '${quote(raw, 64)}'.`,
      pointer: `/${name}`,
      source: 'query string',
    });
  return ms;
}

const bad = (name: string, message: string): Problem => ({
  code: `forecast.${name}`,
  message,
  pointer: `/${name}`,
  source: 'query string',
});

export function registerForecastRoutes(
  app: FastifyInstance,
  ws: HttpWorkspace,
  history: HttpServerOptions['history'],
): void {
  app.get(
    '/digitaltwins/:id/forecast',
    {
      schema: {
        tags: ['History (Twinloop)'],
        summary: 'Forecast of one numeric telemetry/property series (ETS with prediction intervals).',
        params: { type: 'object', properties: { id: { type: 'string' } } },
        querystring: {
          type: 'object',
          properties: {
            path: { type: 'string', description: '"level" or "component/level"' },
            horizon: { type: 'string', description: 'how far ahead: 2h, 30m, PT2H, 1d' },
            history: {
              type: 'string',
              description: 'how far back to fit (default 50 horizons, 1 d to 30 d)',
            },
            step: { type: 'string', description: 'grid step (default: history / 1000, rounded up)' },
            to: { type: 'string', description: 'end of the history, ISO 8601 or epoch ms (default now)' },
          },
        },
      },
    },
    async (req) => {
      const twinId = (req.params as { id: string }).id;
      const q = req.query as Record<string, string | undefined>;
      const problems: Problem[] = [];
      const path = q.path;
      if (!path) problems.push(bad('path', "'path' is required (a telemetry or property name)."));
      const horizon = duration(q.horizon, 'horizon', problems);
      if (q.horizon === undefined || q.horizon === '')
        problems.push(bad('horizon', "'horizon' is required (e.g. 2h, 30m, PT2H)."));
      const to = parseTime(q.to, 'to', problems) ?? Date.now();
      let span = duration(q.history, 'history', problems);
      if (span === undefined && horizon !== undefined)
        span = Math.min(DEFAULT_HISTORY.max, Math.max(DEFAULT_HISTORY.min, DEFAULT_HISTORY.factor * horizon));
      let step = duration(q.step, 'step', problems);
      if (step === undefined && span !== undefined)
        step = STEPS.find((s) => span! / s <= TARGET_BUCKETS) ?? Math.ceil(span / TARGET_BUCKETS);
      if (span !== undefined && step !== undefined && span / step > MAX_FORECAST_BUCKETS)
        problems.push(
          bad(
            'step',
            `'history' / 'step' makes ${Math.ceil(span / step)} buckets; at most ${MAX_FORECAST_BUCKETS} (widen the step or shorten the history).`,
          ),
        );
      if (span !== undefined && step !== undefined && span / step < 2)
        problems.push(bad('step', "'step' must be at most half of 'history'."));
      const steps = horizon !== undefined && step !== undefined ? Math.ceil(horizon / step) : undefined;
      if (steps !== undefined && steps > MAX_HORIZON)
        problems.push(
          bad(
            'horizon',
            `'horizon' is ${steps} steps of ${step} ms; at most ${MAX_HORIZON} (widen the step or shorten the horizon).`,
          ),
        );
      if (problems.length)
        throw errors.validation('BadRequest', 'The forecast query is not valid.', problems);

      const series = await history.listSeries(ws.name, twinId);
      if (!ws.graph.getTwin(twinId) && series.length === 0) throw errors.twinNotFound(twinId);
      const info = series.find((s) => s.path === path);
      if (!info || typeof info.lastValue !== 'number') {
        const numeric = series.filter((s) => typeof s.lastValue === 'number').map((s) => s.path);
        const known = numeric.length
          ? `its numeric series: ${numeric
              .slice(0, 20)
              .map((p) => `'${quote(p, 64)}'`)
              .join(', ')}`
          : 'it has no numeric series yet';
        throw errors.validation('BadRequest', 'The forecast query is not valid.', [
          bad('path', `Twin '${quote(twinId)}' has no numeric history of '${quote(path!, 64)}' (${known}).`),
        ]);
      }

      const from = to - span!;
      const buckets = await history.queryAggregate({
        workspace: ws.name,
        twinId,
        path: path!,
        from,
        to,
        interval: step!,
        fns: ['avg'],
      });
      const times: number[] = [];
      const values: number[] = [];
      for (const b of buckets)
        if (b.count > 0 && typeof b.avg === 'number' && Number.isFinite(b.avg)) {
          times.push(b.start);
          values.push(b.avg);
        }
      if (times.length < 2)
        throw errors.validation('BadRequest', 'The forecast query is not valid.', [
          bad(
            'history',
            `Only ${times.length} of the ${buckets.length} buckets from ${iso(from)} to ${iso(to)} hold readings; at least 2 are needed (lengthen 'history' or widen 'step').`,
          ),
        ]);
      const it = forecastSteps({ times, values }, { horizon: steps!, step: step! });
      let r: IteratorResult<void, ForecastResult>;
      while (!(r = it.next()).done) await tick();
      const result = r.value;
      return {
        twinId,
        path,
        step: result.step,
        history: { from: iso(from), to: iso(to), buckets: times.length },
        fitted: result.fitted,
        points: result.points.map((p) => ({ ...p, time: iso(p.time) })),
      };
    },
  );
}
