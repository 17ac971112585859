/**
 * PostgreSQL partition leases against the machine's server: one owner at a time, expiry and
 * takeover with a growing epoch, fencing (a stale owner can neither renew nor release the new
 * owner's lease), concurrent acquirers, membership, and hostile owner names.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caught } from '../../../test/support/caught.js';
import { PG_LEASE_MIGRATIONS, PgPartitionLeases } from './pg-partition-leases.js';
import { pgTestDatabase } from './pg-test-fixture.js';

let db: Awaited<ReturnType<typeof pgTestDatabase>>;
let leases: PgPartitionLeases;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  db = await pgTestDatabase([PG_LEASE_MIGRATIONS]);
  leases = new PgPartitionLeases(db);
});

afterAll(async () => {
  await db.drop();
});

describe('PgPartitionLeases (machine PostgreSQL)', () => {
  it('gives a free partition to one owner and refuses it to another until it expires', async () => {
    const a = await leases.acquire(0, 'worker-a', 400);
    expect(a).toMatchObject({ partition: 0, owner: 'worker-a', epoch: 1 });
    expect(a!.expiresAt).toBeGreaterThan(Date.now() - 1000);
    expect(await leases.acquire(0, 'worker-b', 400)).toBeUndefined();
    const renewed = await leases.renew(a!, 400);
    expect(renewed).toMatchObject({ owner: 'worker-a', epoch: 1 });
    expect(renewed!.expiresAt).toBeGreaterThanOrEqual(a!.expiresAt);
    await sleep(500);
    // expired: b takes it over, with a new epoch
    const b = await leases.acquire(0, 'worker-b', 5000);
    expect(b).toMatchObject({ partition: 0, owner: 'worker-b', epoch: 2 });
  });

  it('fences a stale owner: its renew fails and its release leaves the new lease alone', async () => {
    const a = await leases.acquire(1, 'worker-a', 200);
    await sleep(300);
    expect(await leases.renew(a!, 1000)).toBeUndefined(); // expired, not yet taken: lost all the same
    const b = await leases.acquire(1, 'worker-b', 5000);
    expect(b!.epoch).toBe(a!.epoch + 1);
    expect(await leases.renew(a!, 1000)).toBeUndefined();
    await leases.release(a!);
    expect(await leases.acquire(1, 'worker-c', 5000)).toBeUndefined(); // b still holds it
    // the same owner name with an old epoch (a restarted process reusing its name) is fenced too
    expect(await leases.renew({ ...b!, epoch: b!.epoch - 1 }, 1000)).toBeUndefined();
    expect(await leases.renew(b!, 5000)).toMatchObject({ owner: 'worker-b', epoch: b!.epoch });
  });

  it('release frees a partition at once', async () => {
    const a = await leases.acquire(2, 'worker-a', 60_000);
    await leases.release(a!);
    expect(await leases.renew(a!, 1000)).toBeUndefined();
    expect(await leases.acquire(2, 'worker-b', 1000)).toMatchObject({
      owner: 'worker-b',
      epoch: a!.epoch + 1,
    });
  });

  it('lets exactly one of many concurrent acquirers win', async () => {
    const got = await Promise.all(Array.from({ length: 8 }, (_, i) => leases.acquire(3, `racer-${i}`, 5000)));
    expect(got.filter((l) => l !== undefined)).toHaveLength(1);
  });

  it('heartbeats list live owners and live leases; a member that stops beating drops out', async () => {
    await leases.heartbeat('member-x', 300);
    const view = await leases.heartbeat('member-y', 5000);
    expect(view.liveOwners).toEqual(expect.arrayContaining(['member-x', 'member-y']));
    expect(view.leases.map((l) => l.partition)).toEqual(expect.arrayContaining([0, 1, 3]));
    expect(view.leases.every((l) => l.expiresAt > 0)).toBe(true);
    await sleep(400);
    const later = await leases.heartbeat('member-y', 5000);
    expect(later.liveOwners).not.toContain('member-x');
    await leases.leave('member-y');
    expect((await leases.heartbeat('member-z', 5000)).liveOwners).not.toContain('member-y');
  });

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
