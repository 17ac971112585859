/**
 * HistoryStore on SQLite, built for ingest rates a row-per-reading table cannot reach:
 *
 * - write path: appends made in the same tick are group-committed as ONE row of `history_log` (a
 *   packed blob of (series id, ts, value) triples) in one transaction; then the points go to
 *   in-memory per-series buffers and every caller's promise resolves.
 * - compaction (periodic, or when enough points are buffered): a pass freezes the live buffers
 *   and writes each series' points as a columnar chunk of `history_chunks` with summary columns, in
 *   slices of ~2,500 points (one transaction each, yielding to the event loop between slices so
 *   ingest is not stalled). Each slice records which series are done (`history_compacted`), so a
 *   crash mid-pass neither loses nor duplicates points; the last slice deletes the log rows.
 *   Small chunks of slow series are merged in tiers (8 of one size into one) so a 1 Hz series does
 *   not end up as millions of tiny chunks.
 * - open: the log is replayed into the buffers and compacted, so the `series` table (last values,
 *   read by the twin store at start) is current.
 * - queries read chunks plus buffers, so every committed point is visible.
 */
import type { OutboxRow } from '../../core/ports/event-routing.js';
import type Database from 'better-sqlite3';
import { TwinloopError } from '../../core/errors/errors.js';
import { appendError } from '../../core/ports/history-append-check.js';
import type {
  HistoryAggregateQuery,
  HistoryAppendOptions,
  HistoryBucket,
  HistoryPoint,
  HistoryRawPage,
  HistoryRawQuery,
  HistoryStore,
  HistoryValue,
  SeriesInfo,
} from '../../core/ports/storage-ports.js';
import { storageError } from './sqlite-database.js';
import { GroupCommitter, type GroupCommitOptions } from './sqlite-group-commit.js';
import { HistoryReader, type SeriesBuffer } from './sqlite-history-query.js';
import { SeriesCompactor, type SeriesState } from './sqlite-history-compactor.js';

/**
 * What writing one series in a compaction slice costs, in points: during an import job a slice of
 * 2,500 one-point series took ~65 ms (~25 µs a series, about what 25 points of one series cost).
 */
const SERIES_COST = 25;
import { newState, rowToState, type SeriesRow } from './sqlite-history-series.js';
import { decodeLog, encodeLog, type LogBatch } from './sqlite-history-codec.js';
import { HistoryDedupe } from './sqlite-history-dedupe.js';

export interface SqliteHistoryStoreOptions {
  /** Wait this long (ms) to gather appends into one commit; 0 (default) = same tick. */
  commitDelayMs?: number;
  /** Compact at least this often (ms) while points are buffered (default 10,000). */
  compactIntervalMs?: number;
  /** Compact as soon as this many points are buffered (default 1,000,000). */
  compactMaxPoints?: number;
  /** Points per full chunk (default 4096). */
  chunkPoints?: number;
  /**
   * A compaction pass runs in slices of about this many points, one transaction each, yielding to
   * the event loop in between so ingest is not stalled for the whole pass (default 2,500: measured, larger slices put 20–50 ms stalls into live latency).
   */
  compactSlicePoints?: number;
  /** Told after every group commit (for the commit-latency metric). */
  onCommit?: GroupCommitOptions['onCommit'];
  /**
   * Runs inside every group commit's transaction with the event-route rows its appends carried
   * (`HistoryAppendOptions.outbox`): they commit with their points. Throwing fails the commit.
   */
  inCommit?: (outbox: readonly OutboxRow[]) => void;
}

