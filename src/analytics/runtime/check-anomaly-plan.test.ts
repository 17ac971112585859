import { describe, expect, it } from 'vitest';
import { isValidResult, parseDtdl } from '../../core/models/dtdl/parse-dtdl.js';
import type { ModelLookup } from '../../core/models/model-types.js';
import { readAnomalyPlan, type AnomalyPlanSpec } from './anomaly-plan.js';
import { checkAnomalyPlan } from './check-anomaly-plan.js';

const ctx = 'dtmi:dtdl:context;3';
const telemetry = (name: string, schema = 'double') => ({ '@type': 'Telemetry', name, schema });
const MODELS = [
  {
    '@id': 'dtmi:x:Equipment;1',
    '@type': 'Interface',
    '@context': ctx,
    contents: [
      telemetry('vibration'),
      telemetry('running', 'boolean'),
      telemetry('status', 'string'),
      { '@type': 'Property', name: 'limit', schema: 'double' },
    ],
  },
  {
    '@id': 'dtmi:x:Pump;1',
    '@type': 'Interface',
    '@context': ctx,
    extends: 'dtmi:x:Equipment;1',
    contents: [telemetry('flow'), telemetry('temperature', 'integer')],
  },
  {
    '@id': 'dtmi:x:BigPump;1',
    '@type': 'Interface',
    '@context': ctx,
    extends: 'dtmi:x:Pump;1',
    contents: [telemetry('healthAnomalyScore')],
  },
];

function world(derived: Record<string, string[]> = {}) {
  const parsed = parseDtdl(MODELS.map((m) => ({ source: m['@id'], text: JSON.stringify(m) })));
  if (!isValidResult(parsed)) throw new Error('models do not parse');
  const models: ModelLookup = {
    getInterface: (id) => parsed.interfaces.get(id),
    isOfModel: (m, b) => m === b || (parsed.interfaces.get(m)?.ancestors.includes(b) ?? false),
  };
  return {
    models,
    modelIds: () => parsed.interfaces.keys(),
    derivedNames: (m: string) => derived[m] ?? [],
  };
}

function plan(lines: string[]): AnomalyPlanSpec {
  const r = readAnomalyPlan(lines.join('\n'), 'anomaly.yaml', ['ewma']);
  if (!('plan' in r)) throw new Error(JSON.stringify(r.problems));
  return r.plan;
}

describe('checkAnomalyPlan', () => {
  it('accepts groups of numeric telemetry of the model and its bases', () => {
    const p = plan([
      'detector: ewma',
      'streams: [{model: "dtmi:x:Pump;1", telemetry: [vibration]}]',
      'multivariate:',
      '  - {model: "dtmi:x:Pump;1", name: pump, telemetry: [vibration, flow, temperature]}',
    ]);
    expect(checkAnomalyPlan(p, 'anomaly.yaml', world())).toEqual([]);
  });

  it('reports unknown models and telemetry, non-numeric telemetry and every name clash at its place', () => {
    const p = plan([
      'detector: ewma', // 1
      'streams: [{model: "dtmi:x:Equipment;1", telemetry: [health2]}]', // 2: not a telemetry of Equipment
      'multivariate:', // 3
      '  - model: dtmi:x:Nope;1', // 4
      '    name: a', // 5
      '    telemetry: [x, y]', // 6
      '  - model: dtmi:x:Pump;1', // 7
      '    name: flow', // 8: a content of the model
      '    telemetry: [ghost, limit, running, status, vibration]', // 9
      '  - model: dtmi:x:Pump;1', // 10
      '    name: health', // 11: BigPump (extends Pump) has healthAnomalyScore
      '    telemetry: [vibration, flow]', // 12
      '  - model: dtmi:x:Pump;1', // 13
      '    name: wear', // 14: a derived value wearAnomalyScore of pumps
      '    telemetry: [vibration, flow]', // 15
      '  - model: dtmi:x:Pump;1', // 16
      '    name: health2', // 17: a univariate stream of Equipment has the same name
      '    telemetry: [vibration, flow]', // 18
    ]);
    const problems = checkAnomalyPlan(p, 'anomaly.yaml', world({ 'dtmi:x:Pump;1': ['wearAnomalyScore'] }));
    expect(problems.map((x) => `${x.code} ${x.line}:${x.column}`)).toEqual([
      'anomaly.plan.unknownTelemetry 2:53',
      'anomaly.plan.unknownModel 4:12',
      'anomaly.plan.unknownTelemetry 9:17',
      'anomaly.plan.unknownTelemetry 9:24',
      'anomaly.plan.notNumeric 9:31',
      'anomaly.plan.notNumeric 9:40',
      'anomaly.plan.nameClash 8:11',
      'anomaly.plan.nameClash 11:11',
      'anomaly.plan.nameClash 14:11',
      'anomaly.plan.nameClash 17:11',
    ]);
    expect(problems[0]?.message).toBe(
      "anomaly.yaml:2:53: 'health2' is not a telemetry of dtmi:x:Equipment;1.",
    );
    expect(problems[2]?.message).toBe("anomaly.yaml:9:17: 'ghost' is not a telemetry of dtmi:x:Pump;1.");
    expect(problems[3]?.message).toContain("'limit' is a Property");
    expect(problems[7]?.message).toContain("'healthAnomalyScore' is already a Telemetry of dtmi:x:BigPump;1");
    expect(problems[8]?.message).toContain('derived value');
    expect(problems[9]?.message).toContain("raise 'anomaly.health2'");
    expect(problems[0]?.pointer).toBe('/streams/0/telemetry/0');
    expect(
      problems.slice(1).every((x) => x.source === 'anomaly.yaml' && x.pointer?.startsWith('/multivariate/')),
    ).toBe(true);
  });

  it('checks the streams scored on their own: unknown model, unknown or non-numeric telemetry, a taken score name', () => {
    const p = plan([
      'detector: ewma', // 1
      'streams:', // 2
      '  - {model: "dtmi:x:Nope;1", telemetry: [vibration]}', // 3
      '  - {model: "dtmi:x:Pump;1", telemetry: [vibratoin, limit, running, vibration]}', // 4
      '  - {model: "dtmi:x:BigPump;1", telemetry: [health]}', // 5: BigPump has healthAnomalyScore
    ]);
    expect(checkAnomalyPlan(p, 'anomaly.yaml', world()).map((x) => `${x.code} ${x.line}`)).toEqual([
      'anomaly.plan.unknownModel 3',
      'anomaly.plan.unknownTelemetry 4',
      'anomaly.plan.unknownTelemetry 4',
      'anomaly.plan.notNumeric 4',
      'anomaly.plan.unknownTelemetry 5',
    ]);
  });
});
