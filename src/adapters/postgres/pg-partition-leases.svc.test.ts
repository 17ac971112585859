/**
 * PostgreSQL partition leases against the machine's server: the PartitionLeases contract (one
 * owner at a time, expiry and takeover with a growing epoch, fencing, concurrent acquirers,
 * membership), and hostile owner names and arguments.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caught } from '../../../test/support/caught.js';
import { describePartitionLeasesContract } from '../../core/ports/partition-leases.contract.js';
import { PG_LEASE_MIGRATIONS, PgPartitionLeases } from './pg-partition-leases.js';
import { pgTestDatabase } from './pg-test-fixture.js';

let db: Awaited<ReturnType<typeof pgTestDatabase>>;
let leases: PgPartitionLeases;

beforeAll(async () => {
  db = await pgTestDatabase([PG_LEASE_MIGRATIONS]);
  leases = new PgPartitionLeases(db);
});

afterAll(async () => {
  await db.drop();
});

describePartitionLeasesContract('postgres', async () => {
  const own = await pgTestDatabase([PG_LEASE_MIGRATIONS]);
  return { leases: new PgPartitionLeases(own), cleanup: () => own.drop() };
});

describe('PgPartitionLeases (machine PostgreSQL)', () => {
  it('hostile: SQL metacharacters and unicode in owner names are data; bad TTLs and owners are refused', async () => {
    const evil = "'; DROP TABLE twinloop_partition_leases; --💥";
    const l = await leases.acquire(9, evil, 5000);
    expect(l).toMatchObject({ owner: evil, epoch: 1 });
    expect(await leases.renew(l!, 5000)).toMatchObject({ owner: evil });
    expect((await leases.heartbeat(evil, 5000)).liveOwners).toContain(evil);
    expect(await caught(leases.acquire(10, 'w', 0))).toMatchObject({ code: 'InvalidArgument' });
    expect(await caught(leases.acquire(10, 'w', Number.NaN))).toMatchObject({ code: 'InvalidArgument' });
    expect(await caught(leases.acquire(10, '', 1000))).toMatchObject({ code: 'InvalidArgument' });
    expect(await caught(leases.acquire(10, 'x'.repeat(201), 1000))).toMatchObject({
      code: 'InvalidArgument',
    });
    // NUL cannot be stored in PostgreSQL text: refused before it gets there
    expect(await caught(leases.acquire(10, 'nul\u0000owner', 1000))).toMatchObject({
      code: 'InvalidArgument',
    });
    expect(await caught(leases.acquire(-1, 'w', 1000))).toMatchObject({ code: 'InvalidArgument' });
    expect(await caught(leases.acquire(1.5, 'w', 1000))).toMatchObject({ code: 'InvalidArgument' });
  });
});
