/**
 * HistoryStore on PostgreSQL (schema: pg-history-schema.ts; aggregates: pg-history-aggregate.ts).
 *
 * Write path: appends wait in a queue; one group commit at a time takes everything queued (up to
 * `maxCommitPoints`) and writes it in ONE transaction: the points (a multi-row INSERT from unnest
 * arrays), the latest value of each series, the checkpoints of the appends, and `inCommit(client)`
 * (the event outbox). Then every append of the commit resolves, or every one rejects with the
 * commit's StorageError. Minute rollups are NOT upserted by every commit: a background roll-up
 * (every `rollupEveryMs`) aggregates the points of the last seconds from raw points and moves a
 * watermark (a time); a commit upserts rollups (pre-aggregated here) only for its late points,
 * before the watermark. The design
 * and why no point is counted twice or lost: pg-history-rollup.ts.
 *
 * `once` points (device source time) are stored at most once per (series, ts): a point whose ts is
 * not above the series' latest is looked up first; two writers racing on the same point meet the
 * partial unique index, and the loser's commit is retried (it then sees the winner's row).
 *
 * When PostgreSQL is unreachable (`isUnreachable`: refused, reset, terminated, timed out), a failed
 * commit does NOT fail its waiters: its appends go back to the head of the queue and the commit is
 * retried with backoff (`retryMinMs` doubling to `retryMaxMs`), so an append resolves only once its
 * points are durable, however long the outage. `onOutage` is told once when the outage starts and
 * once when it ends (how long, how many points waited), never per failed retry. Memory stays
 * bounded: beyond `maxBufferedPoints` queued, new appends are refused at once with
 * ServiceUnavailable (the caller answers 503 / withholds the PUBACK; the device resends later).
 * `onCommit` says `retrying` for such an attempt, so what `inCommit` took (the outbox's staged
 * events) is staged again for the retry (pg-storage.ts) instead of being dropped.
 * Any other failure (a constraint violation, a bad value) still rejects the commit's waiters.
 * A commit whose connection dropped after COMMIT reached the server may have been stored: the
 * retry stores `once` points (device source times) exactly once, other points possibly twice.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { TwinloopError } from '../../core/errors/errors.js';
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
import { invalidPoint } from '../sqlite/sqlite-history-series.js';
import { numArrayLiteral, textArrayLiteral } from './pg-array.js';
import { MINUTE, queryAggregate, rebuildRollups, RollupBuilder, valueText } from './pg-history-aggregate.js';
import {
  completeBelow,
  rollUpIn,
  rollupTarget,
  ROLLUP_LAG_MS,
  watermarkForShare,
  type RollupResult,
} from './pg-history-rollup.js';
import { HistoryPartitions, type PartitionUnit } from './pg-history-schema.js';
import { isUnreachable, storageError, type PgDatabase } from './pg-database.js';

export { PG_HISTORY_MIGRATIONS } from './pg-history-schema.js';

/** What onCommit is told about one group commit attempt. */
export interface PgHistoryCommitInfo {
  ms: number;
  items: number;
  waiters: number;
  failed: boolean;
  error?: unknown;
  /** A failed attempt whose points are kept and retried (PostgreSQL unreachable). */
  retrying?: boolean;
}

export interface PgHistoryStoreOptions {
  /** One partition of history_points per day (default) or per week. */
  partition?: PartitionUnit;
  /** Most points in one group commit (default 50,000); more wait for the next. */
  maxCommitPoints?: number;
  /** Wait this long (ms) for more appends before a commit starts; 0 (default) = next turn. */
  commitDelayMs?: number;
  /** Runs inside every group commit's transaction (the event outbox flushes staged rows). Throwing fails the commit. */
  inCommit?: (client: pg.PoolClient) => Promise<void>;
  /**
   * How points are written: COPY (default: measured faster, ~101k against ~70k points/s with
   * 1,000 series and 20k-point commits, bench/history/pg-run.ts; a race on a once point fails the
   * COPY and the commit runs again) or one multi-row INSERT from unnest arrays (ON CONFLICT DO NOTHING).
   */
  write?: 'insert' | 'copy';
  /** Told after every group commit attempt (latency metric, health). */
  onCommit?: (info: PgHistoryCommitInfo) => void;
  /** Most points queued (waiting for a commit); beyond, appends are refused (default 200,000). */
  maxBufferedPoints?: number;
  /** First wait before retrying a commit that found PostgreSQL unreachable, ms (default 250). */
  retryMinMs?: number;
  /** Longest wait between such retries, ms (default 1000: ingest resumes within ~1 s of recovery). */
  retryMaxMs?: number;
  /** Told once when PostgreSQL becomes unreachable for commits, and once when commits work again. */
  onOutage?: (event: PgHistoryOutageEvent) => void;
  /** Runs the roll-up of closed minutes this often, ms (default 5,000; 0 = never: call rollUp()). */
  rollupEveryMs?: number;
  /** The roll-up leaves the points of this last time raw, ms (default 10,000: clock skew, queues). */
  rollupLagMs?: number;
  /** Told after every timed roll-up (its failures are only told: the next one catches up). */
  onRollup?: (info: { ms: number; result?: RollupResult; error?: unknown }) => void;
}

