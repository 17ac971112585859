/**
 * The scenario reader: a whole scenario read into its spec, and bad scenarios reported with every
 * problem at its line, column and JSON pointer — never a throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Problem } from '../../core/errors/errors.js';
import { readScenario } from './read-scenario.js';

const GOOD = `# a comment
scenario: demo
description: A demo.
simulation:
  speed: 60
  sampleInterval: 30s
  seed: 7
assets:
  - model: dtmi:test:Car;1
    count: 3
    id: car-{index:03}
    properties: { vin: 'VIN{index:6}', year: { each: [2023, 2024] } }
    relationships:
      - { name: chargesAt, target: [hub-a, hub-b] }
    incoming:
      - { source: fleet-1, name: hasCar }
events:
  - { at: 2h, twin: car-001, fault: cellWear }
  - { at: 90, twins: [car-002, car-003], command: setCharging, payload: false }
  - { at: 1h30min, model: 'dtmi:test:Car;1', input: ambientOffset, value: -10 }
  - { at: 3h, twin: car-001, fault: cellWear, off: true, description: repaired }
  - { at: 1d, twin: car-002, input: enabled, value: true }
`;

type Where = [string, number | undefined, number | undefined, string | undefined];

/** Problems of a text, as [code, line, column, pointer]. */
function where(text: string): Where[] {
  return readScenario(text, 'x.yaml').problems.map((p) => [p.code, p.line, p.column, p.pointer]);
}

/** [code, line, column, pointer] with the column of `token` in that line of `text` (1-based). */
function at(text: string, code: string, line: number, token: string, pointer: string): Where {
  const column = (text.split('\n')[line - 1] ?? '').indexOf(token) + 1;
  if (column === 0) throw new Error(`no '${token}' on line ${line}`);
  return [code, line, column, pointer];
}

