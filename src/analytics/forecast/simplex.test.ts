import { describe, expect, it } from 'vitest';
import { simplexMinimise } from './simplex.js';

describe('simplexMinimise', () => {
  it('finds the minimum of the Rosenbrock function at (1, 1)', () => {
    const f = (x: Float64Array) => 100 * (x[1]! - x[0]! ** 2) ** 2 + (1 - x[0]!) ** 2;
    const r = simplexMinimise(f, [-1.2, 1], [0.1, 0.1], { maxEvaluations: 2000, fatol: 1e-14 });
    expect(r.x[0]).toBeCloseTo(1, 3);
    expect(r.x[1]).toBeCloseTo(1, 3);
    expect(r.evaluations).toBeLessThanOrEqual(2002);
  });
  it('keeps within its budget and steps away from non-finite values', () => {
    const f = (x: Float64Array) => (x[0]! > 2 ? NaN : (x[0]! - 1) ** 2);
    const r = simplexMinimise(f, [1.9], [0.5], { maxEvaluations: 40, fatol: 1e-12 });
    expect(r.evaluations).toBeLessThanOrEqual(42);
    expect(Math.abs(r.x[0]! - 1)).toBeLessThan(0.05);
  });
});
