import { describe, expect, it } from 'vitest';
import { RuleEngine } from './rule-engine.js';
import type { RuleEpisode } from './rule-engine.js';
import { BIG_PUMP, PUMP, RecordingSink, rule, TestTwins } from './rule-test-kit.js';
import type { VersionedRule } from './rule-types.js';

const WS = 'default';
const MIN = 60_000;

function setup(rules: VersionedRule[], twins = new TestTwins().twin('p1', PUMP, { vibrationLimit: 7 })) {
  const sink = new RecordingSink();
  const episodes: RuleEpisode[] = [];
  const engine = new RuleEngine({ sink, context: twins, onEpisode: (e) => episodes.push(e) });
  engine.setRules(WS, rules, 0);
  const feed = (twinId: string, time: number, values: Record<string, unknown>, component?: string) =>
    engine.observe({
      workspace: WS,
      twinId,
      modelId: twins.modelOf(WS, twinId) ?? PUMP,
      time,
      values,
      ...(component ? { component } : {}),
    });
  return { sink, engine, feed, twins, episodes };
}

const vibration = (extra = '') =>
  rule(`
id: vib
appliesTo: { model: "${PUMP}" }
severity: major
condition:
  threshold: { telemetry: vibration, above: $vibrationLimit, clearBelow: 6.5 }
message: "vibration {value} above its limit {limit} ({$vibrationLimit}) on {twinId}"
${extra}
`);

describe('threshold from a property, with hysteresis', () => {
  it('raises once when above, holds between clearBelow and the limit, clears at clearBelow', () => {
    const { sink, feed } = setup([vibration()]);
    for (const [t, v] of [
      [0, 5],
      [1000, 7.5],
      [2000, 7.9],
      [3000, 6.8],
      [4000, 7.2],
      [5000, 6.4],
      [6000, 7.1],
    ] as const)
      feed('p1', t, { vibration: v });
    expect(sink.trace).toEqual(['raise@1000', 'clear@5000', 'raise@6000']);
    const first = sink.events[0]!;
    expect(first).toMatchObject({
      severity: 'major',
      ruleId: 'vib',
      ruleVersion: 1,
      value: 7.5,
      twinId: 'p1',
    });
    expect(first.kind === 'raise' && first.message).toBe('vibration 7.5 above its limit 7 (7) on p1');
  });

  it('reads the limit per twin, and follows a changed property', () => {
    const twins = new TestTwins()
      .twin('p1', PUMP, { vibrationLimit: 7 })
      .twin('p2', PUMP, { vibrationLimit: 9 });
    const { sink, feed } = setup([vibration()], twins);
    feed('p1', 0, { vibration: 8 });
    feed('p2', 0, { vibration: 8 });
    expect(sink.events.map((e) => e.twinId)).toEqual(['p1']);
    twins.props.set('p2\u0000vibrationLimit', 7.5);
    feed('p2', 1000, { vibration: 8 });
    expect(sink.events.map((e) => e.twinId)).toEqual(['p1', 'p2']);
  });

  it('does nothing while the limit property is unset, and applies to models extending the model', () => {
    const twins = new TestTwins()
      .twin('p3', PUMP)
      .twin('big', BIG_PUMP, { vibrationLimit: 1 })
      .twin('x', 'dtmi:test:Other;1', { vibrationLimit: 1 });
    const { sink, feed } = setup([vibration()], twins);
    feed('p3', 0, { vibration: 100 });
    feed('big', 0, { vibration: 2 });
    feed('x', 0, { vibration: 2 });
    expect(sink.events.map((e) => e.twinId)).toEqual(['big']);
  });

  it('below with clearAbove (a tank running dry)', () => {
    const r = rule(`
id: low
appliesTo: { twins: [t1] }
severity: warning
condition: { threshold: { telemetry: level, below: 0.5, clearAbove: 0.8 } }
message: level {value} m
`);
    const { sink, feed } = setup([r], new TestTwins().twin('t1', 'dtmi:test:Tank;1'));
    for (const [t, v] of [
      [0, 1],
      [1, 0.4],
      [2, 0.3],
      [3, 0.6],
      [4, 0.9],
      [5, 0.2],
    ] as const)
      feed('t1', t, { level: v });
    expect(sink.trace).toEqual(['raise@1', 'clear@4', 'raise@5']);
    feed('other', 6, { level: 0 });
    expect(sink.events).toHaveLength(3);
  });
});

