import { describe, expect, it } from 'vitest';
import { gaussian, seededRandom } from '../behaviour/index.js';
import { levenbergMarquardt } from './levenberg-marquardt.js';
import { studentTQuantile } from './dense.js';

/** y = a·exp(−k t) sampled at t = 0..10, with Gaussian noise of std sigma. */
function decayData(a: number, k: number, sigma: number, seed: number): { t: Float64Array; y: Float64Array } {
  const rnd = seededRandom(seed);
  const t = Float64Array.from({ length: 51 }, (_, i) => i * 0.2);
  const y = Float64Array.from(t, (ti) => a * Math.exp(-k * ti) + sigma * gaussian(rnd));
  return { t, y };
}

describe('levenbergMarquardt', () => {
  it('fits an exactly representable model to zero residual', () => {
    const t = [0, 1, 2, 3, 4];
    const y = t.map((ti) => 2 + 3 * ti);
    const r = levenbergMarquardt(
      (p) => Float64Array.from(t, (ti, i) => (p[0] as number) + (p[1] as number) * ti - (y[i] as number)),
      [0, 0],
    );
    expect(r.converged).toBe(true);
    expect(r.x[0]).toBeCloseTo(2, 6);
    expect(r.x[1]).toBeCloseTo(3, 6);
  });

  for (const jacobian of ['forward', 'central'] as const) {
    it(`recovers a and k of a noisy exponential decay (${jacobian} differences)`, () => {
      const { t, y } = decayData(5, 0.7, 0.05, 42);
      const res = levenbergMarquardt(
        (p) =>
          Float64Array.from(
            t,
            (ti, i) => (p[0] as number) * Math.exp(-(p[1] as number) * ti) - (y[i] as number),
          ),
        [1, 0.1],
        { jacobian },
      );
      expect(res.converged).toBe(true);
      expect(res.dof).toBe(49);
      const se = res.stdErrors as Float64Array;
      expect(se).toBeDefined();
      // Stated bounds: within 3 standard errors and 5% of the truth.
      expect(Math.abs((res.x[0] as number) - 5)).toBeLessThan(3 * (se[0] as number));
      expect(Math.abs((res.x[1] as number) - 0.7)).toBeLessThan(3 * (se[1] as number));
      expect(Math.abs((res.x[0] as number) - 5) / 5).toBeLessThan(0.05);
      expect(Math.abs((res.x[1] as number) - 0.7) / 0.7).toBeLessThan(0.05);
      // σ² estimated from the residuals is close to the true noise variance.
      expect(Math.sqrt(res.sumSquares / res.dof)).toBeGreaterThan(0.035);
      expect(Math.sqrt(res.sumSquares / res.dof)).toBeLessThan(0.065);
      // Standard errors are small but not zero.
      expect(se[0]).toBeGreaterThan(0);
      expect(se[0]).toBeLessThan(0.1);
    });
  }

  it('gives ~95% intervals that cover the truth about 95% of the time', () => {
    let covered = 0;
    const runs = 60;
    const tq = studentTQuantile(0.975, 49);
    for (let s = 0; s < runs; s++) {
      const { t, y } = decayData(5, 0.7, 0.1, 1000 + s);
      const res = levenbergMarquardt(
        (p) =>
          Float64Array.from(
            t,
            (ti, i) => (p[0] as number) * Math.exp(-(p[1] as number) * ti) - (y[i] as number),
          ),
        [4, 0.5],
      );
      const se = res.stdErrors as Float64Array;
      if (Math.abs((res.x[1] as number) - 0.7) <= tq * (se[1] as number)) covered++;
    }
    expect(covered / runs).toBeGreaterThan(0.85);
    expect(covered / runs).toBeLessThanOrEqual(1);
  });

  it('respects bounds: the fit stops on a bound and never evaluates outside', () => {
    const { t, y } = decayData(5, 0.7, 0.05, 7);
    const seen: number[][] = [];
    const res = levenbergMarquardt(
      (p) => {
        seen.push(Array.from(p));
        return Float64Array.from(
          t,
          (ti, i) => (p[0] as number) * Math.exp(-(p[1] as number) * ti) - (y[i] as number),
        );
      },
      [3, 0.3],
      { lower: [0, 0], upper: [4, 2] },
    );
    for (const [a, k] of seen) {
      expect(a).toBeLessThanOrEqual(4);
      expect(a).toBeGreaterThanOrEqual(0);
      expect(k).toBeGreaterThanOrEqual(0);
      expect(k).toBeLessThanOrEqual(2);
    }
    expect(res.x[0]).toBe(4); // the true a = 5 is out of the box
    expect(res.converged).toBe(true);
    expect(Number.isNaN(res.stdErrors?.[0])).toBe(true); // held at a bound: no standard error
    expect(res.stdErrors?.[1]).toBeGreaterThan(0);
  });

  it('rejects steps into a region where the model fails', () => {
    const t = [0, 1, 2, 3];
    const y = t.map((ti) => Math.sqrt(ti + 1));
    // sqrt of a negative is NaN: the fit must back off instead of accepting it.
    const res = levenbergMarquardt(
      (p) => Float64Array.from(t, (ti, i) => Math.sqrt(ti + (p[0] as number)) - (y[i] as number)),
      [50],
    );
    expect(res.x[0]).toBeCloseTo(1, 5);
  });

  it('reports a singular problem without a covariance', () => {
    // Only a + b is identifiable.
    const t = [0, 1, 2];
    const res = levenbergMarquardt(
      (p) => Float64Array.from(t, (ti) => (p[0] as number) + (p[1] as number) - 3 + 0 * ti),
      [0, 0],
    );
    expect((res.x[0] as number) + (res.x[1] as number)).toBeCloseTo(3, 8);
    expect(res.covariance).toBeUndefined();
    expect(res.stdErrors).toBeUndefined();
  });

  it('refuses residual vectors that change length, are empty, or are not finite at the start', () => {
    let calls = 0;
    expect(() => levenbergMarquardt(() => new Float64Array(++calls), [1])).toThrow(/same number/);
    expect(() => levenbergMarquardt(() => new Float64Array(0), [1])).toThrow(/no values/);
    expect(() => levenbergMarquardt(() => Float64Array.of(1, NaN), [1])).toThrow(
      /not finite at the starting point/,
    );
    expect(() => levenbergMarquardt((p) => p, [1], { jacobian: 'backward' as 'forward' })).toThrow(
      /jacobian/,
    );
  });

  it('stops at the evaluation budget', () => {
    const { t, y } = decayData(5, 0.7, 0.05, 3);
    const res = levenbergMarquardt(
      (p) =>
        Float64Array.from(
          t,
          (ti, i) => (p[0] as number) * Math.exp(-(p[1] as number) * ti) - (y[i] as number),
        ),
      [1, 3],
      { maxEvaluations: 6 },
    );
    expect(res.reason).toBe('maxEvaluations');
    expect(res.converged).toBe(false);
  });
});

describe('studentTQuantile', () => {
  it('matches tabulated 97.5% quantiles', () => {
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(12.706, 3);
    expect(studentTQuantile(0.975, 2)).toBeCloseTo(4.303, 3);
    expect(studentTQuantile(0.975, 5)).toBeCloseTo(2.571, 2);
    expect(studentTQuantile(0.975, 10)).toBeCloseTo(2.228, 3);
    expect(studentTQuantile(0.975, 30)).toBeCloseTo(2.042, 3);
    expect(studentTQuantile(0.975, 1e6)).toBeCloseTo(1.96, 3);
  });
});
