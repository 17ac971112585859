/**
 * Scenario events against a pilot: model events resolved to the twins of that model (and of models
 * extending it), and every event checked against the twins and their compiled behaviours.
 */
import { describe, expect, it } from 'vitest';
import { isValidResult, parseDtdl } from '../../core/models/dtdl/parse-dtdl.js';
import { compileBehaviour } from '../behaviour/compile-behaviour.js';
import { readScenario } from './read-scenario.js';
import { behaviourCommands, checkScenario, resolveScenarioEvents } from './scenario-events.js';
import type { ScenarioSpec } from './scenario-types.js';

const CAR = 'dtmi:test:Car;1';
const VAN = 'dtmi:test:Van;1';
const HUB = 'dtmi:test:Hub;1';
const models = parseDtdl([
  {
    source: 'car.json',
    json: [
      {
        '@context': 'dtmi:dtdl:context;3',
        '@id': CAR,
        '@type': 'Interface',
        contents: [
          { '@type': 'Telemetry', name: 'speed', schema: 'double' },
          { '@type': 'Property', name: 'limit', schema: 'double', writable: true },
          { '@type': 'Command', name: 'setDriving', request: { name: 'on', schema: 'boolean' } },
        ],
      },
      { '@context': 'dtmi:dtdl:context;3', '@id': VAN, '@type': 'Interface', extends: CAR },
      { '@context': 'dtmi:dtdl:context;3', '@id': HUB, '@type': 'Interface' },
    ],
  },
]);
const isOfModel = (m: string, b: string): boolean =>
  m === b || (models.interfaces.get(m)?.ancestors.includes(b) ?? false);
const car = compileBehaviour(
  `behaviour: car
interface: ${CAR}
inputs:
  driving: { command: setDriving, default: 1 }
  limit: { property: limit, default: 90 }
  offset: { external: true, default: 0 }
  profile: { schedule: [[0, 10], [60, 20]] }
outputs:
  v: 'driving*(profile + offset)'
telemetry:
  speed: v
faults:
  wear: { kind: bias, target: v, magnitude: 1, command: injectWear }
  stuck: { kind: stuck, target: telemetry.speed, at: 100 }
`,
  models.interfaces.get(CAR)!,
);
const TWINS = [
  { id: 'car-1', modelId: CAR },
  { id: 'car-2', modelId: CAR },
  { id: 'van-1', modelId: VAN },
  { id: 'hub-1', modelId: HUB },
];
const world = {
  twins: TWINS,
  isOfModel,
  behaviourOf: (m: string) => (isOfModel(m, CAR) ? car : undefined),
  modelExists: (m: string) => models.interfaces.has(m),
};

function spec(text: string): ScenarioSpec {
  const { scenario, problems } = readScenario(text, 's.yaml');
  expect(problems).toEqual([]);
  return scenario!;
}

describe('resolveScenarioEvents', () => {
  it('turns model events into per-twin events (derived models too), in time order then as written', () => {
    const s = spec(`scenario: s
events:
  - { at: 1h, model: '${CAR}', input: offset, value: -5 }
  - { at: 1h, twin: car-2, fault: wear }
  - { at: 10min, twins: [van-1, car-1], command: setDriving, payload: false }
`);
    const events = resolveScenarioEvents(s, TWINS, isOfModel);
    expect(events.map((e) => [e.at, e.twin, e.action.kind])).toEqual([
      [600, 'van-1', 'command'],
      [600, 'car-1', 'command'],
      [3600, 'car-1', 'input'],
      [3600, 'car-2', 'input'],
      [3600, 'van-1', 'input'],
      [3600, 'car-2', 'fault'],
    ]);
    expect(events[2]).not.toHaveProperty('model');
    // without a model hierarchy, a model event only reaches twins of exactly that model
    expect(resolveScenarioEvents(s, TWINS).filter((e) => e.action.kind === 'input')).toHaveLength(2);
  });
});

describe('checkScenario', () => {
  it('accepts events its twins can play', () => {
    expect(behaviourCommands(car).sort()).toEqual(['injectWear', 'setDriving']);
    const s = spec(`scenario: s
events:
  - { at: 0, twin: car-1, command: setDriving, payload: false }
  - { at: 0, twin: car-1, command: injectWear }
  - { at: 0, twin: van-1, fault: stuck, off: true }
  - { at: 0, model: '${CAR}', input: offset, value: 3 }
  - { at: 0, twin: car-2, input: limit, value: 80 }
`);
    expect(checkScenario(s, world)).toEqual([]);
  });

  it('reports unknown twins, twins not simulated, unknown commands, faults and inputs at their line', () => {
    const text = `scenario: s
assets: [{ model: 'dtmi:test:Bus;1', count: 1, id: 'bus-{index}' }]
events:
  - { at: 0, twin: car-9, fault: wear }
  - { at: 0, twin: hub-1, fault: wear }
  - { at: 0, twin: car-1, command: honk }
  - { at: 0, twin: car-1, fault: flatTyre }
  - { at: 0, twin: car-1, input: gear, value: 2 }
  - { at: 0, twin: car-1, input: profile, value: 2 }
  - { at: 0, twin: car-1, command: setDriving, payload: 'yes' }
  - { at: 0, model: 'dtmi:test:Truck;1', fault: wear }
  - { at: 0, model: '${HUB}', fault: wear }
`;
    const s = readScenario(text, 's.yaml').scenario!;
    const problems = checkScenario(s, world);
    const col = (line: number, token: string) => (text.split('\n')[line - 1] ?? '').indexOf(token) + 1;
    expect(problems.map((p) => [p.code, p.line, p.column, p.pointer, p.severity])).toEqual([
      ['sim.scenario.unknownModel', 2, col(2, '{'), '/assets/0', 'error'],
      ['sim.scenario.unknownTwin', 4, col(4, 'car-9'), '/events/0/twin', 'error'],
      ['sim.scenario.notSimulated', 5, col(5, 'hub-1'), '/events/1/twin', 'error'],
      ['sim.scenario.unknownCommand', 6, col(6, 'honk'), '/events/2/command', 'error'],
      ['sim.scenario.unknownFault', 7, col(7, 'flatTyre'), '/events/3/fault', 'error'],
      ['sim.scenario.unknownInput', 8, col(8, 'gear'), '/events/4/input', 'error'],
      ['sim.scenario.inputNotSettable', 9, col(9, 'profile'), '/events/5/input', 'error'],
      ['sim.scenario.payload', 10, col(10, 'setDriving'), '/events/6/command', 'error'],
      ['sim.scenario.noTwins', 11, col(11, "'dtmi"), '/events/7/model', 'warning'],
      ['sim.scenario.notSimulated', 12, col(12, "'dtmi"), '/events/8/model', 'error'],
    ]);
    expect(problems.every((p) => p.source === 's.yaml')).toBe(true);
    expect(problems[3]?.message).toBe(
      "Behaviour 'car' handles no command 'honk' (it handles: setDriving, injectWear).",
    );
    expect(problems[6]?.message).toMatch(/comes from a schedule/);
  });

  it('models parsed cleanly (the fixture itself)', () => {
    expect(isValidResult(models)).toBe(true);
  });
});