export class SqliteHistoryStore implements HistoryStore {
  private readonly committer: GroupCommitter<HistoryPoint>;
  private readonly reader: HistoryReader;
  private readonly compactor: SeriesCompactor;
  private readonly dedupe: HistoryDedupe;
  /** Series touched since open: workspace → twin → path → state. */
  private readonly cache = new Map<string, Map<string, Map<string, SeriesState>>>();
  private readonly byId = new Map<number, SeriesState>();
  private readonly dirty = new Set<SeriesState>();
  /** Points in live buffers (not yet handed to a compaction pass). */
  private buffered = 0;
  /** Points in frozen buffers of the pass under way. */
  private frozenPoints = 0;
  /** The compaction pass under way: series whose frozen points are still to be written. */
  private pass: { epoch: number; queue: SeriesState[]; next: number } | null = null;
  private passRunning = false;
  private readonly sliceBudget: number;
  private maxLogId = 0;
  private nextSeriesId: number;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly compactMaxPoints: number;
  private readonly stmt: {
    seriesByKey: Database.Statement<[string, string, string], SeriesRow>;
    seriesById: Database.Statement<[number], SeriesRow>;
    insertSeries: Database.Statement<[number, string, string, string, string]>;
    insertLog: Database.Statement<[Buffer | null, string | null]>;
    listSeries: Database.Statement<[string], SeriesRow>;
    listTwinSeries: Database.Statement<[string, string], SeriesRow>;
    putCheckpoint: Database.Statement<[string, number]>;
    getCheckpoint: Database.Statement<[string], { seq: number }>;
  };
  /** Checkpoints of the appends queued for the next group commit (key → seq; the latest wins). */
  private checkpoints = new Map<string, number>();
  /** Event-route rows of the appends queued for the next group commit (committed with them). */
  private outboxRows: OutboxRow[] = [];

  private readonly inCommit: ((outbox: readonly OutboxRow[]) => void) | undefined;

  constructor(
    private readonly db: Database.Database,
    options: SqliteHistoryStoreOptions = {},
  ) {
    this.inCommit = options.inCommit;
    this.compactMaxPoints = options.compactMaxPoints ?? 1_000_000;
    this.sliceBudget = Math.max(1, options.compactSlicePoints ?? 2_500);
    this.committer = new GroupCommitter((points) => this.commit(points), {
      delayMs: options.commitDelayMs ?? 0,
      onCommit: options.onCommit,
    });
    try {
      this.stmt = {
        seriesByKey: db.prepare('SELECT * FROM series WHERE workspace = ? AND twin_id = ? AND path = ?'),
        seriesById: db.prepare('SELECT * FROM series WHERE id = ?'),
        insertSeries: db.prepare(
          'INSERT INTO series (id, workspace, twin_id, path, kind) VALUES (?, ?, ?, ?, ?)',
        ),
        insertLog: db.prepare('INSERT INTO history_log (nums, extra) VALUES (?, ?)'),
        listSeries: db.prepare('SELECT * FROM series WHERE workspace = ? ORDER BY twin_id, path'),
        listTwinSeries: db.prepare('SELECT * FROM series WHERE workspace = ? AND twin_id = ? ORDER BY path'),
        putCheckpoint: db.prepare(
          'INSERT INTO history_checkpoints (key, seq) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET seq = excluded.seq',
        ),
        getCheckpoint: db.prepare('SELECT seq FROM history_checkpoints WHERE key = ?'),
      };
      this.reader = new HistoryReader(db);
      this.compactor = new SeriesCompactor(db, options.chunkPoints ?? 4096);
      this.dedupe = new HistoryDedupe(db);
      this.nextSeriesId =
        ((db.prepare('SELECT max(id) AS m FROM series').get() as { m: number | null }).m ?? 0) + 1;
      this.replayLog();
    } catch (e) {
      throw storageError('Cannot open the history store', e);
    }
    this.timer = setInterval(() => {
      if (this.buffered > 0 || this.pass) this.runPass();
    }, options.compactIntervalMs ?? 10_000);
    this.timer.unref();
  }

  append(points: readonly HistoryPoint[], options: HistoryAppendOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(new TwinloopError('StorageError', 'The history store is closed.'));
    const bad = appendError(points, options);
    if (bad) return Promise.reject(bad);
    const cp = options.checkpoint;
    if (cp) {
      // Queued with the points: the commit that takes these points stores it (or neither).
      this.checkpoints.set(cp.key, cp.seq);
    } else if (points.length === 0 && !options.outbox?.length) return Promise.resolve();
    if (options.outbox?.length) for (const r of options.outbox) this.outboxRows.push(r);
    return this.committer.submit(points);
  }

  async readCheckpoint(key: string): Promise<number | undefined> {
    await Promise.resolve();
    return this.read(() => this.stmt.getCheckpoint.get(key)?.seq);
  }

  async queryRaw(q: HistoryRawQuery): Promise<HistoryRawPage> {
    await Promise.resolve();
    const s = this.lookup(q.workspace, q.twinId, q.path);
    return this.read(() => this.reader.raw(q, s?.id, s ? buffersOf(s) : []));
  }

