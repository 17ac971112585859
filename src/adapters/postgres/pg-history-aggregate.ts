/**
 * Aggregates of one series in PostgreSQL, computed in SQL from minute rollups for every minute that
 * lies inside one bucket and below the rollup watermark (pg-history-rollup.ts), and from raw points
 * for the rest (the edges of the window, the minutes a bucket boundary cuts, and the recent minutes
 * at or above the watermark, which have no rollup yet). The result equals the computation over raw points: rollups hold exact
 * counts, min, max and the first/last value with its time; only float sums may differ in their
 * last bits (added in another order). Also: the rollups of a group commit, pre-aggregated in JS.
 */
import type pg from 'pg';
import { TwinloopError } from '../../core/errors/errors.js';
import type {
  AggregateFn,
  HistoryAggregateQuery,
  HistoryBucket,
  HistoryValue,
} from '../../core/ports/storage-ports.js';
import { numArrayLiteral, textArrayLiteral } from './pg-array.js';

export const MINUTE = 60_000;
/** Most buckets one query may ask for (as in the SQLite store). */
export const MAX_BUCKETS = 100_000;

/** A value as stored in the `*_v` text columns: JSON text, numbers as their shortest exact text. */
export function valueText(v: HistoryValue): string {
  return typeof v === 'number' ? numText(v) : JSON.stringify(v);
}

function numText(n: number): string {
  return Number.isFinite(n) ? String(n) : Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
}

/** Reads a `*_v` column (or float8::text from SQL) back into a value. */
export function parseValueText(s: string | null): HistoryValue {
  if (s === null) return null;
  if (s === 'NaN') return NaN;
  if (s === 'Infinity') return Infinity;
  if (s === '-Infinity') return -Infinity;
  return JSON.parse(s) as HistoryValue;
}

/** One row of history_rollups being built from the points of a commit. */
export interface RollupRow {
  sid: number;
  minute: number;
  count: number;
  nnum: number;
  sum: number;
  min: number;
  max: number;
  firstTs: number;
  firstV: string;
  lastTs: number;
  lastV: string;
}

/** Pre-aggregates points (series id, ts, value) into per-minute rollup rows. */
export class RollupBuilder {
  /** series id → minute → row (numbers as keys: no key string per point). */
  private readonly rows = new Map<number, Map<number, RollupRow>>();
  private count = 0;

  add(sid: number, ts: number, v: HistoryValue, text: () => string): void {
    const minute = Math.floor(ts / MINUTE);
    let ofSeries = this.rows.get(sid);
    if (!ofSeries) this.rows.set(sid, (ofSeries = new Map()));
    let r = ofSeries.get(minute);
    if (!r) {
      const t = text();
      r = {
        sid,
        minute,
        count: 0,
        nnum: 0,
        sum: 0,
        min: Infinity,
        max: -Infinity,
        firstTs: ts,
        firstV: t,
        lastTs: ts,
        lastV: t,
      };
      ofSeries.set(minute, r);
      this.count++;
    } else {
      if (ts < r.firstTs) {
        r.firstTs = ts;
        r.firstV = text();
      }
      if (ts >= r.lastTs) {
        r.lastTs = ts;
        r.lastV = text();
      }
    }
    r.count++;
    if (typeof v === 'number') {
      r.nnum++;
      r.sum += v;
      if (v < r.min) r.min = v;
      if (v > r.max) r.max = v;
    }
  }

  get size(): number {
    return this.count;
  }

