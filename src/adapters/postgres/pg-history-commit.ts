/**
 * One group commit of the PostgreSQL history store: the points of several appends written in the
 * caller's transaction (pg-history-store.ts runs it; pg-commit-pipeline.ts runs several at once).
 *
 * What one commit costs the server is what bounds ingest on PostgreSQL, so it does only what must be
 * in the transaction:
 * - the watermark under its shared lock (pg-history-rollup.ts): one round trip, which also tells
 *   whether a series was deleted since this node's series ids were read (`series_gen`);
 * - points without a device time: COPY (no conflict possible: the unique index is on once points);
 * - once points (device source times, at most one row per series and time): one INSERT that skips
 *   a point whose series already holds a point at that time (NOT EXISTS: an index probe in the
 *   same statement) and ON CONFLICT DO NOTHING, so a redelivered or resent reading is stored once,
 *   and two commits racing on one point meet the unique index (the later waits, then skips);
 * - late points (before the watermark: rare) upsert their minute's rollup and the latest value of
 *   their series. Points after the watermark do neither: the roll-up does it later, for all the
 *   commits of the last seconds at once (a per-commit latest-value update of ~5,000 series cost
 *   19–29 ms of a ~70 ms commit, measured). Readers add the newest raw point after the watermark.
 * - the checkpoints of the appends, and `inCommit` (the event outbox).
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { HistoryPoint, HistoryValue } from '../../core/ports/storage-ports.js';
import { numArrayLiteral, textArrayLiteral } from './pg-array.js';
import { RollupBuilder, valueText } from './pg-history-aggregate.js';
import { watermarkForShare } from './pg-history-rollup.js';
import type { PgDatabase } from './pg-database.js';

/** A commit must run again (with fresh series ids): a series was deleted since they were read. */
export class RetryCommit extends Error {}

/**
 * This node's series ids (workspace, twin, path → id), valid while the database's series
 * generation is the one they were read under (a twin deletion anywhere bumps it).
 */
export class SeriesIds {
  private readonly ids = new Map<string, number>();
  /** The series generation the cached ids are valid for (undefined: not known yet). */
  private gen: number | undefined;

  /** Reads the series generation (at open: ids read after it are checked against it). */
  async prime(db: PgDatabase): Promise<void> {
    const r = await db.query<{ gen: number }>(
      'SELECT series_gen::float8 AS gen FROM history_rollup_watermark',
    );
    this.gen = r.rows[0]?.gen;
  }

  /**
   * The ids of the points' series (creating the series not known yet), with the generation they
   * were read under: the commit checks it against the database's (`check`).
   */
  async resolve(
    db: PgDatabase,
    points: readonly HistoryPoint[],
  ): Promise<{ sids: Int32Array; gen?: number }> {
    const gen = this.gen;
    const tagged = (sids: Int32Array) => (gen === undefined ? { sids } : { sids, gen });
    const out = new Int32Array(points.length);
    const missing = new Map<string, HistoryPoint>();
    for (let j = 0; j < points.length; j++) {
      const p = points[j]!;
      const k = keyOf(p.workspace, p.twinId, p.path);
      const id = this.ids.get(k);
      if (id === undefined) missing.set(k, p);
      else out[j] = id;
    }
    if (missing.size === 0) return tagged(out);
    const ws: string[] = [];
    const tw: string[] = [];
    const pa: string[] = [];
    const ki: string[] = [];
    for (const p of missing.values()) {
      ws.push(p.workspace);
      tw.push(p.twinId);
      pa.push(p.path);
      ki.push(p.kind);
    }
    // One round trip: create the missing series, then read every id (new or held).
    const r = await db.query<{ id: number; workspace: string; twin_id: string; path: string }>(
      `WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(w, t, p, k)),
            ins AS (INSERT INTO history_series (workspace, twin_id, path, kind)
                    SELECT w, t, p, k FROM u ON CONFLICT (workspace, twin_id, path) DO NOTHING
                    RETURNING id, workspace, twin_id, path)
       SELECT id, workspace, twin_id, path FROM ins
       UNION ALL
       SELECT s.id, s.workspace, s.twin_id, s.path FROM history_series s
         JOIN u ON s.workspace = u.w AND s.twin_id = u.t AND s.path = u.p`,
      [ws, tw, pa, ki],
    );
    const got = new Map<string, number>();
    for (const row of r.rows) got.set(keyOf(row.workspace, row.twin_id, row.path), row.id);
    // Cached only while no other commit saw the generation move meanwhile (they may be stale then).
    if (this.gen === gen) for (const [k, id] of got) this.ids.set(k, id);
    for (let j = 0; j < points.length; j++) {
      if (out[j] !== 0) continue;
      const p = points[j]!;
      const id = got.get(keyOf(p.workspace, p.twinId, p.path));
      // Deleted between the insert and the select (a twin delete): the retry creates it again.
      if (id === undefined) throw new RetryCommit('a new series was deleted before the commit');
      out[j] = id;
    }
    return tagged(out);
  }

