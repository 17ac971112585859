/**
 * The rollup watermark of the PostgreSQL history store: minute rollups are built off the ingest path.
 *
 * `history_rollup_watermark` holds one minute W. Invariant: `history_rollups` holds, for every
 * minute below W, exactly the aggregate of the raw points of that minute, and no row at or above W
 * (minutes at or above W live only as raw points). Three writers keep it:
 *
 * - A group commit reads W with `SELECT … FOR SHARE` inside its transaction and upserts rollups
 *   only for its points below W (late data: rare), merging into the rows held. Its other points are
 *   raw only: the per-commit rollup upsert (measured 59–74 ms of a ~5,000-point commit) is gone.
 * - The roll-up (`rollUpIn`, run by the store on a timer) in ONE transaction: `SELECT … FOR UPDATE`
 *   on the watermark row, then aggregates the raw points of [W, W') into rollups, then sets W := W'.
 *   W' = the minute of (now − lag): the current minute stays open, and a minute is closed `lag`
 *   (10 s by default) after its end, so that points stamped by a device or node whose clock is a few
 *   seconds behind, or that waited a moment in a queue or a group commit, still take the fast path.
 *   Later points are still correct (the late path above), only slower. W never moves back (nodes
 *   with skewed clocks: the greatest wins).
 * - Retention (prune) rebuilds the rollup of the minute its cutoff cuts only when that minute is
 *   below W; deleting a twin deletes its rollups with its points.
 *
 * Why no point is counted twice or lost (READ COMMITTED): FOR SHARE (commits, compatible with each
 * other) and FOR UPDATE (roll-up) on the same row exclude each other. A commit that holds FOR SHARE
 * first makes the roll-up wait until it committed; the roll-up's next statement (INSERT … SELECT,
 * a new snapshot) then sees its points: those at or above the old W are rolled up by the roll-up,
 * those below by the commit itself. A commit that asks for FOR SHARE while the roll-up holds the
 * lock waits, and then reads the NEW W (READ COMMITTED re-reads the updated row): it rolls up its
 * own points below W' itself; the roll-up's snapshot could not see them (not committed). The
 * decision "rolled up by whom" is always made under the lock. Tested in pg-history-store.svc.test.ts.
 *
 * Rows of [W, W') are written with ON CONFLICT DO UPDATE that REPLACES them with the aggregate of the
 * raw points: by the invariant there is no such row, and if there ever were one (a hand edit), the
 * raw points are the truth. Queries (pg-history-aggregate.ts) read W in the snapshot of their
 * statement: rollups for whole minutes below it, raw points for the rest.
 */
import type pg from 'pg';
import { MINUTE } from './pg-history-aggregate.js';

/** Default time after the end of a minute before the roll-up closes it, ms. */
export const ROLLUP_LAG_MS = 10_000;

/** The watermark minute a roll-up at `now` moves to: the minute of now − lag (never the current one). */
export function rollupTarget(now: number, lagMs = ROLLUP_LAG_MS): number {
  return Math.floor((now - Math.max(0, lagMs)) / MINUTE);
}

/** Reads the watermark with FOR SHARE (a group commit; blocks while a roll-up holds the lock). */
export async function watermarkForShare(client: pg.PoolClient): Promise<number> {
  const r = await client.query<{ minute: number }>('SELECT minute FROM history_rollup_watermark FOR SHARE');
  const m = r.rows[0]?.minute;
  if (m === undefined) throw new Error('history_rollup_watermark has no row');
  return Number(m);
}

/** What one roll-up did. */
export interface RollupResult {
  /** The watermark before and after (equal: nothing to do). */
  from: number;
  to: number;
  /** Rollup rows written. */
  rows: number;
}

/**
 * Rolls up the minutes [W, target) and moves the watermark to `target`, inside the caller's
 * transaction (which must commit for it to count). Nothing when target ≤ W.
 */
export async function rollUpIn(client: pg.PoolClient, target: number): Promise<RollupResult> {
  const r = await client.query<{ minute: number }>('SELECT minute FROM history_rollup_watermark FOR UPDATE');
  const wm = r.rows[0]?.minute;
  if (wm === undefined) throw new Error('history_rollup_watermark has no row');
  const from = Number(wm);
  if (!(target > from)) return { from, to: from, rows: 0 };
  // JIT compiling the aggregate would take longer than running it, while commits wait for the lock.
  await client.query('SET LOCAL jit = off');
  const ins = await client.query(
    `INSERT INTO history_rollups AS r
       (series_id, minute, count, nnum, sum, min, max, first_ts, first_v, last_ts, last_v)
     SELECT series_id, floor(ts / ${MINUTE})::bigint, count(*), count(num), sum(num), min(num), max(num),
            min(ts), (array_agg(coalesce(num::text, json) ORDER BY ts, id))[1],
            max(ts), (array_agg(coalesce(num::text, json) ORDER BY ts DESC, id DESC))[1]
       FROM history_points WHERE ts >= $1::float8 AND ts < $2::float8
      GROUP BY series_id, floor(ts / ${MINUTE})::bigint
     ON CONFLICT (series_id, minute) DO UPDATE SET
       count = excluded.count, nnum = excluded.nnum, sum = excluded.sum, min = excluded.min,
       max = excluded.max, first_ts = excluded.first_ts, first_v = excluded.first_v,
       last_ts = excluded.last_ts, last_v = excluded.last_v`,
    [from * MINUTE, target * MINUTE],
  );
  await client.query('UPDATE history_rollup_watermark SET minute = $1', [target]);
  return { from, to: target, rows: ins.rowCount ?? 0 };
}
