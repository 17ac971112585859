/**
 * The PostgreSQL schema of the history store, and its time partitions.
 *
 * - `history_series`: (workspace, twin, path) → integer id, with the latest value (for listSeries).
 * - `history_points`: one row per stored point, RANGE-partitioned on `ts` (one partition per day or
 *   week, created ahead of the commit that needs it; a DEFAULT partition catches what could not get
 *   one). A btree (series_id, ts, id) serves per-series range scans and paging; BRIN on ts serves
 *   time-only scans; a partial unique index on (series_id, ts) WHERE once makes a redelivered
 *   source-time point a no-op even when two writers race.
 * - `history_rollups`: per series and minute, count/sum/min/max/first/last of the points, for the
 *   points before `history_rollup_watermark` (one row, a time): the background roll-up aggregates
 *   the points of the last seconds into them and moves the watermark; a group commit upserts
 *   rollups only for its late points (before the watermark). Aggregates over months read rollups, not raw points.
 * - `history_checkpoints`: the stream sequence an ingest worker committed with its points.
 * history_series and history_rollups keep free room in their pages (fillfactor) so that the updates
 * every group commit makes to them stay HOT.
 */
import type pg from 'pg';
import type { PgComponentMigrations } from './pg-database.js';

export const PG_HISTORY_MIGRATIONS: PgComponentMigrations = {
  component: 'history',
  migrations: [
    {
      version: 1,
      name: 'series, partitioned points, minute rollups, checkpoints',
      sql: `
        CREATE TABLE history_series (
          id serial PRIMARY KEY,
          workspace text NOT NULL,
          twin_id text NOT NULL,
          path text NOT NULL,
          kind text NOT NULL,
          last_ts double precision,
          last_num double precision,
          last_json text,
          UNIQUE (workspace, twin_id, path)
        );
        CREATE SEQUENCE history_point_id CACHE 10000;
        -- num: a numeric value; json: any other value as JSON text (text, not jsonb: jsonb rejects
        -- the \\u0000 escape that a device string may hold, and text keeps the value byte for byte).
        CREATE TABLE history_points (
          series_id integer NOT NULL,
          ts double precision NOT NULL,
          id bigint NOT NULL DEFAULT nextval('history_point_id'),
          once boolean NOT NULL,
          num double precision,
          json text
        ) PARTITION BY RANGE (ts);
        CREATE TABLE history_points_default PARTITION OF history_points DEFAULT;
        CREATE INDEX history_points_by_series ON history_points (series_id, ts, id);
        CREATE UNIQUE INDEX history_points_once ON history_points (series_id, ts) WHERE once;
        CREATE INDEX history_points_brin ON history_points USING brin (ts);
        -- first_v/last_v: the value as JSON text (numbers as their shortest exact text).
        CREATE TABLE history_rollups (
          series_id integer NOT NULL,
          minute bigint NOT NULL,
          count bigint NOT NULL,
          nnum bigint NOT NULL,
          sum double precision,
          min double precision,
          max double precision,
          first_ts double precision NOT NULL,
          first_v text NOT NULL,
          last_ts double precision NOT NULL,
          last_v text NOT NULL,
          PRIMARY KEY (series_id, minute)
        );
        CREATE TABLE history_checkpoints (
          key text PRIMARY KEY,
          seq bigint NOT NULL
        );
      `,
    },
    {
      // Every group commit updates the latest value of each series it touches and the rollup of
      // its current minute: with room left in each page those updates are HOT (no index entry, no
      // new page), measured several times cheaper per row under ingest. Applies to pages written
      // from now on.
      version: 2,
      name: 'room for HOT updates of series and rollups',
      sql: `
        ALTER TABLE history_series SET (fillfactor = 50);
        ALTER TABLE history_rollups SET (fillfactor = 80);
      `,
    },
    {
      // The rollups are no longer upserted by every group commit: points before the watermark (a
      // time, ms) are rolled up (by the background roll-up, pg-history-rollup.ts), later ones live
      // only as raw points. It starts at the start of the minute before now; rollups at or above it
      // (written by commits before this migration) are deleted so that the invariant holds: their
      // raw points are still there and get rolled up again.
      version: 3,
      name: 'rollup watermark',
      sql: `
        CREATE TABLE history_rollup_watermark (
          one boolean PRIMARY KEY DEFAULT true CHECK (one),
          ts double precision NOT NULL
        );
        INSERT INTO history_rollup_watermark (ts)
          VALUES ((floor(extract(epoch FROM clock_timestamp()) * 1000 / 60000) - 1) * 60000);
        DELETE FROM history_rollups WHERE minute * 60000 >= (SELECT ts FROM history_rollup_watermark);
      `,
    },
    {
      // Group commits run several at once and no longer update the latest value of each series (the
      // roll-up does: pg-history-rollup.ts). A twin deletion moves the series generation, so that
      // every node reads its cached series ids again before a commit uses them.
      version: 4,
      name: 'series generation',
      sql: `
        ALTER TABLE history_rollup_watermark ADD COLUMN series_gen bigint NOT NULL DEFAULT 0;
      `,
    },
  ],
};

