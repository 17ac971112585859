/**
 * The DerivedEngine on streams with known answers: tumbling and sliding windows, EWMA, rate of
 * change, time since the last reading, expressions over properties and components, derived values
 * feeding derived values, neighbour aggregates over a small graph, non-finite results skipped.
 */
import { describe, expect, it } from 'vitest';
import type { TelemetryObservation } from '../analytics-types.js';
import { DerivedEngine } from './derived-engine.js';
import {
  BIG_PUMP,
  LINE,
  PUMP,
  recordingPropertySink,
  recordingSink,
  series,
  sets,
  testGraph,
} from './derived-test-fixture.js';

const obs = (
  twinId: string,
  time: number,
  values: Record<string, unknown>,
  modelId = PUMP,
): TelemetryObservation => ({
  workspace: 'w',
  twinId,
  modelId,
  time,
  values,
});

function engine(yaml: string, ...more: string[]) {
  const sink = recordingSink();
  const props = recordingPropertySink();
  const context = testGraph();
  const e = new DerivedEngine({
    sets: sets(yaml, ...more),
    context,
    sink,
    propertySink: props,
    windowGraceMs: 1000,
  });
  return { e, sink, props, context };
}
const pumpValues = (body: string): string => `model: ${PUMP}\nvalues:\n${body}`;