  /** Upserts the rows, combining with what the table holds (inside the commit's transaction). */
  async write(client: pg.PoolClient): Promise<void> {
    if (this.count === 0) return;
    const n = this.count;
    const c = {
      sid: new Array<number>(n),
      minute: new Array<number>(n),
      count: new Array<number>(n),
      nnum: new Array<number>(n),
      sum: new Array<number | null>(n),
      min: new Array<number | null>(n),
      max: new Array<number | null>(n),
      firstTs: new Array<number>(n),
      firstV: new Array<string>(n),
      lastTs: new Array<number>(n),
      lastV: new Array<string>(n),
    };
    // In key order: two commits (two nodes) upserting rows of the same series lock them in the same
    // order, so they wait for each other instead of deadlocking.
    const sorted: RollupRow[] = [];
    for (const ofSeries of this.rows.values()) for (const r of ofSeries.values()) sorted.push(r);
    sorted.sort((a, b) => a.sid - b.sid || a.minute - b.minute);
    let i = 0;
    for (const r of sorted) {
      c.sid[i] = r.sid;
      c.minute[i] = r.minute;
      c.count[i] = r.count;
      c.nnum[i] = r.nnum;
      c.sum[i] = r.nnum ? r.sum : null;
      c.min[i] = r.nnum ? r.min : null;
      c.max[i] = r.nnum ? r.max : null;
      c.firstTs[i] = r.firstTs;
      c.firstV[i] = r.firstV;
      c.lastTs[i] = r.lastTs;
      c.lastV[i] = r.lastV;
      i++;
    }
    await client.query(
      `INSERT INTO history_rollups AS r
         (series_id, minute, count, nnum, sum, min, max, first_ts, first_v, last_ts, last_v)
       SELECT * FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::bigint[], $5::float8[],
                            $6::float8[], $7::float8[], $8::float8[], $9::text[], $10::float8[], $11::text[])
       ON CONFLICT (series_id, minute) DO UPDATE SET
         count = r.count + excluded.count,
         nnum = r.nnum + excluded.nnum,
         sum = CASE WHEN r.sum IS NULL THEN excluded.sum WHEN excluded.sum IS NULL THEN r.sum
                    ELSE r.sum + excluded.sum END,
         min = least(r.min, excluded.min),
         max = greatest(r.max, excluded.max),
         first_ts = CASE WHEN excluded.first_ts < r.first_ts THEN excluded.first_ts ELSE r.first_ts END,
         first_v = CASE WHEN excluded.first_ts < r.first_ts THEN excluded.first_v ELSE r.first_v END,
         last_ts = CASE WHEN excluded.last_ts >= r.last_ts THEN excluded.last_ts ELSE r.last_ts END,
         last_v = CASE WHEN excluded.last_ts >= r.last_ts THEN excluded.last_v ELSE r.last_v END`,
      [
        numArrayLiteral(c.sid),
        numArrayLiteral(c.minute),
        numArrayLiteral(c.count),
        numArrayLiteral(c.nnum),
        numArrayLiteral(c.sum),
        numArrayLiteral(c.min),
        numArrayLiteral(c.max),
        numArrayLiteral(c.firstTs),
        textArrayLiteral(c.firstV),
        numArrayLiteral(c.lastTs),
        textArrayLiteral(c.lastV),
      ],
    );
  }
}

/**
 * Rebuilds the rollups of the minutes [m0, m1) from raw points before `until` (the rollup watermark)
 * (after retention cut into a minute).
 */
export async function rebuildRollups(
  client: pg.PoolClient,
  m0: number,
  m1: number,
  until = Infinity,
): Promise<void> {
  await client.query('DELETE FROM history_rollups WHERE minute >= $1 AND minute < $2', [m0, m1]);
  await client.query(
    `INSERT INTO history_rollups (series_id, minute, count, nnum, sum, min, max, first_ts, first_v, last_ts, last_v)
     SELECT series_id, floor(ts / ${MINUTE})::bigint, count(*), count(num), sum(num), min(num), max(num),
            min(ts), (array_agg(coalesce(num::text, json) ORDER BY ts, id))[1],
            max(ts), (array_agg(coalesce(num::text, json) ORDER BY ts DESC, id DESC))[1]
       FROM history_points WHERE ts >= $1 AND ts < $2
      GROUP BY series_id, floor(ts / ${MINUTE})::bigint`,
    [m0 * MINUTE, Math.min(m1 * MINUTE, until)],
  );
}

/** Checks the window and interval; the number of buckets. */
export function bucketCount(q: HistoryAggregateQuery): number {
  const { from, to, interval } = q;
  if (!Number.isFinite(from) || !Number.isFinite(to) || !(to > from)) {
    throw new TwinloopError('InvalidHistoryQuery', `The window [${from}, ${to}) is empty or not finite.`);
  }
  if (!Number.isFinite(interval) || !(interval > 0)) {
    throw new TwinloopError(
      'InvalidHistoryQuery',
      `The interval must be a positive number of ms (got ${interval}).`,
    );
  }
  const n = Math.ceil((to - from) / interval);
  if (n > MAX_BUCKETS) {
    throw new TwinloopError(
      'InvalidHistoryQuery',
      `The query asks for ${n} buckets; at most ${MAX_BUCKETS} are allowed.`,
    );
  }
  return n;
}

/**
 * The plan of one aggregate: whole minutes [m0, m1) inside the window read from rollups except
 * those a bucket boundary cuts; raw points for the ranges left (merged where adjacent).
 */
