import { describe, expect, it } from 'vitest';
import { BUFFER_POINTS } from '../forecast/forecast-buffer.js';
import { RuleEngine, type RuleEpisode } from './rule-engine.js';
import { RecordingSink, rule, TestTwins } from './rule-test-kit.js';
import type { VersionedRule } from './rule-types.js';

/** Standard normal draws from a seeded generator (Box–Muller over a Park–Miller LCG). */
function gaussian(seed: number): () => number {
  let s = seed;
  const u = () => (s = (s * 16807) % 2147483647) / 2147483647;
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

const WS = 'default';
const TANK = 'dtmi:test:Tank;1';
const MIN = 60_000;
const H = 3_600_000;

const forecastRule = (condition: string, extra = '', message = 'level forecast to reach {limit} in {eta}') =>
  rule(`
id: overflow
appliesTo: { model: "${TANK}" }
severity: major
condition:
  forecast: ${condition}
message: "${message}"
${extra}
`);

function setup(rules: VersionedRule[], twins = new TestTwins().twin('t1', TANK, { highLevel: 5 }), o = {}) {
  const sink = new RecordingSink();
  const episodes: RuleEpisode[] = [];
  const engine = new RuleEngine({ sink, context: twins, onEpisode: (e) => episodes.push(e), ...o });
  engine.setRules(WS, rules, 0);
  /** A reading, after a tick at its time (as the backtest does). */
  const feed = (twinId: string, time: number, level: number) => {
    engine.tick(time);
    engine.observe({ workspace: WS, twinId, modelId: TANK, time, values: { level } });
  };
  return { sink, engine, feed, twins, episodes };
}

describe('forecast condition: known answers', () => {
  it('raises when a linear ramp is forecast to cross within `within`, with the right ETA', () => {
    // 0.5 m/h from 0: reaches 5 m at 10 h. within 2 h: the crossing enters the window at 8 h.
    const { sink, feed, engine } = setup([
      forecastRule('{ telemetry: level, above: $highLevel, within: 2h }'),
    ]);
    // Readings every 10 s: 5 or 6 to a 56.25 s cell, in a repeating pattern (forecast-buffer.ts).
    for (let t = 0; t <= 9 * H; t += 10_000) feed('t1', t, (0.5 * t) / H);
    const raises = sink.events.filter((e) => e.kind === 'raise');
    expect(raises).toHaveLength(1);
    const r = raises[0]!;
    // Refits every 10 min (within / 12), so it raises at the first refit after 8 h, at most
    // 10 min later; the forecast grid is 56.25 s (8 h / 512), so the ETA is within a cell or two.
    expect(r.time).toBeGreaterThanOrEqual(8 * H - 2 * MIN);
    expect(r.time).toBeLessThanOrEqual(8 * H + 10 * MIN);
    const eta = (10 * H - r.time) / 1000;
    expect(r.kind === 'raise' && r.value).toBeGreaterThanOrEqual(eta);
    expect(r.kind === 'raise' && r.value).toBeLessThan(eta + 60);
    expect(r.kind === 'raise' && r.message).toMatch(/^level forecast to reach 5 in (1 h 5\d min|2 h)$/);
    const st = engine.stats();
    // 9 h of readings, the first refit once 16 cells hold readings (~15 min), then every 10 min.
    expect(st.refits).toBeGreaterThanOrEqual(50);
    expect(st.refits).toBeLessThanOrEqual(54);
    expect(st.refitsDeferred).toBe(0);
    expect(st.forecastPairs).toBe(1);
  });

  it('a flat noisy series never raises, however long', () => {
    const g = gaussian(3);
    const { sink, feed } = setup([forecastRule('{ telemetry: level, above: $highLevel, within: 2h }')]);
    for (let t = 0; t <= 24 * H; t += MIN) feed('t1', t, 4 + 0.05 * g());
    expect(sink.events).toEqual([]);
  });

  it('honours `every` (source time) and keeps at most 512 cells', () => {
    const { feed, engine } = setup([
      forecastRule('{ telemetry: level, above: 100, within: 1h, every: 30m }'),
    ]);
    const fitTimes: number[] = [];
    let last: number | undefined;
    for (let t = 0; t <= 12 * H; t += 10_000) {
      feed('t1', t, Math.sin(t / H));
      const snap = engine.snapshot() as {
        rules: { pairs: { inputs: { fit?: { at: number }; buffer?: { points: number[] } } }[] }[];
      };
      const inputs = snap.rules[0]!.pairs[0]!.inputs;
      if (inputs.fit && inputs.fit.at !== last) fitTimes.push((last = inputs.fit.at));
      expect((inputs.buffer?.points.length ?? 0) / 2).toBeLessThanOrEqual(BUFFER_POINTS);
    }
    for (let i = 1; i < fitTimes.length; i++) expect(fitTimes[i]! - fitTimes[i - 1]!).toBe(30 * MIN);
    expect(fitTimes.length).toBeGreaterThanOrEqual(23);
    expect(engine.stats().refits).toBe(fitTimes.length);
  });

  it('clears once the forecast no longer crosses within clearWhen.within, and says why', () => {
    const { sink, feed, episodes } = setup([
      forecastRule('{ telemetry: level, above: $highLevel, within: 1h, every: 5m }'),
    ]);
    // Up at 1 m/h from 2 m, then flat at 4.5 m from 2.5 h.
    for (let t = 0; t <= 6 * H; t += MIN) feed('t1', t, Math.min(4.5, 2 + t / H));
    expect(sink.events.map((e) => e.kind)).toEqual(['raise', 'clear']);
    const [raise, clear] = sink.events;
    expect(raise!.time).toBeGreaterThanOrEqual(2 * H - 2 * MIN);
    expect(raise!.time).toBeLessThanOrEqual(2 * H + 5 * MIN);
    expect(clear!.time).toBeGreaterThan(2.5 * H);
    expect(clear!.kind === 'clear' && clear!.reason).toBe(
      'level no longer forecast to reach 5 within 1 h 15 min',
    );
    // The episode's peak is its most urgent ETA.
    expect(episodes[0]!.peak).toBeLessThan(raise!.kind === 'raise' ? raise!.value! : 0);
  });

  it('below a property limit; nothing while the property is unset; a reading beyond it is ETA 0', () => {
    const twins = new TestTwins().twin('t1', TANK, { lowLevel: 1 }).twin('t2', TANK);
    const r = rule(`
id: dry
appliesTo: { model: "${TANK}" }
severity: critical
condition: { forecast: { telemetry: level, below: $lowLevel, within: 30m } }
message: "{twinId} below {limit} m in {eta} ({probability})"
`);
    const { sink, feed } = setup([r], twins);
    // Flat at 2 m for 2 h, then down 2 m/h: 1 m at 2.5 h; the crossing enters 30 min at 2 h.
    for (let t = 0; t <= 3 * H; t += 30_000) {
      const v = t < 2 * H ? 2 : 2 - (2 * (t - 2 * H)) / H;
      feed('t1', t, v);
      feed('t2', t, v);
    }
    expect(sink.events.filter((e) => e.twinId === 't2')).toEqual([]);
    const raise = sink.events[0]!;
    expect(raise.kind).toBe('raise');
    // The drop must be seen for a few cells before a trend model wins; 3.75 min cells, refits every minute.
    expect(raise.time).toBeGreaterThan(2 * H);
    expect(raise.time).toBeLessThan(2.5 * H - 5 * MIN);
    expect(raise.kind === 'raise' && raise.message).toMatch(/^t1 below 1 m in \d+ min \(\d+ %\)$/);
    // Once below, the alarm holds (the value is beyond the limit: ETA 0).
    expect(sink.events.filter((e) => e.kind === 'clear')).toEqual([]);
  });

  it('a higher probability raises later than the point forecast, a lower one earlier', () => {
    const times: number[] = [];
    for (const p of [0.1, undefined, 0.9]) {
      const g = gaussian(5);
      const { sink, feed } = setup([
        forecastRule(
          `{ telemetry: level, above: 2, within: 1h, every: 2m${p === undefined ? '' : `, probability: ${p}`} }`,
        ),
      ]);
      // Crosses 2 m at 4 h.
      for (let t = 0; t <= 5 * H && sink.events.length === 0; t += MIN)
        feed('t1', t, (0.5 * t) / H + 0.1 * g());
      times.push(sink.events[0]!.time);
    }
    expect(times[0]!).toBeLessThan(times[1]!);
    expect(times[1]!).toBeLessThan(times[2]!);
  });
});

describe('forecast condition: refit budget, snapshot, bounds', () => {
  it('runs at most maxRefitsPerTick refits between ticks; the others wait and run at later ticks, oldest first', () => {
    const twins = new TestTwins();
    for (let i = 0; i < 6; i++) twins.twin(`t${i}`, TANK);
    const sink = new RecordingSink();
    const engine = new RuleEngine({ sink, context: twins, maxRefitsPerTick: 2 });
    engine.setRules(WS, [forecastRule('{ telemetry: level, above: 1000, within: 1h }')], 0);
    const feedAll = (t: number) => {
      for (let i = 0; i < 6; i++)
        engine.observe({ workspace: WS, twinId: `t${i}`, modelId: TANK, time: t, values: { level: t / H } });
    };
    // Cells of 28.125 s (4 h / 512): no refit until 16 cells hold readings.
    let t = 0;
    for (; t < 15 * 28_125; t += 28_125) feedAll(t);
    expect(engine.stats().refits).toBe(0);
    feedAll(t);
    // Six refits fell due together: two ran, four wait.
    expect(engine.stats()).toMatchObject({ refits: 2, refitsDeferred: 4, refitsPending: 4 });
    engine.tick(t);
    expect(engine.stats()).toMatchObject({ refits: 4, refitsPending: 2 });
    engine.tick(t + 1);
    expect(engine.stats()).toMatchObject({ refits: 6, refitsPending: 0 });
    engine.tick(t + 2);
    expect(engine.stats().refits).toBe(6);
    expect(engine.stats().refitMs).toBeGreaterThan(0);
  });

  it('a restored snapshot continues exactly as an engine that never stopped', () => {
    const r = () => forecastRule('{ telemetry: level, above: $highLevel, within: 2h }');
    const g = gaussian(9);
    const series: [number, number][] = [];
    for (let t = 0; t <= 9 * H; t += MIN) series.push([t, (0.5 * t) / H + 0.02 * g()]);
    const whole = setup([r()]);
    for (const [t, v] of series) whole.feed('t1', t, v);
    const a = setup([r()]);
    const half = series.filter(([t]) => t < 5 * H);
    for (const [t, v] of half) a.feed('t1', t, v);
    const b = setup([r()]);
    expect(b.engine.restore(JSON.parse(JSON.stringify(a.engine.snapshot())) as unknown)).toBe(1);
    for (const [t, v] of series.slice(half.length)) b.feed('t1', t, v);
    expect(whole.sink.events).toHaveLength(1);
    expect(b.sink.events).toEqual(whole.sink.events);
  });

  it('restore refuses hostile buffers and fits without throwing', () => {
    const { engine } = setup([forecastRule('{ telemetry: level, above: 5, within: 1h }')]);
    const pair = (inputs: unknown) => ({
      format: 'twinloop.rules.state/1',
      rules: [
        {
          workspace: WS,
          ruleId: 'overflow',
          ruleVersion: 1,
          pairs: [{ twinId: 't1', active: false, inputs }],
        },
      ],
    });
    for (const inputs of [
      { latest: [], buffer: { points: [1, 2, 0, 3], lastCount: 1, lastTime: 1 } }, // centres not increasing
      { latest: [], buffer: { points: Array(2 * BUFFER_POINTS + 2).fill(1), lastCount: 1, lastTime: 1 } },
      { latest: [], buffer: { points: [1, NaN], lastCount: 1, lastTime: 1 } },
      { latest: [], buffer: { points: [1, 2], lastCount: -1, lastTime: 1 } },
      { latest: [], buffer: { points: '1,2', lastCount: 1, lastTime: 1 } },
      { latest: [], fit: { at: 1, limit: 5, probability: 7 } },
      { latest: [], fit: { __proto__: { at: 1 }, limit: 5, probability: 0.5 } },
    ]) {
      expect(engine.restore(pair(inputs))).toBe(1);
      const s = engine.snapshot() as { rules: { pairs: { inputs: Record<string, unknown> }[] }[] };
      expect(s.rules[0]!.pairs[0]!.inputs.buffer).toBeUndefined();
      expect(s.rules[0]!.pairs[0]!.inputs.fit).toBeUndefined();
    }
  });

  it('holds buffers for at most maxForecastPairs pairs', () => {
    const twins = new TestTwins();
    const engine = new RuleEngine({ sink: new RecordingSink(), context: twins, maxForecastPairs: 3 });
    engine.setRules(WS, [forecastRule('{ telemetry: level, above: 5, within: 1h }')], 0);
    for (let i = 0; i < 10; i++)
      engine.observe({ workspace: WS, twinId: `t${i}`, modelId: TANK, time: 0, values: { level: 1 } });
    engine.observe({ workspace: WS, twinId: 't0', modelId: TANK, time: 1, values: { level: 1 } });
    expect(engine.stats()).toMatchObject({ forecastPairs: 3, forecastRefused: 7, pairs: 3 });
    engine.setRules(WS, [], 2);
    expect(engine.stats().forecastPairs).toBe(0);
  });
});

describe('forecast condition: hostile readings', () => {
  it('values near ±MAX_VALUE, NaN and late readings neither throw nor poison the buffer', () => {
    const { engine, feed, sink } = setup([
      forecastRule('{ telemetry: level, above: 5, within: 1h, every: 1m }'),
    ]);
    for (let t = 0; t <= 3 * H; t += 10_000) {
      feed('t1', t, (t / 10_000) % 2 === 0 ? Number.MAX_VALUE : -Number.MAX_VALUE);
      engine.observe({ workspace: WS, twinId: 't1', modelId: TANK, time: t, values: { level: NaN } });
      engine.observe({ workspace: WS, twinId: 't1', modelId: TANK, time: t - 5_000, values: { level: 1 } });
    }
    const snap = engine.snapshot() as { rules: { pairs: { inputs: { buffer: { points: number[] } } }[] }[] };
    const points = snap.rules[0]!.pairs[0]!.inputs.buffer.points;
    expect(points.length).toBeGreaterThan(2 * 16);
    expect(points.every(Number.isFinite)).toBe(true);
    // The snapshot restores (every number finite, times increasing).
    const again = setup([forecastRule('{ telemetry: level, above: 5, within: 1h, every: 1m }')]);
    expect(again.engine.restore(JSON.parse(JSON.stringify(snap)) as unknown)).toBe(1);
    expect(sink.events[0]).toMatchObject({ kind: 'raise', value: 0 }); // MAX_VALUE is beyond 5: ETA 0
    expect(engine.stats().late).toBeGreaterThan(0);
  });
});
