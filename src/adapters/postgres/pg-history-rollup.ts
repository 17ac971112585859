/**
 * The rollup watermark of the PostgreSQL history store: minute rollups are built off the ingest path.
 *
 * `history_rollup_watermark` holds one time W (ms). Invariant: the rollup row of a series and
 * minute is exactly the aggregate of the raw points of that minute with ts < W, and there is no row
 * for a minute that has no such point. So minutes wholly before W (below floor(W / 1 min)) are
 * complete; the minute W falls in may hold a partial row; later points live only as raw points.
 * Three writers keep it:
 *
 * - A group commit reads W with `SELECT … FOR SHARE` inside its transaction and upserts rollups
 *   (merging) only for its points before W (late data: rare). Its other points are raw only: the
 *   per-commit rollup upsert (measured 59–74 ms of a ~5,000-point commit) is gone.
 * - The roll-up (`rollUpIn`, run by the store every few seconds) in ONE transaction: `SELECT … FOR
 *   UPDATE` on the watermark row, aggregates the raw points of [W, W') per series and minute and
 *   merges them into the rollups (counts and sums added, min/max, first/last by time), then sets
 *   W := W'. W' = now − lag (10 s by default): points stamped by a device or node whose clock is a few
 *   seconds behind, or that waited in a queue or a group commit, still take the fast path; later
 *   ones are still correct (the late path above), only slower. W is a time, not a minute: each
 *   roll-up aggregates only the few seconds since the last one, so it holds the lock (and makes
 *   commits wait) briefly, instead of aggregating a whole minute of points at once (measured
 *   1–2.5 µs per point on a loaded machine: a minute at 60,000 points/s would stall commits for
 *   seconds; every 5 s, 300,000 points take ~0.2–0.4 s). W never moves back (nodes with skewed
 *   clocks: the greatest wins).
 * - Retention (prune) holds W FOR SHARE, counts and deletes; it rebuilds the rollup of the minute
 *   its cutoff cuts from the raw points before W only. Deleting a twin deletes its rollups.
 *
 * Why no point is counted twice or lost (READ COMMITTED): FOR SHARE (commits, compatible with each
 * other) and FOR UPDATE (roll-up) on the same row exclude each other. A commit that holds FOR SHARE
 * first makes the roll-up wait until it committed; the roll-up's next statement (INSERT … SELECT,
 * a new snapshot) then sees its points: those at or after the old W are rolled up by the roll-up,
 * those before by the commit itself. A commit that asks for FOR SHARE while the roll-up holds the
 * lock waits, and then reads the NEW W (READ COMMITTED re-reads the updated row): it rolls up its
 * own points before W' itself; the roll-up's snapshot could not see them (not committed). The
 * decision "rolled up by whom" is always made under the lock. Tested in pg-history-store.svc.test.ts.
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

/** Reads the watermark (ms) with FOR SHARE (a group commit; blocks while a roll-up holds the lock). */
export async function watermarkForShare(client: pg.PoolClient): Promise<number> {
  const r = await client.query<{ ts: number }>('SELECT ts FROM history_rollup_watermark FOR SHARE');
  const t = r.rows[0]?.ts;
  if (t === undefined) throw new Error('history_rollup_watermark has no row');
  return t;
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
  const r = await client.query<{ ts: number }>('SELECT ts FROM history_rollup_watermark FOR UPDATE');
  const from = r.rows[0]?.ts;
  if (from === undefined) throw new Error('history_rollup_watermark has no row');
  if (!(target > from)) return { from, to: from, rows: 0 };
  // JIT compiling the aggregate would take longer than running it, while commits wait for the lock.
  await client.query('SET LOCAL jit = off');
  // First and last point of each group by (ts, id) without an ordered aggregate (which sorts every
  // group's rows: measured ~25 % slower on 300,000 points), their values then read by key.
  const ins = await client.query(
    `INSERT INTO history_rollups AS r
       (series_id, minute, count, nnum, sum, min, max, first_ts, first_v, last_ts, last_v)
     WITH g AS (
       SELECT series_id, floor(ts / ${MINUTE})::bigint AS minute, count(*) AS count, count(num) AS nnum,
              sum(num) AS sum, min(num) AS min, max(num) AS max,
              min(ARRAY[ts, id::float8]) AS f, max(ARRAY[ts, id::float8]) AS l
         FROM history_points WHERE ts >= $1::float8 AND ts < $2::float8
        GROUP BY 1, 2
     )
     SELECT g.series_id, g.minute, g.count, g.nnum, g.sum, g.min, g.max,
            g.f[1], (SELECT coalesce(p.num::text, p.json) FROM history_points p
                      WHERE p.series_id = g.series_id AND p.ts = g.f[1] AND p.id = g.f[2]::bigint),
            g.l[1], (SELECT coalesce(p.num::text, p.json) FROM history_points p
                      WHERE p.series_id = g.series_id AND p.ts = g.l[1] AND p.id = g.l[2]::bigint)
       FROM g ORDER BY 1, 2
     ON CONFLICT (series_id, minute) DO UPDATE SET ${MERGE_ROLLUP}`,
    [from, target],
  );
  await client.query('UPDATE history_rollup_watermark SET ts = $1::float8', [target]);
  return { from, to: target, rows: ins.rowCount ?? 0 };
}
