import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { gaussian, seededRandom } from '../behaviour/index.js';
import { calibrate, type CalibrationRequest } from './calibrate.js';

const t = Float64Array.from({ length: 41 }, (_, i) => i * 0.25);
const decay = (p: Float64Array): Float64Array =>
  Float64Array.from(t, (ti) => (p[0] as number) * Math.exp(-(p[1] as number) * ti));
function noisy(seed: number, sigma = 0.05): Float64Array {
  const rnd = seededRandom(seed);
  return Float64Array.from(decay(Float64Array.of(5, 0.7)), (v) => v + sigma * gaussian(rnd));
}
const params = [
  { name: 'a', initial: 1, min: 0, max: 20 },
  { name: 'k', initial: 0.1, min: 0, max: 5 },
];

describe('calibrate', () => {
  it('recovers a and k with LM and reports the fit with intervals', () => {
    const r = calibrate({ simulate: decay, observed: noisy(7), parameters: params, method: 'lm' });
    expect(r.converged).toBe(true);
    const [a, k] = r.parameters;
    expect(a?.name).toBe('a');
    expect(k?.name).toBe('k');
    for (const [p, truth] of [
      [a, 5],
      [k, 0.7],
    ] as const) {
      expect(p?.stdError).toBeGreaterThan(0);
      expect(Math.abs((p?.value as number) - truth)).toBeLessThan(3 * (p?.stdError as number));
      expect(Math.abs((p?.value as number) - truth) / truth).toBeLessThan(0.05);
      // The ~95% interval contains the truth and brackets the value.
      expect(p?.low).toBeLessThan(truth);
      expect(p?.high).toBeGreaterThan(truth);
      expect(p?.low).toBeLessThan(p?.value as number);
    }
    expect(r.r2).toBeGreaterThan(0.99);
    expect(r.rmse).toBeGreaterThan(0.03); // ≈ the noise (0.05): not overfitted...
    expect(r.rmse).toBeLessThan(0.07); // ...and not a poor fit
    expect(r.residuals).toHaveLength(t.length);
    expect(r.values).toEqual({ a: a?.value, k: k?.value });
    expect(r.evaluations).toBeGreaterThan(r.iterations);
  });

  it('recovers the same parameters with Nelder–Mead (no standard errors)', () => {
    const observed = noisy(7);
    const lm = calibrate({ simulate: decay, observed, parameters: params });
    const nm = calibrate({ simulate: decay, observed, parameters: params, method: 'nelder-mead' });
    expect(nm.method).toBe('nelder-mead');
    expect(nm.converged).toBe(true);
    expect(nm.parameters[0]?.value).toBeCloseTo(lm.parameters[0]?.value as number, 4);
    expect(nm.parameters[1]?.value).toBeCloseTo(lm.parameters[1]?.value as number, 4);
    expect(nm.parameters[0]?.stdError).toBeUndefined();
    expect(nm.rmse).toBeCloseTo(lm.rmse, 6);
  });

  it('keeps fitted values inside their bounds and clips the intervals to them', () => {
    const r = calibrate({
      simulate: decay,
      observed: noisy(8),
      parameters: [
        { name: 'a', initial: 1, min: 0, max: 4 },
        { name: 'k', initial: 0.1, min: 0, max: 5 },
      ],
    });
    expect(r.parameters[0]?.value).toBe(4);
    expect(r.parameters[0]?.stdError).toBeUndefined(); // held at its bound
    expect(r.parameters[1]?.high).toBeLessThanOrEqual(5);
    expect(r.r2).toBeLessThan(0.99); // the constrained fit is visibly worse
  });

  it('weights observations', () => {
    const observed = noisy(9);
    observed[0] = 50; // an outlier...
    const w = new Float64Array(t.length).fill(1);
    w[0] = 0; // ...that weight 0 ignores
    const r = calibrate({ simulate: decay, observed, parameters: params, weights: w });
    expect(Math.abs((r.parameters[0]?.value as number) - 5) / 5).toBeLessThan(0.05);
    const unweighted = calibrate({ simulate: decay, observed, parameters: params });
    expect(Math.abs((unweighted.parameters[0]?.value as number) - 5)).toBeGreaterThan(0.5);
  });

  it('limits the number of simulations', () => {
    const r = calibrate({ simulate: decay, observed: noisy(7), parameters: params, maxEvaluations: 5 });
    expect(r.converged).toBe(false);
    // + the start check and the final prediction, + at most one central Jacobian for the covariance.
    expect(r.evaluations).toBeLessThanOrEqual(5 + 2 + 4);
  });

  it('survives a simulation that throws away from the start', () => {
    let thrown = 0;
    const simulate = (p: Float64Array): Float64Array => {
      if ((p[1] as number) < 0) {
        thrown++;
        throw new Error('negative rate: the model is undefined there');
      }
      return decay(p);
    };
    const r = calibrate({
      simulate,
      observed: noisy(7),
      parameters: [params[0]!, { name: 'k', initial: 1.9 }],
    });
    expect(Math.abs((r.parameters[1]?.value as number) - 0.7)).toBeLessThan(0.05);
    expect(thrown).toBeGreaterThan(0); // the failure was met and stepped away from
  });

  describe('bad input', () => {
    const base: CalibrationRequest = { simulate: decay, observed: noisy(1), parameters: params };
    const fails = (patch: Partial<CalibrationRequest>, pattern: RegExp, pointer?: string): void => {
      let err: unknown;
      try {
        calibrate({ ...base, ...patch });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TwinloopError);
      expect((err as TwinloopError).code).toBe('ValidationFailed');
      expect((err as Error).message).toMatch(pattern);
      if (pointer) expect((err as TwinloopError).problems.map((p) => p.pointer)).toContain(pointer);
    };
    it('empty data', () => fails({ observed: [] }, /observed is empty/, '/observed'));
    it('NaN in the data', () => {
      const o = noisy(1);
      o[3] = NaN;
      fails({ observed: o }, /observation 3 is NaN/, '/observed/3');
    });
    it('mismatched weights', () => fails({ weights: [1, 2] }, /weights has 2 entries/, '/weights'));
    it('negative weights', () => fails({ weights: new Float64Array(t.length).fill(-1) }, /weight 0 is -1/));
    it('min > max', () =>
      fails(
        { parameters: [{ name: 'a', initial: 1, min: 3, max: 2 }] },
        /min of 'a' \(3\) is greater than its max/,
        '/parameters/0/min',
      ));
    it('initial outside bounds', () =>
      fails(
        { parameters: [{ name: 'a', initial: 9, min: 0, max: 2 }] },
        /outside \[0, 2\]/,
        '/parameters/0/initial',
      ));
    it('no parameters and duplicates', () => {
      fails({ parameters: [] }, /at least one parameter/);
      fails({ parameters: [params[0]!, params[0]!] }, /listed twice/, '/parameters/1/name');
    });
    it('NaN initial', () => fails({ parameters: [{ name: 'a', initial: NaN }] }, /not a finite number/));
    it('unknown method', () => fails({ method: 'gd' as 'lm' }, /method must be/));
    it('simulate returning the wrong length', () =>
      fails(
        { simulate: () => new Float64Array(3) },
        /simulate returned 3 values; there are 41 observations/,
      ));
    it('simulate non-finite at the start', () =>
      fails(
        { simulate: () => new Float64Array(t.length).fill(NaN) },
        /non-finite prediction at observation 0/,
      ));
    it('reports every problem at once', () => {
      let err: TwinloopError | undefined;
      try {
        calibrate({
          ...base,
          observed: [NaN, 1],
          weights: [1],
          parameters: [{ name: 'a', initial: 0, min: 1, max: 0 }],
        });
      } catch (e) {
        err = e as TwinloopError;
      }
      expect(err?.problems.length).toBe(3);
    });
  });
});
