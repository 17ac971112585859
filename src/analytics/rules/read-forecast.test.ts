import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readRuleObject, readRuleText } from './read-rule.js';

const TANK = 'dtmi:test:Tank;1';
const doc = (condition: string) => `id: overflow
appliesTo: { model: "${TANK}" }
severity: major
condition:
  forecast: ${condition}
message: m
`;
const problemsOf = (condition: string) =>
  readRuleText(doc(condition), 'yaml').problems.map((p) => `${p.line}:${p.column} ${p.pointer} ${p.code}`);

describe('the forecast condition, read', () => {
  it('reads the fields and fills in the defaults', () => {
    const r = readRuleText(doc('{ telemetry: level, above: $highLevel, within: 2h }'), 'yaml');
    expect(r.problems).toEqual([]);
    expect(r.rule?.condition).toEqual({
      kind: 'forecast',
      telemetry: 'level',
      above: { kind: 'property', name: 'highLevel' },
      withinMs: 7_200_000,
      everyMs: 600_000, // within / 12
      clearWithinMs: 9_000_000, // 1.25 × within
    });
    const p = readRuleObject({
      id: 'dry',
      appliesTo: { twins: ['t1'] },
      severity: 'critical',
      condition: {
        forecast: {
          telemetry: 'tank/level',
          below: 0.5,
          within: '10m',
          probability: 0.8,
          every: 30,
          clearWhen: { within: '15m', probability: 0.5 },
        },
      },
      message: 'm',
    });
    expect(p.problems).toEqual([]);
    expect(p.rule?.condition).toEqual({
      kind: 'forecast',
      telemetry: 'tank/level',
      below: { kind: 'number', value: 0.5 },
      withinMs: 600_000,
      everyMs: 30_000,
      clearWithinMs: 900_000,
      probability: 0.8,
      clearProbability: 0.5,
    });
    // every defaults to a minute at least, never above within
    expect(
      readRuleText(doc('{ telemetry: level, above: 1, within: 5m }'), 'yaml').rule?.condition,
    ).toMatchObject({ everyMs: 60_000 });
    expect(
      readRuleText(doc('{ telemetry: level, above: 1, within: 1m }'), 'yaml').rule?.condition,
    ).toMatchObject({ everyMs: 60_000 });
  });

  it('reports every problem at its line, column and pointer', () => {
    const r = readRuleText(
      `id: overflow
appliesTo: { model: "${TANK}" }
severity: major
condition:
  forecast:
    telemetry: level
    above: 5
    below: 1
    within: 30s
    probability: 1.5
    every: 1h
    clearWhen: { within: 10m, probability: 0.9, colour: red }
    horizon: 2h
message: m
`,
      'yaml',
    );
    expect(r.rule).toBeUndefined();
    expect(r.problems.map((p) => `${p.line}:${p.column} ${p.pointer} ${p.code}`)).toEqual(
      expect.arrayContaining([
        '6:5 /condition/forecast rule.invalidValue', // both above and below
        '9:13 /condition/forecast/within rule.invalidValue', // under a minute
        '10:18 /condition/forecast/probability rule.invalidValue',
        '12:49 /condition/forecast/clearWhen/colour rule.unknownField',
        '13:5 /condition/forecast/horizon rule.unknownField',
      ]),
    );
    // The column of `token` inside the condition on line 5 ('  forecast: ' is 12 characters).
    const at = (condition: string, token: string, pointer: string, code = 'rule.invalidValue') =>
      `5:${13 + condition.indexOf(token)} /condition/forecast${pointer} ${code}`;
    // every above within; clearWhen.within below within
    const a = '{ telemetry: level, above: 5, within: 1h, every: 2h, clearWhen: { within: 30m } }';
    expect(problemsOf(a)).toEqual([at(a, '2h', '/every'), at(a, '30m', '/clearWhen/within')]);
    // clearWhen.probability without probability (at its key), or above probability
    const b = '{ telemetry: level, above: 5, within: 1h, clearWhen: { probability: 0.5 } }';
    expect(problemsOf(b)).toEqual([at(b, 'probability', '/clearWhen/probability')]);
    const c = '{ telemetry: level, above: 5, within: 1h, probability: 0.5, clearWhen: { probability: 0.9 } }';
    expect(problemsOf(c)).toEqual([at(c, '0.9', '/clearWhen/probability')]);
    expect(problemsOf('{ telemetry: level, above: 5 }')).toEqual(['5:13 /condition/forecast rule.missing']);
  });

  it('refuses hostile values: __proto__, huge and negative durations, NaN, infinities', () => {
    for (const [condition, pointer] of [
      ['{ telemetry: __proto__, above: 5, within: 1h }', '/condition/forecast/telemetry'],
      ['{ telemetry: constructor, above: 5, within: 1h }', '/condition/forecast/telemetry'],
      ['{ telemetry: level, above: $__proto__, within: 1h }', '/condition/forecast/above'],
      ['{ telemetry: level, above: .nan, within: 1h }', '/condition/forecast/above'],
      ['{ telemetry: level, above: .inf, within: 1h }', '/condition/forecast/above'],
      ['{ telemetry: level, above: 5, within: 1e300 }', '/condition/forecast/within'],
      ['{ telemetry: level, above: 5, within: -2h }', '/condition/forecast/within'],
      ['{ telemetry: level, above: 5, within: -7200 }', '/condition/forecast/within'],
      ['{ telemetry: level, above: 5, within: .nan }', '/condition/forecast/within'],
      ['{ telemetry: level, above: 5, within: 400d }', '/condition/forecast/within'],
      ['{ telemetry: level, above: 5, within: 1h, every: -1m }', '/condition/forecast/every'],
      ['{ telemetry: level, above: 5, within: 1h, every: 0 }', '/condition/forecast/every'],
      ['{ telemetry: level, above: 5, within: 1h, every: 0.5 }', '/condition/forecast/every'],
      ['{ telemetry: level, above: 5, within: 1h, probability: .nan }', '/condition/forecast/probability'],
      ['{ telemetry: level, above: 5, within: 1h, probability: 0 }', '/condition/forecast/probability'],
      ['{ telemetry: level, above: 5, within: 1h, probability: "0.5" }', '/condition/forecast/probability'],
      ['{ telemetry: level, above: 5, within: 1h, clearWhen: [1] }', '/condition/forecast/clearWhen'],
      [
        '{ telemetry: level, above: 5, within: 1h, clearWhen: { within: 1e308 } }',
        '/condition/forecast/clearWhen/within',
      ],
      ['{ telemetry: level, above: 5, within: 1h, __proto__: 1 }', '/condition/forecast/__proto__'],
    ] as const) {
      const r = readRuleText(doc(condition), 'yaml');
      expect(r.rule, condition).toBeUndefined();
      expect(
        r.problems.map((p) => p.pointer),
        condition,
      ).toContain(pointer);
      expect(
        r.problems.every((p) => (p.line ?? 0) > 0),
        condition,
      ).toBe(true);
    }
  });

  it('never throws on arbitrary forecast bodies', () => {
    const value = fc.oneof(fc.double(), fc.string({ maxLength: 10 }), fc.constant(null), fc.boolean());
    fc.assert(
      fc.property(
        fc.record(
          {
            telemetry: value,
            above: value,
            below: value,
            within: value,
            probability: value,
            every: value,
            clearWhen: fc.oneof(value, fc.record({ within: value, probability: value })),
          },
          { requiredKeys: [] },
        ),
        (forecast) => {
          const r = readRuleObject({
            id: 'r',
            appliesTo: { twins: ['a'] },
            severity: 'minor',
            condition: { forecast },
            message: 'm',
          });
          expect(r.rule === undefined || r.problems.length === 0).toBe(true);
          if (r.rule?.condition.kind === 'forecast') {
            const c = r.rule.condition;
            expect(c.withinMs).toBeGreaterThanOrEqual(60_000);
            expect(c.everyMs).toBeLessThanOrEqual(c.withinMs);
            expect(c.clearWithinMs).toBeGreaterThanOrEqual(c.withinMs);
            expect(c.clearWithinMs).toBeLessThanOrEqual(2 * c.withinMs);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