describe('DerivedEngine', () => {
  it('tumbling windows: aligned, emitted at the end by the next reading or by tick, late readings dropped', () => {
    const { e, sink } = engine(
      pumpValues(
        ['mean', 'min', 'max', 'sum', 'count', 'stddev']
          .map((a) => `  f_${a}: { tumbling: { of: flow, size: 10s, aggregate: ${a} } }`)
          .join('\n'),
      ),
    );
    for (const [t, x] of [
      [1000, 2],
      [4000, 4],
      [9999, 6],
      [10_000, 10],
      [12_000, 20],
    ] as const)
      e.observe(obs('p1', t, { flow: x }));
    expect(sink.writes).toEqual([
      {
        twin: 'p1',
        time: 10_000,
        values: { f_mean: 4, f_min: 2, f_max: 6, f_sum: 12, f_count: 3, f_stddev: Math.sqrt(8 / 3) },
      },
    ]);
    e.tick(20_500); // end 20 000 + grace 1 000 not yet
    expect(sink.writes).toHaveLength(1);
    e.tick(21_000);
    expect(sink.writes[1]).toEqual({
      twin: 'p1',
      time: 20_000,
      values: { f_mean: 15, f_min: 10, f_max: 20, f_sum: 30, f_count: 2, f_stddev: 5 },
    });
    e.observe(obs('p1', 15_000, { flow: 99 })); // its window was emitted
    expect(e.stats().outOfOrder).toBe(6);
    e.observe(obs('p1', 25_000, { flow: 1 }));
    e.tick(40_000);
    expect(series(sink.writes, 'f_count')).toEqual([
      [10_000, 3],
      [20_000, 2],
      [30_000, 1],
    ]);
  });

  it('sliding windows emit on each reading over (t − size, t], bounded in points', () => {
    const { e, sink } = engine(
      pumpValues(
        `  smax: { sliding: { of: vibration, size: 3s, aggregate: max } }
  smean: { sliding: { of: vibration, size: 3s, aggregate: mean } }
  scount: { sliding: { of: vibration, size: 1h, aggregate: count, maxPoints: 2 } }`,
      ),
    );
    [5, 1, 3, 0, 2].forEach((x, i) => e.observe(obs('p1', i * 1000, { vibration: x })));
    expect(series(sink.writes, 'smax').map((p) => p[1])).toEqual([5, 5, 5, 3, 3]);
    const means = series(sink.writes, 'smean').map((p) => p[1]);
    [5, 3, 3, 4 / 3, 5 / 3].forEach((m, i) => expect(means[i]).toBeCloseTo(m, 12));
    expect(series(sink.writes, 'scount').map((p) => p[1])).toEqual([1, 2, 2, 2, 2]);
  });

  it('EWMA halves the distance to a new level every half-life; rate of change per minute', () => {
    const { e, sink } = engine(
      pumpValues(
        `  vEwma: { ewma: { of: vibration, halfLife: 10s } }\n  vRate: { rate: { of: vibration, per: min } }`,
      ),
    );
    e.observe(obs('p1', 0, { vibration: 0 }));
    e.observe(obs('p1', 10_000, { vibration: 8 }));
    e.observe(obs('p1', 30_000, { vibration: 8 }));
    e.observe(obs('p1', 30_000, { vibration: 9 })); // same time: no rate (dt = 0)
    expect(series(sink.writes, 'vEwma').map((p) => p[1])).toEqual([0, 4, 7, 7]);
    expect(series(sink.writes, 'vRate')).toEqual([
      [10_000, 48],
      [30_000, 0],
    ]);
    e.observe(obs('p1', 90_000, { vibration: 10 }));
    expect(series(sink.writes, 'vRate').at(-1)).toEqual([90_000, 1]);
  });

  it('a rate with a half-life is the slope fitted over readings weighted by age: exact on a ramp, quiet on noise', () => {
    const { e, sink } = engine(
      pumpValues(
        `  tRate: { rate: { of: head, per: min } }\n  tSmooth: { rate: { of: head, per: min, halfLife: 1min } }`,
      ),
    );
    // A ramp of 2 m per minute read at irregular times (and twice at one time): every fitted slope
    // is 2, from the first reading a half-life after the first.
    const times = [0, 7_000, 7_000, 9_500, 31_000, 59_999, 60_000, 60_000, 95_000, 400_000];
    for (const t of times) e.observe(obs('p1', t, { head: 40 + (2 * t) / 60_000 }));
    const ramp = series(sink.writes, 'tSmooth');
    expect(ramp.map((p) => p[0])).toEqual([60_000, 60_000, 95_000, 400_000]);
    for (const [, v] of ramp) expect(v).toBeCloseTo(2, 9);
    // A steady head of 40 m read every 50 ms with ±0.1 m of noise: two readings give rates of hundreds of
    // m per minute, the fitted slope stays within a few hundredths once a half-life is covered.
    let seed = 7;
    const noise = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 0.2;
    for (let i = 0; i < 4000; i++) e.observe(obs('p2', i * 50, { head: 40 + noise() }));
    const raw = series(sink.writes, 'tRate', 'p2').map((p) => Math.abs(p[1]));
    const fitted = series(sink.writes, 'tSmooth', 'p2')
      .slice(2400)
      .map((p) => Math.abs(p[1]));
    expect(Math.max(...raw)).toBeGreaterThan(50);
    expect(Math.max(...fitted)).toBeLessThan(0.05);
    // Flat for 20 min, then 2 m per minute (a reading a second): 40 % of the way after two
    // half-lives, 90 % after five and a half (docs/analytics.md).
    for (let t = 0; t <= 1_530_000; t += 1000)
      e.observe(obs('p3', t, { head: t < 1_200_000 ? 40 : 40 + (2 * (t - 1_200_000)) / 60_000 }));
    const at = (t: number): number | undefined =>
      series(sink.writes, 'tSmooth', 'p3').find((p) => p[0] === t)?.[1];
    expect(at(1_200_000 + 120_000)).toBeCloseTo(0.81, 2);
    expect(at(1_200_000 + 330_000)).toBeCloseTo(1.79, 2);
  });

  it('a fitted rate survives a snapshot: the restored engine goes on with the same slopes', () => {
    const yaml = pumpValues(`  tSmooth: { rate: { of: head, per: min, halfLife: 30s } }`);
    const a = engine(yaml);
    const readings = Array.from({ length: 40 }, (_, i) => [i * 3_000, 40 + Math.sin(i / 5)] as const);
    for (const [t, x] of readings.slice(0, 20)) a.e.observe(obs('p1', t, { head: x }));
    const b = engine(yaml);
    b.e.restore(JSON.parse(JSON.stringify(a.e.snapshot())) as ReturnType<DerivedEngine['snapshot']>);
    for (const [t, x] of readings.slice(20)) {
      a.e.observe(obs('p1', t, { head: x }));
      b.e.observe(obs('p1', t, { head: x }));
    }
    expect(series(b.sink.writes, 'tSmooth')).toEqual(series(a.sink.writes, 'tSmooth').slice(-20));
    // A reading older than the last is dropped; after a gap of many half-lives the fit starts afresh
    // (and waits a half-life again).
    const before = b.sink.writes.length;
    b.e.observe(obs('p1', 1_000, { head: 99 }));
    b.e.observe(obs('p1', 1e12, { head: 50 }));
    b.e.observe(obs('p1', 1e12 + 20_000, { head: 50.5 }));
    expect(b.sink.writes.length).toBe(before);
    b.e.observe(obs('p1', 1e12 + 30_000, { head: 50.75 }));
    const [last] = series(b.sink.writes, 'tSmooth').slice(-1);
    expect(last?.[0]).toBe(1e12 + 30_000);
    expect(last?.[1]).toBeCloseTo(1.5, 9);
    // Hostile magnitudes (finite, but their sums overflow): the fit starts afresh instead of holding
    // Infinity or NaN (which a snapshot could not even write), and recovers exactly after a gap.
    const t0 = 2e12;
    for (const [dt, x] of [
      [0, 1.7e308],
      [1_000, 1.7e308],
      [2_000, -1.7e308],
      [3_000, 1.7e308],
    ] as const)
      b.e.observe(obs('p1', t0 + dt, { head: x }));
    const snap = JSON.stringify(b.e.snapshot());
    expect(snap).not.toMatch(/null|NaN|Infinity/);
    for (let i = 0; i <= 20; i++) b.e.observe(obs('p1', 3e12 + i * 3_000, { head: 10 + i }));
    expect(series(b.sink.writes, 'tSmooth').at(-1)?.[1]).toBeCloseTo(20, 6); // 1 per 3 s
  });

  it('a fitted rate restored from a corrupt snapshot starts afresh', () => {
    const yaml = pumpValues(`  tSmooth: { rate: { of: head, per: min, halfLife: 30s } }`);
    const a = engine(yaml);
    for (let i = 0; i < 20; i++) a.e.observe(obs('p1', i * 3_000, { head: 40 + i }));
    type Snap = ReturnType<DerivedEngine['snapshot']>;
    const good = JSON.parse(JSON.stringify(a.e.snapshot())) as Snap;
    const state = (good.twins[0]?.ops as { name: string; state: Record<string, unknown> }[])[0]!.state;
    for (const bad of [
      { ...state, w: 'x' },
      { ...state, w: -1 },
      { ...state, wtt: -1 },
      { ...state, from: (state.t as number) + 1 },
      { ...state, wx: null },
      JSON.parse('{"__proto__": {"w": 5}, "t": 1}') as Record<string, unknown>,
    ]) {
      const snap = JSON.parse(JSON.stringify(good)) as Snap;
      (snap.twins[0]?.ops as { state: unknown }[])[0]!.state = bad;
      const b = engine(yaml);
      b.e.restore(snap);
      // Fresh: nothing until its readings span a half-life again, then the exact slope.
      for (let i = 20; i < 30; i++) b.e.observe(obs('p1', i * 3_000, { head: 40 + i }));
      expect(series(b.sink.writes, 'tSmooth')).toEqual([]);
      b.e.observe(obs('p1', 30 * 3_000, { head: 70 }));
      expect(series(b.sink.writes, 'tSmooth')[0]?.[1]).toBeCloseTo(20, 6);
    }
    expect(({} as Record<string, unknown>).w).toBeUndefined();
  });

  it('time since the last reading is emitted on tick', () => {
    const { e, sink } = engine(
      pumpValues(`  silence: { since: {} }\n  flowSilence: { since: { of: flow } }`),
    );
    e.tick(1000); // nothing seen yet
    expect(sink.writes).toEqual([]);
    e.observe(obs('p1', 1000, { flow: 1 }));
    e.observe(obs('p1', 4000, { head: 1 }));
    e.tick(10_000);
    expect(sink.writes).toEqual([{ twin: 'p1', time: 10_000, values: { silence: 6, flowSilence: 9 } }]);
  });

  it('expressions read telemetry, booleans, properties and components; derived values feed derived values', () => {
    const { e, sink } = engine(
      pumpValues(`  power: { expr: 'flow * head * running' }
  powerEwma: { ewma: { of: power, halfLife: 1s } }
  margin: { expr: 'vibrationLimit - vibration' }
  amps2: { expr: 'motor.current * 2' }
  twice: { expr: 'power * 2' }`),
    );
    e.observe(obs('p1', 0, { flow: 3, head: 4, running: true, vibration: 2 }));
    expect(sink.writes).toEqual([
      { twin: 'p1', time: 0, values: { power: 12, powerEwma: 12, twice: 24, margin: 5 } },
    ]);
    e.observe({ ...obs('p1', 1000, { current: 7 }), component: 'motor' });
    expect(sink.writes[1]?.values).toEqual({ amps2: 14 });
    e.observe(obs('p1', 2000, { running: false }));
    expect(sink.writes[2]?.values).toEqual({ power: 0, powerEwma: 3, twice: 0 });
  });

  it('skips and counts non-finite results, never writing them', () => {
    const { e, sink } = engine(pumpValues(`  ratio: { expr: 'flow / head' }\n  logf: { expr: 'log(flow)' }`));
    e.observe(obs('p1', 0, { flow: 1, head: 0 })); // 1/0, log 1 = 0
    e.observe(obs('p1', 1, { flow: -1 })); // -1/0, log(-1)
    expect(sink.writes).toEqual([{ twin: 'p1', time: 0, values: { logf: 0 } }]);
    expect(e.stats().nonFinite).toBe(3);
    expect(sink.writes.every((w) => Object.values(w.values).every(Number.isFinite))).toBe(true);
  });

  it('sums, averages and counts over relationships, recomputed on tick when a neighbour changes', () => {
    const { e, sink } = engine(
      `model: ${LINE}\nvalues:\n  total: { expr: 'sum(hasPump, flow)' }\n  mean: { expr: 'avg(hasPump, flow)' }\n  n: { expr: 'count(hasPump)' }\n  reporting: { expr: 'count(hasPump, flow)' }\n  worst: { expr: 'max(hasPump, margin)' }`,
      pumpValues(
        `  margin: { expr: 'vibrationLimit - vibration' }\n  upstream: { expr: 'sum(feeds, flow)' }`,
      ),
    );
    e.watch('w', 'line-1');
    e.watch('w', 'ghost'); // no such twin: ignored
    e.tick(0);
    expect(sink.writes).toEqual([{ twin: 'line-1', time: 0, values: { total: 0, n: 3, reporting: 0 } }]);
    e.observe(obs('p1', 1000, { flow: 10, vibration: 1 }));
    e.observe(obs('p2', 1000, { flow: 20, vibration: 1 }));
    e.observe(obs('p3', 1000, { flow: 30, vibration: 1, speed: 1 }, BIG_PUMP));
    e.tick(2000);
    expect(series(sink.writes, 'total', 'line-1')).toEqual([
      [0, 0],
      [2000, 60],
    ]);
    expect(series(sink.writes, 'mean', 'line-1')).toEqual([[2000, 20]]);
    expect(series(sink.writes, 'worst', 'line-1')).toEqual([[2000, 8]]); // p3: limit 9 − 1
    // p1 feeds p2: nothing from p2 yet at p1's reading, then p2's flow at the next tick.
    expect(series(sink.writes, 'upstream', 'p1')).toEqual([
      [1000, 0],
      [2000, 20],
    ]);
    const before = sink.writes.length;
    e.tick(3000); // nothing changed: nothing recomputed
    expect(sink.writes.length).toBe(before);
    e.observe(obs('p2', 4000, { flow: 25 }));
    e.tick(5000);
    expect(series(sink.writes, 'total', 'line-1').at(-1)).toEqual([5000, 65]);
  });

  it('takes hostile observations without harm: __proto__ keys, wrong types, too many names', () => {
    const { e, sink } = engine(
      pumpValues(`  p: { expr: 'flow * 2' }\n  m: { sliding: { of: flow, size: 1h, aggregate: max } }`),
    );
    const values = JSON.parse('{"__proto__": {"polluted": 1}, "constructor": 3, "flow": 2}') as Record<
      string,
      unknown
    >;
    e.observe(obs('p1', 0, values));
    e.observe(obs('p1', 1, { flow: '7', head: null, vibration: { x: 1 }, running: [1] }));
    e.observe(obs('p1', 2, { flow: Infinity }));
    e.observe(obs('p1', 3, Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`t${i}`, i]))));
    expect(sink.writes).toEqual([{ twin: 'p1', time: 0, values: { p: 4, m: 2 } }]);
    const snap = e.snapshot();
    expect(snap.twins[0]?.latest.length).toBe(1024);
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('applies a model set to extensions, a twin set after it, and skips twins of other models', () => {
    const { e, sink } = engine(
      pumpValues(`  p: { expr: flow * 2 }`),
      `model: ${BIG_PUMP}\nvalues:\n  p: { expr: flow * 3 }\n  s: { expr: speed + p }`,
      `twin: p2\nvalues:\n  p: { expr: flow * 5 }`,
    );
    e.observe(obs('p1', 0, { flow: 1 }));
    e.observe(obs('p2', 0, { flow: 1 }));
    e.observe(obs('p3', 0, { flow: 1, speed: 1 }, BIG_PUMP));
    e.observe(obs('line-1', 0, { flow: 1 }, LINE));
    expect(sink.writes).toEqual([
      { twin: 'p1', time: 0, values: { p: 2 } },
      { twin: 'p2', time: 0, values: { p: 5 } },
      { twin: 'p3', time: 0, values: { p: 3, s: 4 } },
    ]);
  });

  it('sends values with target: property to the property sink (integers rounded), and other values read them', () => {
    const { e, sink, props } = engine(
      pumpValues(`  healthIndex: { expr: 'clamp(1 - vibration / vibrationLimit, 0, 1)', target: property, every: 30s, deadband: 0.05 }
  runHours: { expr: 'flow / 4', target: property }
  motor.load: { expr: 'motor.current / 10', target: property }
  healthEwma: { ewma: { of: healthIndex, halfLife: 1s } }
  healthLow: { expr: 'healthIndex < 0.5' }`),
    );
    e.observe(obs('p1', 0, { vibration: 3.5, flow: 10 })); // p1's vibrationLimit is 7
    expect(props.writes).toEqual([
      {
        twin: 'p1',
        time: 0,
        name: 'healthIndex',
        value: 0.5,
        policy: { everyMs: 30_000, deadband: 0.05, integer: false },
      },
      {
        twin: 'p1',
        time: 0,
        name: 'runHours',
        value: 3,
        policy: { everyMs: 60_000, deadband: 0, integer: true },
      }, // 2.5 → 3
    ]);
    // The properties are not telemetry; the values reading them are, computed after them.
    expect(sink.writes).toEqual([{ twin: 'p1', time: 0, values: { healthEwma: 0.5, healthLow: 0 } }]);
    e.observe(obs('p1', 1000, { vibration: 7 }));
    expect(props.writes.at(-1)).toMatchObject({ time: 1000, name: 'healthIndex', value: 0 });
    expect(sink.writes.at(-1)).toEqual({
      twin: 'p1',
      time: 1000,
      values: { healthEwma: 0.25, healthLow: 1 },
    });
    e.observe({ ...obs('p1', 2000, { current: 7 }), component: 'motor' });
    expect(props.writes.at(-1)).toMatchObject({ time: 2000, name: 'motor.load', value: 0.7 });
    expect(e.stats()).toMatchObject({ propertyValues: 4, written: 4 });
    // The engine decides what a value is; the property sink decides when it reaches the twin.
    e.observe(obs('p1', 3000, { vibration: 7 }));
    expect(props.writes.at(-1)).toMatchObject({ time: 3000, name: 'healthIndex', value: 0 });
  });

  it('needs a property sink when a set writes properties', () => {
    expect(
      () =>
        new DerivedEngine({
          sets: sets(pumpValues(`  healthIndex: { expr: '1', target: property }`)),
          context: testGraph(),
          sink: recordingSink(),
        }),
    ).toThrow(/propertySink/);
  });
});