describe('duration', () => {
  it('raises only after the condition held for the whole duration; a dip starts the wait again', () => {
    const { sink, feed, episodes } = setup([vibration('for: 5m')]);
    feed('p1', 0, { vibration: 8 });
    feed('p1', 2 * MIN, { vibration: 8 });
    feed('p1', 3 * MIN, { vibration: 6.9 }); // not above: the wait starts again
    feed('p1', 4 * MIN, { vibration: 8 });
    feed('p1', 8 * MIN, { vibration: 8.5 });
    expect(sink.trace).toEqual([]);
    feed('p1', 9 * MIN, { vibration: 9 });
    expect(sink.trace).toEqual([`raise@${9 * MIN}`]);
    feed('p1', 10 * MIN, { vibration: 6 });
    expect(sink.trace).toEqual([`raise@${9 * MIN}`, `clear@${10 * MIN}`]);
    expect(episodes).toEqual([
      expect.objectContaining({ twinId: 'p1', start: 9 * MIN, end: 10 * MIN, peak: 9 }),
    ]);
  });

  it('tick raises when the duration elapses without a new reading, at the moment it elapsed', () => {
    const { sink, feed, engine } = setup([vibration('for: 5m')]);
    feed('p1', 1000, { vibration: 8 });
    engine.tick(1000 + 5 * MIN - 1);
    expect(sink.trace).toEqual([]);
    engine.tick(1000 + 6 * MIN);
    engine.tick(1000 + 7 * MIN);
    expect(sink.trace).toEqual([`raise@${1000 + 5 * MIN}`]);
    expect(sink.events[0]).toMatchObject({ value: 8 });
  });
});

describe('missing data', () => {
  const missing = rule(`
id: silent
appliesTo: { model: "${PUMP}" }
severity: minor
condition: { missing: { telemetry: flow, after: 60s } }
message: "no {telemetry} for {value} s (limit {limit} s)"
`);
  it('raises when the telemetry is silent for the time, clears on the next reading', () => {
    const { sink, feed, engine } = setup([missing]);
    engine.tick(500_000); // never reported: not watched
    feed('p1', 0, { flow: 1 });
    feed('p1', 30_000, { vibration: 1 }); // another telemetry does not count
    engine.tick(59_999);
    expect(sink.trace).toEqual([]);
    engine.tick(75_000);
    engine.tick(90_000);
    expect(sink.trace).toEqual(['raise@60000']);
    expect(sink.events[0]!.kind === 'raise' && sink.events[0]!.message).toBe('no flow for 75 s (limit 60 s)');
    feed('p1', 100_000, { flow: 2 });
    expect(sink.trace).toEqual(['raise@60000', 'clear@100000']);
    expect(sink.events[1]).toMatchObject({ reason: 'flow reported again' });
  });
});

describe('rate of change', () => {
  it('compares the change over the window, per minute', () => {
    const r = rule(`
id: heating
appliesTo: { model: "${PUMP}" }
severity: warning
condition: { rateOfChange: { telemetry: temperature, window: 2m, per: minute, above: 3 } }
message: "temperature rising {value} °C/min"
`);
    const { sink, feed } = setup([r]);
    // Flat for 5 minutes, then +5 °C/min for 3 minutes, then flat again.
    let temp = 40;
    for (let s = 0; s <= 15 * 60; s += 10) {
      if (s > 300 && s <= 480) temp += 5 / 6;
      feed('p1', s * 1000, { temperature: temp });
    }
    expect(sink.events.map((e) => e.kind)).toEqual(['raise', 'clear']);
    const [raise, clear] = sink.events;
    // The 2-minute slope passes 3/min once 3.6 of the last 6 samples... i.e. ~72 s after the ramp starts.
    expect(raise!.time).toBeGreaterThan(300_000 + 60_000);
    expect(raise!.time).toBeLessThanOrEqual(300_000 + 80_000);
    expect(clear!.time).toBeGreaterThan(480_000 + 30_000);
    expect(clear!.time).toBeLessThanOrEqual(480_000 + 60_000);
  });

  it('keeps at most 40 points per window whatever the reading rate', () => {
    const r = rule(`
id: fast
appliesTo: { model: "${PUMP}" }
severity: warning
condition: { rateOfChange: { telemetry: vibration, window: 1h, above: 1 } }
message: m
`);
    const { engine, feed } = setup([r]);
    for (let t = 0; t < 7_200_000; t += 100) feed('p1', t, { vibration: Math.sin(t) });
    const snap = engine.snapshot() as { rules: { pairs: { inputs: { window: number[] } }[] }[] };
    expect(snap.rules[0]!.pairs[0]!.inputs.window.length).toBeLessThanOrEqual(80);
  });
});

