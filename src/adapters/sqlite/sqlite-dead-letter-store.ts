/**
 * DeadLetterStore on SQLite: the raw payload as a BLOB (binary-safe), problems as JSON. `add()` is
 * group-committed like history appends: letters added in the same tick share one transaction.
 *
 * Bounded by default: each payload is kept up to `maxPayloadBytes` (the letter records the size as
 * received), and the total size of the letters is kept under `maxBytes` by deleting the oldest
 * ones as soon as an add goes over it (age retention is the caller's prune(before)). list() reads
 * rows one by one and ends a page at `maxBytes` of payload, so no page holds hundreds of MiB.
 */
import type Database from 'better-sqlite3';
import { TwinloopError } from '../../core/errors/errors.js';
import type { DeadLetter, DeadLetterQuery, DeadLetterStore } from '../../core/ports/storage-ports.js';
import { storageError } from './sqlite-database.js';
import { GroupCommitter, type GroupCommitOptions } from './sqlite-group-commit.js';
import { deadLetterFromRow, type DeadLetterRow, type DeadLetterWithTwin } from '../sql/dead-letter-rows.js';

export interface SqliteDeadLetterStoreOptions extends GroupCommitOptions {
  /** Largest page `list` returns (default 1000). */
  maxPage?: number;
  /** Bytes of each payload kept (default 16 KiB); the rest is cut and `receivedBytes` set. */
  maxPayloadBytes?: number;
  /** Total size of the letters (payload, reason, problems, ~100 bytes of row), bytes (default 256 MiB). */
  maxBytes?: number;
}

/** A dead letter may name the twin it was meant for (used by the twinId filter of list). */
export type { DeadLetterWithTwin };

type Row = DeadLetterRow<string>;

/** What a row costs, as SQL over dead_letters (length() of a BLOB does not read it). */
const ROW_COST = `(length(payload) + length(CAST(reason AS BLOB)) + coalesce(length(CAST(problems AS BLOB)), 0) + coalesce(length(CAST(topic AS BLOB)), 0) + 100)`;
/** Pruning for size goes down to this share of the limit, so it does not run on every add. */
const PRUNE_TO = 0.9;

export class SqliteDeadLetterStore implements DeadLetterStore {
  private readonly committer: GroupCommitter<DeadLetterWithTwin>;
  private readonly insert: Database.Statement;
  private readonly maxPage: number;
  private readonly maxPayloadBytes: number;
  private readonly maxBytes: number;
  /** Total cost of the stored letters (see ROW_COST), kept in step by add and the prunes. */
  private bytes: number;

