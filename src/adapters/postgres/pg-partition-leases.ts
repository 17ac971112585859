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

/** The take / renew / release statements over one lease table (`key` is its primary key column). */
class LeaseTable<K extends string | number> {
  private readonly returning: string;

  constructor(
    private readonly db: PgDatabase,
    private readonly table: string,
    private readonly key: string,
  ) {
    this.returning = `RETURNING ${key} AS key, owner, epoch, (extract(epoch from expires_at) * 1000)::bigint AS expires_ms`;
  }

  async acquire(key: K, owner: string, ttlMs: number): Promise<LeaseRow<K> | undefined> {
    const r = await this.db.query<LeaseRow<K>>(
      `INSERT INTO ${this.table} AS l (${this.key}, owner, epoch, expires_at)
         VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond')
       ON CONFLICT (${this.key}) DO UPDATE
         SET owner = EXCLUDED.owner, epoch = l.epoch + 1, expires_at = EXCLUDED.expires_at
         WHERE l.owner = EXCLUDED.owner OR l.owner IS NULL OR l.expires_at < now()
       ${this.returning}`,
      [key, owner, ttlMs],
    );
    return r.rows[0];
  }

  async renew(key: K, owner: string, epoch: number, ttlMs: number): Promise<LeaseRow<K> | undefined> {
    const r = await this.db.query<LeaseRow<K>>(
      `UPDATE ${this.table} SET expires_at = now() + $4 * interval '1 millisecond'
        WHERE ${this.key} = $1 AND owner = $2 AND epoch = $3 AND expires_at >= now()
       ${this.returning}`,
      [key, owner, epoch, ttlMs],
    );
    return r.rows[0];
  }

  async release(key: K, owner: string, epoch: number): Promise<void> {
    await this.db.query(
      `UPDATE ${this.table} SET owner = NULL, expires_at = now()
        WHERE ${this.key} = $1 AND owner = $2 AND epoch = $3`,
      [key, owner, epoch],
    );
  }
}

const toLease = (r: LeaseRow<number>): PartitionLease => ({
  partition: r.key,
  owner: r.owner,
  epoch: r.epoch,
  expiresAt: r.expires_ms,
});

const toNamed = (r: LeaseRow<string>): NamedLease => ({
  name: r.key,
  owner: r.owner,
  epoch: r.epoch,
  expiresAt: r.expires_ms,
});

function checkTtl(ttlMs: number): void {
  if (!Number.isFinite(ttlMs) || ttlMs < 1 || ttlMs > 3_600_000)
    throw new TwinloopError('InvalidArgument', `A lease TTL must be 1..3 600 000 ms (got ${ttlMs}).`);
}

function checkOwner(owner: string): void {
  // NUL: PostgreSQL text cannot hold it.
  if (typeof owner !== 'string' || owner.length < 1 || owner.length > 200 || owner.includes('\u0000'))
    throw new TwinloopError(
      'InvalidArgument',
      'A lease owner must be a string of 1..200 characters without NUL.',
    );
}

function checkName(name: string): void {
  if (typeof name !== 'string' || name.length < 1 || name.length > 200 || name.includes('\u0000'))
    throw new TwinloopError(
      'InvalidArgument',
      'A lease name must be a string of 1..200 characters without NUL.',
    );
}

function checkPartition(p: number): void {
  if (!Number.isInteger(p) || p < 0 || p > 1_000_000)
    throw new TwinloopError('InvalidArgument', `A partition must be an integer 0..1 000 000 (got ${p}).`);
}

export class PgPartitionLeases implements PartitionLeases {
  private readonly table: LeaseTable<number>;

  constructor(private readonly db: PgDatabase) {
    this.table = new LeaseTable(db, 'twinloop_partition_leases', 'partition');
  }

  async acquire(partition: number, owner: string, ttlMs: number): Promise<PartitionLease | undefined> {
    checkTtl(ttlMs);
    checkOwner(owner);
    checkPartition(partition);
    const r = await this.table.acquire(partition, owner, ttlMs);
    return r ? toLease(r) : undefined;
  }

  async renew(lease: PartitionLease, ttlMs: number): Promise<PartitionLease | undefined> {
    checkTtl(ttlMs);
    const r = await this.table.renew(lease.partition, lease.owner, lease.epoch, ttlMs);
    return r ? toLease(r) : undefined;
  }

  async release(lease: PartitionLease): Promise<void> {
    await this.table.release(lease.partition, lease.owner, lease.epoch);
  }

  async heartbeat(owner: string, ttlMs: number): Promise<ClusterView> {
    checkTtl(ttlMs);
    checkOwner(owner);
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
    return { liveOwners: members.rows.map((r) => r.owner), leases: leases.rows.map(toLease) };
  }

  async leave(owner: string): Promise<void> {
    await this.db.query('DELETE FROM twinloop_cluster_members WHERE owner = $1', [owner]);
  }
}

/** Named leases: a job one node of the cluster runs at a time (NamedLeases). */
export class PgNamedLeases implements NamedLeases {
  private readonly table: LeaseTable<string>;

  constructor(db: PgDatabase) {
    this.table = new LeaseTable(db, 'twinloop_named_leases', 'name');
  }

  async acquire(name: string, owner: string, ttlMs: number): Promise<NamedLease | undefined> {
    checkTtl(ttlMs);
    checkOwner(owner);
    checkName(name);
    const r = await this.table.acquire(name, owner, ttlMs);
    return r ? toNamed(r) : undefined;
  }

  async renew(lease: NamedLease, ttlMs: number): Promise<NamedLease | undefined> {
    checkTtl(ttlMs);
    const r = await this.table.renew(lease.name, lease.owner, lease.epoch, ttlMs);
    return r ? toNamed(r) : undefined;
  }

  async release(lease: NamedLease): Promise<void> {
    await this.table.release(lease.name, lease.owner, lease.epoch);
  }
}
