/** Scenario files: every problem at once, each at its line and column, never a throw. */
import { describe, expect, it } from 'vitest';
import { readScenario } from './read-scenario.js';

describe('readScenario on bad input', () => {
  it('reports every problem with its line, column and pointer', () => {
    const text = [
      'scenario: demo', // 1
      'simulation:', // 2
      '  speed: -3', // 3
      '  sampleInterval: soon', // 4
      '  colour: red', // 5
      'events:', // 6
      '  - { at: 1h, twin: p1 }', // 7
      '  - { at: never, twin: p1, fault: f }', // 8
      '  - { at: 2h, twin: p1, command: c, fault: f }', // 9
    ].join('\n');
    const { problems } = readScenario(text, 'demo.yaml');
    const at = (line: number) => problems.filter((p) => p.line === line);
    expect(at(3)[0]?.message).toMatch(/speed/);
    expect(at(4)[0]?.message).toMatch(/duration/);
    expect(at(5)[0]?.message).toMatch(/Unknown field 'colour'/);
    expect(at(7)[0]?.message).toMatch(/exactly one of/);
    expect(at(8)[0]?.pointer).toBe('/events/1/at');
    expect(at(9)[0]?.message).toMatch(/exactly one of/);
    expect(problems.every((p) => p.source === 'demo.yaml' && p.column !== undefined)).toBe(true);
  });

  it('reads a valid scenario, events in time order, durations in seconds', () => {
    const { scenario, problems } = readScenario(
      'scenario: ok\nsimulation: { speed: 60, sampleInterval: 30s }\nevents:\n  - { at: 2h, twin: a, fault: f, off: true }\n  - { at: 90min, twin: b, input: speed, value: 0.5 }\n',
    );
    expect(problems).toEqual([]);
    expect(scenario?.simulation).toEqual({ speed: 60, sampleInterval: 30 });
    expect(scenario?.events.map((e) => [e.at, e.twin])).toEqual([
      [5400, 'b'],
      [7200, 'a'],
    ]);
  });

  it('says what is wrong with a document that is not YAML or not a mapping', () => {
    expect(readScenario('scenario: [', 'x.yaml').problems[0]?.line).toBeGreaterThan(0);
    expect(readScenario('- just\n- a list').problems[0]?.message).toMatch(/mapping/);
  });
});
