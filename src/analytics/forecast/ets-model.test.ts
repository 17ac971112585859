import { describe, expect, it } from 'vitest';
import { forecastEts, initialState, parameterCount, runEts } from './ets-model.js';
import { aiccOf, fitEts } from './ets-fit.js';

const ANN = { trend: 'N', season: 'N', m: 1 } as const;

describe('ETS filter and forecast (known answers)', () => {
  it('ETS(A,N,N) with α = 0.5 follows the hand-computed recursion', () => {
    const y = Float64Array.from([1, 3, 2]);
    const init = { level: 1, trend: 0, season: new Float64Array(0) };
    const r = runEts(y, ANN, { alpha: 0.5, beta: 0, gamma: 0, phi: 0 }, init);
    // errors: 1-1=0 (l=1), 3-1=2 (l=2), 2-2=0 (l=2)
    expect(r.sse).toBe(4);
    expect(r.sae).toBe(2);
    expect(r.final.level).toBe(2);
  });

  it('variance factors: 1 + (h−1)α² for A,N,N and 1 + Σ(α+βj)² for A,A,N', () => {
    const final = { level: 0, trend: 0, season: new Float64Array(0) };
    const v1 = forecastEts(ANN, { alpha: 0.3, beta: 0, gamma: 0, phi: 0 }, final, 10, 4).varianceFactor;
    expect(Array.from(v1)).toEqual([1, 1 + 0.09, 1 + 0.18, 1 + 0.27].map((x) => expect.closeTo(x, 12)));
    const v2 = forecastEts(
      { trend: 'A', season: 'N', m: 1 },
      { alpha: 0.3, beta: 0.1, gamma: 0, phi: 1 },
      final,
      10,
      3,
    ).varianceFactor;
    expect(v2[2]).toBeCloseTo(1 + 0.4 ** 2 + 0.5 ** 2, 12);
  });

  it('a seasonal forecast uses the phase of each future cell', () => {
    const final = { level: 10, trend: 1, season: Float64Array.from([1, -1, 0]) };
    const f = forecastEts(
      { trend: 'A', season: 'A', m: 3 },
      { alpha: 0.1, beta: 0.1, gamma: 0.1, phi: 1 },
      final,
      7,
      3,
    );
    // n = 7: next cells 7, 8, 9 have phases 1, 2, 0.
    expect(Array.from(f.mean)).toEqual([11 - 1, 12 + 0, 13 + 1]);
  });

  it('initial states of a noise-free seasonal series with trend are exact', () => {
    const s = [2, -1, -1];
    const y = Float64Array.from({ length: 12 }, (_, i) => 5 + 0.5 * i + (s[i % 3] as number));
    const init = initialState(y, { trend: 'A', season: 'A', m: 3 });
    expect(init.trend).toBeCloseTo(0.5, 12);
    expect(init.level).toBeCloseTo(4.5, 12);
    expect(Array.from(init.season)).toEqual(s.map((v) => expect.closeTo(v, 12)));
  });

  it('counts parameters and states, and AICc is undefined with too few points', () => {
    expect(parameterCount(ANN)).toBe(2);
    expect(parameterCount({ trend: 'Ad', season: 'A', m: 12 })).toBe(4 + 2);
    expect(aiccOf(1, 3, 2)).toBeUndefined();
    expect(aiccOf(1, 100, 2)).toBeTypeOf('number');
  });

  it('a multiplicative model on data through zero does not fit', () => {
    const y = Float64Array.from({ length: 40 }, (_, i) => Math.sin((2 * Math.PI * i) / 4));
    expect(fitEts(y, { trend: 'N', season: 'M', m: 4 })).toBeUndefined();
  });
});