  /**
   * Checks the generation the commit's ids were read under against the database's (read under the
   * watermark lock, so no deletion can run until the commit ends). @throws RetryCommit when they differ
   */
  check(readUnder: number | undefined, gen: number): void {
    if (readUnder === gen) return;
    if (this.gen !== gen) {
      this.ids.clear();
      this.gen = gen;
    }
    throw new RetryCommit('a series was deleted since the ids were read');
  }

  forgetTwin(workspace: string, twinId: string): void {
    const prefix = `${workspace}\u0000${twinId}\u0000`;
    for (const k of this.ids.keys()) if (k.startsWith(prefix)) this.ids.delete(k);
  }
}

export interface CommitInput {
  points: readonly HistoryPoint[];
  sids: Int32Array;
  /** The series generation the ids were read under. */
  gen?: number;
  checkpoints: ReadonlyMap<string, number>;
  write: 'insert' | 'copy';
}

/** Writes one group commit in the caller's transaction. @throws RetryCommit */
export async function writePoints(c: pg.PoolClient, ids: SeriesIds, input: CommitInput): Promise<void> {
  const { points, sids } = input;
  const { ts: below, gen } = await watermarkForShare(c);
  ids.check(input.gen, gen);

  const plain = new Columns();
  const once = new Columns();
  const onceAt: number[] = [];
  // A once point is skipped when this commit holds a point at its time before it (as if the points
  // were stored one by one); keys are built only when there is a once point at all.
  const anyOnce = points.some((p) => p.once === true);
  const seen = new Set<string>();
  let lateOnce = false;
  for (let j = 0; j < points.length; j++) {
    const p = points[j]!;
    const key = anyOnce ? `${sids[j]!}:${p.ts}` : '';
    if (p.once) {
      if (seen.has(key)) continue;
      seen.add(key);
      once.add(sids[j]!, p);
      onceAt.push(j);
      if (p.ts < below) lateOnce = true;
    } else {
      if (anyOnce) seen.add(key);
      plain.add(sids[j]!, p);
    }
  }

  // Late points (before the watermark): their rollups and their series' latest value, here.
  const rollups = new RollupBuilder();
  const latest = new Map<number, { ts: number; value: HistoryValue }>();
  const late = (j: number): void => {
    const p = points[j]!;
    const sid = sids[j]!;
    rollups.add(sid, p.ts, p.value, () => valueText(p.value));
    const l = latest.get(sid);
    if (!l || p.ts >= l.ts) latest.set(sid, { ts: p.ts, value: p.value });
  };

  if (once.size) {
    // First: NOT EXISTS must see only what was stored before this commit (this commit's own earlier
    // points were handled above). Only the rows inserted count for the rollups of late points.
    const r = await c.query<{ s: number; t: number }>(
      `INSERT INTO history_points (series_id, ts, once, num, json)
       SELECT s, t, true, n, j FROM unnest($1::int[], $2::float8[], $3::float8[], $4::text[]) AS u(s, t, n, j)
        WHERE NOT EXISTS (SELECT 1 FROM history_points p WHERE p.series_id = u.s AND p.ts = u.t)
       ON CONFLICT (series_id, ts) WHERE once DO NOTHING
       ${lateOnce ? 'RETURNING series_id AS s, ts AS t' : ''}`,
      once.params(),
    );
    if (lateOnce) {
      const stored = new Set(r.rows.map((x) => `${x.s}:${x.t}`));
      for (const j of onceAt) {
        if (points[j]!.ts < below && stored.has(`${sids[j]!}:${points[j]!.ts}`)) late(j);
      }
    }
  }
  if (plain.size) {
    if (input.write === 'copy') await copyRows(c, plain);
    else
      await c.query(
        `INSERT INTO history_points (series_id, ts, once, num, json)
         SELECT s, t, false, n, j FROM unnest($1::int[], $2::float8[], $3::float8[], $4::text[]) AS u(s, t, n, j)`,
        plain.params(),
      );
    for (let j = 0; j < points.length; j++) if (!points[j]!.once && points[j]!.ts < below) late(j);
  }
  if (latest.size) {
    await rollups.write(c);
    const lid: number[] = [];
    const lts: number[] = [];
    const lnum: (number | null)[] = [];
    const ljson: (string | null)[] = [];
    for (const [sid, l] of latest) {
      lid.push(sid);
      lts.push(l.ts);
      const num = typeof l.value === 'number';
      lnum.push(num ? (l.value as number) : null);
      ljson.push(num ? null : JSON.stringify(l.value));
    }
    await c.query(
      `UPDATE history_series s SET last_ts = u.ts, last_num = u.num, last_json = u.json
         FROM unnest($1::int[], $2::float8[], $3::float8[], $4::text[]) AS u(id, ts, num, json)
        WHERE s.id = u.id AND (s.last_ts IS NULL OR u.ts >= s.last_ts)`,
      [numArrayLiteral(lid), numArrayLiteral(lts), numArrayLiteral(lnum), textArrayLiteral(ljson)],
    );
  }
  if (input.checkpoints.size) {
    await c.query(
      `INSERT INTO history_checkpoints (key, seq) SELECT * FROM unnest($1::text[], $2::bigint[])
       ON CONFLICT (key) DO UPDATE SET seq = excluded.seq`,
      [[...input.checkpoints.keys()], [...input.checkpoints.values()]],
    );
  }
}

