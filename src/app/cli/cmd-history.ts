/**
 * `twinloop history TWIN [NAME]`: the newest readings first (20 by default) of one series, or of
 * every telemetry of the twin's model when NAME is left out; `--last 10m` or `--from/--to` for the
 * window, `--interval 1m --fn avg,max` for aggregates (newest bucket first).
 */
import type { Command } from 'commander';
import { TwinloopError } from '../../core/errors/errors.js';
import { parseDuration } from '../../sim/whatif/duration.js';
import { ApiClient } from './api-client.js';
import { clientOptions, formatOf, withOutput, type CliKit } from './cli-kit.js';
import { printRows, type Row } from './output.js';

interface HistoryOptions {
  last?: string;
  from?: string;
  to?: string;
  limit: string;
  interval?: string;
  fn: string;
  order: string;
}

interface HistoryBody {
  twinId: string;
  path: string;
  from: string;
  to: string;
  interval?: number;
  value: Row[];
}

/** The window and limit the options ask for (ms since epoch). */
export function historyWindow(
  o: HistoryOptions,
  now = Date.now(),
): { from: string | undefined; to: string; limit: number } {
  const limit = Number(o.limit);
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new TwinloopError('BadRequest', `--limit must be a whole number ≥ 1, not '${o.limit}'.`);
  if (o.last !== undefined && o.from !== undefined)
    throw new TwinloopError('BadRequest', 'Give --last or --from, not both.');
  const to = o.to ?? String(now + 1);
  if (o.last === undefined) return { from: o.from, to, limit };
  const seconds = parseDuration(o.last);
  if (seconds === undefined || seconds <= 0)
    throw new TwinloopError(
      'BadRequest',
      `--last must be a duration such as 30s, 10m, 2h or 7d, not '${o.last}'.`,
    );
  const end = /^\d+$/.test(to) ? Number(to) : Date.parse(to);
  return { from: String(Math.round(end - seconds * 1000)), to, limit };
}

/** Telemetry names of a model and of the models it extends (for `history TWIN` without a name). */
async function telemetryNames(client: ApiClient, twinId: string): Promise<string[]> {
  const twin = (await client.request('GET', `/digitaltwins/${encodeURIComponent(twinId)}`)).body as {
    $metadata?: { $model?: string };
  };
  const names: string[] = [];
  const seen = new Set<string>();
  const queue = [twin.$metadata?.$model].filter((m): m is string => typeof m === 'string');
  while (queue.length) {
    const id = queue.shift()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const m = (
      await client.request('GET', `/models/${encodeURIComponent(id)}`, {
        query: { includeModelDefinition: 'true' },
      })
    ).body as { model?: { contents?: { '@type'?: string | string[]; name?: string }[]; extends?: unknown } };
    for (const c of m.model?.contents ?? []) {
      const types = Array.isArray(c['@type']) ? c['@type'] : [c['@type']];
      if (types.includes('Telemetry') && c.name && !names.includes(c.name)) names.push(c.name);
    }
    const ext = m.model?.extends;
    for (const e of Array.isArray(ext) ? ext : [ext]) if (typeof e === 'string') queue.push(e);
  }
  return names;
}

export function registerHistory(program: Command, { run }: CliKit): void {
  withOutput(
    program
      .command('history <twinId> [name]')
      .description(
        "a twin's history, newest first: one telemetry or property (NAME, 'component/name'), else all its telemetry",
      )
      .option('--last <duration>', 'only the last 30s, 10m, 2h, 7d… (default: the last 24 h)')
      .option('--from <time>', 'ISO time or epoch ms')
      .option('--to <time>', 'ISO time or epoch ms (default: now)')
      .option('--limit <n>', 'how many points (or buckets)', '20')
      .option('--interval <duration>', 'aggregates in buckets of 1m, 15m, 1h… instead of raw points')
      .option('--fn <list>', 'aggregates: avg,min,max,sum,count,first,last', 'avg,min,max,count')
      .option('--order <order>', 'desc (newest first) or asc', 'desc'),
  ).action(
    run(async (twinId: string, name: string | undefined, o: HistoryOptions, cmd: Command) => {
      if (o.order !== 'desc' && o.order !== 'asc')
        throw new TwinloopError('BadRequest', `--order is desc or asc, not '${o.order}'.`);
      const { from, to, limit } = historyWindow(o);
      const client = new ApiClient(clientOptions(cmd));
      const format = formatOf(cmd);
      const get = async (path: string, n: number): Promise<HistoryBody> =>
        (
          await client.request('GET', `/digitaltwins/${encodeURIComponent(twinId)}/history`, {
            query: {
              path,
              from,
              to,
              ...(o.interval
                ? { interval: intervalMs(o.interval), fn: o.fn }
                : { limit: String(n), order: o.order }),
            },
          })
        ).body as HistoryBody;

      if (name !== undefined) {
        const body = await get(name, limit);
        if (o.interval) {
          // Buckets come oldest first and include empty ones: keep the newest non-empty ones.
          let buckets = body.value.filter((b) => b.count === undefined || Number(b.count) > 0);
          buckets = o.order === 'desc' ? buckets.reverse().slice(0, limit) : buckets.slice(-limit);
          const rows = buckets.map(({ time, start: _s, end: _e, ...rest }) => ({ time, ...rest }));
          printRows(rows, format, { json: { ...body, value: rows } });
        } else {
          const rows = body.value.map((p) => ({ time: p.time, value: p.value }));
          printRows(rows, format, { json: body });
        }
        if (format === 'table' && body.value.length === 0)
          process.stderr.write(`no ${name} of ${twinId} between ${body.from} and ${body.to}\n`);
        return;
      }

      if (o.interval) throw new TwinloopError('BadRequest', '--interval needs a NAME (one series).');
      const names = await telemetryNames(client, twinId);
      const points: { time: string; ts: number; name: string; value: unknown }[] = [];
      for (const n of names)
        for (const p of (await get(n, limit)).value)
          points.push({ time: String(p.time), ts: Number(p.ts), name: n, value: p.value });
      points.sort((a, b) => (o.order === 'desc' ? b.ts - a.ts : a.ts - b.ts) || a.name.localeCompare(b.name));
      const rows = points.slice(0, limit);
      printRows(
        rows.map(({ ts: _ts, ...r }) => r),
        format,
        { json: { twinId, value: rows } },
      );
    }),
  );
}

/** The API takes the interval in ms (or 15s, 5m…); a whole number of ms keeps it simple. */
function intervalMs(raw: string): string {
  const s = parseDuration(raw);
  if (s === undefined || s <= 0)
    throw new TwinloopError(
      'BadRequest',
      `--interval must be a duration such as 1m, 15m or 1h, not '${raw}'.`,
    );
  return String(Math.round(s * 1000));
}
