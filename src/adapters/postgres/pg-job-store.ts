/**
 * JobStore on PostgreSQL: one row per job, the job itself as JSON text beside the columns lists and
 * recovery need (kind, id, creation time, status, purge time). The body is `text`, not `jsonb`:
 * JSON.stringify writes a NUL in an error message as the escape `\u0000`, which text keeps and
 * jsonb refuses, so a job that failed on a line holding a NUL is still stored. Ids are compared
 * byte-wise (COLLATE "C"), so pages come in the same order as on SQLite whatever the locale.
 */
import type { JobKind, JobRecord } from '../../core/jobs/job-state.js';
import { FINISHED_STATUSES } from '../../core/jobs/job-state.js';
import type { JobStore } from '../../core/ports/job-store.js';
import type { PgComponentMigrations, PgDatabase } from './pg-database.js';
import { hasNul, refuseNul, withoutNul } from './pg-text.js';

export const PG_JOB_MIGRATIONS: PgComponentMigrations = {
  component: 'jobs',
  migrations: [
    {
      version: 1,
      name: 'import and delete jobs',
      sql: `
        CREATE TABLE jobs (
          kind text COLLATE "C" NOT NULL,
          id text COLLATE "C" NOT NULL,
          created_at bigint NOT NULL,
          status text NOT NULL,
          purge_at bigint NOT NULL,
          body text NOT NULL,
          PRIMARY KEY (kind, id)
        );
        CREATE INDEX jobs_by_created ON jobs (kind, created_at, id);
        CREATE INDEX jobs_by_status ON jobs (status);
      `,
    },
  ],
};

interface Row {
  body: string;
}

const parse = (r: Row): JobRecord => JSON.parse(r.body) as JobRecord;

/**
 * @example
 *   const db = await openPgDatabase({ url, migrations: [PG_JOB_MIGRATIONS] });
 *   const jobs = new PgJobStore(db);
 *   await jobs.put(newImportJob('j1', 'file:///in', 'file:///out', Date.now(), 86_400_000));
 */
export class PgJobStore implements JobStore {
  constructor(private readonly db: PgDatabase) {}

  /** @throws BadRequest when the id holds a NUL (PostgreSQL text cannot); StorageError */
  async put(job: JobRecord): Promise<void> {
    refuseNul('a job', { kind: job.kind, id: job.id, status: job.status });
    await this.db.query(
      `INSERT INTO jobs (kind, id, created_at, status, purge_at, body) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (kind, id) DO UPDATE SET created_at = excluded.created_at, status = excluded.status,
         purge_at = excluded.purge_at, body = excluded.body`,
      [job.kind, job.id, job.createdAt, job.status, job.purgeAt, JSON.stringify(job)],
    );
  }

  async get(kind: JobKind, id: string): Promise<JobRecord | undefined> {
    if (hasNul(kind) || hasNul(id)) return undefined; // no stored job has one
    const r = await this.db.query<Row>('SELECT body FROM jobs WHERE kind = $1 AND id = $2', [kind, id]);
    return r.rows[0] && parse(r.rows[0]);
  }

  async list(
    kind: JobKind,
    options: { limit: number; after?: { createdAt: number; id: string } },
  ): Promise<JobRecord[]> {
    if (hasNul(kind)) return [];
    const a = options.after;
    const r = a
      ? await this.db.query<Row>(
          `SELECT body FROM jobs WHERE kind = $1 AND (created_at, id) > ($2, $3)
           ORDER BY created_at, id LIMIT $4`,
          // A position is compared only: U+FFFD sorts after every id that ends where the NUL was.
          [kind, a.createdAt, withoutNul(a.id), options.limit],
        )
      : await this.db.query<Row>('SELECT body FROM jobs WHERE kind = $1 ORDER BY created_at, id LIMIT $2', [
          kind,
          options.limit,
        ]);
    return r.rows.map(parse);
  }

  async withStatus(statuses: readonly string[]): Promise<JobRecord[]> {
    const wanted = statuses.filter((s) => !hasNul(s));
    if (!wanted.length) return [];
    const r = await this.db.query<Row>(
      'SELECT body FROM jobs WHERE status = ANY($1::text[]) ORDER BY created_at, id',
      [wanted],
    );
    return r.rows.map(parse);
  }

  async count(kind: JobKind): Promise<number> {
    if (hasNul(kind)) return 0;
    const r = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE kind = $1', [
      kind,
    ]);
    return r.rows[0]?.n ?? 0;
  }

  async delete(kind: JobKind, id: string): Promise<boolean> {
    if (hasNul(kind) || hasNul(id)) return false;
    const r = await this.db.query('DELETE FROM jobs WHERE kind = $1 AND id = $2', [kind, id]);
    return (r.rowCount ?? 0) > 0;
  }

  async purge(now: number): Promise<number> {
    const r = await this.db.query('DELETE FROM jobs WHERE purge_at < $1 AND status = ANY($2::text[])', [
      now,
      [...FINISHED_STATUSES],
    ]);
    return r.rowCount ?? 0;
  }
}
