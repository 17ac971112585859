/** Property-based tests: validation of behaviour models never throws, whatever the text. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateBehaviour } from './compile-behaviour.js';
import { tankInterface } from './test-interface.js';

const iface = tankInterface();

const MODEL = `behaviour: tank
interface: dtmi:test:Tank;1
parameters: { k: { value: 0.5 }, a: 2 }
inputs:
  inflow: { external: true, default: 3 }
  valve: { command: setValve, default: 1 }
  sched: { schedule: [[0, 0], [10, 10]] }
states:
  level: { initial: "a * 2", derivative: "inflow - k*level*valve" }
outputs:
  outflow: "k * level * valve"
telemetry:
  level: { from: level, noise: { std: 0.1 } }
faults:
  f: { kind: bias, target: outflow, magnitude: 1, at: 100 }
`;

describe('behaviour validation (properties)', () => {
  it('the base model is valid', () => {
    expect(validateBehaviour(MODEL, iface).problems).toEqual([]);
  });

  it('never throws on arbitrary text, and every problem has a line', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        for (const p of validateBehaviour(text, iface).problems) expect(p.line).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on mutations of a valid model, and reports errors with a line when invalid', () => {
    const mutation = fc.tuple(
      fc.nat({ max: MODEL.length - 1 }),
      fc.nat({ max: 8 }),
      fc.constantFrom('', ' ', '{', '}', '[', ']', ':', ',', '"', '-', 'x', '1e9', '\n', 'constructor', '?'),
    );
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (ms) => {
        let text = MODEL;
        for (const [at, del, ins] of ms) text = text.slice(0, at) + ins + text.slice(at + del);
        const { problems } = validateBehaviour(text, iface);
        for (const p of problems) {
          expect(typeof p.code).toBe('string');
          expect(p.line).toBeGreaterThanOrEqual(1);
          expect(p.column).toBeGreaterThanOrEqual(1);
        }
      }),
      { numRuns: 400 },
    );
  });
});