  async queryAggregate(q: HistoryAggregateQuery): Promise<HistoryBucket[]> {
    await Promise.resolve();
    const s = this.lookup(q.workspace, q.twinId, q.path);
    return this.read(() => this.reader.aggregate(q, s?.id, s ? buffersOf(s) : []));
  }

  async listSeries(workspace: string, twinId?: string): Promise<SeriesInfo[]> {
    await Promise.resolve();
    return this.listSeriesNow(workspace, twinId);
  }

  private listSeriesNow(workspace: string, twinId?: string): SeriesInfo[] {
    return this.read(() => {
      const rows =
        twinId === undefined
          ? this.stmt.listSeries.all(workspace)
          : this.stmt.listTwinSeries.all(workspace, twinId);
      const out: SeriesInfo[] = [];
      for (const r of rows) {
        const s = this.byId.get(r.id) ?? rowToState(r);
        if (!s.hasLast) continue;
        out.push({
          workspace,
          twinId: s.twinId,
          path: s.path,
          kind: s.kind,
          lastTs: s.lastTs,
          lastValue: s.lastValue,
        });
      }
      return out;
    });
  }

  async prune(before: number): Promise<number> {
    await Promise.resolve();
    return this.pruneNow(before);
  }

  private pruneNow(before: number): number {
    if (typeof before !== 'number' || Number.isNaN(before)) {
      throw new TwinloopError('InvalidHistoryQuery', `prune needs a time in ms (got ${String(before)}).`);
    }
    this.compactNow();
    this.dedupe.invalidate();
    try {
      return this.db.transaction(() => this.compactor.prune(before))();
    } catch (e) {
      throw storageError('Cannot prune history', e);
    } finally {
      for (const s of this.byId.values()) s.small = [];
    }
  }

