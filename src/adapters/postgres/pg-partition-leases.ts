/**
 * Partition leases and worker membership in PostgreSQL. A lease row per partition: taken by a
 * conditional upsert (only when free, expired, or already the caller's), each take bumps the epoch
 * (the fencing token); renew and release match owner AND epoch, so a stale owner (one whose lease
 * expired and was taken over) can never extend or drop the new owner's lease. Time is the server's
 * now(): nodes' clocks do not matter.
 */
import type { ClusterView, PartitionLease, PartitionLeases } from '../../core/ports/cluster.js';
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
  ],
};

interface LeaseRow {
  partition: number;
  owner: string;
  epoch: number;
  expires_ms: number;
}

const toLease = (r: LeaseRow): PartitionLease => ({
  partition: r.partition,
  owner: r.owner,
  epoch: r.epoch,
  expiresAt: r.expires_ms,
});

const RETURNING = `RETURNING partition, owner, epoch, (extract(epoch from expires_at) * 1000)::bigint AS expires_ms`;

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

function checkPartition(p: number): void {
  if (!Number.isInteger(p) || p < 0 || p > 1_000_000)
    throw new TwinloopError('InvalidArgument', `A partition must be an integer 0..1 000 000 (got ${p}).`);
}

export class PgPartitionLeases implements PartitionLeases {
  constructor(private readonly db: PgDatabase) {}

  async acquire(partition: number, owner: string, ttlMs: number): Promise<PartitionLease | undefined> {
    checkTtl(ttlMs);
    checkOwner(owner);
    checkPartition(partition);
    const r = await this.db.query<LeaseRow>(
      `INSERT INTO twinloop_partition_leases AS l (partition, owner, epoch, expires_at)
         VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond')
       ON CONFLICT (partition) DO UPDATE
         SET owner = EXCLUDED.owner, epoch = l.epoch + 1, expires_at = EXCLUDED.expires_at
         WHERE l.owner = EXCLUDED.owner OR l.owner IS NULL OR l.expires_at < now()
       ${RETURNING}`,
      [partition, owner, ttlMs],
    );
    return r.rows[0] ? toLease(r.rows[0]) : undefined;
  }

  async renew(lease: PartitionLease, ttlMs: number): Promise<PartitionLease | undefined> {
    checkTtl(ttlMs);
    const r = await this.db.query<LeaseRow>(
      `UPDATE twinloop_partition_leases SET expires_at = now() + $4 * interval '1 millisecond'
        WHERE partition = $1 AND owner = $2 AND epoch = $3 AND expires_at >= now()
       ${RETURNING}`,
      [lease.partition, lease.owner, lease.epoch, ttlMs],
    );
    return r.rows[0] ? toLease(r.rows[0]) : undefined;
  }

  async release(lease: PartitionLease): Promise<void> {
    await this.db.query(
      `UPDATE twinloop_partition_leases SET owner = NULL, expires_at = now()
        WHERE partition = $1 AND owner = $2 AND epoch = $3`,
      [lease.partition, lease.owner, lease.epoch],
    );
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
      this.db.query<LeaseRow>(
        `SELECT partition, owner, epoch, (extract(epoch from expires_at) * 1000)::bigint AS expires_ms
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
