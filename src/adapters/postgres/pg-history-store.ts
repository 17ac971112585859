/**
 * HistoryStore on PostgreSQL (schema: pg-history-schema.ts; aggregates: pg-history-aggregate.ts).
 *
 * Write path: appends wait in a queue; group commits (up to `maxInFlight` at once,
 * pg-commit-pipeline.ts) each take what is queued (up to `maxCommitPoints`) and write it in ONE
 * transaction (pg-history-commit.ts): the points (COPY), the checkpoints of the appends, and
 * `inCommit(client, rows)` (the event-route rows the appends carried, into the outbox). Then every append of the commit resolves, or every one
 * rejects with the commit's StorageError. Minute rollups and the latest value of each series are NOT
 * updated by every commit: a background roll-up (every `rollupEveryMs`) aggregates the points of
 * the last seconds from raw points, updates the latest values and moves a watermark (a time); a
 * commit does both only for its late points, before the watermark. Readers of the latest values add
 * the newest raw point after the watermark. The design and why no point is counted twice or lost:
 * pg-history-rollup.ts.
 *
 * `once` points (device source time) are stored at most once per (series, ts): the partial unique
 * index decides (INSERT … ON CONFLICT DO NOTHING), also between two writers racing on one point.
 *
 * When PostgreSQL is unreachable (`isUnreachable`: refused, reset, terminated, timed out), a failed
 * commit does NOT fail its waiters: its appends go back to the head of the queue and the commit is
 * retried with backoff (`retryMinMs` doubling to `retryMaxMs`), so an append resolves only once its
 * points are durable, however long the outage. `onOutage` is told once when the outage starts and
 * once when it ends (how long, how many points waited), never per failed retry. Memory stays
 * bounded: beyond `maxBufferedPoints` queued, new appends are refused at once with
 * ServiceUnavailable (the caller answers 503 / withholds the PUBACK; the device resends later).
 * `onCommit` says `retrying` for such an attempt (the appends keep their event-route rows with them).
 * Any other failure (a constraint violation, a bad value) still rejects the commit's waiters.
 * A commit whose connection dropped after COMMIT reached the server may have been stored: the
 * retry stores `once` points (device source times) exactly once, other points possibly twice.
 */
