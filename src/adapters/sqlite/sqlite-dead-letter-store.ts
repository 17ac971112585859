/**
 * DeadLetterStore on SQLite: the raw payload as a BLOB (binary-safe), problems as JSON. `add()` is
 * group-committed like history appends: letters added in the same tick share one transaction.
 */
import type Database from 'better-sqlite3';
import { TwinloopError } from '../../core/errors/errors.js';
import type { DeadLetter, DeadLetterQuery, DeadLetterStore } from '../../core/ports/storage-ports.js';
import { storageError } from './sqlite-database.js';
import { GroupCommitter, type GroupCommitOptions } from './sqlite-group-commit.js';

export interface SqliteDeadLetterStoreOptions extends GroupCommitOptions {
  /** Largest page `list` returns (default 1000). */
  maxPage?: number;
}

/** A dead letter may name the twin it was meant for (used by the twinId filter of list). */
export type DeadLetterWithTwin = DeadLetter & { twinId?: string };

interface Row {
  id: number;
  workspace: string;
  time: number;
  source: string;
  topic: string | null;
  client_id: string | null;
  twin_id: string | null;
  payload: Buffer;
  code: string;
  reason: string;
  problems: string | null;
}

export class SqliteDeadLetterStore implements DeadLetterStore {
  private readonly committer: GroupCommitter<DeadLetterWithTwin>;
  private readonly insert: Database.Statement;
  private readonly maxPage: number;

  constructor(
    private readonly db: Database.Database,
    options: SqliteDeadLetterStoreOptions = {},
  ) {
    this.insert = db.prepare(
      `INSERT INTO dead_letters (workspace, time, source, topic, client_id, twin_id, payload, code, reason, problems)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.maxPage = options.maxPage ?? 1000;
    this.committer = new GroupCommitter((letters) => this.commit(letters), options);
  }

  add(letters: readonly DeadLetterWithTwin[]): Promise<void> {
    if (letters.length === 0) return Promise.resolve();
    return this.committer.submit(letters);
  }

  list(q: DeadLetterQuery): DeadLetterWithTwin[] {
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
    try {
      const rows = this.db
        .prepare<unknown[], Row>(
          `SELECT * FROM dead_letters WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`,
        )
        .all(...args);
      return rows.map(fromRow);
    } catch (e) {
      throw storageError('Cannot list dead letters', e);
    }
  }

  count(workspace: string): number {
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

  prune(before: number): number {
    try {
      return this.db.prepare('DELETE FROM dead_letters WHERE time < ?').run(before).changes;
    } catch (e) {
      throw storageError('Cannot prune dead letters', e);
    }
  }

  /** Commits what is queued now. */
  flush(): void {
    this.committer.flush();
  }

  private commit(letters: DeadLetterWithTwin[]): void {
    try {
      this.db.transaction(() => {
        for (const l of letters) {
          this.insert.run(
            l.workspace,
            l.time,
            l.source,
            l.topic ?? null,
            l.clientId ?? null,
            l.twinId ?? null,
            l.payload,
            l.code,
            l.reason,
            l.problems ? JSON.stringify(l.problems) : null,
          );
        }
      })();
    } catch (e) {
      throw storageError('Cannot store dead letters', e);
    }
  }
}

function fromRow(r: Row): DeadLetterWithTwin {
  const d: DeadLetterWithTwin = {
    id: r.id,
    workspace: r.workspace,
    time: r.time,
    source: r.source,
    payload: r.payload,
    code: r.code,
    reason: r.reason,
  };
  if (r.topic !== null) d.topic = r.topic;
  if (r.client_id !== null) d.clientId = r.client_id;
  if (r.twin_id !== null) d.twinId = r.twin_id;
  if (r.problems !== null) d.problems = JSON.parse(r.problems) as NonNullable<DeadLetter['problems']>;
  return d;
}
