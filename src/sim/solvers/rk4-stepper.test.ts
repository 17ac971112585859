import { describe, expect, it } from 'vitest';
import { Rk4Stepper } from './rk4-stepper.js';
import { solveIvp } from './solve-ivp.js';
import { decay, harmonic, logistic, type TestProblem } from './test-problems.js';

function finalError(p: TestProblem, h: number, tEnd = p.tEnd): number {
  const sol = solveIvp(p.f, p.t0, p.y0, tEnd, { method: 'rk4', h });
  const ex = new Float64Array(p.y0.length);
  p.exact!(sol.tFinal, ex);
  expect(sol.tFinal).toBe(tEnd);
  let err = 0;
  for (let j = 0; j < ex.length; j++) err = Math.max(err, Math.abs(sol.yFinal[j]! - ex[j]!));
  return err;
}

describe('Rk4Stepper against analytic solutions', () => {
  it('decay on [0, 10], h = 0.01: error < 1e-11', () => {
    expect(finalError(decay, 0.01)).toBeLessThan(1e-11);
  });

  it('logistic on [0, 15], h = 0.01: error < 1e-8', () => {
    expect(finalError(logistic, 0.01)).toBeLessThan(1e-8);
  });

  it('harmonic over 100 periods, h = 0.01: error < 1e-7 and a small, dissipative energy drift', () => {
    const tEnd = 200 * Math.PI;
    expect(finalError(harmonic, 0.01, tEnd)).toBeLessThan(1e-7);
    const sol = solveIvp(harmonic.f, 0, [1, 0], tEnd, { method: 'rk4', h: 0.01 });
    const e = 0.5 * (sol.yFinal[0]! ** 2 + sol.yFinal[1]! ** 2);
    // RK4 damps the oscillator: |R(ih)|² ≈ 1 - h⁶/72 per step → ≈ 8.7e-10 relative over 62,832 steps.
    expect(e).toBeLessThan(0.5);
    expect((0.5 - e) / 0.5).toBeLessThan(2e-9);
    expect((0.5 - e) / 0.5).toBeGreaterThan(2e-10);
  });

  it('is 4th order: halving h divides the error by about 16', () => {
    for (const p of [decay, harmonic, logistic]) {
      const e1 = finalError(p, 0.1);
      const e2 = finalError(p, 0.05);
      const ratio = e1 / e2;
      expect(ratio).toBeGreaterThan(12);
      expect(ratio).toBeLessThan(20);
    }
  });

  it('takes 4 evaluations per step (FSAL-style reuse of the end derivative)', () => {
    const sol = solveIvp(decay.f, 0, [1], 10, { method: 'rk4', h: 0.01 });
    expect(sol.stats.steps).toBe(1000);
    expect(sol.stats.fevals).toBe(4 * 1000 + 1);
  });

  it('clips the last step to land exactly on tEnd and on ticks', () => {
    const s = new Rk4Stepper(decay.f, 0, [1], { h: 0.3 });
    s.advanceTo(1);
    expect(s.t).toBe(1);
    expect(s.stats.steps).toBe(4); // 0.3, 0.6, 0.9, 1.0
    expect(Math.abs(s.y[0]! - Math.exp(-0.7))).toBeLessThan(2e-5); // RK4 with h = 0.3: local errors ~ (0.21)⁵/120
  });

  it('Hermite dense output is 3rd-order accurate inside a step', () => {
    const s = new Rk4Stepper(harmonic.f, 0, [1, 0], { h: 0.01 });
    s.step(1);
    const out = new Float64Array(2);
    s.interpolate(0.005, out);
    expect(Math.abs(out[0]! - Math.cos(0.005))).toBeLessThan(1e-10);
  });

  it('reports a non-finite state with the time reached', () => {
    // y' = y², y(0) = 1 blows up at t = 1.
    const s = new Rk4Stepper((_t, y, d) => void (d[0] = y[0]! * y[0]!), 0, [1], { h: 0.01 });
    let err: unknown;
    try {
      s.advanceTo(2);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'BadRequest', details: { reason: 'nonFinite' } });
    expect((err as { details: { t: number } }).details.t).toBeGreaterThan(0.9);
    expect((err as { details: { t: number } }).details.t).toBeLessThan(1.2);
  });
});

describe('Rk4Stepper guards', () => {
  it('refuses a step too small to move time forward instead of looping', () => {
    const s = new Rk4Stepper(decay.f, 1e20, [1], { h: 1 });
    expect(() => s.advanceTo(2e20)).toThrow(/too small to advance/);
    expect(() => new Rk4Stepper(decay.f, 0, [1], { h: 0 })).toThrow(/h must be/);
  });
});
