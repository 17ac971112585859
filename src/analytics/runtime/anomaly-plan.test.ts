import { describe, expect, it } from 'vitest';
import { planGroups, planStreams, readAnomalyPlan } from './anomaly-plan.js';

const KINDS = ['ewma', 'resonance'];

describe('readAnomalyPlan', () => {
  it('reads a plan and answers the names of a model, IS_OF_MODEL included', () => {
    const r = readAnomalyPlan(
      [
        'detector: resonance',
        'threshold: 0.98',
        'streams:',
        '  - model: dtmi:x:Pump;1',
        '    telemetry: [vibration, temperature]',
        '  - model: dtmi:x:Equipment;1',
        '    telemetry: [current, vibration]',
      ].join('\n'),
      'anomaly.yaml',
      KINDS,
    );
    if (!('plan' in r)) throw new Error(JSON.stringify(r.problems));
    expect({
      ...r.plan,
      streams: r.plan.streams.map(({ model, telemetry }) => ({ model, telemetry })),
    }).toEqual({
      detector: 'resonance',
      threshold: 0.98,
      streams: [
        { model: 'dtmi:x:Pump;1', telemetry: ['vibration', 'temperature'] },
        { model: 'dtmi:x:Equipment;1', telemetry: ['current', 'vibration'] },
      ],
    });
    // Each entry knows where it was written (the checks against the models report there).
    expect(r.plan.streams[1]?.loc?.telemetry.map((l) => l.line)).toEqual([7, 7]);
    const isOf = (m: string, b: string) => m === b || (m === 'dtmi:x:Pump;1' && b === 'dtmi:x:Equipment;1');
    expect(planStreams(r.plan, 'dtmi:x:Pump;1', isOf).sort()).toEqual([
      'current',
      'temperature',
      'vibration',
    ]);
    expect(planStreams(r.plan, 'dtmi:x:Tank;1', isOf)).toEqual([]);
  });

  it('reports every problem at its line and column', () => {
    const r = readAnomalyPlan(
      [
        'detector: magic', // 1
        'threshold: 2', // 2
        'streams:', // 3
        '  - model: not-a-dtmi', // 4
        '    telemetry: [ok, "bad name", __proto__x]', // 5
        '    extra: 1', // 6
        '  - telemetry: []', // 7
        'colour: red', // 8
      ].join('\n'),
      'anomaly.yaml',
      KINDS,
    );
    if (!('problems' in r)) throw new Error('expected problems');
    const where = r.problems.map((p) => p.message.split(': ')[0]);
    expect(where).toEqual(
      expect.arrayContaining([
        'anomaly.yaml:1:11',
        'anomaly.yaml:2:12',
        'anomaly.yaml:4:12',
        'anomaly.yaml:6:5',
        'anomaly.yaml:8:1',
      ]),
    );
    expect(r.problems.map((p) => p.code)).toEqual(
      expect.arrayContaining([
        'anomaly.plan.detector',
        'anomaly.plan.threshold',
        'anomaly.plan.model',
        'anomaly.plan.telemetry',
        'anomaly.plan.member',
      ]),
    );
  });

  it('reads how scores are reported (report by exception), and refuses bad settings at their places', () => {
    const ok = readAnomalyPlan('detector: ewma\nstreams: []\nreport: { deadband: 0.05 }', 'a.yaml', KINDS);
    expect('plan' in ok && ok.plan.report).toEqual({ deadband: 0.05, heartbeatMs: 300_000 });
    const hb = readAnomalyPlan(
      'detector: ewma\nstreams: []\nreport: { deadband: 0, heartbeat: 30s }',
      'a.yaml',
      KINDS,
    );
    expect('plan' in hb && hb.plan.report).toEqual({ deadband: 0, heartbeatMs: 30_000 });
    const plain = readAnomalyPlan('detector: ewma\nstreams: []', 'a.yaml', KINDS);
    expect('plan' in plain && plain.plan.report).toBeUndefined();
    for (const [report, where] of [
      ['{ deadband: 2 }', 'a.yaml:3:21'],
      ['{ deadband: -0.1 }', 'a.yaml:3:21'],
      ['{ deadband: .nan }', 'a.yaml:3:21'],
      ["{ deadband: '0.1' }", 'a.yaml:3:21'],
      ['{ deadband: 0.1, heartbeat: 10ms }', 'a.yaml:3:37'],
      ['{ deadband: 0.1, heartbeat: 2d }', 'a.yaml:3:37'],
      ['{ heartbeat: 1min }', 'a.yaml:3:9'],
      ['{ deadband: 0.1, __proto__: 1 }', 'a.yaml:3:26'],
      ['0.1', 'a.yaml:3:9'],
    ] as const) {
      const r = readAnomalyPlan(`detector: ewma\nstreams: []\nreport: ${report}`, 'a.yaml', KINDS);
      expect('problems' in r, report).toBe(true);
      if ('problems' in r)
        expect(
          r.problems.map((p) => p.message.split(': ')[0]),
          report,
        ).toEqual([where]);
    }
  });

  it('never crashes on hostile text: bad YAML, __proto__ keys, deep nesting, huge lists', () => {
    const hostile = [
      '{{{',
      '__proto__: {detector: ewma}\nconstructor: 1',
      `detector: ewma\nstreams: ${'['.repeat(500)}${']'.repeat(500)}`,
      `detector: ewma\nstreams:\n${'  - {model: "dtmi:x:P;1", telemetry: [a]}\n'.repeat(1001)}`,
      '\u0000\uffff\ud800',
      '',
      // report: nested a thousand deep, a huge heartbeat text, bad UTF-8 in a duration, __proto__ inside
      `detector: ewma\nstreams: []\nreport: ${'{a: '.repeat(1000)}1${'}'.repeat(1000)}`,
      `detector: ewma\nstreams: []\nreport: { deadband: 0.1, heartbeat: '${'9'.repeat(100_000)}min' }`,
      'detector: ewma\nstreams: []\nreport: { deadband: 0.1, heartbeat: "5\ufffd\ud800min" }',
      'detector: ewma\nstreams: []\nreport: { __proto__: { deadband: 0.1 } }',
    ];
    for (const text of hostile) {
      const r = readAnomalyPlan(text, 'a.yaml', KINDS);
      expect('problems' in r).toBe(true);
      if ('problems' in r) expect(r.problems.length).toBeGreaterThan(0);
    }
    expect(({} as Record<string, unknown>)['detector']).toBeUndefined();
    expect(({} as Record<string, unknown>)['deadband']).toBeUndefined();
  });

  it("reads multivariate groups with their places, and answers a model's groups, IS_OF_MODEL included", () => {
    const r = readAnomalyPlan(
      [
        'detector: ewma', // 1
        'streams: []', // 2
        'multivariate:', // 3
        '  - model: dtmi:x:Equipment;1', // 4
        '    name: pump', // 5
        '    telemetry: [vibration, temperature, flow]', // 6
      ].join('\n'),
      'anomaly.yaml',
      KINDS,
    );
    if (!('plan' in r)) throw new Error(JSON.stringify(r.problems));
    expect(r.plan.multivariate).toEqual([
      {
        model: 'dtmi:x:Equipment;1',
        name: 'pump',
        telemetry: ['vibration', 'temperature', 'flow'],
        loc: {
          entry: expect.objectContaining({ line: 4, column: 5 }),
          model: { line: 4, column: 12, pointer: '/multivariate/0/model' },
          name: { line: 5, column: 11, pointer: '/multivariate/0/name' },
          telemetry: [
            expect.objectContaining({ line: 6, column: 17 }),
            expect.objectContaining({ line: 6, column: 28 }),
            expect.objectContaining({ line: 6, column: 41 }),
          ],
        },
      },
    ]);
    const isOf = (m: string, b: string) => m === b || (m === 'dtmi:x:Pump;1' && b === 'dtmi:x:Equipment;1');
    expect(planGroups(r.plan, 'dtmi:x:Pump;1', isOf).map((g) => g.name)).toEqual(['pump']);
    expect(planGroups(r.plan, 'dtmi:x:Tank;1', isOf)).toEqual([]);
    // A plan without groups has no multivariate member at all.
    const plain = readAnomalyPlan('detector: ewma\nstreams: []', 'a.yaml', KINDS);
    expect(plain).toEqual({ plan: { detector: 'ewma', streams: [] } });
  });

  it('reports every problem of the groups at its line and column', () => {
    const r = readAnomalyPlan(
      [
        'detector: ewma', // 1
        'streams: []', // 2
        'multivariate:', // 3
        '  - model: dtmi:x:P;1', // 4
        '    name: pump', // 5
        '    telemetry: [a, b]', // 6
        '  - model: dtmi:x:P;1', // 7
        '    name: pump', // 8: duplicate
        '    telemetry: [a]', // 9: too few
        '  - model: nope', // 10
        '    name: 9lives', // 11
        '    telemetry: [a, a, "x y"]', // 12: repeated, not a name
        '    colour: red', // 13
        '  - {}', // 14: nothing
        '  - just text', // 15
      ].join('\n'),
      'anomaly.yaml',
      KINDS,
    );
    if (!('problems' in r)) throw new Error('expected problems');
    const found = r.problems.map((p) => `${p.code} ${p.message.split(': ')[0]}`);
    expect(found).toEqual(
      expect.arrayContaining([
        'anomaly.plan.duplicate anomaly.yaml:8:11',
        'anomaly.plan.telemetry anomaly.yaml:9:16',
        'anomaly.plan.model anomaly.yaml:10:12',
        'anomaly.plan.groupName anomaly.yaml:11:11',
        'anomaly.plan.telemetry anomaly.yaml:12:20',
        'anomaly.plan.telemetry anomaly.yaml:12:23',
        'anomaly.plan.member anomaly.yaml:13:5',
        'anomaly.plan.model anomaly.yaml:14:5',
        'anomaly.plan.groupName anomaly.yaml:14:5',
        'anomaly.plan.telemetry anomaly.yaml:14:5',
        'anomaly.plan.group anomaly.yaml:15:5',
      ]),
    );
    expect(r.problems).toHaveLength(11);
  });

  it('never crashes on hostile groups: __proto__ names, huge lists, deep nesting, odd types', () => {
    const head = 'detector: ewma\nstreams: []\nmultivariate:\n';
    const group = (name: string, telemetry: string) =>
      `  - {model: "dtmi:x:P;1", name: ${name}, telemetry: ${telemetry}}\n`;
    const hostile = [
      head + group('__proto__', '[a, b]'),
      head + group('constructor', '[__proto__, b]'),
      head + group('ok', `[${Array.from({ length: 17 }, (_, i) => `t${i}`).join(', ')}]`),
      head + group('ok', `${'['.repeat(400)}${']'.repeat(400)}`),
      head + group('ok', '{a: 1}'),
      head + group('[1]', '[a, b]'),
      head + group('ok', '[1, 2]'),
      head + group(`"${'n'.repeat(100_000)}"`, '[a, b]'),
      head + Array.from({ length: 1001 }, (_, i) => group(`g${i}`, '[a, b]')).join(''),
      'detector: ewma\nstreams: []\nmultivariate: {__proto__: {name: x}}',
      `detector: ewma\nstreams: []\nmultivariate: ${'['.repeat(2000)}${']'.repeat(2000)}`,
    ];
    for (const text of hostile) {
      const r = readAnomalyPlan(text, 'a.yaml', KINDS);
      expect('problems' in r, text.slice(0, 120)).toBe(true);
      if ('problems' in r) expect(r.problems.length).toBeGreaterThan(0);
    }
    // 'constructor' is an ordinary name: a Map keys the groups, nothing reaches a prototype.
    const ok = readAnomalyPlan(head + group('constructor', '[a, b]'), 'a.yaml', KINDS);
    expect('plan' in ok && ok.plan.multivariate?.[0]?.name).toBe('constructor');
    expect(({} as Record<string, unknown>)['name']).toBeUndefined();
  });
});