export type PartitionUnit = 'day' | 'week';

const WIDTH: Record<PartitionUnit, number> = { day: 86_400_000, week: 7 * 86_400_000 };
const NAME = /^history_points_(d|w)(m?)(\d+)$/;

/** The partitions of history_points, created on demand before a commit needs them. */
export class HistoryPartitions {
  private readonly width: number;
  /** Partition names that exist (or that could not be created: their rows go to the default one). */
  private readonly known = new Set<string>();
  /** Bounds [lo, hi) of the partitions that exist, for retention. */
  private readonly bounds = new Map<string, [number, number]>();

  constructor(
    private readonly unit: PartitionUnit,
    /** At most this many partitions are created for one commit; beyond, rows go to the default one. */
    private readonly maxCreatePerCommit = 64,
  ) {
    this.width = WIDTH[unit];
  }

  /** Reads which partitions exist. */
  async load(client: pg.PoolClient | pg.Pool): Promise<void> {
    const r = await client.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'history_points'::regclass`,
    );
    for (const { name } of r.rows) {
      const b = boundsOf(name);
      if (!b) continue;
      this.known.add(name);
      this.bounds.set(name, b);
    }
  }

  /** Creates the partitions the points' times need (each in its own statement, outside the commit). */
  async ensure(pool: pg.Pool, ts: ArrayLike<number>): Promise<void> {
    const missing = new Map<string, number>();
    let last = NaN;
    for (let i = 0; i < ts.length; i++) {
      const k = Math.floor(ts[i]! / this.width);
      if (k === last) continue;
      last = k;
      const name = this.nameOf(k);
      if (!this.known.has(name)) missing.set(name, k);
    }
    let created = 0;
    for (const [name, k] of missing) {
      this.known.add(name);
      if (created++ >= this.maxCreatePerCommit) continue;
      const lo = k * this.width;
      const hi = lo + this.width;
      try {
        await pool.query(
          `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF history_points FOR VALUES FROM (${lo}) TO (${hi})`,
        );
        this.bounds.set(name, [lo, hi]);
      } catch {
        // Overlaps a partition of another width, or the default partition already holds rows of
        // that range: the rows go to the default partition (still correct, just not pruned by drop).
      }
    }
  }

  /** Partitions entirely before `t` (dropped by retention) and the one that straddles it. */
  async before(pool: pg.Pool, t: number): Promise<{ whole: string[]; straddling: string[] }> {
    this.known.clear();
    this.bounds.clear();
    await this.load(pool);
    const whole: string[] = [];
    const straddling: string[] = [];
    for (const [name, [lo, hi]] of this.bounds) {
      if (hi <= t) whole.push(name);
      else if (lo < t) straddling.push(name);
    }
    return { whole, straddling };
  }

  forget(name: string): void {
    this.known.delete(name);
    this.bounds.delete(name);
  }

  private nameOf(k: number): string {
    return `history_points_${this.unit === 'day' ? 'd' : 'w'}${k < 0 ? `m${-k}` : k}`;
  }
}

function boundsOf(name: string): [number, number] | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const width = m[1] === 'd' ? WIDTH.day : WIDTH.week;
  const k = Number(m[3]) * (m[2] ? -1 : 1);
  return [k * width, (k + 1) * width];
}
