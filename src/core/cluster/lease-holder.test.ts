import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NamedLease, NamedLeases } from '../ports/cluster.js';
import { LeaseHolder } from './lease-holder.js';

/** Named leases in memory on the (fake) clock, with the store's rules; `down` makes a node's calls fail. */
function memoryLeases() {
  const rows = new Map<string, { owner: string | undefined; epoch: number; expiresAt: number }>();
  const down = new Set<string>();
  const check = (owner: string) => {
    if (down.has(owner)) return Promise.reject(new Error('the store is unreachable'));
    return undefined;
  };
  const leases: NamedLeases = {
    acquire(name, owner, ttlMs) {
      const failed = check(owner);
      if (failed) return failed;
      const r = rows.get(name);
      if (r && r.owner !== undefined && r.owner !== owner && r.expiresAt >= Date.now())
        return Promise.resolve(undefined);
      const next = { owner, epoch: (r?.epoch ?? 0) + 1, expiresAt: Date.now() + ttlMs };
      rows.set(name, next);
      return Promise.resolve({ name, owner, epoch: next.epoch, expiresAt: next.expiresAt });
    },
    renew(l, ttlMs) {
      const failed = check(l.owner);
      if (failed) return failed;
      const r = rows.get(l.name);
      if (!r || r.owner !== l.owner || r.epoch !== l.epoch || r.expiresAt < Date.now())
        return Promise.resolve(undefined);
      r.expiresAt = Date.now() + ttlMs;
      return Promise.resolve({ ...l, expiresAt: r.expiresAt });
    },
    release(l: NamedLease) {
      const r = rows.get(l.name);
      if (r && r.owner === l.owner && r.epoch === l.epoch) {
        r.owner = undefined;
        r.expiresAt = Date.now();
      }
      return Promise.resolve();
    },
  };
  return { leases, rows, down };
}

const clock = {
  now: () => Date.now(),
  setTimeout: (fn: () => void, ms: number) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

function holder(leases: NamedLeases, owner: string, running: Set<string>, log: string[]) {
  return new LeaseHolder({
    leases,
    name: 'job',
    owner,
    ttlMs: 1000,
    everyMs: 200,
    clock,
    onAcquired: () => {
      running.add(owner);
      log.push(`${owner} up ${Date.now()}`);
    },
    onLost: () => {
      running.delete(owner);
      log.push(`${owner} down ${Date.now()}`);
      return Promise.resolve();
    },
  });
}

describe('LeaseHolder', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs the job on one node at a time; a clean stop hands it over at the next try', async () => {
    const { leases } = memoryLeases();
    const running = new Set<string>();
    const log: string[] = [];
    const a = holder(leases, 'a', running, log);
    const b = holder(leases, 'b', running, log);
    a.start();
    b.start();
    for (let t = 0; t < 3000; t += 50) {
      await vi.advanceTimersByTimeAsync(50);
      expect(running.size).toBe(1);
    }
    expect(a.held).toBe(true);
    expect(b.held).toBe(false);
    await a.stop();
    expect(running.size).toBe(0);
    expect(a.held).toBe(false);
    await vi.advanceTimersByTimeAsync(250);
    expect([...running]).toEqual(['b']);
    expect(log).toEqual(['a up 0', 'a down 3000', 'b up 3200']);
    await b.stop();
  });

  it('a holder that cannot renew stops the job before its lease ends; another takes over after it', async () => {
    const { leases, rows, down } = memoryLeases();
    const running = new Set<string>();
    const log: string[] = [];
    const a = holder(leases, 'a', running, log);
    const b = holder(leases, 'b', running, log);
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    b.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect([...running]).toEqual(['a']);
    down.add('a'); // a loses its database; its last renewal got through at t=1000
    const lastRenewal = rows.get('job')!.expiresAt - 1000;
    for (let t = 0; t < 3000; t += 10) {
      await vi.advanceTimersByTimeAsync(10);
      expect(running.size).toBeLessThanOrEqual(1);
    }
    const aDown = Number(log.find((l) => l.startsWith('a down'))!.split(' ')[2]);
    const bUp = Number(log.find((l) => l.startsWith('b up'))!.split(' ')[2]);
    expect(aDown).toBeLessThan(lastRenewal + 1000); // before its lease could have ended
    expect(bUp).toBeGreaterThan(lastRenewal + 1000); // not before it ended
    expect(bUp - (lastRenewal + 1000)).toBeLessThanOrEqual(200); // at b's next try
    expect([...running]).toEqual(['b']);
    // a's store comes back: it does not take the job while b holds it.
    down.delete('a');
    await vi.advanceTimersByTimeAsync(2000);
    expect([...running]).toEqual(['b']);
    await a.stop();
    await b.stop();
  });

  it('a lease taken over (expired while paused) stops the job at the next renewal', async () => {
    const { leases, rows } = memoryLeases();
    const running = new Set<string>();
    const log: string[] = [];
    const a = holder(leases, 'a', running, log);
    a.start();
    await vi.advanceTimersByTimeAsync(10);
    expect(a.held).toBe(true);
    rows.set('job', { owner: 'z', epoch: 9, expiresAt: Date.now() + 60_000 }); // someone else's now
    await vi.advanceTimersByTimeAsync(250);
    expect(a.held).toBe(false);
    expect(running.size).toBe(0);
    expect(log).toEqual(['a up 0', 'a down 200']);
    await a.stop();
  });
});
