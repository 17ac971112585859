import { describe, expect, it } from 'vitest';
import { isValidResult, parseDtdl } from '../../core/models/dtdl/parse-dtdl.js';
import {
  forecastNames,
  planForecastStreams,
  readForecastPlan,
  type ForecastPlanWorld,
} from './forecast-plan.js';

const TANK = 'dtmi:x:Tank;1';
const models = parseDtdl([
  {
    source: 'tank.json',
    text: JSON.stringify({
      '@context': 'dtmi:dtdl:context;3',
      '@id': TANK,
      '@type': 'Interface',
      contents: [
        { '@type': 'Telemetry', name: 'level', schema: 'double' },
        { '@type': 'Telemetry', name: 'state', schema: 'string' },
        { '@type': 'Telemetry', name: 'flow', schema: 'double' },
        { '@type': 'Telemetry', name: 'flowForecast', schema: 'double' },
        { '@type': 'Property', name: 'capacity', schema: 'double' },
      ],
    }),
  },
]);
if (!isValidResult(models)) throw new Error('test model invalid');
const world: ForecastPlanWorld = {
  getInterface: (id) => models.interfaces.get(id),
  derivedNames: () => ['inflowForecastUpper'],
};

describe('readForecastPlan', () => {
  it('reads a plan with its defaults, and answers the streams of a model', () => {
    const r = readForecastPlan(
      [
        'streams:',
        `  - model: ${TANK}`,
        '    telemetry: [level]',
        '    horizon: 2h',
        `  - model: dtmi:x:Pump;1`,
        '    telemetry: [vibration, temperature]',
        '    horizon: 30min',
        '    every: 90s',
        '    history: 1d',
        '    interval: 80',
      ].join('\n'),
      'forecast.yaml',
    );
    if (!('plan' in r)) throw new Error(JSON.stringify(r.problems));
    expect(r.plan.streams).toEqual([
      {
        model: TANK,
        telemetry: ['level'],
        horizonMs: 7_200_000,
        everyMs: 600_000,
        historyMs: 28_800_000,
        interval: 95,
      },
      {
        model: 'dtmi:x:Pump;1',
        telemetry: ['vibration', 'temperature'],
        horizonMs: 1_800_000,
        everyMs: 90_000,
        historyMs: 86_400_000,
        interval: 80,
      },
    ]);
    const isOf = (m: string, b: string) => m === b || (m === 'dtmi:x:BigTank;1' && b === TANK);
    expect(planForecastStreams(r.plan, 'dtmi:x:BigTank;1', isOf).map((s) => s.telemetry)).toEqual(['level']);
    expect(planForecastStreams(r.plan, 'dtmi:x:Valve;1', isOf)).toEqual([]);
    expect(forecastNames('level')).toEqual(['levelForecast', 'levelForecastLower', 'levelForecastUpper']);
    // Checked against the model too.
    expect(
      'plan' in
        readForecastPlan(`streams: [{ model: "${TANK}", telemetry: [level], horizon: 1h }]`, 'f', world),
    ).toBe(true);
  });

  it('reports every problem at its line and column', () => {
    const r = readForecastPlan(
      [
        'streams:', // 1
        '  - model: not-a-dtmi', // 2
        '    telemetry: [ok, "bad name", __proto__x]', // 3
        '    horizon: 10s', // 4
        '    extra: 1', // 5
        `  - model: ${TANK}`, // 6
        '    telemetry: []', // 7
        '    horizon: -1h', // 8
        `  - model: ${TANK}`, // 9
        '    telemetry: [level]', // 10
        '    horizon: 1h', // 11
        '    every: 2h', // 12
        '    history: 30min', // 13
        '    interval: 90', // 14
        `  - { model: "${TANK}" }`, // 15
        'colour: red', // 16
      ].join('\n'),
      'forecast.yaml',
    );
    if (!('problems' in r)) throw new Error('expected problems');
    const where = r.problems.map((p) => `${p.message.split(': ')[0]} ${p.code}`);
    expect(where).toEqual(
      expect.arrayContaining([
        'forecast.yaml:2:12 forecast.plan.model',
        'forecast.yaml:3:21 forecast.plan.telemetry', // "bad name"
        'forecast.yaml:3:33 forecast.plan.telemetry', // names start with a letter
        'forecast.yaml:4:14 forecast.plan.duration',
        'forecast.yaml:5:5 forecast.plan.member',
        'forecast.yaml:7:16 forecast.plan.telemetry',
        'forecast.yaml:8:14 forecast.plan.duration',
        'forecast.yaml:12:12 forecast.plan.every',
        'forecast.yaml:13:14 forecast.plan.history',
        'forecast.yaml:14:15 forecast.plan.interval',
        'forecast.yaml:15:5 forecast.plan.telemetry',
        'forecast.yaml:15:5 forecast.plan.horizon',
        'forecast.yaml:16:1 forecast.plan.member',
      ]),
    );
    expect(r.problems.every((p) => typeof p.pointer === 'string')).toBe(true);
  });

  it('checks the streams against the models: numeric telemetry, names that clash with nothing, no repeats', () => {
    const r = readForecastPlan(
      [
        'streams:',
        '  - model: dtmi:x:Nope;1', // 2
        '    telemetry: [level]',
        '    horizon: 1h',
        `  - model: ${TANK}`, // 5
        '    telemetry: [state, capacity, missing, flow, inflow, level, level]', // 6
        '    horizon: 1h',
      ].join('\n'),
      'forecast.yaml',
      world,
    );
    if (!('problems' in r)) throw new Error('expected problems');
    expect(r.problems.map((p) => p.message.replace(/^forecast\.yaml:/, ''))).toEqual([
      '2:12: there is no model dtmi:x:Nope;1.',
      `6:17: ${TANK} has no numeric telemetry 'state'.`,
      `6:24: ${TANK} has no numeric telemetry 'capacity'.`,
      `6:34: ${TANK} has no numeric telemetry 'missing'.`,
      `6:43: 'flowForecast' is a content of ${TANK} or derived already.`,
      `6:49: ${TANK} has no numeric telemetry 'inflow'.`,
      `6:64: level of ${TANK} is forecast by an earlier entry.`,
    ]);
  });

  it('refuses hostile plans without throwing: aliases, deep nesting, huge numbers, __proto__', () => {
    for (const text of [
      '',
      '[1, 2]',
      'streams: 7',
      'streams: [1, "x", null]',
      `streams: [{ model: "${TANK}", telemetry: [level], horizon: 1e308 }]`,
      `streams: [{ model: "${TANK}", telemetry: [level], horizon: .nan }]`,
      `streams: [{ model: "${TANK}", telemetry: [level], horizon: 1h, every: 0 }]`,
      `streams: [{ model: "${TANK}", telemetry: [__proto__], horizon: 1h, __proto__: { polluted: 1 } }]`,
      'a: &a [1]\nb: *a',
      `streams: [{ model: "${TANK}", telemetry: [${'x'.repeat(52)}], horizon: 1h }]`,
      '['.repeat(5000),
    ]) {
      const r = readForecastPlan(text, 'forecast.yaml', world);
      expect('problems' in r, text.slice(0, 60)).toBe(true);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