  constructor(
    private readonly db: Database.Database,
    options: SqliteDeadLetterStoreOptions = {},
  ) {
    this.insert = db.prepare(
      `INSERT INTO dead_letters (workspace, time, source, topic, client_id, twin_id, payload, code, reason, problems, received_bytes)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.maxPage = options.maxPage ?? 1000;
    this.maxPayloadBytes = Math.max(0, options.maxPayloadBytes ?? 16 * 1024);
    this.maxBytes = Math.max(1, options.maxBytes ?? 256 * 1024 * 1024);
    this.bytes = this.totalBytes();
    this.committer = new GroupCommitter((letters) => this.commit(letters), options);
  }

  add(letters: readonly DeadLetterWithTwin[]): Promise<void> {
    if (letters.length === 0) return Promise.resolve();
    return this.committer.submit(letters);
  }

  // The methods below are synchronous inside (better-sqlite3) but keep the port's asynchronous
  // shape: a throw becomes a rejection.
  async list(q: DeadLetterQuery): Promise<DeadLetterWithTwin[]> {
    if (!Number.isInteger(q.limit) || q.limit < 1) {
      throw new TwinloopError('BadRequest', `limit must be a positive integer (got ${q.limit}).`);
    }
    const where = ['workspace = ?'];
    const args: unknown[] = [q.workspace];
    if (q.beforeId !== undefined) {
      where.push('id < ?');
      args.push(q.beforeId);
    }
    if (q.source !== undefined) {
      where.push('source = ?');
      args.push(q.source);
    }
    if (q.twinId !== undefined) {
      where.push('twin_id = ?');
      args.push(q.twinId);
    }
    args.push(Math.min(q.limit, this.maxPage));
    const budget = q.maxBytes ?? Infinity;
    const out: DeadLetterWithTwin[] = [];
    let bytes = 0;
    try {
      // One row at a time: a page ends at the byte budget without reading the rows after it.
      const it = this.db
        .prepare<unknown[], Row>(
          `SELECT * FROM dead_letters WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`,
        )
        .iterate(...args);
      for (const r of it) {
        if (out.length > 0 && bytes + r.payload.length > budget) break;
        bytes += r.payload.length;
        out.push(fromRow(r));
      }
      return out;
    } catch (e) {
      throw storageError('Cannot list dead letters', e);
    }
  }

  async count(workspace: string): Promise<number> {
    try {
      return (
        this.db.prepare('SELECT count(*) AS n FROM dead_letters WHERE workspace = ?').get(workspace) as {
          n: number;
        }
      ).n;
    } catch (e) {
      throw storageError('Cannot count dead letters', e);
    }
  }

  async get(workspace: string, id: number): Promise<DeadLetterWithTwin | undefined> {
    if (!Number.isSafeInteger(id)) return undefined;
    this.committer.flush();
    try {
      const r = this.db
        .prepare<[string, number], Row>('SELECT * FROM dead_letters WHERE workspace = ? AND id = ?')
        .get(workspace, id);
      return r ? fromRow(r) : undefined;
    } catch (e) {
      throw storageError('Cannot read a dead letter', e);
    }
  }

  async take(workspace: string, id: number): Promise<DeadLetterWithTwin | undefined> {
    if (!Number.isSafeInteger(id)) return undefined;
    this.committer.flush();
    try {
      // One statement: the row is read and deleted together, so only one caller gets it.
      const r = this.db
        .prepare<[string, number], Row>('DELETE FROM dead_letters WHERE workspace = ? AND id = ? RETURNING *')
        .get(workspace, id);
      if (!r) return undefined;
      this.bytes = Math.max(
        0,
        this.bytes -
          (r.payload.length +
            Buffer.byteLength(r.reason) +
            (r.problems ? Buffer.byteLength(r.problems) : 0) +
            (r.topic ? Buffer.byteLength(r.topic) : 0) +
            100),
      );
      return fromRow(r);
    } catch (e) {
      throw storageError('Cannot take a dead letter', e);
    }
  }

  async prune(before: number): Promise<number> {
    try {
      const n = this.db.prepare('DELETE FROM dead_letters WHERE time < ?').run(before).changes;
      if (n) this.bytes = this.totalBytes();
      return n;
    } catch (e) {
      throw storageError('Cannot prune dead letters', e);
    }
  }

  async pruneToSize(): Promise<number> {
    return this.pruneToSizeNow();
  }

  private pruneToSizeNow(): number {
    if (this.bytes <= this.maxBytes) return 0;
    try {
      const target = this.maxBytes * PRUNE_TO;
      let excess = this.bytes - target;
      let lastId: number | undefined;
      // Oldest first (ids grow with time of arrival), every workspace: find where to cut.
      for (const r of this.db
        .prepare<[], { id: number; cost: number }>(
          `SELECT id, ${ROW_COST} AS cost FROM dead_letters ORDER BY id`,
        )
        .iterate()) {
        lastId = r.id;
        excess -= r.cost;
        if (excess <= 0) break;
      }
      if (lastId === undefined) return 0;
      const n = this.db.prepare('DELETE FROM dead_letters WHERE id <= ?').run(lastId).changes;
      this.bytes = this.totalBytes();
      return n;
    } catch (e) {
      throw storageError('Cannot prune dead letters', e);
    }
  }

  /** Total cost of the stored letters (see ROW_COST), bytes. */
  get storedBytes(): number {
    return this.bytes;
  }

  /** Commits what is queued now. */
  flush(): void {
    this.committer.flush();
  }

  private totalBytes(): number {
    return (
      this.db.prepare(`SELECT coalesce(sum(${ROW_COST}), 0) AS b FROM dead_letters`).get() as { b: number }
    ).b;
  }

  private commit(letters: DeadLetterWithTwin[]): void {
    let added = 0;
    try {
      this.db.transaction(() => {
        for (const l of letters) {
          const cut = l.payload.length > this.maxPayloadBytes;
          const payload = cut ? l.payload.subarray(0, this.maxPayloadBytes) : l.payload;
          const problems = l.problems ? JSON.stringify(l.problems) : null;
          this.insert.run(
            l.workspace,
            l.time,
            l.source,
            l.topic ?? null,
            l.clientId ?? null,
            l.twinId ?? null,
            payload,
            l.code,
            l.reason,
            problems,
            cut ? (l.receivedBytes ?? l.payload.length) : (l.receivedBytes ?? null),
          );
          added +=
            payload.length +
            Buffer.byteLength(l.reason) +
            (problems ? Buffer.byteLength(problems) : 0) +
            (l.topic ? Buffer.byteLength(l.topic) : 0) +
            100;
        }
      })();
    } catch (e) {
      throw storageError('Cannot store dead letters', e);
    }
    this.bytes += added;
    if (this.bytes > this.maxBytes) {
      try {
        this.pruneToSizeNow();
      } catch {
        // The letters are stored; the next add (or the periodic prune) tries again.
      }
    }
  }
}

function fromRow(r: Row): DeadLetterWithTwin {
  return deadLetterFromRow(r, (p) => JSON.parse(p) as NonNullable<DeadLetter['problems']>);
}