describe('expressions', () => {
  it('reads telemetry and properties, uses clearWhen, carries the compared value', () => {
    const r = rule(`
id: hot
appliesTo: { model: "${PUMP}" }
severity: critical
condition:
  expression:
    when: "temperature > maxTemp && running"
    clearWhen: "temperature < maxTemp - 5 || !running"
message: "{value} °C"
`);
    const twins = new TestTwins().twin('p1', PUMP, { maxTemp: 80 });
    const { sink, feed } = setup([r], twins);
    feed('p1', 0, { temperature: 85 }); // running unknown: nothing
    feed('p1', 1, { running: false });
    feed('p1', 2, { running: true });
    feed('p1', 3, { temperature: 78 });
    feed('p1', 4, { temperature: 74 });
    expect(sink.trace).toEqual(['raise@2', 'clear@4']);
    expect(sink.events[0]).toMatchObject({ value: 85, message: '85 °C' });
  });

  it('reads component telemetry as component.name', () => {
    const r = rule(`
id: winding
appliesTo: { model: "${PUMP}" }
severity: major
condition: { expression: "motor.windingTemperature > 120" }
message: "winding {value}"
`);
    const { sink, feed } = setup([r]);
    feed('p1', 0, { windingTemperature: 130 }); // not the component's
    feed('p1', 1, { windingTemperature: 130 }, 'motor');
    expect(sink.trace).toEqual(['raise@1']);
  });
});

describe('episodes, repeats, changes and restarts', () => {
  it('raises once per episode, or again at most every repeatEvery with the latest value', () => {
    const once = setup([vibration()]);
    const every = setup([vibration('repeatEvery: 1m')]);
    for (let t = 0; t <= 5 * MIN; t += 10_000)
      for (const s of [once, every]) s.feed('p1', t, { vibration: 8 + t / MIN });
    expect(once.sink.trace).toEqual(['raise@0']);
    expect(every.sink.trace).toEqual([0, 1, 2, 3, 4, 5].map((m) => `raise@${m * MIN}`));
    expect(every.sink.events.at(-1)).toMatchObject({ value: 13 });
  });

  it('ignores late readings', () => {
    const { sink, feed, engine } = setup([vibration()]);
    feed('p1', 5000, { vibration: 8 });
    feed('p1', 4000, { vibration: 1 });
    expect(sink.trace).toEqual(['raise@5000']);
    expect(engine.stats().late).toBe(1);
  });

  it('clears raised alarms when a rule changes version or goes away', () => {
    const { sink, feed, engine } = setup([vibration()]);
    feed('p1', 0, { vibration: 8 });
    engine.setRules(WS, [vibration()], 10); // same version: kept
    engine.setRules(WS, [{ ...vibration(), version: 2 }], 20);
    expect(sink.trace).toEqual(['raise@0', 'clear@20']);
    feed('p1', 30, { vibration: 8 });
    engine.setRules(WS, [], 40);
    expect(sink.trace).toEqual(['raise@0', 'clear@20', 'raise@30', 'clear@40']);
    expect(sink.events[3]).toMatchObject({ reason: 'rule deleted or disabled' });
  });

  it('a restored snapshot continues a duration and a raised alarm', () => {
    const a = setup([vibration('for: 5m')]);
    a.feed('p1', 0, { vibration: 8 });
    const snap = JSON.parse(JSON.stringify(a.engine.snapshot())) as unknown;
    const b = setup([vibration('for: 5m')]);
    expect(b.engine.restore(snap)).toBe(1);
    b.feed('p1', 5 * MIN, { vibration: 8 });
    expect(b.sink.trace).toEqual([`raise@${5 * MIN}`]);
    const again = setup([vibration('for: 5m')]);
    again.engine.restore(JSON.parse(JSON.stringify(b.engine.snapshot())) as unknown);
    again.feed('p1', 6 * MIN, { vibration: 9 }); // still raised: no second raise
    again.feed('p1', 7 * MIN, { vibration: 1 });
    expect(again.sink.trace).toEqual([`clear@${7 * MIN}`]);
    // Another version of the rule does not take the old state.
    const other = setup([{ ...vibration('for: 5m'), version: 2 }]);
    expect(other.engine.restore(snap)).toBe(0);
  });

  it('restore refuses hostile snapshots without throwing', () => {
    const { engine } = setup([vibration()]);
    for (const bad of [
      null,
      1,
      'x',
      {
        format: 'twinloop.rules.state/1',
        rules: [
          {
            workspace: WS,
            ruleId: 'vib',
            ruleVersion: 1,
            pairs: [{ twinId: 'p1', active: 'yes' }, { __proto__: { active: true } }],
          },
        ],
      },
    ])
      expect(engine.restore(bad)).toBe(0);
    const evil = JSON.parse(
      '{"format":"twinloop.rules.state/1","rules":[{"workspace":"default","ruleId":"vib","ruleVersion":1,"pairs":[{"twinId":"p1","active":false,"inputs":{"latest":[["__proto__",1],["vibration",2]]}}]}]}',
    ) as unknown;
    expect(engine.restore(evil)).toBe(1);
    expect(({} as Record<string, unknown>).vibration).toBeUndefined();
  });

  it('tracks at most maxStates pairs', () => {
    const sink = new RecordingSink();
    const twins = new TestTwins();
    const engine = new RuleEngine({ sink, context: twins, maxStates: 10 });
    engine.setRules(WS, [
      rule(`
id: any
appliesTo: { model: "${PUMP}" }
severity: minor
condition: { threshold: { telemetry: v, above: 1 } }
message: m
`),
    ]);
    for (let i = 0; i < 100; i++)
      engine.observe({ workspace: WS, twinId: `t${i}`, modelId: PUMP, time: 0, values: { v: 2 } });
    expect(engine.stats()).toMatchObject({ pairs: 10, refused: 90 });
    expect(sink.events).toHaveLength(10);
  });
});

