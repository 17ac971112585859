import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { nelderMead } from './nelder-mead.js';

const rosenbrock = (x: Float64Array): number =>
  100 * ((x[1] as number) - (x[0] as number) ** 2) ** 2 + (1 - (x[0] as number)) ** 2;

describe('nelderMead', () => {
  it('minimises the Rosenbrock function from (-1.2, 1)', () => {
    const r = nelderMead(rosenbrock, [-1.2, 1], { maxIterations: 2000, maxEvaluations: 4000 });
    expect(r.converged).toBe(true);
    expect(r.reason).toBe('tolerance');
    expect(r.x[0]).toBeCloseTo(1, 4);
    expect(r.x[1]).toBeCloseTo(1, 4);
    expect(r.fun).toBeLessThan(1e-8);
    expect(r.evaluations).toBeGreaterThan(r.iterations);
  });

  it('minimises a 4-D quadratic with different scales', () => {
    const c = [3, -2, 0.5, 100];
    const s = [1, 10, 0.1, 0.01];
    const f = (x: Float64Array): number =>
      c.reduce((acc, ci, i) => acc + (s[i] as number) * ((x[i] as number) - ci) ** 2, 0);
    const r = nelderMead(f, [0, 0, 0, 90], { maxIterations: 5000, maxEvaluations: 10000, xatol: 1e-6 });
    expect(r.converged).toBe(true);
    c.forEach((ci, i) => expect(Math.abs((r.x[i] as number) - ci)).toBeLessThan(1e-4));
  });

  it('keeps every evaluated point inside the bounds and finds a minimum on a bound', () => {
    const seen: number[][] = [];
    // Unconstrained minimum at (-1, 5); the box [0, 2] × [0, 3] puts it at (0, 3).
    const f = (x: Float64Array): number => {
      seen.push(Array.from(x));
      return ((x[0] as number) + 1) ** 2 + ((x[1] as number) - 5) ** 2;
    };
    const r = nelderMead(f, [1, 1], {
      lower: [0, 0],
      upper: [2, 3],
      maxIterations: 2000,
      maxEvaluations: 4000,
    });
    for (const [a, b] of seen) {
      expect(a).toBeGreaterThanOrEqual(0);
      expect(a).toBeLessThanOrEqual(2);
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThanOrEqual(3);
    }
    expect(r.x[0]).toBeCloseTo(0, 3);
    expect(r.x[1]).toBeCloseTo(3, 3);
  });

  it('handles one-sided bounds', () => {
    const r = nelderMead((x) => ((x[0] as number) - 2) ** 2 + ((x[1] as number) + 4) ** 2, [5, -3], {
      lower: [3, -Infinity],
      upper: [Infinity, -2],
      maxIterations: 2000,
      maxEvaluations: 4000,
    });
    expect(r.x[0]).toBeCloseTo(3, 3);
    expect(r.x[1]).toBeCloseTo(-4, 3);
  });

  it('stops at the iteration budget and says so', () => {
    const r = nelderMead(rosenbrock, [-1.2, 1], { maxIterations: 10 });
    expect(r.converged).toBe(false);
    expect(r.reason).toBe('maxIterations');
    expect(r.iterations).toBe(10);
  });

  it('stops at the evaluation budget', () => {
    const r = nelderMead(rosenbrock, [-1.2, 1], { maxEvaluations: 25 });
    expect(r.reason).toBe('maxEvaluations');
    expect(r.evaluations).toBeGreaterThanOrEqual(25);
    expect(r.evaluations).toBeLessThan(25 + 4);
  });

  it('treats non-finite values as +Infinity but refuses a non-finite start', () => {
    const f = (x: Float64Array): number => ((x[0] as number) > 3 ? NaN : ((x[0] as number) - 2.5) ** 2);
    const r = nelderMead(f, [0], { maxIterations: 500 });
    expect(r.x[0]).toBeCloseTo(2.5, 4);
    expect(() => nelderMead(() => NaN, [0])).toThrow(/not finite at the starting point/);
  });

  it('rejects bad starts and bounds with clear errors', () => {
    const f = (): number => 0;
    expect(() => nelderMead(f, [])).toThrow(TwinloopError);
    expect(() => nelderMead(f, [NaN])).toThrow(/x0\[0\] is NaN/);
    expect(() => nelderMead(f, [1], { lower: [2], upper: [0] })).toThrow(/greater than upper/);
    expect(() => nelderMead(f, [5], { lower: [0], upper: [1] })).toThrow(/outside \[0, 1\]/);
    expect(() => nelderMead(f, [1, 2], { lower: [0] })).toThrow(/lower has 1 entries/);
    expect(() => nelderMead(f, [1], { xatol: -1 })).toThrow(/xatol/);
  });
});
