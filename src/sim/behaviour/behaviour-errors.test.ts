import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import type { Problem } from '../../core/errors/errors.js';
import { compileBehaviour, validateBehaviour } from './compile-behaviour.js';
import { tankInterface } from './test-interface.js';

const iface = tankInterface();

/** 1-based line of the first line containing `marker`. */
const lineOf = (text: string, marker: string): number => {
  const i = text.split('\n').findIndex((l) => l.includes(marker));
  if (i < 0) throw new Error(`marker ${marker} not in text`);
  return i + 1;
};
const columnOf = (text: string, marker: string, needle: string): number =>
  (text.split('\n')[lineOf(text, marker) - 1] as string).indexOf(needle) + 1;

const BAD = `behaviour: bad
interface: dtmi:test:Tank;1
parameters:
  k: { value: fast }
  sin: 1
  t: 2
inputs:
  inflow: { external: true, default: 1 }
  nodefault: { external: true }
  both: { command: setValve, schedule: [[0, 1]], default: 0 }
  sched: { schedule: [[5, 0], [1, 1]] }
  rel: { relationship: nope, source: x, default: 0 }
  cmd: { command: launch, default: 0 }
  cyc: { cycle: { period: 10, duty: 2 } }
states:
  level: { initial: 1, derivative: "inflow - ghost" }
  x: { initial: "level", derivative: "-x" }
outputs:
  p: "q + 1"
  q: "p * 2"
  r: "1 +"
  inflow: "2"
  w: "nope(1) + sqrt(1, 2)"
telemetry:
  level: level
  nothere: level
  name: level
properties:
  level: level
faults:
  f1: { kind: melt, target: level, at: 1 }
  f2: { kind: bias, target: phantom, magnitude: 1, at: 1 }
  f3: { kind: bias, target: level, magnitude: 1 }
  f4: { kind: degradation, target: p, rate: 1, at: 0 }
  f5: { kind: spike, target: level, rate: 1, magnitude: 1, at: 0 }
extra: 1
`;