import type pg from 'pg';
import { TwinloopError } from '../../core/errors/errors.js';
import type { OutboxRow } from '../../core/ports/event-routing.js';
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
import {
  CommitPipeline,
  type CommitAttemptInfo,
  type OutageEvent,
  type PipelineItem,
} from './pg-commit-pipeline.js';
import { MINUTE, queryAggregate, rebuildRollups } from './pg-history-aggregate.js';
import { RetryCommit, SeriesIds, writePoints } from './pg-history-commit.js';
import {
  bumpSeriesGeneration,
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

/** What onCommit is told about one group commit attempt (with the attempt's context). */
export type PgHistoryCommitInfo = CommitAttemptInfo;

export interface PgHistoryStoreOptions {
  /** One partition of history_points per day (default) or per week. */
  partition?: PartitionUnit;
  /**
   * Most points in one group commit (default 5,000; one larger append still goes whole). Smaller
   * commits spread a burst over the commits in flight: measured 23,600–27,300 msg/s against
   * 20,500–22,400 with 50,000 (bench:cluster, single node, same session).
   */
  maxCommitPoints?: number;
  /** Wait this long (ms) for more appends before a commit starts; 0 (default) = next turn. */
  commitDelayMs?: number;
  /**
   * Runs inside every group commit's transaction with the event-route rows its appends carried
   * (`HistoryAppendOptions.outbox`): the event outbox inserts them. Throwing fails the commit.
   */
  inCommit?: (client: pg.PoolClient, outbox: readonly OutboxRow[]) => Promise<void>;
  /** Group commits in flight at once (default 3: one is built while others wait for the server). */
  maxInFlight?: number;
  /** What the store tells its writers as the append size it commits soonest (default 2,000 points). */
  preferredAppendPoints?: number;
  /**
   * How points without a device time are written: COPY (default: measured faster, ~101k against
   * ~70k points/s with 1,000 series and 20k-point commits, bench/history/pg-run.ts) or one
   * multi-row INSERT from unnest arrays. Once points always take INSERT … ON CONFLICT DO NOTHING.
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
export type PgHistoryOutageEvent = OutageEvent;

/**
 * The latest value of a series `s`: its stored one (the newest point before the rollup watermark,
 * pg-history-rollup.ts) or, when there is one, its newest raw point at or after the watermark (the
 * last seconds, not rolled up yet: one index probe per series into the newest partitions).
 */
const LATEST_JOIN = `LEFT JOIN LATERAL (
    SELECT p.ts, p.num, p.json FROM history_points p
     WHERE p.series_id = s.id AND p.ts >= (SELECT w.ts FROM history_rollup_watermark w)
     ORDER BY p.ts DESC, p.id DESC LIMIT 1) r ON true`;
const LATEST_COLUMNS = `coalesce(r.ts, s.last_ts) AS last_ts,
    CASE WHEN r.ts IS NULL THEN s.last_num ELSE r.num END AS last_num,
    CASE WHEN r.ts IS NULL THEN s.last_json ELSE r.json END AS last_json`;
const LATEST_HELD = 'AND (s.last_ts IS NOT NULL OR r.ts IS NOT NULL)';

/** Most points one raw page returns. */
export const MAX_PAGE = 10_000;

interface Pending extends PipelineItem {
  points: readonly HistoryPoint[];
  checkpoint?: { key: string; seq: number };
  outbox?: readonly OutboxRow[];
}

/**
 * Deletes every series of a twin with its points and rollups, inside the caller's transaction (the
 * PostgreSQL twin store deletes the twin and its history together).
 */
export async function deleteTwinIn(client: pg.PoolClient, workspace: string, twinId: string): Promise<void> {
  const any = await client.query(
    'SELECT 1 FROM history_series WHERE workspace = $1 AND twin_id = $2 LIMIT 1',
    [workspace, twinId],
  );
  if (any.rows.length === 0) return;
  // The watermark lock first (as every commit takes it before touching series rows: no deadlock);
  // every node's cached ids must be read again before use once this commits.
  await bumpSeriesGeneration(client);
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
  /**
   * With commits side by side, a burst is answered sooner in appends of about this many points
   * than in one (bench:cluster, single node; bench/RESULTS.md).
   */
  readonly preferredAppendPoints: number;
  private readonly pipeline: CommitPipeline<Pending>;
  private closed = false;
  /** This node's series ids (a commit checks their generation). */
  private readonly ids = new SeriesIds();
  private rollupTimer: ReturnType<typeof setInterval> | undefined;
  /** The roll-up under way, if any (one at a time per store). */
  private rolling: Promise<RollupResult> | null = null;

  private constructor(
    private readonly db: PgDatabase,
    private readonly partitions: HistoryPartitions,
    private readonly options: PgHistoryStoreOptions,
  ) {
    this.preferredAppendPoints = Math.max(1, options.preferredAppendPoints ?? 2000);
    const retryMinMs = Math.max(1, options.retryMinMs ?? 250);
    this.pipeline = new CommitPipeline<Pending>({
      commit: (batch) => this.commitWithRetry(batch),
      toError: (e) => storageError(e, 'history commit', db.where),
      isUnreachable,
      maxItems: Math.max(1, options.maxCommitPoints ?? 5000),
      maxInFlight: Math.max(1, options.maxInFlight ?? 3),
      delayMs: Math.max(0, options.commitDelayMs ?? 0),
      maxBuffered: Math.max(1, options.maxBufferedPoints ?? 200_000),
      retryMinMs,
      retryMaxMs: Math.max(retryMinMs, options.retryMaxMs ?? 1000),
      onAttempt: options.onCommit,
      onOutage: options.onOutage,
    });
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
   * @example const history = await PgHistoryStore.open(db, { inCommit: (c, rows) => outbox.insertHistoryRows(c, rows) });
   */
  static async open(db: PgDatabase, options: PgHistoryStoreOptions = {}): Promise<PgHistoryStore> {
    const partitions = new HistoryPartitions(options.partition ?? 'day');
    const store = new PgHistoryStore(db, partitions, options);
    try {
      await partitions.load(db.pool);
      await store.ids.prime(db);
    } catch (e) {
      await store.close();
      throw storageError(e, 'opening the history store', db.where);
    }
    return store;
  }

  /** Points accepted but not yet committed (queued, or in the commit under way). */
  get bufferedPoints(): number {
    return this.pipeline.buffered;
  }

  /** The outage under way (commits failing because PostgreSQL is unreachable), if any. */
  get unreachableSince(): { since: number; reason: string } | undefined {
    return this.pipeline.unreachableSince;
  }

  append(points: readonly HistoryPoint[], options: HistoryAppendOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(new TwinloopError('StorageError', 'The history store is closed.'));
    const bad = appendError(points, options);
    if (bad) return Promise.reject(bad);
    const cp = options.checkpoint;
    if (points.length === 0 && !cp && !options.outbox?.length) return Promise.resolve();
    // Bounded memory: refuse rather than grow while commits cannot keep up (PostgreSQL away).
    const refused = this.pipeline.refusal(points.length);
    if (refused) return Promise.reject(refused);
    return new Promise<void>((resolve, reject) => {
      this.pipeline.push({
        points,
        size: points.length,
        key: cp?.key,
        ...(cp ? { checkpoint: cp } : {}),
        ...(options.outbox?.length ? { outbox: options.outbox } : {}),
        resolve,
        reject,
      });
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
      `SELECT s.twin_id, s.path, s.kind, ${LATEST_COLUMNS} FROM history_series s ${LATEST_JOIN}
        WHERE s.workspace = $1 ${twinId === undefined ? '' : 'AND s.twin_id = $2'} ${LATEST_HELD}
        ORDER BY s.twin_id COLLATE "C", s.path COLLATE "C"`,
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
      `SELECT s.twin_id, s.path, ${LATEST_COLUMNS} FROM history_series s ${LATEST_JOIN}
        WHERE s.workspace = $1 AND s.twin_id = ANY($2::text[]) AND s.kind = 'telemetry' ${LATEST_HELD}`,
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
      const { ts: wts } = await watermarkForShare(c);
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
    this.ids.forgetTwin(workspace, twinId);
  }

  /** Commits what is queued and stops accepting appends (the database stays open: its owner closes it). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.rollupTimer) clearInterval(this.rollupTimer);
    this.rollupTimer = undefined;
    await this.rolling?.catch(() => undefined);
    await this.pipeline.close();
  }

  // ------------------------------------------------------------ group commit

  /** One batch: runs again (up to 8 attempts) when a series moved under it or a deadlock chose it. */
  private async commitWithRetry(batch: readonly Pending[]): Promise<void> {
    let total = 0;
    for (const w of batch) total += w.points.length;
    const all = new Array<HistoryPoint>(total);
    let i = 0;
    for (const w of batch) for (const p of w.points) all[i++] = p;
    const ts = new Float64Array(total);
    for (let j = 0; j < total; j++) ts[j] = all[j]!.ts;
    const checkpoints = new Map<string, number>();
    for (const w of batch) if (w.checkpoint) checkpoints.set(w.checkpoint.key, w.checkpoint.seq);
    const outbox = batch.flatMap((w) => w.outbox ?? []);
    for (let attempt = 0; ; attempt++) {
      try {
        const { sids, gen } = await this.ids.resolve(this.db, all);
        await this.partitions.ensure(this.db.pool, ts);
        await this.db.transaction(async (c) => {
          await writePoints(c, this.ids, {
            points: all,
            sids,
            ...(gen === undefined ? {} : { gen }),
            checkpoints,
            write: this.options.write ?? 'copy',
          });
          await this.options.inCommit?.(c, outbox);
        });
        return;
      } catch (e) {
        if (!mustRunAgain(e) || attempt >= 7) throw e;
      }
    }
  }
}

/** A commit to run again: a series moved under it, or PostgreSQL chose it in a deadlock / serialization failure. */
function mustRunAgain(e: unknown): boolean {
  if (e instanceof RetryCommit || (e as { cause?: unknown }).cause instanceof RetryCommit) return true;
  const code = (e as { code?: unknown }).code ?? (e as { cause?: { code?: unknown } }).cause?.code;
  return code === '40P01' || code === '40001';
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
