/**
 * The contract every PartitionLeases adapter passes: call describePartitionLeasesContract from the
 * adapter's test file with a factory for a fresh, empty lease store. Uses real time with short TTLs.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PartitionLeases } from './cluster.js';

export interface PartitionLeasesFixture {
  leases: PartitionLeases;
  cleanup(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function describePartitionLeasesContract(
  name: string,
  make: () => Promise<PartitionLeasesFixture>,
): void {
  describe(`PartitionLeases contract: ${name}`, () => {
    let fx: PartitionLeasesFixture;
    let leases: PartitionLeases;
    beforeEach(async () => {
      fx = await make();
      leases = fx.leases;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('gives a free partition to one owner, refuses it to another until it expires, then a new epoch', async () => {
      const a = await leases.acquire(0, 'worker-a', 300);
      expect(a).toMatchObject({ partition: 0, owner: 'worker-a', epoch: 1 });
      expect(await leases.acquire(0, 'worker-b', 300)).toBeUndefined();
      expect(await leases.renew(a!, 300)).toMatchObject({ owner: 'worker-a', epoch: 1 });
      await sleep(400);
      expect(await leases.acquire(0, 'worker-b', 5000)).toMatchObject({ owner: 'worker-b', epoch: 2 });
    });

    it('fences a stale owner: no renew after expiry or takeover, and its release leaves the new lease alone', async () => {
      const a = await leases.acquire(1, 'worker-a', 200);
      await sleep(300);
      expect(await leases.renew(a!, 1000)).toBeUndefined();
      const b = await leases.acquire(1, 'worker-b', 5000);
      expect(b!.epoch).toBe(a!.epoch + 1);
      expect(await leases.renew(a!, 1000)).toBeUndefined();
      await leases.release(a!);
      expect(await leases.acquire(1, 'worker-c', 5000)).toBeUndefined();
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
      const got = await Promise.all(
        Array.from({ length: 8 }, (_, i) => leases.acquire(3, `racer-${i}`, 5000)),
      );
      expect(got.filter((l) => l !== undefined)).toHaveLength(1);
    });

    it('heartbeats list live owners and live leases; a member that stops beating drops out', async () => {
      await leases.acquire(4, 'member-y', 5000);
      await leases.heartbeat('member-x', 300);
      const view = await leases.heartbeat('member-y', 5000);
      expect(view.liveOwners).toEqual(['member-x', 'member-y']);
      expect(view.leases.map((l) => [l.partition, l.owner])).toEqual([[4, 'member-y']]);
      await sleep(400);
      expect((await leases.heartbeat('member-y', 5000)).liveOwners).toEqual(['member-y']);
      await leases.leave('member-y');
      expect((await leases.heartbeat('member-z', 5000)).liveOwners).toEqual(['member-z']);
    });
  });
}