describe('readScenario', () => {
  it('reads settings, asset groups and events (times in seconds, events by time)', () => {
    const { scenario, problems } = readScenario(GOOD, 'pilots/demo/scenario.yaml');
    expect(problems).toEqual([]);
    expect(scenario?.scenario).toBe('demo');
    expect(scenario?.source).toBe('pilots/demo/scenario.yaml');
    expect(scenario?.simulation).toEqual({ speed: 60, sampleInterval: 30, seed: 7 });
    expect(scenario?.assets).toHaveLength(1);
    const g = scenario!.assets[0]!;
    expect(g).toMatchObject({
      model: 'dtmi:test:Car;1',
      count: 3,
      id: 'car-{index:03}',
      properties: { vin: 'VIN{index:6}', year: { each: [2023, 2024] } },
      relationships: [{ name: 'chargesAt', targets: ['hub-a', 'hub-b'], properties: {} }],
      incoming: [{ name: 'hasCar', sources: ['fleet-1'], properties: {} }],
    });
    expect(g.loc).toMatchObject({ line: 9, pointer: '/assets/0' });
    expect(scenario?.fleet).toBe(g); // the older single-group view
    expect(scenario?.events.map((e) => [e.at, e.twin, e.action])).toEqual([
      [90, 'car-002', { kind: 'command', command: 'setCharging', payload: false }],
      [90, 'car-003', { kind: 'command', command: 'setCharging', payload: false }],
      [7200, 'car-001', { kind: 'fault', fault: 'cellWear', on: true }],
      [10800, 'car-001', { kind: 'fault', fault: 'cellWear', on: false }],
      [86400, 'car-002', { kind: 'input', input: 'enabled', value: 1 }],
    ]);
    const twoTwins = scenario!.events.slice(0, 2);
    expect(twoTwins.map((e) => e.targetLoc.pointer)).toEqual(['/events/1/twins/0', '/events/1/twins/1']);
    expect(twoTwins[0]!.actionLoc).toMatchObject({ line: 19, pointer: '/events/1/command' });
    expect(scenario?.events[3]?.description).toBe('repaired');
    expect(scenario?.modelEvents).toEqual([
      expect.objectContaining({
        at: 5400,
        model: 'dtmi:test:Car;1',
        action: { kind: 'input', input: 'ambientOffset', value: -10 },
      }),
    ]);
  });

  it('reports unknown keys at their key, in every section', () => {
    const text = `scenario: s
speeed: 3
simulation: { speed: 2, rate: 1 }
assets:
  - { model: 'dtmi:a:B;1', count: 1, id: 'b-{index}', colour: red }
events:
  - { at: 1, twin: a, fault: f, when: later }
`;
    const u = 'sim.scenario.unknownField';
    expect(where(text)).toEqual([
      at(text, u, 2, 'speeed', '/speeed'),
      at(text, u, 3, 'rate', '/simulation/rate'),
      at(text, u, 5, 'colour', '/assets/0/colour'),
      at(text, u, 7, 'when', '/events/0/when'),
    ]);
    expect(readScenario(text).problems[0]?.message).toMatch(/expected one of: scenario, description/);
  });

  it('refuses negative times, unknown units and non-durations, each with its own reason', () => {
    const text = `scenario: s
simulation: { sampleInterval: 0 }
events:
  - { at: -5, twin: a, fault: f }
  - { at: '-2h', twin: a, fault: f }
  - { at: 3 fortnights, twin: a, fault: f }
  - { at: soon, twin: a, fault: f }
  - { at: 2h, twin: a, fault: f }
`;
    const { scenario, problems } = readScenario(text, 'x.yaml');
    expect(problems.map((p) => [p.code, p.line, p.column, p.pointer])).toEqual([
      at(text, 'sim.scenario.invalidValue', 2, '0', '/simulation/sampleInterval'),
      at(text, 'sim.scenario.negativeTime', 4, '-5', '/events/0/at'),
      at(text, 'sim.scenario.negativeTime', 5, "'-2h'", '/events/1/at'),
      at(text, 'sim.scenario.timeUnit', 6, '3 fortnights', '/events/2/at'),
      at(text, 'sim.scenario.time', 7, 'soon', '/events/3/at'),
    ]);
    expect(problems[3]?.message).toMatch(/unknown time unit 'fortnights'.*use ms, s, min, h, d or w/);
    expect(problems.every((p) => p.source === 'x.yaml' && p.severity === 'error')).toBe(true);
    // the good event is kept; the bad ones are not
    expect(scenario?.events.map((e) => e.at)).toEqual([7200]);
  });

  it('needs a twin (or twins, or a model) and a command (or fault, or input) on every event', () => {
    const text = `scenario: s
events:
  - { at: 1, command: go }
  - { at: 1, twin: a }
  - { at: 1, twin: a, model: 'dtmi:a:B;1', fault: f }
  - { at: 1, twin: a, fault: f, command: go }
  - { twin: a, fault: f }
  - { at: 1, twin: a, fault: f, payload: 3 }
  - { at: 1, twin: a, input: speed }
  - { at: 1, twins: a, fault: f }
  - { at: 1, twin: a, fault: f, off: maybe }
  - 12
`;
    expect(where(text)).toEqual([
      at(text, 'sim.scenario.eventTarget', 3, '{', '/events/0'),
      at(text, 'sim.scenario.eventAction', 4, '{', '/events/1'),
      at(text, 'sim.scenario.eventTarget', 5, 'model', '/events/2/model'),
      at(text, 'sim.scenario.eventAction', 6, 'command', '/events/3/command'),
      at(text, 'sim.scenario.missing', 7, '{', '/events/4'),
      at(text, 'sim.scenario.unknownField', 8, 'payload', '/events/5/payload'),
      at(text, 'sim.scenario.missing', 9, '{', '/events/6'),
      at(text, 'sim.scenario.type', 10, 'a,', '/events/7/twins'),
      at(text, 'sim.scenario.type', 11, 'maybe', '/events/8/off'),
      at(text, 'sim.scenario.type', 12, '12', '/events/9'),
    ]);
    const problems = readScenario(text).problems;
    expect(problems[0]?.message).toBe("An event needs exactly one of 'twin', 'twins', 'model'; it has none.");
    expect(problems[3]?.message).toMatch(
      /exactly one of 'command', 'fault', 'input'; this one has 'fault' and 'command'/,
    );
    expect(problems[4]?.message).toBe("An event needs 'at'.");
    expect(problems[5]?.message).toBe("'payload' goes with 'command', not 'fault'.");
  });

  it('checks asset groups: model, count, id pattern, property values, relationships', () => {
    const text = `scenario: s
assets:
  - { model: Car, count: 2.5, id: car }
  - { model: 'dtmi:a:Car', count: -1, id: 'car-{idx}-{index}' }
  - model: dtmi:a:Car;1
    count: 2
    id: c-{index}
    properties: { $dtId: x, colour: { each: [] } }
    relationships: [{ name: parkedAt }, { target: hub }]
    incoming: { source: f, name: has }
  - { model: 'dtmi:a:Car;1', count: 1, id: 'c-{index}' }
`;
    expect(where(text)).toEqual([
      at(text, 'sim.scenario.invalidValue', 3, 'Car', '/assets/0/model'),
      at(text, 'sim.scenario.invalidValue', 3, '2.5', '/assets/0/count'),
      at(text, 'sim.scenario.idPattern', 3, 'car }', '/assets/0/id'),
      at(text, 'sim.scenario.invalidValue', 4, "'dtmi:a:Car'", '/assets/1/model'),
      at(text, 'sim.scenario.invalidValue', 4, '-1', '/assets/1/count'),
      at(text, 'sim.scenario.placeholder', 4, "'car-{idx}", '/assets/1/id'),
      at(text, 'sim.scenario.invalidValue', 8, '$dtId', '/assets/2/properties/$dtId'),
      at(text, 'sim.scenario.type', 8, '{ each', '/assets/2/properties/colour'),
      at(text, 'sim.scenario.missing', 9, '{ name', '/assets/2/relationships/0'),
      at(text, 'sim.scenario.missing', 9, '{ target', '/assets/2/relationships/1'),
      at(text, 'sim.scenario.type', 10, '{ source', '/assets/2/incoming'),
      at(text, 'sim.scenario.duplicateId', 11, '{', '/assets/3'),
    ]);
    const problems = readScenario(text).problems;
    expect(problems[2]?.message).toMatch(/must contain \{index\}/);
    expect(problems[5]?.message).toMatch(/unknown placeholder \{idx\}/);
  });

  it('checks the simulation settings', () => {
    const text = 'scenario: s\nsimulation: { speed: 0, seed: 1.5, sampleInterval: 5 parsecs }\n';
    expect(where(text)).toEqual([
      at(text, 'sim.scenario.invalidValue', 2, '0', '/simulation/speed'),
      at(text, 'sim.scenario.timeUnit', 2, '5 parsecs', '/simulation/sampleInterval'),
      at(text, 'sim.scenario.invalidValue', 2, '1.5', '/simulation/seed'),
    ]);
  });

  it('reports YAML syntax errors, an empty document, a missing name and a wrong root', () => {
    const syntax = readScenario('scenario: s\nevents: [\n', 'x.yaml');
    expect(syntax.scenario).toBeUndefined();
    expect(syntax.problems[0]).toMatchObject({ code: 'sim.scenario.syntax', source: 'x.yaml', line: 3 });
    expect(where('')).toEqual([['sim.scenario.missing', 1, 1, '']]);
    expect(where('# nothing but a comment\n')).toEqual([['sim.scenario.missing', 1, 1, '']]);
    expect(where('- a\n- b\n')).toEqual([['sim.scenario.type', 1, 1, '']]);
    const unnamed = readScenario('description: no name\n');
    expect(unnamed.scenario).toBeUndefined();
    expect(unnamed.problems.map((p) => p.code)).toEqual(['sim.scenario.missing']);
    expect(where('scenario: s\nscenario: t\n')[0]?.[0]).toBe('sim.scenario.syntax');
  });

  it("reads the older 'fleet:' as one asset group, with a warning", () => {
    const text = 'scenario: s\nfleet: { model: "dtmi:a:Car;1", count: 2, id: "car-{n:3}" }\n';
    const { scenario, problems } = readScenario(text);
    expect(problems).toEqual([
      expect.objectContaining({ code: 'sim.scenario.deprecated', severity: 'warning', line: 2 }),
    ]);
    expect(scenario?.assets).toHaveLength(1);
    expect(scenario?.fleet?.id).toBe('car-{n:3}');
    expect(where(`${text}assets: []\n`)).toEqual([['sim.scenario.unknownField', 2, 1, '/fleet']]);
  });

  it('never throws, and locates every problem, whatever the text', () => {
    const located = (p: Problem) =>
      Number.isInteger(p.line) &&
      Number.isInteger(p.column) &&
      (p.code === 'sim.scenario.syntax' || typeof p.pointer === 'string');
    const pieces = fc.constantFrom(
      'scenario: s\n',
      'events:\n',
      '  - { at: 1h, twin: a, fault: f }\n',
      '  - { at: -1, twins: [a, b], command: c, payload: { x: 1 } }\n',
      '  - { at: 2 weeks, model: "dtmi:a:B;1", input: i, value: 1 }\n',
      'assets:\n',
      '  - { model: "dtmi:a:B;1", count: 2, id: "b{index}", properties: { p: { each: [1] } } }\n',
      'simulation: { speed: 2 }\n',
      ': :\n',
      '  - [\n',
      'unknown: 1\n',
    );
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 8 }), fc.string({ maxLength: 20 }), (parts, junk) => {
        const { problems } = readScenario(parts.join('') + junk);
        expect(problems.every(located)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
