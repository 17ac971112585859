import { describe, expect, it } from 'vitest';
import { readRuleObject, readRuleText } from './read-rule.js';
import { PUMP } from './rule-test-kit.js';

const good = `
id: vib
description: Vibration above the pump's own limit for five minutes
appliesTo: { model: "${PUMP}" }
severity: major
for: 5m
condition:
  threshold: { telemetry: vibration, above: $vibrationLimit, clearBelow: 6.5 }
message: "vibration {value} above {limit}"
`;

describe('readRuleText', () => {
  it('reads a valid YAML rule and its plain document', () => {
    const r = readRuleText(good, 'yaml');
    expect(r.problems).toEqual([]);
    expect(r.rule).toMatchObject({
      id: 'vib',
      severity: 'major',
      forMs: 300_000,
      enabled: true,
      condition: {
        kind: 'threshold',
        telemetry: 'vibration',
        above: { kind: 'property', name: 'vibrationLimit' },
        clearBelow: { kind: 'number', value: 6.5 },
      },
    });
    expect(r.document).toMatchObject({ id: 'vib', for: '5m' });
    // The same rule as JSON reads the same.
    const j = readRuleText(JSON.stringify(r.document), 'json');
    expect(j.rule).toEqual(r.rule);
  });

  it("refuses ids of the anomaly detectors' alarms (anomaly.*), at the id", () => {
    const r = readRuleText(good.replace(/^id: vib$/m, 'id: anomaly.vibration'), 'yaml');
    expect(r.rule).toBeUndefined();
    expect(r.problems).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/reserved for the anomaly detectors/),
        line: 2,
      }), // the template starts with a newline
    ]);
  });

  it('reports every problem at once, each at its line and column and pointer', () => {
    const r = readRuleText(
      `id: "bad id!"
appliesTo: { model: "${PUMP}", color: red }
severity: catastrophic
for: forever
condition:
  threshold: { telemetry: vibration, above: 3, below: 1 }
message: ""
`,
      'yaml',
      { source: 'rules/x.yaml' },
    );
    expect(r.rule).toBeUndefined();
    const at = r.problems.map((p) => `${p.line}:${p.column} ${p.pointer} ${p.code}`);
    expect(at).toEqual(
      expect.arrayContaining([
        '1:5 /id rule.invalidValue',
        '2:41 /appliesTo/color rule.unknownField',
        '3:11 /severity rule.invalidValue',
        '4:6 /for rule.invalidValue',
        '6:14 /condition/threshold rule.invalidValue',
        '7:10 /message rule.type',
      ]),
    );
    expect(r.problems.every((p) => p.source === 'rules/x.yaml')).toBe(true);
  });

  it('places expression problems on the document line and column', () => {
    const r = readRuleText(
      `id: e
appliesTo: { twins: [a] }
severity: minor
condition:
  expression: "temperature > 3 +* 2"
message: m
`,
      'yaml',
    );
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ line: 5, pointer: '/condition/expression' });
    expect(r.problems[0]!.column).toBeGreaterThan(20);
  });

  it('checks names against the model schema when one is given', () => {
    const schema = () => ({ telemetry: new Set(['vibration']), properties: new Set(['vibrationLimit']) });
    const r = readRuleText(good.replace('telemetry: vibration', 'telemetry: vibraton'), 'yaml', { schema });
    expect(r.problems.map((p) => `${p.code} ${p.pointer} ${p.line}`)).toEqual([
      'rule.unknownName /condition/threshold/telemetry 8',
    ]);
    expect(readRuleText(good, 'yaml', { schema }).problems).toEqual([]);
  });

  it('takes the id from the URL when the document has none, refuses a different one', () => {
    const body = {
      appliesTo: { twins: ['a'] },
      severity: 'minor',
      condition: { missing: { telemetry: 'x', after: 30 } },
      message: 'm',
    };
    expect(readRuleObject(body, { id: 'from-url' }).rule?.id).toBe('from-url');
    expect(readRuleObject({ ...body, id: 'other' }, { id: 'from-url' }).problems[0]).toMatchObject({
      pointer: '/id',
    });
  });
});

