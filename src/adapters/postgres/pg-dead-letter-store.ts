/**
 * DeadLetterStore on PostgreSQL: the raw payload as bytea (any bytes survive, NUL and bad UTF-8
 * included), problems as jsonb. `add()` is group-committed: letters added while a commit is under
 * way (or in the same tick) go in the next one, one INSERT of many rows in one transaction.
 *
 * The same bounds as SQLite (sqlite-dead-letter-store.ts): each payload is kept up to
 * `maxPayloadBytes` (its size as received is recorded), and when the total size of the letters goes
 * over `maxBytes` the oldest are deleted (every workspace) down to 90% of it. Each row stores its
 * cost (payload, reason, problems, topic, ~100 bytes of row), so the total is one sum and the cut one
 * window query. The total is read from the database at the first add and at every pruneToSize, so
 * several nodes sharing the table converge on the same figure.
 *
 * The text of a dead letter describes bad input, which may hold a NUL that PostgreSQL text and jsonb
 * refuse: it is kept with U+FFFD instead (the payload, which is bytea, keeps the exact bytes).
 *
 * While PostgreSQL is unreachable (`isUnreachable`), a failed commit keeps its letters at the head of
 * the queue and is retried with backoff (as the history's group commit: docs/scaling.md), so `add()`
 * resolves only once they are durable; beyond `maxQueued` letters waiting, `add()` is refused at once
 * with ServiceUnavailable. Other failures reject as before; `flush()` (at close) stops retrying.
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { DeadLetter, DeadLetterQuery, DeadLetterStore } from '../../core/ports/storage-ports.js';
import { isUnreachable, storageError, type PgComponentMigrations, type PgDatabase } from './pg-database.js';
import { jsonWithoutNul, withoutNul } from './pg-text.js';
import { deadLetterFromRow, type DeadLetterRow, type DeadLetterWithTwin } from '../sql/dead-letter-rows.js';

export const PG_DEAD_LETTER_MIGRATIONS: PgComponentMigrations = {
  component: 'dead-letters',
  migrations: [
    {
      version: 1,
      name: 'dead letters',
      sql: `
        CREATE TABLE dead_letters (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          workspace text NOT NULL,
          time bigint NOT NULL,
          source text NOT NULL,
          topic text,
          client_id text,
          twin_id text,
          payload bytea NOT NULL,
          -- The payload's size as received when the stored payload was cut to the cap; NULL when whole.
          received_bytes bigint,
          code text NOT NULL,
          reason text NOT NULL,
          problems jsonb,
          -- What the row counts against the size limit, bytes.
          cost bigint NOT NULL
        );
        CREATE INDEX dead_letters_by_workspace ON dead_letters (workspace, id);
        CREATE INDEX dead_letters_by_time ON dead_letters (time);
      `,
    },
  ],
};

export interface PgDeadLetterStoreOptions {
  /** Largest page `list` returns (default 1000). */
  maxPage?: number;
  /** Bytes of each payload kept (default 16 KiB); the rest is cut and `receivedBytes` set. */
  maxPayloadBytes?: number;
  /** Total size of the letters (payload, reason, problems, topic, ~100 bytes of row), bytes (default 256 MiB). */
  maxBytes?: number;
  /** Most letters in one commit (default 1000); more wait for the next one. */
  maxBatch?: number;
  /** Most letters waiting for a commit (PostgreSQL unreachable); beyond, add() is refused (default 10,000). */
  maxQueued?: number;
  /** Waits between retries of a commit that found PostgreSQL unreachable, ms (default 250 doubling to 1000). */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** Told after every commit attempt: how long it took, how many letters, and the error when it failed. */
  onCommit?: (info: { ms: number; items: number; failed: boolean; error?: unknown }) => void;
}

/** A dead letter may name the twin it was meant for (used by the twinId filter of list). */
export type { DeadLetterWithTwin };

type Row = DeadLetterRow<NonNullable<DeadLetter['problems']>>;

