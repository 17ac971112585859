/**
 * JobStore on SQLite: one row per job, the job itself as JSON, with the columns lists and recovery
 * need (kind, id, creation time, status, purge time). Resolves synchronously inside.
 */
import type Database from 'better-sqlite3';
import type { JobKind, JobRecord } from '../../core/jobs/job-state.js';
import { FINISHED_STATUSES } from '../../core/jobs/job-state.js';
import type { JobStore } from '../../core/ports/job-store.js';
import { storageError } from './sqlite-database.js';

interface Row {
  body: string;
}

export class SqliteJobStore implements JobStore {
  private readonly s: {
    put: Database.Statement;
    get: Database.Statement<[string, string], Row>;
    first: Database.Statement<[string, number], Row>;
    after: Database.Statement<[string, number, number, string, number], Row>;
    count: Database.Statement<[string], { n: number }>;
    del: Database.Statement<[string, string]>;
    purge: Database.Statement;
    all: Database.Statement<[], Row & { status: string }>;
  };

  constructor(private readonly db: Database.Database) {
    this.s = {
      put: db.prepare(
        `INSERT INTO jobs (kind, id, created_at, status, purge_at, body) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (kind, id) DO UPDATE SET created_at = excluded.created_at, status = excluded.status,
           purge_at = excluded.purge_at, body = excluded.body`,
      ),
      get: db.prepare('SELECT body FROM jobs WHERE kind = ? AND id = ?'),
      first: db.prepare('SELECT body FROM jobs WHERE kind = ? ORDER BY created_at, id LIMIT ?'),
      after: db.prepare(
        `SELECT body FROM jobs WHERE kind = ? AND (created_at > ? OR (created_at = ? AND id > ?))
         ORDER BY created_at, id LIMIT ?`,
      ),
      count: db.prepare('SELECT count(*) AS n FROM jobs WHERE kind = ?'),
      del: db.prepare('DELETE FROM jobs WHERE kind = ? AND id = ?'),
      purge: db.prepare(
        `DELETE FROM jobs WHERE purge_at < ? AND status IN (${[...FINISHED_STATUSES].map(() => '?').join(', ')})`,
      ),
      all: db.prepare('SELECT body, status FROM jobs ORDER BY created_at, id'),
    };
  }

  put(job: JobRecord): Promise<void> {
    return this.run('Cannot store a job', () => {
      this.s.put.run(job.kind, job.id, job.createdAt, job.status, job.purgeAt, JSON.stringify(job));
    });
  }

  get(kind: JobKind, id: string): Promise<JobRecord | undefined> {
    return this.run('Cannot read a job', () => {
      const r = this.s.get.get(kind, id);
      return r ? (JSON.parse(r.body) as JobRecord) : undefined;
    });
  }

  list(
    kind: JobKind,
    options: { limit: number; after?: { createdAt: number; id: string } },
  ): Promise<JobRecord[]> {
    return this.run('Cannot list jobs', () => {
      const a = options.after;
      const rows = a
        ? this.s.after.all(kind, a.createdAt, a.createdAt, a.id, options.limit)
        : this.s.first.all(kind, options.limit);
      return rows.map((r) => JSON.parse(r.body) as JobRecord);
    });
  }

  withStatus(statuses: readonly string[]): Promise<JobRecord[]> {
    return this.run('Cannot read jobs', () =>
      this.s.all
        .all()
        .filter((r) => statuses.includes(r.status))
        .map((r) => JSON.parse(r.body) as JobRecord),
    );
  }

  count(kind: JobKind): Promise<number> {
    return this.run('Cannot count jobs', () => this.s.count.get(kind)?.n ?? 0);
  }

  delete(kind: JobKind, id: string): Promise<boolean> {
    return this.run('Cannot delete a job', () => this.s.del.run(kind, id).changes > 0);
  }

  purge(now: number): Promise<number> {
    return this.run('Cannot purge jobs', () => this.s.purge.run(now, ...FINISHED_STATUSES).changes);
  }

  private run<T>(what: string, fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(storageError(what, e));
    }
  }
}
