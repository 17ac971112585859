/**
 * PostgreSQL partition leases against the machine's server: the PartitionLeases contract (one
 * owner at a time, expiry and takeover with a growing epoch, fencing, concurrent acquirers,
 * membership), and hostile owner names and arguments; named leases (one holder of a named job at a
 * time) on the same rules.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caught } from '../../../test/support/caught.js';
import { describePartitionLeasesContract } from '../../core/ports/partition-leases.contract.js';
import { PG_LEASE_MIGRATIONS, PgNamedLeases, PgPartitionLeases } from './pg-partition-leases.js';
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

describe('PgNamedLeases (machine PostgreSQL)', () => {
  it('one holder at a time; expiry hands it over with a growing epoch; a stale holder can neither renew nor release', async () => {
    const named = new PgNamedLeases(db);
    // Concurrent takers: exactly one wins.
    const takes = await Promise.all(['n1', 'n2', 'n3', 'n4'].map((o) => named.acquire('delivery', o, 300)));
    const won = takes.filter((l) => l !== undefined);
    expect(won).toHaveLength(1);
    const first = won[0]!;
    expect(first).toMatchObject({ name: 'delivery', epoch: 1 });
    const other = ['n1', 'n2', 'n3', 'n4'].find((o) => o !== first.owner)!;
    expect(await named.acquire('delivery', other, 300)).toBeUndefined();
    // Another name is another lease; the same owner takes its own again (the epoch grows).
    expect(await named.acquire('other-job', other, 300)).toMatchObject({ owner: other, epoch: 1 });
    const again = await named.acquire('delivery', first.owner, 300);
    expect(again).toMatchObject({ owner: first.owner, epoch: 2 });
    expect(await named.renew(first, 300)).toBeUndefined(); // the old epoch is fenced off
    const renewed = await named.renew(again!, 300);
    expect(renewed?.expiresAt).toBeGreaterThanOrEqual(again!.expiresAt);
    // Expired: another owner takes it; the old holder can no longer renew or release it.
    await new Promise((r) => setTimeout(r, 400));
    const taken = await named.acquire('delivery', other, 5000);
    expect(taken).toMatchObject({ owner: other, epoch: 3 });
    expect(await named.renew(renewed!, 5000)).toBeUndefined();
    await named.release(renewed!);
    expect(await named.acquire('delivery', first.owner, 5000)).toBeUndefined();
    // Released: free at once.
    await named.release(taken!);
    expect(await named.acquire('delivery', first.owner, 5000)).toMatchObject({ epoch: 4 });
  });

  it('hostile: metacharacters in names and owners are data; bad names are refused', async () => {
    const named = new PgNamedLeases(db);
    const evil = "'; DROP TABLE twinloop_named_leases; --💥";
    expect(await named.acquire(evil, evil, 1000)).toMatchObject({ name: evil, owner: evil, epoch: 1 });
    expect(await named.acquire('__proto__', 'w', 1000)).toMatchObject({ name: '__proto__' });
    for (const bad of ['', 'x'.repeat(201), 'a\u0000b'])
      expect(await caught(named.acquire(bad, 'w', 1000))).toMatchObject({ code: 'InvalidArgument' });
    expect(await caught(named.acquire('n', 'w', 0))).toMatchObject({ code: 'InvalidArgument' });
  });
});