describe('alarms open from before a restart (resumeOpen)', () => {
  const open = (ruleId: string, ruleVersion: number, twinId = 'p1') => ({
    twinId,
    ruleId,
    ruleVersion,
    firstTime: 500,
    lastTime: 800,
  });

  it('an alarm of the current version is raised again without a new raise, and clears on its condition', () => {
    const { sink, engine, feed } = setup([vibration()]);
    expect(engine.resumeOpen(WS, [open('vib', 1)], 900)).toEqual({ resumed: 1, cleared: 0 });
    feed('p1', 1000, { vibration: 6.8 }); // between clearBelow and the limit: still raised, no repeat
    expect(sink.trace).toEqual([]);
    feed('p1', 2000, { vibration: 6.4 });
    expect(sink.trace).toEqual(['clear@2000']);
    feed('p1', 3000, { vibration: 7.5 }); // a new episode
    expect(sink.trace).toEqual(['clear@2000', 'raise@3000']);
  });

  it('clears at once the alarms of rules changed, deleted or disabled meanwhile; leaves anomaly alarms alone', () => {
    const { sink, engine } = setup([vibration()]);
    const r = engine.resumeOpen(WS, [open('vib', 0), open('gone', 3), open('anomaly.vibration', 1)], 900);
    expect(r).toEqual({ resumed: 0, cleared: 2 });
    expect(sink.events.map((e) => [e.kind, e.ruleId, e.kind === 'clear' ? e.reason : ''])).toEqual([
      ['clear', 'vib', 'rule changed (version 1) while the analytics were stopped'],
      ['clear', 'gone', 'rule deleted or disabled while the analytics were stopped'],
    ]);
  });

  it('a pair already raised since the start is left as it is', () => {
    const { sink, engine, feed } = setup([vibration()]);
    feed('p1', 1000, { vibration: 7.5 });
    expect(engine.resumeOpen(WS, [open('vib', 1)], 1500)).toEqual({ resumed: 0, cleared: 0 });
    feed('p1', 2000, { vibration: 6 });
    expect(sink.trace).toEqual(['raise@1000', 'clear@2000']);
  });
});