  /**
   * Deletes every series of the twin. With `alsoInTransaction` (the twin store deletes the twin
   * itself with its history, all or nothing) it runs synchronously inside that transaction and
   * throws; without it, it returns a promise like the port says.
   */
  deleteTwin(workspace: string, twinId: string): Promise<void>;
  deleteTwin(workspace: string, twinId: string, alsoInTransaction: () => void): void;
  deleteTwin(workspace: string, twinId: string, alsoInTransaction?: () => void): Promise<void> | void {
    if (alsoInTransaction) return this.deleteTwinNow(workspace, twinId, alsoInTransaction);
    try {
      this.deleteTwinNow(workspace, twinId);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }

  private deleteTwinNow(workspace: string, twinId: string, alsoInTransaction?: () => void): void {
    this.compactNow();
    this.dedupe.invalidate();
    try {
      this.db.transaction(() => {
        this.compactor.deleteTwin(workspace, twinId);
        alsoInTransaction?.();
      })();
    } catch (e) {
      throw storageError('Cannot delete the history of a twin', e);
    }
    const twins = this.cache.get(workspace);
    const paths = twins?.get(twinId);
    if (paths) for (const s of paths.values()) this.byId.delete(s.id);
    twins?.delete(twinId);
  }

  /** Commits queued appends now (normally done at the end of the tick). */
  flush(): void {
    this.committer.flush();
  }

  /**
   * Compacts every buffered point into chunks and empties the log, synchronously (the periodic
   * compaction does the same in slices). @throws StorageError when a slice cannot be written.
   */
  compactNow(): void {
    this.committer.flush();
    if (this.pass) this.finishPass();
    this.startPass();
    if (this.pass) this.finishPass();
  }

  /** Points with a source time skipped because their series already held that time (since open). */
  get duplicatesSkipped(): number {
    return this.dedupe.skipped;
  }

  /** Points committed but not yet compacted (for tests and metrics). */
  get bufferedPoints(): number {
    return this.buffered + this.frozenPoints;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.committer.flush();
    this.compactNow();
    await Promise.resolve();
  }

  // ------------------------------------------------------------ internals

  private read<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof TwinloopError) throw e;
      throw storageError('Cannot read history', e);
    }
  }

  /** Hands every live buffer to a new pass (their points are those of log rows up to maxLogId). */
  private startPass(): void {
    if (this.pass || this.dirty.size === 0) return;
    const queue = [...this.dirty];
    for (const s of queue) {
      s.frozen = { bts: s.bts, bnum: s.bnum, bjson: s.bjson };
      s.bts = [];
      s.bnum = [];
      s.bjson = null;
    }
    this.dirty.clear();
    this.frozenPoints += this.buffered;
    this.buffered = 0;
    this.pass = { epoch: this.maxLogId, queue, next: 0 };
  }

  /** Writes the next slice of the pass in one transaction; the last slice also empties the log. */
  private step(budget: number): void {
    const pass = this.pass;
    if (!pass) return;
    const first = pass.next;
    let points = 0;
    while (pass.next < pass.queue.length && (pass.next === first || points < budget)) {
      // A series costs its statements even with one point (an import makes thousands of those):
      // each counts as SERIES_COST points more, so a slice of tiny series stays a few ms.
      points += (pass.queue[pass.next++]!.frozen?.bts.length ?? 0) + SERIES_COST;
    }
    const slice = pass.queue.slice(first, pass.next);
    const last = pass.next >= pass.queue.length;
    this.dedupe.invalidate();
    try {
      this.db.transaction(() => {
        for (const s of slice) if (s.frozen) this.compactor.compactSeries(s, s.frozen, pass.epoch);
        if (last) this.compactor.finishPass(pass.epoch);
      })();
    } catch (e) {
      // Nothing of the slice was written: retry it later. Its chunk ids are gone, so forget the tiers.
      pass.next = first;
      for (const s of slice) s.small = [];
      throw storageError('Cannot compact history', e);
    }
    for (const s of slice) {
      this.frozenPoints -= s.frozen?.bts.length ?? 0;
      s.frozen = null;
      s.lastDirty = false;
    }
    if (last) this.pass = null;
  }

  private finishPass(): void {
    while (this.pass) this.step(Infinity);
  }

  /** Runs a pass in slices, yielding to the event loop between them. Failures are retried by the timer. */
  private runPass(): void {
    if (this.passRunning || this.closed) return;
    this.passRunning = true;
    const next = (): void => {
      try {
        if (this.closed) return void (this.passRunning = false);
        if (!this.pass) this.startPass();
        this.step(this.sliceBudget);
      } catch {
        // Points stay buffered and in the log; the timer retries. Appends are unaffected.
        this.passRunning = false;
        return;
      }
      if (this.pass) setImmediate(next);
      else this.passRunning = false;
    };
    setImmediate(next);
  }

  /** The series' state, from the cache or the database; undefined when it does not exist. */
  private lookup(workspace: string, twinId: string, path: string): SeriesState | undefined {
    const hit = this.cache.get(workspace)?.get(twinId)?.get(path);
    if (hit) return hit;
    const row = this.read(() => this.stmt.seriesByKey.get(workspace, twinId, path));
    return row ? this.remember(rowToState(row)) : undefined;
  }

  private remember(s: SeriesState): SeriesState {
    let twins = this.cache.get(s.workspace);
    if (!twins) this.cache.set(s.workspace, (twins = new Map()));
    let paths = twins.get(s.twinId);
    if (!paths) twins.set(s.twinId, (paths = new Map()));
    paths.set(s.path, s);
    this.byId.set(s.id, s);
    return s;
  }

  private forget(s: SeriesState): void {
    this.cache.get(s.workspace)?.get(s.twinId)?.delete(s.path);
    this.byId.delete(s.id);
  }

  /** One group commit: one log row (plus new series rows) in one transaction. */
  private commit(all: HistoryPoint[]): void {
    const checkpoints = this.checkpoints;
    this.checkpoints = new Map();
    const outbox = this.outboxRows;
    this.outboxRows = [];
    const putCheckpoints = (): void => {
      for (const [key, seq] of checkpoints) this.stmt.putCheckpoint.run(key, seq);
    };
    const created: SeriesState[] = [];
    const allStates: SeriesState[] = new Array<SeriesState>(all.length);
    const batch: LogBatch = {
      n: 0,
      sids: new Uint32Array(all.length),
      ts: new Float64Array(all.length),
      vals: new Float64Array(all.length),
      extra: [],
    };
    let logId: number;
    let points: readonly HistoryPoint[] = all;
    let states: readonly SeriesState[] = allStates;
    try {
      for (let i = 0; i < all.length; i++) {
        const p = all[i]!;
        let s = this.cache.get(p.workspace)?.get(p.twinId)?.get(p.path);
        if (!s) {
          const row = this.stmt.seriesByKey.get(p.workspace, p.twinId, p.path);
          if (row) s = this.remember(rowToState(row));
          else {
            s = this.remember(newState(this.nextSeriesId++, p.workspace, p.twinId, p.path, p.kind));
            created.push(s);
          }
        }
        allStates[i] = s;
      }
      let skipped: number;
      ({ points, states, skipped } = this.dedupe.filter(all, allStates));
      for (let i = 0; i < points.length; i++) {
        const p = points[i]!;
        const s = states[i]!;
        if (typeof p.value === 'number') {
          batch.sids[batch.n] = s.id;
          batch.ts[batch.n] = p.ts;
          batch.vals[batch.n] = p.value;
          batch.n++;
        } else {
          batch.extra.push([s.id, p.ts, p.value]);
        }
      }
      // When every point was already stored (a redelivery) there is nothing to write.
      if (points.length > 0) {
        const { nums, extra } = encodeLog(batch);
        logId = this.db.transaction(() => {
          for (const s of created) this.stmt.insertSeries.run(s.id, s.workspace, s.twinId, s.path, s.kind);
          if (outbox.length) this.inCommit?.(outbox);
          putCheckpoints();
          return Number(this.stmt.insertLog.run(nums, extra).lastInsertRowid);
        })();
      } else {
        if (outbox.length || checkpoints.size) {
          this.db.transaction(() => {
            if (outbox.length) this.inCommit?.(outbox);
            putCheckpoints();
          })();
        }
        logId = this.maxLogId;
      }
      this.dedupe.skipped += skipped;
    } catch (e) {
      for (const s of created) this.forget(s);
      throw storageError('Cannot commit history points', e);
    }
    this.maxLogId = logId;
    for (let i = 0; i < points.length; i++) this.buffer(states[i]!, points[i]!.ts, points[i]!.value);
    this.buffered += points.length;
    if (this.buffered >= this.compactMaxPoints) this.runPass();
  }

  private buffer(s: SeriesState, ts: number, value: HistoryValue): void {
    if (typeof value === 'number') {
      s.bnum.push(value);
    } else {
      (s.bjson ??= new Map()).set(s.bts.length, value);
      s.bnum.push(NaN);
    }
    s.bts.push(ts);
    if (ts > s.maxTs) s.maxTs = ts;
    if (!s.hasLast || ts >= s.lastTs) {
      s.lastTs = ts;
      s.lastValue = value;
      s.hasLast = true;
      s.lastDirty = true;
    }
    this.dirty.add(s);
  }

  /** Reads the log left by the last run into the buffers, then compacts it. */
  private replayLog(): void {
    const ids = this.db.prepare('SELECT id FROM history_log ORDER BY id').pluck().all() as number[];
    if (ids.length === 0) return;
    const get = this.db.prepare<[number], { nums: Buffer | null; extra: string | null }>(
      'SELECT nums, extra FROM history_log WHERE id = ?',
    );
    // A pass interrupted by a crash already wrote some series' points: skip those.
    const done = this.compactor.loadProgress();
    for (const id of ids) {
      const row = get.get(id);
      if (!row) continue;
      const b = decodeLog(row.nums, row.extra);
      for (let i = 0; i < b.n; i++) {
        const sid = b.sids[i]!;
        if ((done.get(sid) ?? 0) < id) this.replayPoint(sid, b.ts[i]!, b.vals[i]!);
      }
      for (const [sid, ts, v] of b.extra) if ((done.get(sid) ?? 0) < id) this.replayPoint(sid, ts, v);
      this.maxLogId = id;
    }
    this.compactNow();
  }

  private replayPoint(sid: number, ts: number, value: HistoryValue): void {
    let s = this.byId.get(sid);
    if (!s) {
      const row = this.stmt.seriesById.get(sid);
      if (!row) {
        throw new TwinloopError(
          'StorageCorrupt',
          `The history log refers to series ${sid}, which does not exist.`,
        );
      }
      s = this.remember(rowToState(row));
    }
    this.buffer(s, ts, value);
    this.buffered++;
  }
}

/** The committed points of a series not yet in chunks: those of the pass under way, then the live ones. */
function buffersOf(s: SeriesState): SeriesBuffer[] {
  return s.frozen ? [s.frozen, s] : [s];
}

export type { SeriesBuffer };
