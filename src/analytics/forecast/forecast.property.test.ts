import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { forecast, type ForecastResult } from './forecast.js';

/** Values: ordinary, huge, tiny, NaN and ±Infinity, mixed with generated seasonal/trend shapes. */
const value = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 1e308, -1e308, 5e-324, 0) },
  { weight: 1, arbitrary: fc.double({ noNaN: false }) },
);
const shaped = fc
  .record({
    n: fc.integer({ min: 2, max: 300 }),
    level: fc.double({ min: -1e9, max: 1e9, noNaN: true }),
    slope: fc.double({ min: -100, max: 100, noNaN: true }),
    amp: fc.double({ min: 0, max: 1e3, noNaN: true }),
    period: fc.integer({ min: 2, max: 40 }),
    noise: fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 1, maxLength: 50 }),
  })
  .map(({ n, level, slope, amp, period, noise }) =>
    Array.from(
      { length: n },
      (_, i) =>
        level + slope * i + amp * Math.sin((2 * Math.PI * i) / period) + (noise[i % noise.length] as number),
    ),
  );

function checkResult(r: ForecastResult, horizon: number): void {
  expect(r.points).toHaveLength(horizon);
  for (const p of r.points) {
    for (const v of Object.values(p)) expect(Number.isFinite(v)).toBe(true);
    expect(p.lower95).toBeLessThanOrEqual(p.lower80);
    expect(p.lower80).toBeLessThanOrEqual(p.value);
    expect(p.value).toBeLessThanOrEqual(p.upper80);
    expect(p.upper80).toBeLessThanOrEqual(p.upper95);
  }
  expect(Number.isFinite(r.fitted.alpha)).toBe(true);
  // Intervals widen with the horizon: step by step for the linear models; for multiplicative
  // seasonality (widths follow the seasonal factor) one season later is at least as wide.
  const width = (k: number): number => {
    const p = r.points[k]!;
    return p.upper95 - p.lower95;
  };
  const lag = r.fitted.model.endsWith(',M)') ? r.fitted.season! : 1;
  for (let k = 0; k + lag < horizon; k++) {
    const a = width(k);
    const b = width(k + lag);
    // Widths are differences of bounds: they carry the rounding of the values (ulps of |value|).
    const slack = 1e-12 * (Math.abs(r.points[k]!.value) + Math.abs(r.points[k + lag]!.value)) + 1e-300;
    if (a < Number.MAX_VALUE) expect(b).toBeGreaterThanOrEqual(a * (1 - 1e-9) - slack);
  }
}

describe('forecast properties (fast-check)', () => {
  it('any series: BadRequest or finite, ordered intervals that widen with the horizon', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.array(value, { minLength: 0, maxLength: 120 }), shaped),
        fc.integer({ min: 1, max: 60 }),
        (values, horizon) => {
          const times = values.map((_, i) => i * 1000);
          let r: ForecastResult;
          try {
            r = forecast({ times, values }, { horizon });
          } catch (e) {
            expect(e).toBeInstanceOf(TwinloopError);
            expect((e as TwinloopError).code).toBe('BadRequest');
            return;
          }
          checkResult(r, horizon);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('hostile times (unsorted, duplicated, non-finite) never crash', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constantFrom(NaN, Infinity)), value),
          {
            maxLength: 80,
          },
        ),
        (rows) => {
          try {
            const r = forecast(
              { times: rows.map((x) => x[0]), values: rows.map((x) => x[1]) },
              { horizon: 5 },
            );
            checkResult(r, 5);
          } catch (e) {
            expect((e as TwinloopError).code).toBe('BadRequest');
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