export function planAggregate(
  from: number,
  to: number,
  interval: number,
  /** The rollup watermark: minutes at or above it are read raw. */
  watermark = Infinity,
): {
  m0: number;
  m1: number;
  cut: number[];
  lo: number[];
  hi: number[];
} {
  const m0 = Math.ceil(from / MINUTE);
  const m1 = Math.floor(to / MINUTE);
  const lo: number[] = [];
  const hi: number[] = [];
  const raw = (a: number, b: number): void => {
    if (b <= a) return;
    const k = hi.length - 1;
    if (k >= 0 && hi[k] === a) hi[k] = b;
    else {
      lo.push(a);
      hi.push(b);
    }
  };
  const cut: number[] = [];
  if (m1 <= m0) {
    raw(from, to);
    return { m0, m1: m0, cut, lo, hi };
  }
  raw(from, m0 * MINUTE);
  // Rollups only for minutes [m0, mr): those at or above the watermark are not rolled up yet.
  const mr = Math.max(m0, Math.min(m1, watermark));
  const bucket = (t: number): number => Math.floor((t - from) / interval);
  if (interval < MINUTE * 4) {
    // Most minutes are cut: cheaper to read everything raw than to list them.
    raw(m0 * MINUTE, m1 * MINUTE);
  } else {
    // Only minutes that contain a bucket boundary are cut: walk the boundaries, not the minutes.
    const firstB = bucket(m0 * MINUTE);
    const lastB = bucket(m1 * MINUTE - 1);
    for (let b = firstB + 1; b <= lastB; b++) {
      const boundary = from + b * interval;
      const m = Math.floor(boundary / MINUTE);
      if (m >= mr) break;
      if (m < m0) continue;
      // The minute is whole in one bucket only when its first and last ms fall in the same one.
      if (
        bucket(m * MINUTE) !== bucket((m + 1) * MINUTE - 1e-9) ||
        bucket(m * MINUTE) !== bucket((m + 1) * MINUTE - 1)
      ) {
        if (cut[cut.length - 1] !== m) {
          cut.push(m);
          raw(m * MINUTE, (m + 1) * MINUTE);
        }
      }
    }
  }
  if (interval < MINUTE * 4) {
    raw(m1 * MINUTE, to);
    return { m0, m1: m0, cut, lo, hi };
  }
  raw(mr * MINUTE, to);
  return { m0, m1: mr, cut, lo, hi };
}

/**
 * Runs the aggregate of one series (callers set jit off and work_mem, see PgHistoryStore). `db` must
 * be a REPEATABLE READ transaction: the watermark read first and the aggregate statement then see
 * the same snapshot, so every point is counted once (from its rollup or raw).
 */