/** The start or the end of an outage of the history's group commits. */
export type PgHistoryOutageEvent =
  | { state: 'started'; since: number; reason: string; bufferedPoints: number }
  | {
      state: 'ended';
      since: number;
      /** How long commits failed, ms. */
      ms: number;
      /** Commit attempts that failed during the outage. */
      attempts: number;
      /** Points that waited and were committed when it ended (most queued at once). */
      points: number;
    };

/** Most points one raw page returns. */
export const MAX_PAGE = 10_000;

interface Pending {
  points: readonly HistoryPoint[];
  checkpoint?: { key: string; seq: number };
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** A commit lost a race on a `once` point or found a series deleted under it: run it again. */
class RetryCommit extends Error {}

/**
 * Deletes every series of a twin with its points and rollups, inside the caller's transaction (the
 * PostgreSQL twin store deletes the twin and its history together).
 */
export async function deleteTwinIn(client: pg.PoolClient, workspace: string, twinId: string): Promise<void> {
  const ids = await client.query<{ id: number }>(
    'DELETE FROM history_series WHERE workspace = $1 AND twin_id = $2 RETURNING id',
    [workspace, twinId],
  );
  if (ids.rows.length === 0) return;
  const list = ids.rows.map((r) => r.id);
  await client.query('DELETE FROM history_points WHERE series_id = ANY($1::int[])', [list]);
  await client.query('DELETE FROM history_rollups WHERE series_id = ANY($1::int[])', [list]);
}

export class PgHistoryStore implements HistoryStore {
  private queue: Pending[] = [];
  private queuedPoints = 0;
  /** Points of the commit under way (counted against maxBufferedPoints too). */
  private inFlight = 0;
  private running: Promise<void> | null = null;
  private scheduled = false;
  private closed = false;
  /** workspace \0 twin \0 path → series id (ids of this node; a commit re-checks them). */
  private readonly ids = new Map<string, number>();
  private readonly maxPoints: number;
  private readonly delayMs: number;
  private readonly maxBuffered: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  /** The outage under way: commits fail because PostgreSQL is unreachable. */
  private outage: { since: number; reason: string; attempts: number; peak: number } | undefined;
  /** Ends the backoff wait early (close()). */
  private wake: (() => void) | undefined;
  private rollupTimer: ReturnType<typeof setInterval> | undefined;
  /** The roll-up under way, if any (one at a time per store). */
  private rolling: Promise<RollupResult> | null = null;

  private constructor(
    private readonly db: PgDatabase,
    private readonly partitions: HistoryPartitions,
    private readonly options: PgHistoryStoreOptions,
  ) {
    this.maxPoints = Math.max(1, options.maxCommitPoints ?? 50_000);
    this.delayMs = Math.max(0, options.commitDelayMs ?? 0);
    this.maxBuffered = Math.max(1, options.maxBufferedPoints ?? 200_000);
    this.retryMinMs = Math.max(1, options.retryMinMs ?? 250);
    this.retryMaxMs = Math.max(this.retryMinMs, options.retryMaxMs ?? 1000);
    const every = options.rollupEveryMs ?? 5000;
    if (every > 0) {
      this.rollupTimer = setInterval(() => void this.timedRollUp(), every);
      this.rollupTimer.unref();
    }
  }