function expectProblem(ps: readonly Problem[], code: string, line: number, column?: number): void {
  const found = ps.find(
    (p) => p.code === code && p.line === line && (column === undefined || p.column === column),
  );
  if (!found)
    throw new Error(
      `no ${code} at ${line}:${column ?? '*'}; got\n${ps.map((p) => `${p.line}:${p.column} ${p.code} ${p.message}`).join('\n')}`,
    );
  expect(found.pointer).toMatch(/^\//);
}

describe('behaviour model errors', () => {
  it('reports every problem at once, each at its line and with a pointer', () => {
    const { problems } = validateBehaviour(BAD, iface, { source: 'bad.yaml' });
    const L = (m: string): number => lineOf(BAD, m);
    expectProblem(problems, 'sim.behaviour.type', L('value: fast'), columnOf(BAD, 'value: fast', 'fast'));
    expectProblem(problems, 'sim.behaviour.reservedName', L('sin: 1'));
    expectProblem(problems, 'sim.behaviour.reservedName', L('t: 2'));
    expectProblem(problems, 'sim.behaviour.missing', L('nodefault'));
    expectProblem(problems, 'sim.behaviour.inputKind', L('both:'));
    expectProblem(problems, 'sim.behaviour.invalidValue', L('[[5, 0]'), columnOf(BAD, '[[5, 0]', '[1, 1]'));
    expectProblem(problems, 'sim.behaviour.invalidValue', L('duty: 2'), columnOf(BAD, 'duty: 2', '2 }'));
    expectProblem(problems, 'sim.behaviour.unknownContent', L('relationship: nope'));
    expectProblem(problems, 'sim.behaviour.unknownContent', L('launch'));
    expectProblem(problems, 'sim.behaviour.unknownVariable', L('ghost'), columnOf(BAD, 'ghost', 'ghost'));
    expectProblem(
      problems,
      'sim.behaviour.unknownVariable',
      L('initial: "level"'),
      columnOf(BAD, 'initial: "level"', 'level"'),
    );
    expectProblem(problems, 'sim.behaviour.cycle', L('p: "q + 1"'));
    expectProblem(problems, 'sim.expr.syntax', L('r: "1 +"'), columnOf(BAD, 'r: "1 +"', '+') + 1);
    expectProblem(problems, 'sim.behaviour.duplicateName', L('inflow: "2"'));
    expectProblem(problems, 'sim.expr.unknownFunction', L('nope(1)'), columnOf(BAD, 'nope(1)', 'nope'));
    expectProblem(problems, 'sim.expr.arity', L('nope(1)'), columnOf(BAD, 'nope(1)', 'sqrt'));
    expectProblem(problems, 'sim.behaviour.unknownContent', L('nothere'));
    expectProblem(problems, 'sim.behaviour.schemaNotNumeric', L('name: level'));
    expectProblem(
      problems,
      'sim.behaviour.wrongContentKind',
      lineOf(BAD.slice(BAD.indexOf('properties:')), 'level') + L('properties:') - 1,
    );
    expectProblem(problems, 'sim.behaviour.faultKind', L('melt'), columnOf(BAD, 'melt', 'melt'));
    expectProblem(problems, 'sim.behaviour.unknownTarget', L('phantom'));
    expectProblem(problems, 'sim.behaviour.faultActivation', L('f3:'));
    expectProblem(problems, 'sim.behaviour.unknownTarget', L('f4:'));
    expectProblem(problems, 'sim.behaviour.unknownField', L('f5:'), columnOf(BAD, 'f5:', 'rate'));
    expectProblem(problems, 'sim.behaviour.unknownField', L('extra: 1'));
    expect(problems.every((p) => p.source === 'bad.yaml')).toBe(true);
    // sorted by position
    const lines = problems.map((p) => p.line ?? 0);
    expect(lines).toEqual([...lines].sort((a, b) => a - b));
  });

  it('compileBehaviour throws one ValidationFailed error carrying all the problems', () => {
    let err: unknown;
    try {
      compileBehaviour(BAD, iface);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TwinloopError);
    expect((err as TwinloopError).code).toBe('ValidationFailed');
    expect((err as TwinloopError).problems.length).toBeGreaterThanOrEqual(24);
    expect((err as TwinloopError).message).toContain('ghost');
  });

  it('reports YAML syntax errors with their line', () => {
    const text = 'behaviour: x\ninterface: dtmi:test:Tank;1\nstates:\n  a: { initial: 1, derivative: "1"\n';
    const { problems, spec } = validateBehaviour(text, iface);
    expect(spec).toBeUndefined();
    expect(problems[0]?.code).toBe('sim.behaviour.syntax');
    expect(problems[0]?.line).toBeGreaterThanOrEqual(4);
    const dup = validateBehaviour(
      'behaviour: x\nbehaviour: y\ninterface: dtmi:test:Tank;1\n',
      iface,
    ).problems;
    expect(dup).toMatchObject([{ code: 'sim.behaviour.syntax', line: 2 }]);
    expect(
      validateBehaviour('a: &x 1\nb: *x\n', iface).problems.some((p) => p.code === 'sim.behaviour.syntax'),
    ).toBe(true);
  });

  it('reports an empty document, a non-mapping and missing required fields', () => {
    expect(validateBehaviour('', iface).problems).toMatchObject([{ code: 'sim.behaviour.missing', line: 1 }]);
    expect(validateBehaviour('- 1\n', iface).problems).toMatchObject([
      { code: 'sim.behaviour.type', line: 1 },
    ]);
    const codes = validateBehaviour('parameters: {}\n', iface).problems.map((p) => p.code);
    expect(codes).toEqual(['sim.behaviour.missing', 'sim.behaviour.missing']);
  });

  it('points at the right line inside block-scalar and JSON documents', () => {
    const yaml = [
      'behaviour: b',
      'interface: dtmi:test:Tank;1',
      'states:',
      '  a:',
      '    initial: 0',
      '    derivative: |',
      '      1 +',
      '        2 * zz',
    ].join('\n');
    expect(validateBehaviour(yaml, iface).problems).toMatchObject([
      { code: 'sim.behaviour.unknownVariable', line: 8, column: 13, pointer: '/states/a/derivative' },
    ]);
    const json = `{
  "behaviour": "b",
  "interface": "dtmi:test:Tank;1",
  "outputs": { "o": "1 + qq" }
}`;
    expect(validateBehaviour(json, iface).problems).toMatchObject([
      { code: 'sim.behaviour.unknownVariable', line: 4, column: 26, pointer: '/outputs/o' },
    ]);
  });

  it('reports an interface mismatch and warns about unknown units and unit mismatches', () => {
    const text = `behaviour: b
interface: dtmi:test:Other;1
parameters:
  p: { value: 1, unit: furlongPerFortnight }
outputs:
  o: { expr: "p", unit: metre }
properties:
  outflowReported: o
`;
    const { problems } = validateBehaviour(text, iface);
    expectProblem(problems, 'sim.behaviour.interfaceMismatch', 2, 12);
    const unit = problems.find((p) => p.code === 'sim.behaviour.unknownUnit');
    expect(unit).toMatchObject({ line: 4, severity: 'warning' });
    // A model with only warnings compiles, and keeps them.
    const ok = compileBehaviour(text.replace('Other', 'Tank'), iface);
    expect(ok.warnings.map((w) => w.code)).toEqual(['sim.behaviour.unknownUnit']);
  });

  it('reports invalid names and unit mismatches of mapped values', () => {
    const text = `behaviour: b
interface: dtmi:test:Tank;1
parameters:
  bad-name: 1
  h: { value: 1, unit: metre }
telemetry:
  level: h
`;
    const iface2 = { ...iface, contents: new Map(iface.contents) };
    const level = iface.contents.get('level');
    if (level?.kind !== 'Telemetry') throw new Error('test interface lacks level');
    iface2.contents.set('level', { ...level, unit: 'centimetre' });
    const { problems } = validateBehaviour(text, iface2);
    expectProblem(problems, 'sim.behaviour.invalidName', 4, 3);
    expect(problems.find((p) => p.code === 'sim.behaviour.unitMismatch')).toMatchObject({
      line: 7,
      severity: 'warning',
    });
  });

  it('refuses names that could reach JavaScript internals', () => {
    const text = `behaviour: b
interface: dtmi:test:Tank;1
parameters:
  constructor: 1
  __proto__: 2
outputs:
  o: "constructor + this"
`;
    const codes = validateBehaviour(text, iface).problems.map((p) => p.code);
    expect(codes.filter((c) => c === 'sim.behaviour.reservedName')).toHaveLength(2);
    expect(codes.filter((c) => c === 'sim.expr.forbiddenName')).toHaveLength(2);
  });
});
