/**
 * The rollup watermark of the PostgreSQL history store: minute rollups are built off the ingest path.
 *
 * `history_rollup_watermark` holds one time W (ms). Invariant: the rollup row of a series and
 * minute is exactly the aggregate of the raw points of that minute with ts < W, and there is no row
 * for a minute that has no such point. So minutes wholly before W (below floor(W / 1 min)) are
 * complete; the minute W falls in may hold a partial row; later points live only as raw points.
 * The same roll-up keeps the latest value of each series (`history_series.last_*`): it is the
 * newest point with ts < W. Readers add the newest raw point at or after W (pg-history-store.ts).
 * Three writers keep both, under one lock per schema (`WATERMARK_LOCK`, an advisory lock: shared
 * requests queue behind a waiting exclusive one, so nothing starves):
 *
 * - A group commit takes the lock shared, reads W, and upserts rollups and latest values only for
 *   its points before W (late data: rare). Its other points are raw only: the per-commit rollup
 *   upsert (measured 59–74 ms of a ~5,000-point commit) and latest-value update (19–29 ms) are gone.
 * - The roll-up (`rollUpIn`, run by the store every few seconds) in ONE transaction: takes the lock
 *   exclusively, aggregates the raw points of [W, W') per series and minute and merges them into
 *   the rollups (counts and sums added, min/max, first/last by time), updates the latest values of
 *   the series it rolled up, then sets W := W'. W' = now − lag (10 s by default): points stamped by
 *   a device or node whose clock is a few seconds behind, or that waited in a queue or a group
 *   commit, still take the fast path; later ones are still correct (the late path above), only
 *   slower. W is a time, not a minute: each roll-up aggregates only the few seconds since the last
 *   one, so it holds the lock (and makes commits wait) briefly, instead of aggregating a whole
 *   minute of points at once (measured 1–2.5 µs per point on a loaded machine: a minute at 60,000
 *   points/s would stall commits for seconds; every 5 s, 300,000 points take ~0.2–0.4 s). W never
 *   moves back (nodes with skewed clocks: the greatest wins).
 * - Retention (prune) takes the lock shared, counts and deletes; it rebuilds the rollup of the
 *   minute its cutoff cuts from the raw points before W only. Deleting a twin deletes its rollups
 *   (under the lock held exclusively: `bumpSeriesGeneration`).
 *
 * Why no point is counted twice or lost (READ COMMITTED): shared (commits, compatible with each
 * other) and exclusive (roll-up) exclude each other, and W is read in a statement after the lock is
 * granted. A commit that holds the lock first makes the roll-up wait until it committed; the
 * roll-up's next statement (a new snapshot) then sees its points: those at or after the old W are
 * rolled up by the roll-up, those before by the commit itself. A commit that asks for the lock while
 * the roll-up holds it waits, and then reads the NEW W: it rolls up its own points before W'
 * itself; the roll-up's snapshot could not see them (not committed). The decision "rolled up by
 * whom" is always made under the lock. Tested in pg-history-store.svc.test.ts.
 *
 * Queries (pg-history-aggregate.ts) read W in the snapshot of their statement: rollups for whole
 * minutes below floor(W / 1 min), raw points for the rest.
 */
import type pg from 'pg';
import { MINUTE } from './pg-history-aggregate.js';

/** Default time a point's ts stays ahead of the watermark (open to the fast path), ms. */
export const ROLLUP_LAG_MS = 10_000;

/** The watermark a roll-up at `now` moves to (ms). */
export function rollupTarget(now: number, lagMs = ROLLUP_LAG_MS): number {
  return Math.floor(now - Math.max(0, lagMs));
}

/** The first minute without a complete rollup under the watermark `ts`. */
export function completeBelow(ts: number): number {
  return Math.floor(ts / MINUTE);
}

/**
 * The lock that guards the watermark (and the series generation), per schema. An advisory lock, not
 * the row's FOR SHARE / FOR UPDATE: with several group commits in flight (pg-commit-pipeline.ts) and
 * several nodes, shared row locks overlap without a gap and a waiting FOR UPDATE (the roll-up, a twin
 * deletion) could starve; the lock manager queues a shared request behind a waiting exclusive one.
 */
const WATERMARK_LOCK = "hashtextextended(current_schema() || '/history-watermark', 0)";

/**
 * Takes the watermark lock shared (a group commit, retention; blocks while a roll-up or a twin
 * deletion holds it) and reads the watermark (ms) and the series generation, in one round trip: two
 * statements, so the read's snapshot is taken after the lock is granted.
 */
export async function watermarkForShare(client: pg.PoolClient): Promise<{ ts: number; gen: number }> {
  const res = (await client.query(
    `SELECT pg_advisory_xact_lock_shared(${WATERMARK_LOCK});
     SELECT ts, series_gen::float8 AS gen FROM history_rollup_watermark`,
  )) as unknown as pg.QueryResult<{ ts: number; gen: number }>[];
  const row = res[1]?.rows[0];
  if (row === undefined) throw new Error('history_rollup_watermark has no row');
  return row;
}

