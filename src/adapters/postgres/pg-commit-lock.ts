/**
 * A cluster-wide lock per name on PostgreSQL: a session advisory lock on a connection held while the
 * work runs (the ingest sink's "one commit of a partition at a time"). The connections come from a
 * pool of their own, so holders never starve the work they wait on (the history commit needs a
 * connection of the store's pool). A holder that dies loses its connection and with it the lock;
 * one that hangs makes the others give up after `waitMs` (StorageError: the batch is retried).
 */
import pg from 'pg';
import type { CommitLock } from '../../core/cluster/telemetry-batch-sink.js';
import { parsePgUrl, storageError } from './pg-database.js';

export interface PgCommitLockOptions {
  /** postgres://… (a `schema` parameter names the lock space: locks of other schemas never collide). */
  url: string;
  /** Most locks held at once (one per partition a worker owns). */
  maxHolders: number;
  /** How long to wait for a lock, ms (default 10 000). */
  waitMs?: number;
  applicationName?: string;
}

export class PgCommitLock implements CommitLock {
  private readonly pool: pg.Pool;
  private readonly where: string;
  private readonly space: string;

  constructor(private readonly o: PgCommitLockOptions) {
    const u = parsePgUrl(o.url);
    this.where = u.where;
    this.space = u.schema ?? 'public';
    this.pool = new pg.Pool({
      connectionString: u.connectionString,
      max: Math.max(1, o.maxHolders),
      ...(o.applicationName ? { application_name: o.applicationName } : {}),
    });
    this.pool.on('error', () => undefined); // an idle connection the server dropped: the next run reconnects
  }

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const name = `${this.space}/${key}`;
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw storageError(e, 'take a commit lock', this.where);
    }
    let broken = false;
    try {
      try {
        await client.query(`SET lock_timeout = ${Math.max(1, Math.floor(this.o.waitMs ?? 10_000))}`);
        await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [name]);
      } catch (e) {
        broken = true;
        throw storageError(e, `take the commit lock '${key}'`, this.where);
      }
      try {
        return await fn();
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [name]).catch(() => {
          broken = true; // the connection is dropped below, which releases the lock
        });
      }
    } finally {
      client.release(broken);
    }
  }

  /** Closes the lock connections. Never throws. */
  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }
}
