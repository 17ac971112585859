/**
 * Write side of history compaction, run inside the store's transactions: turns a series' buffered
 * points into columnar chunks, merges the small chunks of slow series in tiers, prunes old points
 * and deletes a twin's series. Nothing here commits on its own.
 */
import type Database from 'better-sqlite3';
import type { HistoryValue } from '../../core/ports/storage-ports.js';
import type { SeriesBuffer } from './sqlite-history-query.js';
import {
  concatColumns,
  decodeChunk,
  encodeChunk,
  sliceColumns,
  sortColumns,
  type ChunkRow,
  type Columns,
} from './sqlite-history-codec.js';

/** A small chunk awaiting a merge; level = floor(log8(count)). */
interface SmallChunk {
  id: number;
  count: number;
  level: number;
}

/** What the store knows of one series. */
export interface SeriesState extends SeriesBuffer {
  id: number;
  workspace: string;
  twinId: string;
  path: string;
  kind: 'telemetry' | 'property';
  lastTs: number;
  lastValue: HistoryValue;
  /** No stored (or accepted) point of the series is later than this (exactly-once check; may be above). */
  maxTs: number;
  hasLast: boolean;
  /** lastTs/lastValue changed since the series row was written. */
  lastDirty: boolean;
  /** Small chunks written since open, oldest first (chunks of earlier runs are not merged). */
  small: SmallChunk[];
  /** Points handed to the compaction pass under way (still visible to queries until written). */
  frozen: SeriesBuffer | null;
}

const FAN_IN = 8;

function levelOf(count: number): number {
  return Math.floor(Math.log(Math.max(1, count)) / Math.log(FAN_IN));
}

export class SeriesCompactor {
  private readonly insertChunk: Database.Statement;
  private readonly updateChunk: Database.Statement;
  private readonly deleteChunk: Database.Statement<[number]>;
  private readonly chunkBlobs: Database.Statement<
    [number],
    { ts: Buffer; vals: Buffer; json: string | null }
  >;
  private readonly updateLast: Database.Statement<[number, string, number]>;
  private readonly deleteLog: Database.Statement<[number]>;
  private readonly progress: Database.Statement<[number, number]>;
  private readonly clearProgress: Database.Statement<[]>;
  private readonly smallLimit: number;

  constructor(
    private readonly db: Database.Database,
    private readonly chunkPoints: number,
  ) {
    const cols =
      'min_ts, max_ts, count, num_count, sum, min, max, first_ts, first_value, last_ts, last_value, ts, vals, json';
    this.insertChunk = db.prepare(
      `INSERT INTO history_chunks (series_id, ${cols}) VALUES (?, @min_ts, @max_ts, @count, @num_count, @sum, @min, @max,
       @first_ts, @first_value, @last_ts, @last_value, @ts, @vals, @json)`,
    );
    this.updateChunk = db.prepare(
      `UPDATE history_chunks SET min_ts = @min_ts, max_ts = @max_ts, count = @count, num_count = @num_count, sum = @sum,
       min = @min, max = @max, first_ts = @first_ts, first_value = @first_value, last_ts = @last_ts,
       last_value = @last_value, ts = @ts, vals = @vals, json = @json WHERE id = @id`,
    );
    this.deleteChunk = db.prepare('DELETE FROM history_chunks WHERE id = ?');
    this.chunkBlobs = db.prepare('SELECT ts, vals, json FROM history_chunks WHERE id = ?');
    this.updateLast = db.prepare('UPDATE series SET last_ts = ?, last_value = ? WHERE id = ?');
    this.deleteLog = db.prepare('DELETE FROM history_log WHERE id <= ?');
    this.progress = db.prepare('INSERT OR REPLACE INTO history_compacted (series_id, log_id) VALUES (?, ?)');
    this.clearProgress = db.prepare('DELETE FROM history_compacted');
    this.smallLimit = Math.max(1, Math.floor(chunkPoints / 2));
  }