  /**
   * Rolls up the points before `now` − rollupLagMs not rolled up yet and moves the watermark
   * there, in one transaction (see pg-history-rollup.ts). Runs on a timer; callable directly.
   */
  rollUp(now = Date.now()): Promise<RollupResult> {
    if (this.rolling) return this.rolling.then(() => this.rollUp(now));
    const target = rollupTarget(now, this.options.rollupLagMs ?? ROLLUP_LAG_MS);
    const run = this.db
      .transaction((c) => rollUpIn(c, target))
      .catch((e: unknown) => {
        throw storageError(e, 'history roll-up', this.db.where);
      });
    this.rolling = run.finally(() => {
      this.rolling = null;
    });
    return this.rolling;
  }

  private async timedRollUp(): Promise<void> {
    if (this.rolling || this.closed) return;
    const t0 = performance.now();
    let info: { ms: number; result?: RollupResult; error?: unknown };
    try {
      const result = await this.rollUp();
      info = { ms: performance.now() - t0, result };
    } catch (error) {
      info = { ms: performance.now() - t0, error };
    }
    try {
      this.options.onRollup?.(info);
    } catch {
      // an observer must never break the roll-up
    }
  }

  /**
   * Opens the store on a database migrated with PG_HISTORY_MIGRATIONS.
   * @example const history = await PgHistoryStore.open(db, { inCommit: (c) => outbox.flushStaged(c) });
   */
  static async open(db: PgDatabase, options: PgHistoryStoreOptions = {}): Promise<PgHistoryStore> {
    const partitions = new HistoryPartitions(options.partition ?? 'day');
    try {
      await partitions.load(db.pool);
    } catch (e) {
      throw storageError(e, 'opening the history store', db.where);
    }
    return new PgHistoryStore(db, partitions, options);
  }

  /** Points accepted but not yet committed (queued, or in the commit under way). */
  get bufferedPoints(): number {
    return this.queuedPoints + this.inFlight;
  }

  /** The outage under way (commits failing because PostgreSQL is unreachable), if any. */
  get unreachableSince(): { since: number; reason: string } | undefined {
    return this.outage && { since: this.outage.since, reason: this.outage.reason };
  }

  append(points: readonly HistoryPoint[], options: HistoryAppendOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(new TwinloopError('StorageError', 'The history store is closed.'));
    for (let i = 0; i < points.length; i++) {
      const bad = invalidPoint(points[i]!);
      if (bad) {
        return Promise.reject(
          new TwinloopError('InvalidTelemetry', `History point ${i} is invalid: ${bad.message}.`, {
            problems: [
              { code: 'history.point.invalid', message: bad.message, pointer: `/${i}/${bad.field}` },
            ],
          }),
        );
      }
    }
    const cp = options.checkpoint;
    if (cp && (typeof cp.key !== 'string' || cp.key.includes('\u0000') || !Number.isSafeInteger(cp.seq))) {
      return Promise.reject(
        new TwinloopError(
          'StorageError',
          'A history checkpoint needs a string key (no NUL) and an integer sequence.',
        ),
      );
    }
    if (points.length === 0 && !cp) return Promise.resolve();
    // Bounded memory: refuse rather than grow while commits cannot keep up (PostgreSQL away).
    if (
      points.length > 0 &&
      this.bufferedPoints > 0 &&
      this.bufferedPoints + points.length > this.maxBuffered
    ) {
      const why = this.outage
        ? `PostgreSQL is unreachable since ${new Date(this.outage.since).toISOString()}`
        : 'the group commits cannot keep up';
      return Promise.reject(
        new TwinloopError(
          'ServiceUnavailable',
          `History ingest is paused: ${why} and ${this.bufferedPoints} points already wait (limit ${this.maxBuffered}); send again later.`,
          { details: { retryAfterSeconds: 5 } },
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ points, ...(cp ? { checkpoint: cp } : {}), resolve, reject });
      this.queuedPoints += points.length;
      this.kick();
    });
  }

  async readCheckpoint(key: string): Promise<number | undefined> {
    const r = await this.db.query<{ seq: number }>('SELECT seq FROM history_checkpoints WHERE key = $1', [
      key,
    ]);
    return r.rows[0]?.seq;
  }