/** Column arrays of the rows to write. */
class Columns {
  readonly s: number[] = [];
  readonly t: number[] = [];
  readonly n: (number | null)[] = [];
  readonly j: (string | null)[] = [];

  get size(): number {
    return this.s.length;
  }

  add(sid: number, p: HistoryPoint): void {
    const num = typeof p.value === 'number';
    this.s.push(sid);
    this.t.push(p.ts);
    this.n.push(num ? (p.value as number) : null);
    this.j.push(num ? null : JSON.stringify(p.value));
  }

  params(): string[] {
    return [
      numArrayLiteral(this.s),
      numArrayLiteral(this.t),
      numArrayLiteral(this.n),
      textArrayLiteral(this.j),
    ];
  }
}

/** Writes rows without a device time with COPY (text format). */
async function copyRows(c: pg.PoolClient, rows: Columns): Promise<void> {
  const chunks: string[] = [];
  let buf = '';
  for (let i = 0; i < rows.size; i++) {
    const n = rows.n[i];
    const j = rows.j[i];
    buf += `${rows.s[i]}\t${rows.t[i]}\tf\t${n === null || n === undefined ? '\\N' : n}\t${
      j === null || j === undefined ? '\\N' : copyText(j)
    }\n`;
    if (buf.length > 65_536) {
      chunks.push(buf);
      buf = '';
    }
  }
  if (buf) chunks.push(buf);
  await pipeline(
    Readable.from(chunks),
    c.query(copyFrom('COPY history_points (series_id, ts, once, num, json) FROM STDIN')),
  );
}

/** Escapes a value for COPY's text format. */
function copyText(s: string): string {
  return /[\\\n\r\t]/.test(s)
    ? s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')
    : s;
}

export function keyOf(workspace: string, twinId: string, path: string): string {
  return `${workspace}\u0000${twinId}\u0000${path}`;
}
