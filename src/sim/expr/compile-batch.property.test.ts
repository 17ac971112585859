/**
 * Batch evaluation (structure of arrays) gives, for every asset, exactly what the scalar closure
 * compiler gives for that asset alone: random expressions (fast-check), random values, some
 * variables varying across assets and some uniform.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbExpr } from './expr-test-fixture.js';
import { compileBatch } from './compile-batch.js';
import { compileChecked } from './compile-expr.js';

const N = 5;
const VARS = ['u1', 'u2', 'c1', 'c2', 'c3'] as const; // u*: uniform, c*: a column per asset
const slots = new Map<string, number>(VARS.map((v, i) => [v, i]));
const pos = { line: 1, column: 1, offset: 0 };
const arbNode = arbExpr({
  names: [...VARS, 'pi'],
  numbers: fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 0.5), fc.double({ min: -1e3, max: 1e3, noNaN: true })),
  maxArgs: 3,
});

const value = fc.oneof(
  fc.double({ min: -100, max: 100, noNaN: true }),
  fc.constantFrom(0, 1, 2, -1, 0.5, NaN, Infinity),
);
const same = (a: number, b: number): boolean => Object.is(a, b) || (a === 0 && b === 0);

describe('batch evaluation (properties)', () => {
  it('equals the scalar evaluator asset by asset', () => {
    fc.assert(
      fc.property(
        arbNode,
        fc.array(value, { minLength: 2, maxLength: 2 }),
        fc.array(fc.array(value, { minLength: N, maxLength: N }), { minLength: 3, maxLength: 3 }),
        (node, uni, cols) => {
          const columns = cols.map((c) => Float64Array.from(c));
          const uniform = Float64Array.from([...uni, 0, 0, 0]);
          const batch = compileBatch(node, {
            slots,
            n: N,
            column: (s) => (s >= 2 ? columns[s - 2] : undefined),
          });
          const scalar = compileChecked(node, slots);
          for (let i = 0; i < N; i++) {
            const frame = Float64Array.from([uni[0]!, uni[1]!, cols[0]![i]!, cols[1]![i]!, cols[2]![i]!]);
            const want = scalar(frame);
            const got = batch.uniform ? batch.ev(uniform) : batch.run(uniform)[i]!;
            if (!same(got, want)) return false;
          }
          return true;
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('keeps uniform subtrees scalar and varying ones in columns', () => {
    const u = compileBatch(
      {
        kind: 'binary',
        op: '*',
        left: { kind: 'name', name: 'u1', pos },
        right: { kind: 'number', value: 2, pos },
        pos,
      },
      { slots, n: N, column: (s) => (s >= 2 ? new Float64Array(N) : undefined) },
    );
    expect(u.uniform).toBe(true);
    const col = Float64Array.of(1, 2, 3, 4, 5);
    const c = compileBatch(
      {
        kind: 'binary',
        op: '^',
        left: { kind: 'name', name: 'c1', pos },
        right: { kind: 'number', value: 3, pos },
        pos,
      },
      { slots, n: N, column: (s) => (s === 2 ? col : s > 2 ? new Float64Array(N) : undefined) },
    );
    expect(c.uniform).toBe(false);
    if (!c.uniform) expect([...c.run(new Float64Array(5))]).toEqual([1, 8, 27, 64, 125]);
  });
});
