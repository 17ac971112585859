import { describe, expect, it } from 'vitest';
import { planStreams, readAnomalyPlan } from './anomaly-plan.js';

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
    expect(r.plan).toEqual({
      detector: 'resonance',
      threshold: 0.98,
      streams: [
        { model: 'dtmi:x:Pump;1', telemetry: ['vibration', 'temperature'] },
        { model: 'dtmi:x:Equipment;1', telemetry: ['current', 'vibration'] },
      ],
    });
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

  it('never crashes on hostile text: bad YAML, __proto__ keys, deep nesting, huge lists', () => {
    const hostile = [
      '{{{',
      '__proto__: {detector: ewma}\nconstructor: 1',
      `detector: ewma\nstreams: ${'['.repeat(500)}${']'.repeat(500)}`,
      `detector: ewma\nstreams:\n${'  - {model: "dtmi:x:P;1", telemetry: [a]}\n'.repeat(1001)}`,
      '\u0000\uffff\ud800',
      '',
    ];
    for (const text of hostile) {
      const r = readAnomalyPlan(text, 'a.yaml', KINDS);
      expect('problems' in r).toBe(true);
      if ('problems' in r) expect(r.problems.length).toBeGreaterThan(0);
    }
    expect(({} as Record<string, unknown>)['detector']).toBeUndefined();
  });
});
