import { describe, expect, it } from 'vitest';
import { LiveEventBus } from '../../core/live/live-events.js';
import type { LiveEvent } from '../../core/live/live-events.js';
import type { TelemetryObservation } from '../analytics-types.js';
import type { AnalyticsOperator } from './analytics-runtime.js';
import { AnalyticsRuntime } from './analytics-runtime.js';

const tel = (twinId: string, v: number, derived = false): LiveEvent => ({
  type: 'telemetry',
  workspace: 'w',
  twinId,
  modelId: 'dtmi:x:P;1',
  time: v,
  values: { x: v },
  ...(derived ? { derived: true as const } : {}),
});

class Collect implements AnalyticsOperator {
  readonly seen: TelemetryObservation[] = [];
  ticks: number[] = [];
  constructor(
    readonly name: string,
    readonly seesDerived = false,
  ) {}
  observe(o: TelemetryObservation): void {
    this.seen.push(o);
  }
  tick(now: number): void {
    this.ticks.push(now);
  }
}

function setup(
  ops: AnalyticsOperator[],
  extra: Partial<ConstructorParameters<typeof AnalyticsRuntime>[0]> = {},
) {
  const bus = new LiveEventBus();
  const queued: (() => void)[] = [];
  const rt = new AnalyticsRuntime({
    subscribe: (l) => bus.subscribe(l),
    operators: ops,
    schedule: (fn) => queued.push(fn),
    tickMs: 0,
    ...extra,
  });
  const runScheduled = () => {
    while (queued.length) queued.shift()?.();
  };
  return { bus, rt, queued, runScheduled };
}

describe('AnalyticsRuntime', () => {
  it('only queues on publish (the ingest path), and feeds operators in order on the scheduled drain', () => {
    const a = new Collect('a');
    const { bus, rt, queued, runScheduled } = setup([a]);
    bus.publish([
      tel('p1', 1),
      tel('p2', 2),
      { type: 'twinDeleted', workspace: 'w', twinId: 'p1', modelId: 'm', time: 3 },
    ]);
    expect(a.seen).toHaveLength(0);
    expect(queued).toHaveLength(1);
    expect(rt.stats()).toMatchObject({ observed: 2, queued: 2, processed: 0 });
    runScheduled();
    expect(a.seen.map((o) => o.twinId)).toEqual(['p1', 'p2']);
    expect(rt.stats()).toMatchObject({ processed: 2, queued: 0 });
  });

  it('yields after its slice and continues on the next turn', () => {
    let t = 0;
    const slow: AnalyticsOperator = {
      name: 'slow',
      observe: () => {
        t += 1; // each observation "takes" 1 ms
      },
    };
    const { bus, rt, queued } = setup([slow], { clock: () => t, sliceMs: 5 });
    bus.publish(Array.from({ length: 200 }, (_, i) => tel(`p${i}`, i)));
    queued.shift()?.();
    const first = rt.stats().processed;
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(200);
    expect(queued).toHaveLength(1); // re-armed
    while (queued.length) queued.shift()?.();
    expect(rt.stats().processed).toBe(200);
  });

  it('gives derived values only to operators that ask for them', () => {
    const plain = new Collect('derived');
    const rules = new Collect('rules', true);
    const { bus, runScheduled } = setup([plain, rules]);
    bus.publish([tel('p1', 1), tel('p1', 2, true)]);
    runScheduled();
    expect(plain.seen.map((o) => o.time)).toEqual([1]);
    expect(rules.seen.map((o) => o.time)).toEqual([1, 2]);
  });

  it('counts what overflows its inbox instead of holding it', () => {
    const a = new Collect('a');
    const told: number[] = [];
    const { bus, rt, runScheduled } = setup([a], {
      maxInboxObservations: 3,
      onOverflow: (n) => told.push(n),
    });
    bus.publish([1, 2].map((v) => tel('p', v)));
    expect(told).toEqual([]); // nothing overflowed yet
    bus.publish([3, 4, 5].map((v) => tel('p', v)));
    expect(rt.stats()).toMatchObject({ observed: 5, overflowed: 2, queued: 3 });
    expect(told).toEqual([2]); // once per batch, with the total
    runScheduled();
    expect(a.seen.map((o) => o.time)).toEqual([1, 2, 3]);
  });

  it('an operator that throws is counted and does not stop the others', () => {
    const errors: string[] = [];
    const bad: AnalyticsOperator = {
      name: 'bad',
      observe: () => {
        throw new Error('boom');
      },
    };
    const good = new Collect('good');
    const { bus, rt, runScheduled } = setup([bad, good], { onOperatorError: (n) => errors.push(n) });
    bus.publish([tel('p', 1), tel('p', 2)]);
    runScheduled();
    expect(good.seen).toHaveLength(2);
    expect(rt.stats().operatorErrors).toEqual({ bad: 2 });
    expect(errors).toEqual(['bad', 'bad']);
  });

  it('ticks its operators on the wall clock and stops on close (draining what waits)', async () => {
    const a = new Collect('a');
    const bus = new LiveEventBus();
    const rt = new AnalyticsRuntime({
      subscribe: (l) => bus.subscribe(l),
      operators: [a],
      tickMs: 5,
      now: () => 42,
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(a.ticks.length).toBeGreaterThan(0);
    expect(a.ticks.every((t) => t === 42)).toBe(true);
    bus.publish([tel('p', 1)]);
    rt.close();
    expect(a.seen).toHaveLength(1);
    expect(bus.listenerCount).toBe(0);
    const n = a.ticks.length;
    await new Promise((r) => setTimeout(r, 20));
    expect(a.ticks.length).toBe(n);
  });
});