  async queryRaw(q: HistoryRawQuery): Promise<HistoryRawPage> {
    const order = q.order ?? 'asc';
    if (order !== 'asc' && order !== 'desc') {
      throw new TwinloopError('InvalidHistoryQuery', `order must be "asc" or "desc" (got ${String(order)}).`);
    }
    if (Number.isNaN(q.from) || Number.isNaN(q.to)) {
      throw new TwinloopError('InvalidHistoryQuery', `The window [${q.from}, ${q.to}) is not finite.`);
    }
    if (!Number.isInteger(q.limit) || q.limit < 1) {
      throw new TwinloopError('InvalidHistoryQuery', `limit must be a positive integer (got ${q.limit}).`);
    }
    const limit = Math.min(q.limit, MAX_PAGE);
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, order);
    const cmp = order === 'asc' ? '>' : '<';
    const dir = order === 'asc' ? 'ASC' : 'DESC';
    const params: unknown[] = [q.workspace, q.twinId, q.path, q.from, q.to, limit + 1];
    let cond = '';
    if (after) {
      params.push(after[0], after[1]);
      cond = `AND (p.ts, p.id) ${cmp} ($7::float8, $8::bigint)`;
    }
    const r = await this.db.query<{ ts: number; id: number; num: number | null; json: string | null }>(
      `SELECT p.ts, p.id, p.num, p.json FROM history_points p
        WHERE p.series_id = (SELECT id FROM history_series WHERE workspace = $1 AND twin_id = $2 AND path = $3)
          AND p.ts >= $4::float8 AND p.ts < $5::float8 ${cond}
        ORDER BY p.ts ${dir}, p.id ${dir} LIMIT $6`,
      params,
    );
    const rows = r.rows;
    const more = rows.length > limit;
    if (more) rows.length = limit;
    const points = rows.map((row) => ({ ts: row.ts, value: rowValue(row.num, row.json) }));
    const page: HistoryRawPage = { points };
    const last = rows[rows.length - 1];
    if (more && last) page.cursor = encodeCursor(last.ts, last.id, order);
    return page;
  }

  async queryAggregate(q: HistoryAggregateQuery): Promise<HistoryBucket[]> {
    // JIT compiling this plan (its cost estimate is high: unknown array sizes) takes far longer
    // than running it: off for this statement. The planner's row estimates for the raw ranges are
    // far too high; with the default 4 MB work_mem it then picks sorts over hash aggregates
    // (measured: about twice the CPU for 2.6M points → 1,000 buckets). Both in one round trip.
    return this.db.transaction(async (c) => {
      // REPEATABLE READ: the watermark and the aggregate read one snapshot (pg-history-aggregate.ts).
      await c.query(
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL jit = off; SET LOCAL work_mem = '16MB'",
      );
      return queryAggregate(c, q);
    });
  }

  async listSeries(workspace: string, twinId?: string): Promise<SeriesInfo[]> {
    const r = await this.db.query<{
      twin_id: string;
      path: string;
      kind: string;
      last_ts: number;
      last_num: number | null;
      last_json: string | null;
    }>(
      `SELECT twin_id, path, kind, last_ts, last_num, last_json FROM history_series
        WHERE workspace = $1 ${twinId === undefined ? '' : 'AND twin_id = $2'} AND last_ts IS NOT NULL
        ORDER BY twin_id COLLATE "C", path COLLATE "C"`,
      twinId === undefined ? [workspace] : [workspace, twinId],
    );
    return r.rows.map((row) => ({
      workspace,
      twinId: row.twin_id,
      path: row.path,
      kind: row.kind === 'property' ? 'property' : 'telemetry',
      lastTs: row.last_ts,
      lastValue: rowValue(row.last_num, row.last_json),
    }));
  }

  /**
   * The latest telemetry readings of these twins (the twin store fills loaded twins with them), in
   * one statement per page of twins.
   */
  async latestTelemetry(
    workspace: string,
    twinIds: readonly string[],
  ): Promise<Map<string, Record<string, { value: unknown; time: number }>>> {
    const out = new Map<string, Record<string, { value: unknown; time: number }>>();
    if (twinIds.length === 0) return out;
    const r = await this.db.query<{
      twin_id: string;
      path: string;
      last_ts: number;
      last_num: number | null;
      last_json: string | null;
    }>(
      `SELECT twin_id, path, last_ts, last_num, last_json FROM history_series
        WHERE workspace = $1 AND twin_id = ANY($2::text[]) AND kind = 'telemetry' AND last_ts IS NOT NULL`,
      [workspace, twinIds],
    );
    for (const row of r.rows) {
      let t = out.get(row.twin_id);
      if (!t) out.set(row.twin_id, (t = {}));
      // Paths are data: a member named __proto__ must stay a member.
      Object.defineProperty(t, row.path, {
        value: { value: rowValue(row.last_num, row.last_json), time: row.last_ts },
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }

  /**
   * Retention: drops the partitions wholly before the cutoff's minute, deletes the older rows of the
   * partition that straddles it (and of the default one), then the minute cut by `before` point by
   * point; rollups go with them. The count comes from the rollups (exact) below the rollup
   * watermark, from the raw points above it (recent minutes: few). Holds the watermark FOR SHARE so
   * that no roll-up runs meanwhile.
   */
  async prune(before: number): Promise<number> {
    if (typeof before !== 'number' || Number.isNaN(before)) {
      throw new TwinloopError('InvalidHistoryQuery', `prune needs a time in ms (got ${String(before)}).`);
    }
    if (before === -Infinity) return 0;
    const mb = before === Infinity ? Number.MAX_SAFE_INTEGER : Math.floor(before / MINUTE);
    const cut = mb * MINUTE;
    const { whole, straddling } = await this.partitions.before(this.db.pool, cut).catch((e: unknown) => {
      throw storageError(e, 'listing history partitions', this.db.where);
    });
    return this.db.transaction(async (c) => {
      // Minutes below `full` have complete rollups: counted from them, the rest (recent: few) raw.
      const wts = await watermarkForShare(c);
      const full = Math.min(mb, completeBelow(wts));
      const counted = await c.query<{ n: number | null }>(
        'SELECT sum(count)::float8 AS n FROM history_rollups WHERE minute < $1',
        [full],
      );
      let removed = counted.rows[0]?.n ?? 0;
      if (full < mb) {
        const recent = await c.query<{ n: number }>(
          'SELECT count(*)::float8 AS n FROM history_points WHERE ts >= $1::float8 AND ts < $2::float8',
          [full * MINUTE, cut],
        );
        removed += recent.rows[0]?.n ?? 0;
      }
      for (const name of whole) await c.query(`DROP TABLE IF EXISTS ${name}`);
      for (const name of straddling) await c.query(`DELETE FROM ${name} WHERE ts < $1::float8`, [cut]);
      await c.query('DELETE FROM history_points_default WHERE ts < $1::float8', [cut]);
      await c.query('DELETE FROM history_rollups WHERE minute < $1', [mb]);
      if (before > cut && before !== Infinity) {
        const edge = await c.query('DELETE FROM history_points WHERE ts >= $1::float8 AND ts < $2::float8', [
          cut,
          before,
        ]);
        removed += edge.rowCount ?? 0;
        // The cut minute's rollup holds its points before the watermark only (the rest is raw).
        if ((edge.rowCount ?? 0) > 0 && mb * MINUTE < wts) await rebuildRollups(c, mb, mb + 1, wts);
      }
      for (const name of whole) this.partitions.forget(name);
      return removed;
    });
  }

  async deleteTwin(workspace: string, twinId: string): Promise<void> {
    await this.db.transaction((c) => deleteTwinIn(c, workspace, twinId));
    this.forgetTwin(workspace, twinId);
  }

  /** Commits what is queued and stops accepting appends (the database stays open: its owner closes it). */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    if (this.rollupTimer) clearInterval(this.rollupTimer);
    this.rollupTimer = undefined;
    await this.rolling?.catch(() => undefined);
    while (this.running || this.queue.length) {
      if (!this.running) this.start();
      await this.running;
    }
  }

  // ------------------------------------------------------------ group commit

  private kick(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    const go = (): void => {
      this.scheduled = false;
      this.start();
    };
    if (this.delayMs > 0) setTimeout(go, this.delayMs);
    else setImmediate(go);
  }

  private start(): void {
    if (this.running || this.queue.length === 0) return;
    this.running = this.drain().finally(() => {
      this.running = null;
      if (this.queue.length) this.kick();
    });
  }

  /** Commits batches until the queue is empty. Never rejects: each batch settles its own waiters. */
  private async drain(): Promise<void> {
    while (this.queue.length) {
      let n = 0;
      let k = 0;
      while (k < this.queue.length && (k === 0 || n + this.queue[k]!.points.length <= this.maxPoints)) {
        n += this.queue[k]!.points.length;
        k++;
      }
      const batch = this.queue.splice(0, k);
      this.queuedPoints -= n;
      this.inFlight = n;
      const t0 = performance.now();
      try {
        await this.commitWithRetry(batch);
      } catch (e) {
        this.inFlight = 0;
        const err = storageError(e, 'history commit', this.db.where);
        const retrying = isUnreachable(err) && !this.closed;
        this.report(t0, n, batch.length, true, err, retrying);
        if (retrying) {
          // Keep the points: back to the head of the queue, retried after a backoff.
          this.queue.unshift(...batch);
          this.queuedPoints += n;
          await this.backoff(err);
          continue;
        }
        for (const w of batch) w.reject(err);
        continue;
      }
      this.inFlight = 0;
      this.report(t0, n, batch.length, false);
      this.recovered(n);
      for (const w of batch) w.resolve();
    }
  }

  /** Notes a failed attempt of an outage (telling onOutage when it is the first) and waits. */
  private async backoff(err: TwinloopError): Promise<void> {
    if (!this.outage) {
      this.outage = { since: Date.now(), reason: err.message, attempts: 0, peak: 0 };
      this.tellOutage({
        state: 'started',
        since: this.outage.since,
        reason: err.message,
        bufferedPoints: this.queuedPoints,
      });
    }
    const o = this.outage;
    o.attempts++;
    o.peak = Math.max(o.peak, this.queuedPoints);
    const ms = Math.min(this.retryMaxMs, this.retryMinMs * 2 ** Math.min(o.attempts - 1, 20));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
    this.wake = undefined;
  }

  /** A commit succeeded: the outage, if one was under way, is over. */
  private recovered(committed: number): void {
    const o = this.outage;
    if (!o) return;
    this.outage = undefined;
    this.tellOutage({
      state: 'ended',
      since: o.since,
      ms: Date.now() - o.since,
      attempts: o.attempts,
      points: Math.max(o.peak, committed + this.queuedPoints),
    });
  }

  private tellOutage(event: PgHistoryOutageEvent): void {
    try {
      this.options.onOutage?.(event);
    } catch {
      // an observer must never break a commit
    }
  }

  private report(
    t0: number,
    items: number,
    waiters: number,
    failed: boolean,
    error?: unknown,
    retrying = false,
  ): void {
    try {
      this.options.onCommit?.({
        ms: performance.now() - t0,
        items,
        waiters,
        failed,
        ...(failed ? { error, retrying } : {}),
      });
    } catch {
      // an observer must never break a commit
    }
  }

  private async commitWithRetry(batch: Pending[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.commit(batch);
        return;
      } catch (e) {
        const retry = e instanceof RetryCommit || (e as { cause?: unknown }).cause instanceof RetryCommit;
        if (!retry || attempt >= 3) throw e;
      }
    }
  }

  /** One group commit. @throws RetryCommit when it must run again, StorageError when it failed. */
  private async commit(batch: Pending[]): Promise<void> {
    let total = 0;
    for (const w of batch) total += w.points.length;
    const all = new Array<HistoryPoint>(total);
    let i = 0;
    for (const w of batch) for (const p of w.points) all[i++] = p;
    const sids = await this.resolveSeries(all);
    const ts = new Float64Array(total);
    for (let j = 0; j < total; j++) ts[j] = all[j]!.ts;
    await this.partitions.ensure(this.db.pool, ts);
    const checkpoints = new Map<string, number>();
    for (const w of batch) if (w.checkpoint) checkpoints.set(w.checkpoint.key, w.checkpoint.seq);

    await this.db.transaction(async (c) => {
      // The series as the database has them now: ids deleted under us (a twin deleted on another
      // node) make the commit run again with fresh ids; last_ts tells which once points to look up.
      const distinct = [...new Set(sids)];
      const cur = await c.query<{ id: number; last_ts: number | null }>(
        'SELECT id, last_ts FROM history_series WHERE id = ANY($1::int[])',
        [numArrayLiteral(distinct)],
      );
      if (cur.rows.length !== distinct.length) {
        this.ids.clear();
        throw new RetryCommit('a series was deleted during the commit');
      }
      const lastTs = new Map<number, number | null>();
      for (const r of cur.rows) lastTs.set(r.id, r.last_ts);

      // once points: skip those already held (in this batch or stored); look up only ts <= latest.
      const keep = new Uint8Array(total).fill(1);
      const seen = new Set<string>();
      const askS: number[] = [];
      const askT: number[] = [];
      const askAt: number[] = [];
      // Without once points nothing below applies: skip a key per point (most telemetry).
      const anyOnce = all.some((p) => p.once === true);
      for (let j = 0; anyOnce && j < total; j++) {
        const p = all[j]!;
        const key = `${sids[j]!}:${p.ts}`;
        if (p.once) {
          if (seen.has(key)) {
            keep[j] = 0;
            continue;
          }
          const lt = lastTs.get(sids[j]!);
          if (lt !== null && lt !== undefined && p.ts <= lt) {
            askS.push(sids[j]!);
            askT.push(p.ts);
            askAt.push(j);
          }
        }
        seen.add(key);
      }
      if (askS.length) {
        const held = await c.query<{ s: number; t: number }>(
          `SELECT DISTINCT u.s, u.t FROM unnest($1::int[], $2::float8[]) AS u(s, t)
            WHERE EXISTS (SELECT 1 FROM history_points p WHERE p.series_id = u.s AND p.ts = u.t)`,
          [askS, askT],
        );
        if (held.rows.length) {
          const h = new Set(held.rows.map((r) => `${r.s}:${r.t}`));
          for (const j of askAt) if (h.has(`${sids[j]!}:${all[j]!.ts}`)) keep[j] = 0;
        }
      }

      // The rollup watermark, held (FOR SHARE) until this commit ends: a roll-up waits for it, or
      // it waits for the roll-up and reads the new one. Only points below it are rolled up here.
      const below = await watermarkForShare(c);
      // Columns of the rows to insert, rollups (late points) and latest values.
      const colS: number[] = [];
      const colT: number[] = [];
      const colO: boolean[] = [];
      const colN: (number | null)[] = [];
      const colJ: (string | null)[] = [];
      const rollups = new RollupBuilder();
      const latest = new Map<number, { ts: number; value: HistoryValue }>();
      let onceRows = 0;
      for (let j = 0; j < total; j++) {
        if (!keep[j]) continue;
        const p = all[j]!;
        const sid = sids[j]!;
        const num = typeof p.value === 'number';
        const json = num ? null : JSON.stringify(p.value);
        colS.push(sid);
        colT.push(p.ts);
        colO.push(p.once === true);
        colN.push(num ? (p.value as number) : null);
        colJ.push(json);
        if (p.once) onceRows++;
        if (p.ts < below) rollups.add(sid, p.ts, p.value, () => (json === null ? valueText(p.value) : json));
        const l = latest.get(sid);
        if (!l || p.ts >= l.ts) latest.set(sid, { ts: p.ts, value: p.value });
      }
      if (colS.length) {
        const written =
          this.options.write !== 'insert'
            ? await copyPoints(c, colS, colT, colO, colN, colJ)
            : (
                await c.query(
                  `INSERT INTO history_points (series_id, ts, once, num, json)
                   SELECT * FROM unnest($1::int[], $2::float8[], $3::bool[], $4::float8[], $5::text[])
                   ON CONFLICT (series_id, ts) WHERE once DO NOTHING`,
                  [colS, colT, colO, colN, colJ],
                )
              ).rowCount;
        // A once point another writer stored since our look-up: the rollups would count it twice.
        if ((written ?? 0) !== colS.length) throw new RetryCommit(`${onceRows} once rows raced`);
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
      if (checkpoints.size) {
        await c.query(
          `INSERT INTO history_checkpoints (key, seq) SELECT * FROM unnest($1::text[], $2::bigint[])
           ON CONFLICT (key) DO UPDATE SET seq = excluded.seq`,
          [[...checkpoints.keys()], [...checkpoints.values()]],
        );
      }
      await this.options.inCommit?.(c);
    });
  }

  /** Series ids of the points (creating the series not known yet). */
  private async resolveSeries(points: readonly HistoryPoint[]): Promise<Int32Array> {
    const out = new Int32Array(points.length);
    const missing = new Map<string, HistoryPoint>();
    for (let j = 0; j < points.length; j++) {
      const p = points[j]!;
      const id = this.ids.get(keyOf(p.workspace, p.twinId, p.path));
      if (id === undefined) missing.set(keyOf(p.workspace, p.twinId, p.path), p);
      else out[j] = id;
    }
    if (missing.size) {
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
      await this.db.query(
        `INSERT INTO history_series (workspace, twin_id, path, kind)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
         ON CONFLICT (workspace, twin_id, path) DO NOTHING`,
        [ws, tw, pa, ki],
      );
      const r = await this.db.query<{ id: number; workspace: string; twin_id: string; path: string }>(
        `SELECT s.id, s.workspace, s.twin_id, s.path FROM history_series s
           JOIN unnest($1::text[], $2::text[], $3::text[]) AS u(w, t, p)
             ON s.workspace = u.w AND s.twin_id = u.t AND s.path = u.p`,
        [ws, tw, pa],
      );
      for (const row of r.rows) this.ids.set(keyOf(row.workspace, row.twin_id, row.path), row.id);
      for (let j = 0; j < points.length; j++) {
        const p = points[j]!;
        if (out[j] !== 0) continue;
        const id = this.ids.get(keyOf(p.workspace, p.twinId, p.path));
        // Deleted between the insert and the select (a twin delete): the retry creates it again.
        if (id === undefined) throw new RetryCommit('a new series was deleted before the commit');
        out[j] = id;
      }
    }
    return out;
  }

  private forgetTwin(workspace: string, twinId: string): void {
    const prefix = `${workspace}\u0000${twinId}\u0000`;
    for (const k of this.ids.keys()) if (k.startsWith(prefix)) this.ids.delete(k);
  }
}

/** Writes the rows with COPY; a unique violation (a once point raced) asks for a retry. */
async function copyPoints(
  c: pg.PoolClient,
  sid: number[],
  ts: number[],
  once: boolean[],
  num: (number | null)[],
  json: (string | null)[],
): Promise<number> {
  const chunks: string[] = [];
  let buf = '';
  for (let i = 0; i < sid.length; i++) {
    const n = num[i];
    const j = json[i];
    buf += `${sid[i]}\t${ts[i]}\t${once[i] ? 't' : 'f'}\t${n === null || n === undefined ? '\\N' : n}\t${
      j === null || j === undefined ? '\\N' : copyText(j)
    }\n`;
    if (buf.length > 65_536) {
      chunks.push(buf);
      buf = '';
    }
  }
  if (buf) chunks.push(buf);
  const stream = c.query(copyFrom('COPY history_points (series_id, ts, once, num, json) FROM STDIN'));
  try {
    await pipeline(Readable.from(chunks), stream);
  } catch (e) {
    if ((e as { code?: string }).code === '23505') throw new RetryCommit('a once row raced');
    throw e;
  }
  return stream.rowCount;
}

/** Escapes a value for COPY's text format. */
function copyText(s: string): string {
  return /[\\\n\r\t]/.test(s)
    ? s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')
    : s;
}

function keyOf(workspace: string, twinId: string, path: string): string {
  return `${workspace}\u0000${twinId}\u0000${path}`;
}

function rowValue(num: number | null, json: string | null): HistoryValue {
  if (json !== null) return JSON.parse(json) as HistoryValue;
  return num;
}

function encodeCursor(ts: number, id: number, order: 'asc' | 'desc'): string {
  return Buffer.from(JSON.stringify([ts, id, order === 'asc' ? 'a' : 'd'])).toString('base64url');
}

function decodeCursor(cursor: string, order: 'asc' | 'desc'): [number, number] {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (
    !Array.isArray(v) ||
    v.length !== 3 ||
    typeof v[0] !== 'number' ||
    !Number.isSafeInteger(v[1]) ||
    v[2] !== (order === 'asc' ? 'a' : 'd')
  ) {
    throw new TwinloopError('InvalidContinuationToken', 'The history cursor is not valid.');
  }
  return [v[0], v[1] as number];
}
