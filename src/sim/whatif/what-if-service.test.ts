/**
 * What-if jobs over the heater world of test-heater.ts: lifecycle, queueing with at most K running,
 * cancel, results, keeping finished jobs (TTL and least recently used), failures.
 */
import { describe, expect, it } from 'vitest';
import type { TwinloopError } from '../../core/errors/errors.js';
import { heaterWorld, lag } from './test-heater.js';
import { WhatIfService, type WhatIfServiceOptions } from './what-if-service.js';
import type { KeptResult } from './what-if-kept.js';

/** The bytes a kept result really holds in its typed arrays. */
const arrayBytes = (r: KeptResult): number =>
  r.twins.reduce(
    (n, t) =>
      n +
      t.times.byteLength +
      [t.telemetry, t.properties, t.states, t.outputs]
        .flatMap((g) => Object.values(g))
        .reduce((m, a) => m + a.byteLength, 0),
    0,
  );

const immediate = (): Promise<void> => new Promise((res) => setImmediate(res));
const LONG = { twins: ['h1', 'h2', 'h3'], horizon: '300d', sampleInterval: '30d' }; // ~78 M steps: never ends here

function service(o: Partial<WhatIfServiceOptions> = {}) {
  const w = heaterWorld();
  let clock = Date.UTC(2026, 5, 1);
  const s = new WhatIfService({
    catalog: w.catalog,
    world: w.world,
    interfaces: w.lookup,
    yieldNow: immediate,
    sliceMs: 2,
    limits: { maxSteps: 1e9 },
    now: () => clock,
    ...o,
  });
  return { s, w, advance: (ms: number) => (clock += ms) };
}

function refusal(f: () => unknown): TwinloopError {
  try {
    f();
  } catch (e) {
    return e as TwinloopError;
  }
  throw new Error('expected a refusal');
}

const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
};