/**
 * Takes the watermark lock exclusively (a twin deletion: it waits for the group commits under way
 * and holds new ones until it commits) and moves the series generation, so that every node's
 * cached series ids are read again before they are used.
 */
export async function bumpSeriesGeneration(client: pg.PoolClient): Promise<void> {
  await client.query(
    `SELECT pg_advisory_xact_lock(${WATERMARK_LOCK});
     UPDATE history_rollup_watermark SET series_gen = series_gen + 1`,
  );
}

/** What one roll-up did. */
export interface RollupResult {
  /** The watermark before and after, ms (equal: nothing to do). */
  from: number;
  to: number;
  /** Rollup rows written (inserted or merged). */
  rows: number;
}

/** The merge of an upserted rollup row into the one held (`r`): what a commit and a roll-up add. */
export const MERGE_ROLLUP = `
  count = r.count + excluded.count,
  nnum = r.nnum + excluded.nnum,
  sum = CASE WHEN r.sum IS NULL THEN excluded.sum WHEN excluded.sum IS NULL THEN r.sum
             ELSE r.sum + excluded.sum END,
  min = least(r.min, excluded.min),
  max = greatest(r.max, excluded.max),
  first_ts = CASE WHEN excluded.first_ts < r.first_ts THEN excluded.first_ts ELSE r.first_ts END,
  first_v = CASE WHEN excluded.first_ts < r.first_ts THEN excluded.first_v ELSE r.first_v END,
  last_ts = CASE WHEN excluded.last_ts >= r.last_ts THEN excluded.last_ts ELSE r.last_ts END,
  last_v = CASE WHEN excluded.last_ts >= r.last_ts THEN excluded.last_v ELSE r.last_v END`;

/**
 * Rolls up the points of [W, target) and moves the watermark to `target` (ms), inside the caller's
 * transaction (which must commit for it to count). Nothing when target ≤ W.
 */
export async function rollUpIn(client: pg.PoolClient, target: number): Promise<RollupResult> {
  const r = (await client.query(
    `SELECT pg_advisory_xact_lock(${WATERMARK_LOCK});
     SELECT ts FROM history_rollup_watermark`,
  )) as unknown as pg.QueryResult<{ ts: number }>[];
  const from = r[1]?.rows[0]?.ts;
  if (from === undefined) throw new Error('history_rollup_watermark has no row');
  if (!(target > from)) return { from, to: from, rows: 0 };
  // JIT compiling the aggregate would take longer than running it, while commits wait for the lock.
  await client.query('SET LOCAL jit = off');
  // First and last point of each group by (ts, id) without an ordered aggregate (which sorts every
  // group's rows: measured ~25 % slower on 300,000 points), their values then read by key.
  // The latest value of each series with points in the window comes from the rollup rows just
  // merged (their last point is the series' newest before the new watermark): ONE update per
  // series per roll-up instead of one per group commit.
  const ins = await client.query<{ rows: number }>(
    `WITH g AS (
       SELECT series_id, floor(ts / ${MINUTE})::bigint AS minute, count(*) AS count, count(num) AS nnum,
              sum(num) AS sum, min(num) AS min, max(num) AS max,
              min(ARRAY[ts, id::float8]) AS f, max(ARRAY[ts, id::float8]) AS l
         FROM history_points WHERE ts >= $1::float8 AND ts < $2::float8
        GROUP BY 1, 2
     ), ins AS (
       INSERT INTO history_rollups AS r
         (series_id, minute, count, nnum, sum, min, max, first_ts, first_v, last_ts, last_v)
       SELECT g.series_id, g.minute, g.count, g.nnum, g.sum, g.min, g.max,
              g.f[1], (SELECT coalesce(p.num::text, p.json) FROM history_points p
                        WHERE p.series_id = g.series_id AND p.ts = g.f[1] AND p.id = g.f[2]::bigint),
              g.l[1], (SELECT coalesce(p.num::text, p.json) FROM history_points p
                        WHERE p.series_id = g.series_id AND p.ts = g.l[1] AND p.id = g.l[2]::bigint)
         FROM g ORDER BY 1, 2
       ON CONFLICT (series_id, minute) DO UPDATE SET ${MERGE_ROLLUP}
       RETURNING series_id, minute, last_ts, last_v
     ), newest AS (
       SELECT DISTINCT ON (series_id) series_id, last_ts, last_v FROM ins ORDER BY series_id, minute DESC
     ), upd AS (
       UPDATE history_series s SET last_ts = n.last_ts, last_num = NULL, last_json = n.last_v
         FROM newest n
        WHERE s.id = n.series_id AND (s.last_ts IS NULL OR n.last_ts >= s.last_ts)
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM ins)::int AS rows, (SELECT count(*) FROM upd)::int AS series`,
    [from, target],
  );
  await client.query('UPDATE history_rollup_watermark SET ts = $1::float8', [target]);
  return { from, to: target, rows: ins.rows[0]?.rows ?? 0 };
}