  /**
   * Writes buffered points of a series as chunks, its last value, and that its log points up to
   * `epoch` are compacted (so a replay after a crash mid-pass does not add them twice).
   */
  compactSeries(s: SeriesState, buf: SeriesBuffer, epoch: number): void {
    if (buf.bts.length > 0) {
      const cols = sortColumns({
        ts: Float64Array.from(buf.bts),
        vals: Float64Array.from(buf.bnum),
        json: buf.bjson,
      });
      this.writePieces(s, cols);
    }
    if (s.lastDirty) this.updateLast.run(s.lastTs, JSON.stringify(s.lastValue), s.id);
    this.progress.run(s.id, epoch);
  }

  /** Ends a pass: every point of log rows up to `epoch` is in chunks. */
  finishPass(epoch: number): void {
    this.deleteLog.run(epoch);
    this.clearProgress.run();
  }

  /** Series id → log id up to which its points are already compacted (left by an interrupted pass). */
  loadProgress(): Map<number, number> {
    const rows = this.db.prepare('SELECT series_id, log_id FROM history_compacted').raw().all() as [
      number,
      number,
    ][];
    return new Map(rows);
  }

  /** Deletes points with ts < before; returns how many. */
  prune(before: number): number {
    const whole = this.db
      .prepare<[number], { n: number | null }>('SELECT sum(count) AS n FROM history_chunks WHERE max_ts < ?')
      .get(before);
    this.db.prepare('DELETE FROM history_chunks WHERE max_ts < ?').run(before);
    let removed = whole?.n ?? 0;
    const straddling = this.db
      .prepare<[number, number], { id: number }>(
        'SELECT id FROM history_chunks WHERE max_ts >= ? AND min_ts < ?',
      )
      .all(before, before);
    for (const { id } of straddling) {
      const c = this.read(id);
      let k = 0;
      while (k < c.ts.length && (c.ts[k] as number) < before) k++;
      removed += k;
      this.updateChunk.run({ ...encodeChunk(sliceColumns(c, k, c.ts.length)), id });
    }
    return removed;
  }

  deleteTwin(workspace: string, twinId: string): void {
    this.db
      .prepare(
        'DELETE FROM history_chunks WHERE series_id IN (SELECT id FROM series WHERE workspace = ? AND twin_id = ?)',
      )
      .run(workspace, twinId);
    this.db.prepare('DELETE FROM series WHERE workspace = ? AND twin_id = ?').run(workspace, twinId);
  }

  private read(id: number): Columns {
    const r = this.chunkBlobs.get(id);
    if (!r) throw new Error(`history chunk ${id} is missing`);
    // Copy: the merged/pruned chunk must not alias buffers SQLite hands back.
    const c = decodeChunk(r.ts, r.vals, r.json);
    return { ts: c.ts.slice(), vals: c.vals.slice(), json: c.json };
  }

  private insert(seriesId: number, row: ChunkRow): number {
    return Number(this.insertChunk.run(seriesId, row).lastInsertRowid);
  }

  /** Writes sorted columns as chunks of at most chunkPoints; small ones join the merge tiers. */
  private writePieces(s: SeriesState, cols: Columns): void {
    const n = cols.ts.length;
    for (let start = 0; start < n; start += this.chunkPoints) {
      const end = Math.min(n, start + this.chunkPoints);
      const piece = start === 0 && end === n ? cols : sliceColumns(cols, start, end);
      const id = this.insert(s.id, encodeChunk(piece));
      const count = end - start;
      if (count < this.smallLimit) {
        s.small.push({ id, count, level: levelOf(count) });
        this.mergeTiers(s);
      }
    }
  }

  /** When the newest FAN_IN small chunks share a level, merge them (writePieces cascades upwards). */
  private mergeTiers(s: SeriesState): void {
    if (s.small.length < FAN_IN) return;
    const group = s.small.slice(-FAN_IN);
    const level = group[FAN_IN - 1]!.level;
    if (!group.every((g) => g.level === level)) return;
    s.small.length -= FAN_IN;
    const merged = concatColumns(group.map((g) => this.read(g.id)));
    for (const g of group) this.deleteChunk.run(g.id);
    this.writePieces(s, merged);
  }
}