export async function queryAggregate(
  db: { query: (sql: string, params: readonly unknown[]) => Promise<pg.QueryResult> },
  q: HistoryAggregateQuery,
): Promise<HistoryBucket[]> {
  const n = bucketCount(q);
  const { from, to, interval } = q;
  const fns = new Set<AggregateFn>(q.fns);
  const wantFirst = fns.has('first');
  const wantLast = fns.has('last');
  // Minutes wholly before the watermark (a time) have complete rollups; the rest is read raw.
  const w = await db.query('SELECT ts FROM history_rollup_watermark', []);
  const wts = (w.rows[0] as { ts: number } | undefined)?.ts ?? -Infinity;
  const plan = planAggregate(from, to, interval, Math.floor(wts / MINUTE));
  // One statement (the series looked up in it). Rollup minutes are aggregated per bucket first (a
  // hash aggregate: sums, min, max, first and last minute); the bucket's first and last values are
  // then read from its first and last rollup minute by primary key, since the whole minutes of a
  // bucket do not overlap in time. Raw points are aggregated per bucket without ordered aggregates
  // (edgeOf), so nothing sorts them; the final GROUP BY sees about one row per bucket from each
  // side instead of one per minute and per point.
  const first = wantFirst
    ? { roll: 'f.first_ts, f.first_v', rawTs: 'min(x.ts)', rawV: edgeOf('min') }
    : { roll: 'NULL::float8, NULL::text', rawTs: 'NULL::float8', rawV: 'NULL::text' };
  const last = wantLast
    ? { roll: 'l.last_ts, l.last_v', rawTs: 'max(x.ts)', rawV: edgeOf('max') }
    : { roll: 'NULL::float8, NULL::text', rawTs: 'NULL::float8', rawV: 'NULL::text' };
  const r = await db.query(
    `WITH s AS MATERIALIZED (
       SELECT id FROM history_series WHERE workspace = $8 AND twin_id = $9 AND path = $10
     ),
     rb AS (
       SELECT floor((r.minute * ${MINUTE} - $1::float8) / $2::float8)::int AS b, sum(r.count) AS count,
              sum(r.nnum) AS nnum, sum(r.sum) AS sum, min(r.min) AS min, max(r.max) AS max,
              min(r.minute) AS fm, max(r.minute) AS lm
         FROM s JOIN history_rollups r ON r.series_id = s.id
        WHERE r.minute >= $3 AND r.minute < $4
          AND NOT EXISTS (SELECT 1 FROM unnest($5::bigint[]) AS c(m) WHERE c.m = r.minute)
        GROUP BY 1
     ),
     parts AS (
       SELECT rb.b, rb.count, rb.nnum, rb.sum, rb.min, rb.max, ${first.roll}, ${last.roll}
         FROM rb CROSS JOIN s
         ${wantFirst ? 'CROSS JOIN LATERAL (SELECT first_ts, first_v FROM history_rollups WHERE series_id = s.id AND minute = rb.fm OFFSET 0) f' : ''}
         ${wantLast ? 'CROSS JOIN LATERAL (SELECT last_ts, last_v FROM history_rollups WHERE series_id = s.id AND minute = rb.lm OFFSET 0) l' : ''}
       UNION ALL
       SELECT x.b, count(*), count(x.num), sum(x.num), min(x.num), max(x.num),
              ${first.rawTs}, ${first.rawV}, ${last.rawTs}, ${last.rawV}
         FROM (SELECT floor((p.ts - $1::float8) / $2::float8)::int AS b, s.id AS sid, p.ts, p.id, p.num
                 FROM s CROSS JOIN unnest($6::float8[], $7::float8[]) AS g(lo, hi)
                 CROSS JOIN LATERAL (SELECT ts, id, num FROM history_points p
                                      WHERE p.series_id = s.id AND p.ts >= g.lo AND p.ts < g.hi
                                      OFFSET 0) p) x
        GROUP BY x.b, x.sid
     )
     SELECT b, sum(count)::float8 AS count, sum(nnum)::float8 AS nnum, sum(sum) AS sum, min(min) AS min,
            max(max) AS max,
            ${wantFirst ? '(array_agg(first_v ORDER BY first_ts))[1]' : 'NULL'} AS first,
            ${wantLast ? '(array_agg(last_v ORDER BY last_ts DESC))[1]' : 'NULL'} AS last
       FROM parts GROUP BY b`,
    [from, interval, plan.m0, plan.m1, plan.cut, plan.lo, plan.hi, q.workspace, q.twinId, q.path],
  );
  const out: HistoryBucket[] = new Array<HistoryBucket>(n);
  const rows = new Map<
    number,
    {
      count: number;
      nnum: number;
      sum: number | null;
      min: number | null;
      max: number | null;
      first: string | null;
      last: string | null;
    }
  >();
  for (const row of r.rows as {
    b: number;
    count: number;
    nnum: number;
    sum: number | null;
    min: number | null;
    max: number | null;
    first: string | null;
    last: string | null;
  }[]) {
    rows.set(row.b, row);
  }
  for (let b = 0; b < n; b++) {
    const row = rows.get(b);
    const count = row?.count ?? 0;
    const nc = row?.nnum ?? 0;
    const bucket: HistoryBucket = { start: from + b * interval, count };
    if (fns.has('avg')) bucket.avg = nc ? row!.sum! / nc : null;
    if (fns.has('min')) bucket.min = nc ? row!.min : null;
    if (fns.has('max')) bucket.max = nc ? row!.max : null;
    if (fns.has('sum')) bucket.sum = nc ? row!.sum : null;
    if (wantFirst) bucket.first = count ? parseValueText(row!.first) : null;
    if (wantLast) bucket.last = count ? parseValueText(row!.last) : null;
    out[b] = bucket;
  }
  return out;
}

/**
 * The first (`min`) or last (`max`) raw value of a group by (ts, id), as `*_v` text, without an
 * ordered aggregate (which would force a sort of every raw row): the (ts, id, num) array with the
 * least or greatest (ts, id) among numeric points; when a JSON point comes earlier (later), its
 * text is looked up by (series, ts, id). Ids are below 2^53, exact in float8.
 */
function edgeOf(fn: 'min' | 'max'): string {
  const cmp = fn === 'min' ? '<' : '>';
  const n = `${fn}(ARRAY[x.ts, x.id::float8, x.num]) FILTER (WHERE x.num IS NOT NULL)`;
  const j = `${fn}(ARRAY[x.ts, x.id::float8]) FILTER (WHERE x.num IS NULL)`;
  return `CASE WHEN ${j} IS NOT NULL AND (${n} IS NULL OR ${j} ${cmp} (${n})[1:2])
            THEN (SELECT p.json FROM history_points p
                   WHERE p.series_id = x.sid AND p.ts = (${j})[1] AND p.id = (${j})[2]::bigint)
            ELSE ((${n})[3])::text END`;
}