describe('hostile rule documents', () => {
  it('__proto__ and constructor keys are unknown fields, and pollute nothing', () => {
    const body = JSON.parse(
      '{"id":"x","__proto__":{"polluted":1},"appliesTo":{"twins":["a"],"constructor":{"prototype":{"polluted":1}}},"severity":"minor","condition":{"missing":{"telemetry":"x","after":30}},"message":"m"}',
    ) as unknown;
    const r = readRuleObject(body);
    expect(r.problems.map((p) => p.pointer)).toEqual(['/__proto__', '/appliesTo/constructor']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const y = readRuleText('id: x\n__proto__: { polluted: 1 }\n', 'yaml');
    expect(y.problems.some((p) => p.pointer === '/__proto__' && p.line === 2)).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses telemetry and properties named like JavaScript internals', () => {
    const r = readRuleObject({
      id: 'x',
      appliesTo: { twins: ['a'] },
      severity: 'minor',
      condition: { threshold: { telemetry: '__proto__', above: '$constructor' } },
      message: 'm',
    });
    expect(r.problems.map((p) => p.pointer).sort()).toEqual([
      '/condition/threshold/above',
      '/condition/threshold/telemetry',
    ]);
  });

  it('expressions cannot reach globals', () => {
    for (const expr of [
      'constructor',
      'this.constructor',
      'process.exit(1)',
      'globalThis > 1',
      'x.__proto__ > 1',
      'eval(1)',
      'Function(1)',
    ]) {
      const r = readRuleObject({
        id: 'x',
        appliesTo: { twins: ['a'] },
        severity: 'minor',
        condition: { expression: expr },
        message: 'm',
      });
      expect(r.rule, expr).toBeUndefined();
      expect(r.problems[0]!.code).toMatch(/^rule\.expr\./);
    }
  });

  it('refuses huge and deeply nested documents quickly', () => {
    const t0 = performance.now();
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(readRuleText(deep, 'yaml').problems[0]!.code).toBe('rule.tooLarge');
    expect(readRuleText('['.repeat(1000) + ']'.repeat(1000), 'json').problems[0]!.code).toBe('rule.tooDeep');
    expect(readRuleText('a:\n' + '  '.repeat(1) + 'b: '.repeat(1) + '1', 'yaml').problems[0]!.code).toBe(
      'rule.unknownField',
    );
    let nested: unknown = 1;
    for (let i = 0; i < 5000; i++) nested = { a: nested };
    expect(readRuleObject(nested).problems[0]!.code).toBe('rule.tooDeep');
    const wide = { id: 'x', description: 'd'.repeat(1_000_000) };
    expect(readRuleObject(wide).problems[0]!.code).toBe('rule.tooLarge');
    expect(readRuleObject(Array.from({ length: 200_000 }, () => 1)).problems[0]!.code).toBe('rule.tooLarge');
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('refuses YAML aliases (billion laughs), wrong types, bad UTF-8 replacement characters stay text', () => {
    const laughs = 'a: &a ["x","x"]\nb: &b [*a,*a]\nc: [*b,*b]\n';
    expect(readRuleText(laughs, 'yaml').problems.some((p) => /alias/i.test(p.message))).toBe(true);
    for (const v of [null, 3, 'text', [], true]) expect(readRuleObject(v).rule).toBeUndefined();
    const r = readRuleObject({
      id: 'x',
      appliesTo: { twins: ['a\uFFFD'] },
      severity: 'minor',
      condition: { threshold: { telemetry: 'v', above: '1' } },
      message: 'm\uFFFD',
    });
    expect(r.problems.map((p) => p.pointer)).toEqual(['/condition/threshold/above']);
  });
});