interface Waiter {
  letters: readonly DeadLetterWithTwin[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** Pruning for size goes down to this share of the limit, so it does not run on every add. */
const PRUNE_TO = 0.9;
const ROW_OVERHEAD = 100;
/** The columns a letter is read from. */
const COLUMNS =
  'id, workspace, time, source, topic, client_id, twin_id, payload, code, reason, problems, received_bytes';

/**
 * @example
 *   const letters = new PgDeadLetterStore(db, { maxBytes: 64 * 1024 * 1024 });
 *   await letters.add([{ workspace: 'default', time: Date.now(), source: 'mqtt', payload, code, reason }]);
 *   const page = await letters.list({ workspace: 'default', limit: 100 });
 */
export class PgDeadLetterStore implements DeadLetterStore {
  private readonly maxPage: number;
  private readonly maxPayloadBytes: number;
  private readonly maxBytes: number;
  private readonly maxBatch: number;
  private queue: Waiter[] = [];
  private queuedLetters = 0;
  private readonly maxQueued: number;
  /** The current backoff (0: the last commit worked) and how to cut it short (flush). */
  private retryMs = 0;
  private wake: (() => void) | undefined;
  private stopRetrying = false;
  private scheduled = false;
  private committing: Promise<void> | undefined;
  /** Total cost of the stored letters as last read, plus what this node added since; undefined: not read yet. */
  private bytes: number | undefined;

  constructor(
    private readonly db: PgDatabase,
    private readonly options: PgDeadLetterStoreOptions = {},
  ) {
    this.maxPage = options.maxPage ?? 1000;
    this.maxPayloadBytes = Math.max(0, options.maxPayloadBytes ?? 16 * 1024);
    this.maxBytes = Math.max(1, options.maxBytes ?? 256 * 1024 * 1024);
    this.maxBatch = Math.max(1, options.maxBatch ?? 1000);
    this.maxQueued = Math.max(1, options.maxQueued ?? 10_000);
  }

  /** Resolves when the letters are committed; rejects (StorageError) when their commit failed. */
  add(letters: readonly DeadLetterWithTwin[]): Promise<void> {
    if (letters.length === 0) return Promise.resolve();
    if (this.queuedLetters > 0 && this.queuedLetters + letters.length > this.maxQueued) {
      return Promise.reject(
        new TwinloopError(
          'ServiceUnavailable',
          `Dead letters cannot be stored now: ${this.queuedLetters} already wait for PostgreSQL (limit ${this.maxQueued}); send again later.`,
          { details: { retryAfterSeconds: 5 } },
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ letters, resolve, reject });
      this.queuedLetters += letters.length;
      if (!this.scheduled && !this.committing) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.drain();
        });
      }
    });
  }

  async list(q: DeadLetterQuery): Promise<DeadLetterWithTwin[]> {
    if (!Number.isInteger(q.limit) || q.limit < 1) {
      throw new TwinloopError('BadRequest', `limit must be a positive integer (got ${q.limit}).`);
    }
    const where = ['workspace = $1'];
    const args: unknown[] = [withoutNul(q.workspace)];
    if (q.beforeId !== undefined) {
      args.push(q.beforeId);
      where.push(`id < $${args.length}`);
    }
    if (q.source !== undefined) {
      args.push(withoutNul(q.source));
      where.push(`source = $${args.length}`);
    }
    if (q.twinId !== undefined) {
      args.push(withoutNul(q.twinId));
      where.push(`twin_id = $${args.length}`);
    }
    args.push(Math.min(q.limit, this.maxPage));
    const limit = `$${args.length}`;
    args.push(
      q.maxBytes === undefined || !Number.isFinite(q.maxBytes) ? null : Math.max(0, Math.floor(q.maxBytes)),
    );
    const budget = `$${args.length}::bigint`;
    // The page's ids and their running payload size first (octet_length of a bytea does not read
    // it); then only the letters within the budget are read whole. The first always is.
    const r = await this.db.query<Row>(
      `WITH page AS (
         SELECT id, row_number() OVER w AS n, sum(octet_length(payload)) OVER w AS run
         FROM dead_letters WHERE ${where.join(' AND ')}
         WINDOW w AS (ORDER BY id DESC ROWS UNBOUNDED PRECEDING)
         ORDER BY id DESC LIMIT ${limit})
       SELECT d.id, d.workspace, d.time, d.source, d.topic, d.client_id, d.twin_id, d.payload, d.code,
              d.reason, d.problems, d.received_bytes
       FROM page p JOIN dead_letters d ON d.id = p.id
       WHERE p.n = 1 OR ${budget} IS NULL OR p.run <= ${budget}
       ORDER BY d.id DESC`,
      args,
    );
    return r.rows.map(fromRow);
  }

  async count(workspace: string): Promise<number> {
    const r = await this.db.query<{ n: number }>(
      'SELECT count(*)::bigint AS n FROM dead_letters WHERE workspace = $1',
      [withoutNul(workspace)],
    );
    return r.rows[0]?.n ?? 0;
  }

  async get(workspace: string, id: number): Promise<DeadLetterWithTwin | undefined> {
    if (!Number.isSafeInteger(id)) return undefined;
    const r = await this.db.query<Row>(
      `SELECT ${COLUMNS} FROM dead_letters WHERE workspace = $1 AND id = $2`,
      [withoutNul(workspace), id],
    );
    const row = r.rows[0];
    return row ? fromRow(row) : undefined;
  }

  async take(workspace: string, id: number): Promise<DeadLetterWithTwin | undefined> {
    if (!Number.isSafeInteger(id)) return undefined;
    // DELETE … RETURNING: of concurrent takes of one row, only the one that deleted it gets a row.
    const r = await this.db.query<Row & { cost: number }>(
      `DELETE FROM dead_letters WHERE workspace = $1 AND id = $2 RETURNING ${COLUMNS}, cost`,
      [withoutNul(workspace), id],
    );
    const row = r.rows[0];
    if (!row) return undefined;
    if (this.bytes !== undefined) this.bytes = Math.max(0, this.bytes - Number(row.cost));
    return fromRow(row);
  }

  async prune(before: number): Promise<number> {
    const r = await this.db.query('DELETE FROM dead_letters WHERE time < $1', [before]);
    const n = r.rowCount ?? 0;
    if (n) this.bytes = undefined; // read again when next needed
    return n;
  }

  async pruneToSize(): Promise<number> {
    const total = await this.totalBytes();
    this.bytes = total;
    if (total <= this.maxBytes) return 0;
    const excess = total - this.maxBytes * PRUNE_TO;
    // Oldest first (ids grow with arrival), every workspace: up to the first letter where the
    // running cost reaches the excess (or all of them, if the rows changed under us).
    const r = await this.db.query(
      `DELETE FROM dead_letters WHERE id <= coalesce(
         (SELECT id FROM (SELECT id, sum(cost) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) AS run
                          FROM dead_letters) s
          WHERE run >= $1 ORDER BY id LIMIT 1),
         (SELECT max(id) FROM dead_letters))`,
      [excess],
    );
    this.bytes = await this.totalBytes();
    return r.rowCount ?? 0;
  }

  /** Total cost of the stored letters as this node knows it, bytes (undefined until first needed). */
  get storedBytes(): number | undefined {
    return this.bytes;
  }

  /**
   * Resolves when every letter added so far is committed (or its commit failed): before closing.
   * An outage is not waited out: what cannot be committed now is failed (StorageError).
   */
  async flush(): Promise<void> {
    this.stopRetrying = true;
    this.wake?.();
    try {
      while (this.queue.length || this.committing || this.scheduled) {
        if (this.committing) await this.committing.catch(() => undefined);
        else if (this.queue.length && !this.scheduled) this.drain();
        else await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.stopRetrying = false;
    }
  }

  private totalBytes(): Promise<number> {
    return this.db
      .query<{ b: number }>('SELECT coalesce(sum(cost), 0)::bigint AS b FROM dead_letters')
      .then((r) => r.rows[0]?.b ?? 0);
  }

  /** Commits what is queued, batch after batch; letters added meanwhile join the next batch. */
  private drain(): void {
    if (this.committing || !this.queue.length) return;
    const batch: Waiter[] = [];
    let items = 0;
    while (
      this.queue.length &&
      (batch.length === 0 || items + this.queue[0]!.letters.length <= this.maxBatch)
    ) {
      const w = this.queue.shift()!;
      batch.push(w);
      items += w.letters.length;
    }
    const started = Date.now();
    this.committing = this.commit(batch.flatMap((w) => w.letters)).then(
      () => {
        this.retryMs = 0;
        this.queuedLetters -= items;
        this.options.onCommit?.({ ms: Date.now() - started, items, failed: false });
        for (const w of batch) w.resolve();
      },
      (e: unknown) => {
        this.options.onCommit?.({ ms: Date.now() - started, items, failed: true, error: e });
        if (!this.stopRetrying && isUnreachable(storageError(e, 'dead-letter commit', this.db.where))) {
          // Keep the letters: back to the head of the queue, retried after the backoff.
          this.queue.unshift(...batch);
          const min = Math.max(1, this.options.retryMinMs ?? 250);
          this.retryMs = Math.min(
            Math.max(min, this.options.retryMaxMs ?? 1000),
            this.retryMs ? this.retryMs * 2 : min,
          );
          return new Promise<void>((resolve) => {
            const timer = setTimeout(done, this.retryMs);
            function done(): void {
              clearTimeout(timer);
              resolve();
            }
            this.wake = done;
          }).finally(() => (this.wake = undefined));
        }
        this.queuedLetters -= items;
        for (const w of batch) w.reject(e);
      },
    );
    void this.committing.finally(() => {
      this.committing = undefined;
      this.drain();
    });
  }

  private async commit(letters: readonly DeadLetterWithTwin[]): Promise<void> {
    const cols = {
      workspace: [] as string[],
      time: [] as number[],
      source: [] as string[],
      topic: [] as (string | null)[],
      clientId: [] as (string | null)[],
      twinId: [] as (string | null)[],
      payload: [] as Buffer[],
      received: [] as (number | null)[],
      code: [] as string[],
      reason: [] as string[],
      problems: [] as (string | null)[],
      cost: [] as number[],
    };
    let added = 0;
    for (const l of letters) {
      const cut = l.payload.length > this.maxPayloadBytes;
      const payload = cut ? l.payload.subarray(0, this.maxPayloadBytes) : l.payload;
      const topic = withoutNul(l.topic ?? null);
      const reason = withoutNul(l.reason);
      const problems = l.problems ? jsonWithoutNul(l.problems) : null;
      const cost =
        payload.length +
        Buffer.byteLength(reason) +
        (problems ? Buffer.byteLength(problems) : 0) +
        (topic ? Buffer.byteLength(topic) : 0) +
        ROW_OVERHEAD;
      cols.workspace.push(withoutNul(l.workspace));
      cols.time.push(l.time);
      cols.source.push(withoutNul(l.source));
      cols.topic.push(topic);
      cols.clientId.push(withoutNul(l.clientId ?? null));
      cols.twinId.push(withoutNul(l.twinId ?? null));
      cols.payload.push(payload);
      cols.received.push(cut ? (l.receivedBytes ?? l.payload.length) : (l.receivedBytes ?? null));
      cols.code.push(withoutNul(l.code));
      cols.reason.push(reason);
      cols.problems.push(problems);
      cols.cost.push(cost);
      added += cost;
    }
    // One statement for the batch (ids are assigned in array order): one round trip, one commit.
    await this.db.query(
      `INSERT INTO dead_letters (workspace, time, source, topic, client_id, twin_id, payload, received_bytes,
                                 code, reason, problems, cost)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                            $7::bytea[], $8::bigint[], $9::text[], $10::text[], $11::jsonb[], $12::bigint[])`,
      [
        cols.workspace,
        cols.time,
        cols.source,
        cols.topic,
        cols.clientId,
        cols.twinId,
        cols.payload,
        cols.received,
        cols.code,
        cols.reason,
        cols.problems,
        cols.cost,
      ],
    );
    if (this.bytes === undefined) {
      try {
        this.bytes = await this.totalBytes();
      } catch {
        return; // the letters are stored; the total is read again next time
      }
    } else this.bytes += added;
    if (this.bytes > this.maxBytes) {
      try {
        await this.pruneToSize();
      } catch {
        // The letters are stored; the next add (or the periodic prune) tries again.
      }
    }
  }
}

function fromRow(r: Row): DeadLetterWithTwin {
  return deadLetterFromRow(r, (p) => p);
}
