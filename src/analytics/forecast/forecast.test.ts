import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { forecast, forecastSteps, MAX_HORIZON } from './forecast.js';
import { forecastCrossing, normalCdf } from './forecast-crossing.js';
import { gaussian } from './seasonality.test.js';

const series = (n: number, f: (i: number) => number) => ({
  times: Array.from({ length: n }, (_, i) => i * 60_000),
  values: Array.from({ length: n }, (_, i) => f(i)),
});
const errorOf = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e instanceof TwinloopError ? [e.code, e.problems.map((p) => p.pointer)] : e;
  }
  return 'no error';
};

describe('forecast: known answers', () => {
  it('extends a pure linear trend exactly, with a trend model', () => {
    const r = forecast(
      series(120, (i) => 10 + 0.5 * i),
      { horizon: 10 },
    );
    expect(r.fitted.model).toMatch(/^ETS\(A,A/);
    expect(r.fitted.season).toBeNull();
    expect(r.step).toBe(60_000);
    r.points.forEach((p, k) => {
      expect(p.time).toBe((119 + k + 1) * 60_000);
      expect(p.value).toBeCloseTo(10 + 0.5 * (120 + k), 6);
    });
  });

  it('repeats a pure seasonal pattern, detecting its period', () => {
    const shape = (i: number) =>
      50 + 10 * Math.sin((2 * Math.PI * i) / 24) + 4 * Math.cos((2 * Math.PI * i) / 8);
    const r = forecast(series(24 * 8, shape), { horizon: 48 });
    expect(r.fitted.season).toBe(24);
    expect(r.fitted.model).toMatch(/,(A|M)\)$/);
    r.points.forEach((p, k) => expect(Math.abs(p.value - shape(24 * 8 + k))).toBeLessThan(0.05));
  });

  it('on white noise: no trend, no season, the mean, and 95 % intervals that cover ~95 % of new draws', () => {
    const g = gaussian(11);
    const r = forecast(
      series(600, () => 100 + 2 * g()),
      { horizon: 200 },
    );
    expect(r.fitted.model).toBe('ETS(A,N,N)');
    expect(r.fitted.sigma).toBeGreaterThan(1.7);
    expect(r.fitted.sigma).toBeLessThan(2.3);
    expect(r.fitted.mase).toBeLessThan(1);
    let in95 = 0;
    let in80 = 0;
    for (const p of r.points) {
      expect(p.value).toBeGreaterThan(99);
      expect(p.value).toBeLessThan(101);
      const v = 100 + 2 * g();
      if (v >= p.lower95 && v <= p.upper95) in95++;
      if (v >= p.lower80 && v <= p.upper80) in80++;
    }
    expect(in95 / 200).toBeGreaterThan(0.88);
    expect(in80 / 200).toBeGreaterThan(0.7);
    expect(in80 / 200).toBeLessThan(0.95);
  });

  it('uses multiplicative seasonality when the amplitude grows with the level', () => {
    const r = forecast(
      series(24 * 10, (i) => (20 + 0.5 * i) * (1 + 0.5 * Math.sin((2 * Math.PI * i) / 24))),
      { horizon: 24 },
    );
    expect(r.fitted.model).toMatch(/^ETS\(A,A(d)?,M\)$/);
    const truth = (i: number) => (20 + 0.5 * i) * (1 + 0.5 * Math.sin((2 * Math.PI * i) / 24));
    r.points.forEach((p, k) =>
      expect(Math.abs(p.value - truth(240 + k)) / truth(240 + k)).toBeLessThan(0.05),
    );
  });

  it('works in slices: every model fit is its own step', () => {
    const it = forecastSteps(
      series(24 * 8, (i) => Math.sin(i / 3)),
      { horizon: 3 },
    );
    let slices = 0;
    let r = it.next();
    while (!r.done) {
      slices++;
      r = it.next();
    }
    expect(slices).toBeGreaterThanOrEqual(4);
    expect(r.value.points).toHaveLength(3);
  });
});

describe('forecast: bounds and hostile input', () => {
  it('refuses a horizon out of range, a bad season and an unusable series with BadRequest', () => {
    const s = series(10, (i) => i);
    expect(errorOf(() => forecast(s, { horizon: 0 }))).toEqual(['BadRequest', ['/horizon']]);
    expect(errorOf(() => forecast(s, { horizon: MAX_HORIZON + 1 }))).toEqual(['BadRequest', ['/horizon']]);
    expect(errorOf(() => forecast(s, { horizon: 1.5 }))).toEqual(['BadRequest', ['/horizon']]);
    expect(errorOf(() => forecast(s, { horizon: 1, season: 1 }))).toEqual(['BadRequest', ['/season']]);
    expect(errorOf(() => forecast({ times: [1], values: [1] }, { horizon: 1 }))).toEqual([
      'BadRequest',
      ['/values'],
    ]);
  });

  it('answers finite forecasts for a constant, two points, NaN gaps and huge values', () => {
    const cases = [
      series(50, () => 7),
      { times: [0, 1000], values: [1, 2] },
      series(100, (i) => (i % 7 === 0 ? NaN : i)),
      series(100, (i) => (i % 2 ? 1e308 : -1e308)),
      series(100, (i) => 1e300 * i),
    ];
    for (const c of cases) {
      const r = forecast(c, { horizon: 20 });
      for (const p of r.points)
        for (const v of Object.values(p)) expect(Number.isFinite(v), JSON.stringify(r.fitted)).toBe(true);
    }
    const flat = forecast(
      series(50, () => 7),
      { horizon: 3 },
    );
    expect(flat.points.map((p) => [p.value, p.lower95, p.upper95])).toEqual([
      [7, 7, 7],
      [7, 7, 7],
      [7, 7, 7],
    ]);
  });
});

describe('forecastCrossing', () => {
  const g = gaussian(3);
  const filling = series(200, (i) => 100 + 2 * i + 0.5 * g()); // +2 per minute
  it('says when a rising level reaches the threshold, and how likely', () => {
    const c = forecastCrossing(filling, 500, 2 * 3_600_000);
    // From ~498 at minute 199, 500 is reached at minute 200 or 201.
    expect(c.time).toBeGreaterThanOrEqual(200 * 60_000);
    expect(c.time).toBeLessThanOrEqual(202 * 60_000);
    expect(c.probability).toBeGreaterThan(0.99);
  });
  it('answers no time and a small probability when the threshold is far', () => {
    const c = forecastCrossing(filling, 1e6, 30 * 60_000);
    expect(c.time).toBeUndefined();
    expect(c.probability).toBeLessThan(1e-6);
    const below = forecastCrossing(filling, 0, 30 * 60_000, { direction: 'below' });
    expect(below.time).toBeUndefined();
  });
  it('refuses a non-finite threshold', () => {
    expect(errorOf(() => forecastCrossing(filling, NaN, 60_000))).toEqual(['BadRequest', ['/threshold']]);
  });
  it('normalCdf matches known values', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1.2815515655446004)).toBeCloseTo(0.1, 6);
  });
});
