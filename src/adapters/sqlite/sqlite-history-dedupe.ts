/**
 * Exactly-once history for points that carry their source time (`HistoryPoint.once`): a point
 * whose series already holds that ts is skipped, so a message redelivered after a crash or resent
 * after a lost PUBACK never counts twice.
 *
 * Cost: devices send in time order, so almost every point is newer than anything its series holds
 * (`maxTs`, an upper bound kept in memory) and is accepted with one comparison. Only a point at or
 * before `maxTs` (a duplicate, or a genuine late/backfilled reading) looks further: the points of
 * the same group commit, the series' in-memory buffers (scanned from the newest end, where
 * redelivered points are), then the one or few chunks whose [min_ts, max_ts] covers it (indexed,
 * the last chunk decoded is cached so a burst of duplicates decodes it once).
 */
import type Database from 'better-sqlite3';
import type { HistoryPoint } from '../../core/ports/storage-ports.js';
import { decodeTs } from './sqlite-history-codec.js';
import type { SeriesState } from './sqlite-history-compactor.js';
import type { SeriesBuffer } from './sqlite-history-query.js';

interface CachedChunk {
  id: number;
  ts: Float64Array;
}

export class HistoryDedupe {
  private readonly chunksAt: Database.Statement<[number, number, number], { id: number }>;
  private readonly chunkTs: Database.Statement<[number], { ts: Buffer; count: number }>;
  private cached: CachedChunk | null = null;
  /** Points skipped as already stored since open (counted by the store once its commit succeeded). */
  skipped = 0;

  constructor(db: Database.Database) {
    this.chunksAt = db.prepare(
      'SELECT id FROM history_chunks WHERE series_id = ? AND max_ts >= ? AND min_ts <= ?',
    );
    this.chunkTs = db.prepare('SELECT ts, count FROM history_chunks WHERE id = ?');
  }

  /**
   * The points of one group commit that are to be stored, with their series states; `once` points
   * already stored (or earlier in the same batch) are left out. Advances each series' `maxTs`.
   */
  filter(
    points: readonly HistoryPoint[],
    states: readonly SeriesState[],
  ): { points: readonly HistoryPoint[]; states: readonly SeriesState[]; skipped: number } {
    let keep: boolean[] | null = null;
    /** ts accepted so far in this batch per series; built on the first point that needs it. */
    let batch: Map<SeriesState, Set<number>> | null = null;
    for (let i = 0; i < points.length; i++) {
      const p = points[i]!;
      const s = states[i]!;
      if (!p.once || p.ts > s.maxTs) {
        if (p.ts > s.maxTs) s.maxTs = p.ts;
        if (batch) addTs(batch, s, p.ts);
        continue;
      }
      if (!batch) {
        batch = new Map();
        for (let j = 0; j < i; j++) if (!keep || keep[j]) addTs(batch, states[j]!, points[j]!.ts);
      }
      if (batch.get(s)?.has(p.ts) || this.stored(s, p.ts)) {
        keep ??= points.map(() => true);
        keep[i] = false;
        continue;
      }
      addTs(batch, s, p.ts);
    }
    if (!keep) return { points, states, skipped: 0 };
    const kept = points.filter((_, i) => keep[i]);
    return {
      points: kept,
      states: states.filter((_, i) => keep[i]),
      skipped: points.length - kept.length,
    };
  }

  /** Chunks were rewritten (compaction, prune, delete): the cached one may be stale. */
  invalidate(): void {
    this.cached = null;
  }

  /** Whether the series already holds a point at ts (buffers of the pass under way and live, then chunks). */
  private stored(s: SeriesState, ts: number): boolean {
    if (inBuffer(s, ts) || (s.frozen && inBuffer(s.frozen, ts))) return true;
    for (const { id } of this.chunksAt.all(s.id, ts, ts)) {
      let c = this.cached;
      if (!c || c.id !== id) {
        const row = this.chunkTs.get(id);
        if (!row) continue;
        c = this.cached = { id, ts: decodeTs(row.ts, row.count).slice() };
      }
      if (sortedHas(c.ts, ts)) return true;
    }
    return false;
  }
}

function addTs(batch: Map<SeriesState, Set<number>>, s: SeriesState, ts: number): void {
  let set = batch.get(s);
  if (!set) batch.set(s, (set = new Set()));
  set.add(ts);
}

/** Newest first: redelivered points are the most recent ones. */
function inBuffer(b: SeriesBuffer, ts: number): boolean {
  const a = b.bts;
  for (let i = a.length - 1; i >= 0; i--) if (a[i] === ts) return true;
  return false;
}

/** Chunk timestamps are sorted ascending. */
function sortedHas(a: Float64Array, ts: number): boolean {
  let lo = 0;
  let hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = a[mid]!;
    if (v === ts) return true;
    if (v < ts) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
