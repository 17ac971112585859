import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readRuleObject, readRuleText } from './read-rule.js';
import { RuleEngine } from './rule-engine.js';
import { PUMP, RecordingSink, rule, TestTwins } from './rule-test-kit.js';

describe('rule reading never throws', () => {
  it('on any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        const r = readRuleObject(v);
        expect(r.rule === undefined || r.problems.length === 0).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('on any text, as YAML and as JSON', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300, unit: 'binary' }), (s) => {
        readRuleText(s, 'yaml');
        readRuleText(s, 'json');
      }),
      { numRuns: 500 },
    );
  });

  it('on rules with arbitrary expressions, limits and durations', () => {
    const expr = fc.stringMatching(/^[a-z0-9_ .()+*/<>=!&|?:^%-]{0,40}$/);
    fc.assert(
      fc.property(
        expr,
        fc.oneof(fc.double(), fc.string({ maxLength: 12 })),
        fc.oneof(fc.double(), fc.string({ maxLength: 8 })),
        (e, lim, dur) => {
          readRuleObject({
            id: 'r',
            appliesTo: { twins: ['a'] },
            severity: 'minor',
            for: dur,
            condition: { expression: e },
            message: 'm',
          });
          readRuleObject({
            id: 'r',
            appliesTo: { twins: ['a'] },
            severity: 'minor',
            condition: { threshold: { telemetry: 'v', above: lim } },
            message: 'm',
          });
        },
      ),
      { numRuns: 500 },
    );
  });
});

/** What the threshold rule should decide, written the slow obvious way. */
function reference(
  points: readonly { t: number; v: number }[],
  limit: number,
  clear: number,
  forMs: number,
): string[] {
  const out: string[] = [];
  let active = false;
  let since: number | undefined;
  for (const { t, v } of points) {
    if (!active) {
      if (v > limit) {
        since ??= t;
        if (t - since >= forMs) {
          active = true;
          out.push(`raise@${since + forMs}`);
        }
      } else since = undefined;
    } else if (v <= clear) {
      active = false;
      since = undefined;
      out.push(`clear@${t}`);
    }
  }
  return out;
}

describe('the engine agrees with a reference on random streams', () => {
  it('threshold with hysteresis and duration', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            dt: fc.integer({ min: 0, max: 120_000 }),
            v: fc.double({ min: 0, max: 10, noNaN: true }),
          }),
          { maxLength: 200 },
        ),
        fc.double({ min: 3, max: 8, noNaN: true }),
        fc.double({ min: 0, max: 3, noNaN: true }),
        fc.integer({ min: 0, max: 600 }),
        (steps, limit, gap, forS) => {
          let t = 0;
          const points = steps.map((s) => ({ t: (t += s.dt), v: s.v }));
          const sink = new RecordingSink();
          const engine = new RuleEngine({ sink, context: new TestTwins().twin('p', PUMP) });
          engine.setRules('w', [
            rule(`
id: r
appliesTo: { model: "${PUMP}" }
severity: minor
for: ${forS}
condition: { threshold: { telemetry: v, above: ${limit}, clearBelow: ${limit - gap} } }
message: m
`),
          ]);
          for (const p of points)
            engine.observe({ workspace: 'w', twinId: 'p', modelId: PUMP, time: p.t, values: { v: p.v } });
          expect(sink.trace).toEqual(reference(points, limit, limit - gap, forS * 1000));
          // Raises and clears alternate, starting with a raise.
          sink.events.forEach((e, i) => expect(e.kind).toBe(i % 2 === 0 ? 'raise' : 'clear'));
        },
      ),
      { numRuns: 300 },
    );
  });
});
