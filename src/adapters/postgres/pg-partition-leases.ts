/**
 * Leases in PostgreSQL: partition leases and worker membership (the ingest workers), and named
 * leases (a job one node of the cluster runs at a time: the event-route delivery). A lease row per
 * partition or name: taken by a conditional upsert (only when free, expired, or already the
 * caller's), each take bumps the epoch (the fencing token); renew and release match owner AND
 * epoch, so a stale owner (one whose lease expired and was taken over) can never extend or drop the
 * new owner's lease. Time is the server's now(): nodes' clocks do not matter. Both kinds share the
 * statements (LeaseTable); only the table and its key differ.
 */
import type {
  ClusterView,
  NamedLease,
  NamedLeases,
  PartitionLease,
  PartitionLeases,
} from '../../core/ports/cluster.js';
import { TwinloopError } from '../../core/errors/errors.js';
import type { PgComponentMigrations, PgDatabase } from './pg-database.js';

export const PG_LEASE_MIGRATIONS: PgComponentMigrations = {
  component: 'partition-leases',
  migrations: [
    {
      version: 1,
      name: 'partition leases and worker membership',
      sql: `
        CREATE TABLE twinloop_partition_leases (
          partition integer PRIMARY KEY CHECK (partition >= 0),
          owner text,
          epoch bigint NOT NULL DEFAULT 0,
          expires_at timestamptz NOT NULL
        );
        CREATE TABLE twinloop_cluster_members (
          owner text PRIMARY KEY,
          expires_at timestamptz NOT NULL
        );`,
    },
    {
      version: 2,
      name: 'named leases (one node at a time: event-route delivery)',
      sql: `
        CREATE TABLE twinloop_named_leases (
          name text PRIMARY KEY,
          owner text,
          epoch bigint NOT NULL DEFAULT 0,
          expires_at timestamptz NOT NULL
        );`,
    },
  ],
};

interface LeaseRow<K> {
  key: K;
  owner: string;
  epoch: number;
  expires_ms: number;
}

function checkTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs < 1 || ttlMs > 3_600_000)
    throw new TwinloopError('InvalidArgument', `A lease TTL must be 1..3 600 000 ms (got ${ttlMs}).`);
}

/** An owner or a lease name. NUL: PostgreSQL text cannot hold it. */
function checkText(what: string, v: string): void {
  if (typeof v !== 'string' || v.length < 1 || v.length > 200 || v.includes('\u0000'))
    throw new TwinloopError(
      'InvalidArgument',
      `A lease ${what} must be a string of 1..200 characters without NUL.`,
    );
}

function checkPartition(p: number): void {
  if (!Number.isInteger(p) || p < 0 || p > 1_000_000)
    throw new TwinloopError('InvalidArgument', `A partition must be an integer 0..1 000 000 (got ${p}).`);
}

/** Take, renew and release over one lease table (`key` is its primary key column). */
abstract class PgLeaseTable<K extends string | number, L extends { owner: string; epoch: number }> {
  private readonly returning: string;

  constructor(
    protected readonly db: PgDatabase,
    private readonly table: string,
    private readonly key: string,
  ) {
    this.returning = `RETURNING ${key} AS key, owner, epoch, (extract(epoch from expires_at) * 1000)::bigint AS expires_ms`;
  }

  protected abstract checkKey(key: K): void;
  protected abstract keyOf(lease: L): K;
  protected abstract toLease(row: LeaseRow<K>): L;

  async acquire(key: K, owner: string, ttlMs: number): Promise<L | undefined> {
    checkTtl(ttlMs);
    checkText('owner', owner);
    this.checkKey(key);
    const r = await this.db.query<LeaseRow<K>>(
      `INSERT INTO ${this.table} AS l (${this.key}, owner, epoch, expires_at)
         VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond')
       ON CONFLICT (${this.key}) DO UPDATE
         SET owner = EXCLUDED.owner, epoch = l.epoch + 1, expires_at = EXCLUDED.expires_at
         WHERE l.owner = EXCLUDED.owner OR l.owner IS NULL OR l.expires_at < now()
       ${this.returning}`,
      [key, owner, ttlMs],
    );
    return r.rows[0] ? this.toLease(r.rows[0]) : undefined;
  }