describe('what-if jobs', () => {
  it('runs a job to its trajectories', async () => {
    const { s } = service();
    const job = s.create({ name: 'warm-up', root: 'room', depth: 1, horizon: '10min', sampleInterval: 60 });
    expect(job).toMatchObject({
      name: 'warm-up',
      status: 'running', // a slot was free
      progress: 0,
      horizon: 600,
      sampleInterval: 60,
      method: 'rk4',
      step: 1,
      twins: ['h1', 'lamp'],
      skipped: [{ twinId: 'room', reason: 'model dtmi:test:Room;1 has no behaviour' }],
    });
    expect(job.createdAt).toBe('2026-06-01T00:00:00.000Z');
    const done = await s.wait(job.id, 10_000);
    expect(done).toMatchObject({ status: 'succeeded', progress: 1, simulatedSeconds: 600 });
    expect(done.finishedAt).toBeDefined();
    const { twins } = s.result(job.id);
    expect(twins[0]!.telemetry.temperature!.at(-1)).toBeCloseTo(lag(600, 20, 40), 8);
    expect(s.list().map((j) => j.id)).toEqual([job.id]);
  });

  it('runs at most K jobs at once, queues the rest in order, cancels queued and running jobs at once', async () => {
    const { s } = service({ maxRunning: 1 });
    const a = s.create(LONG);
    const b = s.create(LONG);
    const c = s.create(LONG);
    expect([a.status, b.status, c.status]).toEqual(['running', 'queued', 'queued']);
    await until(() => s.get(a.id).progress > 0);
    const p1 = s.get(a.id).progress;
    await until(() => s.get(a.id).progress > p1); // it keeps going
    expect(() => s.result(a.id)).toThrow(/running: it has no trajectories yet/);

    expect(s.cancel(c.id)).toMatchObject({ status: 'cancelled' }); // queued: never starts
    expect(s.get(c.id).startedAt).toBeUndefined();
    const cancelled = s.cancel(a.id);
    expect(cancelled.status).toBe('cancelled'); // at once
    const frozen = cancelled.progress;
    expect(frozen).toBeGreaterThan(0);
    expect(frozen).toBeLessThan(1);
    await until(() => s.get(b.id).status === 'running'); // the slot is freed when the run has stopped
    expect(s.get(a.id)).toMatchObject({ status: 'cancelled', progress: frozen });
    expect(refusal(() => s.result(a.id))).toMatchObject({ code: 'Conflict' });
    expect(s.cancel(a.id).status).toBe('cancelled'); // finished: left as it is
    expect(s.list().map((j) => j.id)).toEqual([c.id, b.id, a.id]);
    s.close();
    expect(s.get(b.id).status).toBe('cancelled');
  });

  it('refuses more waiting jobs than maxQueued, and a bad request before queueing anything', () => {
    const { s } = service({ maxRunning: 1, maxQueued: 1 });
    s.create(LONG);
    s.create(LONG);
    const full = refusal(() => s.create(LONG));
    expect(full.code).toBe('TooManyRequests');
    expect(full.message).toMatch(/1 what-if runs are already waiting \(at most 1\)/);
    s.close();
    const { s: other } = service();
    expect(refusal(() => other.create({ twins: ['h1'], horizon: 'soon' })).code).toBe('BadRequest');
    expect(refusal(() => other.create({ twins: ['ghost'], horizon: 10 })).code).toBe('DigitalTwinNotFound');
    expect(other.list()).toEqual([]);
    expect(refusal(() => other.get('nope'))).toMatchObject({ code: 'NotFound' });
  });

  it('keeps finished jobs for keepMs, and at most maxKept, the least recently used going first', async () => {
    const { s, advance } = service({ maxKept: 2, keepMs: 60_000 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const j = s.create({ twins: ['h1'], horizon: 10 });
      await s.wait(j.id, 5000);
      ids.push(j.id);
      advance(1000);
      if (i === 1) s.result(ids[0]!); // the first is read again: the second is now the least recently used
    }
    expect(s.list().map((j) => j.id)).toEqual([ids[2], ids[0]]);
    expect(refusal(() => s.get(ids[1]!)).message).toMatch(/kept for 1 min, at most 2/);
    advance(60_000);
    expect(s.list()).toEqual([]);
  });

  it('records why a run failed', async () => {
    const { s } = service();
    const job = s.create({ twins: ['h2'], horizon: '1d', changes: { h2: { parameters: { tau: -1 } } } });
    const done = await s.wait(job.id, 10_000);
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('BadRequest');
    expect(done.error?.message).toMatch(/Twin 'h2' cannot be simulated past/);
    expect(refusal(() => s.result(job.id)).message).toMatch(/is failed \(Twin 'h2'/);
  });

  it('keeps trajectories under maxKeptBytes, however many runs finish: the least recently used are evicted', async () => {
    const probe = service();
    const one = probe.s.create({ twins: ['h1', 'h2'], horizon: '2h', sampleInterval: 1 });
    await probe.s.wait(one.id, 10_000);
    const size = probe.s.memory().keptBytes;
    const r = probe.s.result(one.id);
    expect(r.twins[0]!.times).toBeInstanceOf(Float64Array);
    expect(r.twins[0]!.times).toHaveLength(7201);
    // Accounted: the arrays' own bytes (8 a value) plus a small fixed overhead per series.
    expect(size).toBeGreaterThanOrEqual(arrayBytes(r));
    expect(size).toBeLessThan(arrayBytes(r) * 1.05);

    const cap = Math.floor(size * 3.5);
    const { s, advance } = service({ maxKeptBytes: cap, maxRunning: 2 });
    const ids: string[] = [];
    const finishedAt = new Map<string, number>();
    for (let i = 0; i < 12; i++) {
      const id = s.create({ twins: ['h1', 'h2'], horizon: '2h', sampleInterval: 1 }).id;
      ids.push(id);
      void s.wait(id, 120_000).then((j) => finishedAt.set(id, Date.parse(j.finishedAt as string)));
    }
    let peak = 0;
    const busy = () => s.list().some((j) => j.status === 'queued' || j.status === 'running');
    while (busy()) {
      const m = s.memory();
      peak = Math.max(peak, m.keptBytes + m.reservedBytes);
      advance(10);
      await new Promise((res) => setTimeout(res, 1));
    }
    expect(peak).toBeLessThanOrEqual(cap);
    const m = s.memory();
    expect(m.kept).toBe(3); // 3 results of `size` fit under 3.5 × size
    expect(m.keptBytes).toBeLessThanOrEqual(cap);
    await new Promise((res) => setTimeout(res, 1));
    expect(finishedAt.size).toBe(12);
    // The kept ones finished last (two run at once, so which of two neighbours finishes first
    // depends on how their slices interleave); the evicted answer 404 naming the byte bound.
    const kept = s
      .list()
      .filter((j) => j.status === 'succeeded')
      .map((j) => j.id);
    expect(kept).toHaveLength(3);
    const evicted = ids.filter((id) => !kept.includes(id));
    const latestEvicted = Math.max(...evicted.map((id) => finishedAt.get(id)!));
    for (const id of kept) expect(finishedAt.get(id)!).toBeGreaterThanOrEqual(latestEvicted);
    expect(kept).toContain(ids[11]);
    expect(refusal(() => s.result(ids[0]!))).toMatchObject({ code: 'NotFound' });
    expect(refusal(() => s.get(ids[0]!)).message).toMatch(/MiB of trajectories/);
    expect(kept.reduce((n, id) => n + arrayBytes(s.result(id)), 0)).toBeLessThanOrEqual(cap);
  });

  it('refuses a run whose trajectories would exceed maxResultBytes, naming the limit and what fits', () => {
    const { s } = service({ maxResultBytes: 1024 * 1024 });
    const e = refusal(() => s.create({ twins: ['h1', 'h2'], horizon: '1d', sampleInterval: 1 }));
    expect(e.code).toBe('BadRequest');
    expect(e.problems[0]).toMatchObject({ code: 'whatif.limit', pointer: '/sampleInterval' });
    expect(e.message).toMatch(/a run keeps at most 1 MiB \(whatIf\.maxResultMiB\)/);
    const at = Number(/at least (\d+) s/.exec(e.message)![1]);
    expect(s.create({ twins: ['h1', 'h2'], horizon: '1d', sampleInterval: at }).status).toBe('running');
    s.close();
  });
});