  async renew(lease: L, ttlMs: number): Promise<L | undefined> {
    checkTtl(ttlMs);
    const r = await this.db.query<LeaseRow<K>>(
      `UPDATE ${this.table} SET expires_at = now() + $4 * interval '1 millisecond'
        WHERE ${this.key} = $1 AND owner = $2 AND epoch = $3 AND expires_at >= now()
       ${this.returning}`,
      [this.keyOf(lease), lease.owner, lease.epoch, ttlMs],
    );
    return r.rows[0] ? this.toLease(r.rows[0]) : undefined;
  }

  async release(lease: L): Promise<void> {
    await this.db.query(
      `UPDATE ${this.table} SET owner = NULL, expires_at = now()
        WHERE ${this.key} = $1 AND owner = $2 AND epoch = $3`,
      [this.keyOf(lease), lease.owner, lease.epoch],
    );
  }
}

const toPartitionLease = (r: LeaseRow<number>): PartitionLease => ({
  partition: r.key,
  owner: r.owner,
  epoch: r.epoch,
  expiresAt: r.expires_ms,
});

export class PgPartitionLeases extends PgLeaseTable<number, PartitionLease> implements PartitionLeases {
  constructor(db: PgDatabase) {
    super(db, 'twinloop_partition_leases', 'partition');
  }

  protected checkKey(partition: number): void {
    checkPartition(partition);
  }

  protected keyOf(lease: PartitionLease): number {
    return lease.partition;
  }

  protected toLease(row: LeaseRow<number>): PartitionLease {
    return toPartitionLease(row);
  }

  async heartbeat(owner: string, ttlMs: number): Promise<ClusterView> {
    checkTtl(ttlMs);
    checkText('owner', owner);
    await this.db.query(
      `INSERT INTO twinloop_cluster_members (owner, expires_at) VALUES ($1, now() + $2 * interval '1 millisecond')
       ON CONFLICT (owner) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
      [owner, ttlMs],
    );
    const [members, leases] = await Promise.all([
      this.db.query<{ owner: string }>(
        'SELECT owner FROM twinloop_cluster_members WHERE expires_at >= now() ORDER BY owner',
      ),
      this.db.query<LeaseRow<number>>(
        `SELECT partition AS key, owner, epoch, (extract(epoch from expires_at) * 1000)::bigint AS expires_ms
           FROM twinloop_partition_leases WHERE owner IS NOT NULL AND expires_at >= now() ORDER BY partition`,
      ),
    ]);
    // Long-dead members are forgotten (cheap, and keeps the table small).
    await this.db.query("DELETE FROM twinloop_cluster_members WHERE expires_at < now() - interval '1 hour'");
    return { liveOwners: members.rows.map((r) => r.owner), leases: leases.rows.map(toPartitionLease) };
  }

  async leave(owner: string): Promise<void> {
    await this.db.query('DELETE FROM twinloop_cluster_members WHERE owner = $1', [owner]);
  }
}

/** Named leases: a job one node of the cluster runs at a time (NamedLeases). */
export class PgNamedLeases extends PgLeaseTable<string, NamedLease> implements NamedLeases {
  constructor(db: PgDatabase) {
    super(db, 'twinloop_named_leases', 'name');
  }

  protected checkKey(name: string): void {
    checkText('name', name);
  }

  protected keyOf(lease: NamedLease): string {
    return lease.name;
  }

  protected toLease(row: LeaseRow<string>): NamedLease {
    return { name: row.key, owner: row.owner, epoch: row.epoch, expiresAt: row.expires_ms };
  }
}
