import { describe, expect, it } from 'vitest';
import { Dopri5Stepper } from './dopri5-stepper.js';
import { solveIvp } from './solve-ivp.js';
import { decay, harmonic, logistic, vanDerPol, type TestProblem } from './test-problems.js';

/** Max abs error over 201 evenly spaced output times (exercises the dense output too). */
function maxError(p: TestProblem, rtol: number, atol = rtol * 1e-3): { err: number; steps: number } {
  const tEval = Array.from({ length: 201 }, (_, i) => p.t0 + ((p.tEnd - p.t0) * i) / 200);
  const sol = solveIvp(p.f, p.t0, p.y0, p.tEnd, { method: 'dopri5', rtol, atol, tEval });
  const ex = new Float64Array(p.y0.length);
  let err = 0;
  for (let i = 0; i < sol.t.length; i++) {
    p.exact!(sol.t[i]!, ex);
    const row = sol.row(i);
    for (let j = 0; j < ex.length; j++) err = Math.max(err, Math.abs(row[j]! - ex[j]!));
  }
  expect(sol.t.length).toBe(201);
  return { err, steps: sol.stats.steps };
}

describe('Dopri5Stepper against analytic solutions', () => {
  // Stated tolerances: global error (incl. dense output) within 50 × rtol on these problems.
  for (const p of [decay, harmonic, logistic]) {
    for (const rtol of [1e-4, 1e-6, 1e-8, 1e-10]) {
      it(`${p.name} at rtol ${rtol}: max error < 50·rtol·max|y|`, () => {
        const scale = p.name === 'logistic' ? 10 : 1;
        const { err } = maxError(p, rtol);
        expect(err).toBeLessThan(50 * rtol * scale);
      });
    }
  }

  it('error falls with rtol and steps grow like rtol^(-1/5) (a 5th-order method)', () => {
    const a = maxError(harmonic, 1e-6);
    const b = maxError(harmonic, 1e-8);
    const c = maxError(harmonic, 1e-10);
    expect(b.err).toBeLessThan(a.err / 20);
    expect(c.err).toBeLessThan(b.err / 20);
    // 100× tighter: 100^(1/5) ≈ 2.5× the steps.
    expect(b.steps / a.steps).toBeGreaterThan(1.8);
    expect(b.steps / a.steps).toBeLessThan(3.5);
    expect(c.steps / b.steps).toBeGreaterThan(1.8);
    expect(c.steps / b.steps).toBeLessThan(3.5);
  });

  it('uses FSAL: 6 evaluations per step attempt, plus the start-up ones', () => {
    const sol = solveIvp(harmonic.f, 0, [1, 0], 100, { rtol: 1e-8, atol: 1e-11 });
    const attempts = sol.stats.steps + sol.stats.rejected;
    expect(sol.stats.fevals).toBe(6 * attempts + 2); // f(t0) + one for the initial step estimate
  });

  it('Van der Pol μ = 10 on [0, 100] completes with a plausible step count and matches a tight reference', () => {
    const ref = solveIvp(vanDerPol.f, 0, vanDerPol.y0, 100, { rtol: 1e-12, atol: 1e-14 });
    const sol = solveIvp(vanDerPol.f, 0, vanDerPol.y0, 100, { rtol: 1e-6, atol: 1e-9 });
    expect(sol.status).toBe('completed');
    expect(sol.tFinal).toBe(100);
    // SciPy RK45 takes ~1,700 steps here; a 5(4) pair should be in the same range.
    expect(sol.stats.steps).toBeGreaterThan(800);
    expect(sol.stats.steps).toBeLessThan(4000);
    expect(ref.stats.steps).toBeGreaterThan(sol.stats.steps * 5);
    expect(Math.abs(sol.yFinal[0]! - ref.yFinal[0]!)).toBeLessThan(1e-3);
    expect(Math.abs(sol.yFinal[1]! - ref.yFinal[1]!)).toBeLessThan(1e-3);
    // The reference and SciPy's DOP853 (rtol 1e-13) agree on x(100) ≈ 1.6408909 (measured by the bench).
    expect(ref.yFinal[0]).toBeCloseTo(1.64089, 4);
  });

  it('per-component tolerances are honoured (a loose atol on a component costs fewer steps)', () => {
    const tight = solveIvp(harmonic.f, 0, [1, 0], 50, { rtol: 1e-9, atol: [1e-12, 1e-12] });
    const loose = solveIvp(harmonic.f, 0, [1, 0], 50, { rtol: [1e-9, 1e-3], atol: [1e-12, 1e-3] });
    expect(loose.stats.steps).toBeLessThan(tight.stats.steps);
  });

  it('respects maxStep', () => {
    const sol = solveIvp(decay.f, 0, [1], 10, { maxStep: 0.05 });
    for (let i = 1; i < sol.t.length; i++)
      expect(sol.t[i]! - sol.t[i - 1]!).toBeLessThanOrEqual(0.05 + 1e-15);
    expect(sol.stats.steps).toBeGreaterThanOrEqual(200);
  });
});

describe('Dopri5Stepper as a real-time stepper', () => {
  it('advancing in 1 s ticks lands exactly on each tick and agrees with one long solve', () => {
    const s = new Dopri5Stepper(harmonic.f, 0, [1, 0], { rtol: 1e-9, atol: 1e-12 });
    for (let k = 1; k <= 100; k++) {
      s.advanceTo(k);
      expect(s.t).toBe(k);
    }
    expect(Math.abs(s.y[0]! - Math.cos(100))).toBeLessThan(1e-7);
    expect(Math.abs(s.y[1]! + Math.sin(100))).toBeLessThan(1e-7);
  });

  it('interpolates inside the last step and refuses outside it', () => {
    const s = new Dopri5Stepper(harmonic.f, 0, [1, 0], { rtol: 1e-10, atol: 1e-13 });
    s.step(10);
    const out = new Float64Array(2);
    const mid = 0.5 * (s.tPrev + s.t);
    s.interpolate(mid, out);
    expect(Math.abs(out[0]! - Math.cos(mid))).toBeLessThan(1e-9);
    expect(() => s.interpolate(s.t + 1, out)).toThrow(/outside the last step/);
  });

  it('reset changes the state and restarts from it', () => {
    const s = new Dopri5Stepper(decay.f, 0, [1], { rtol: 1e-10, atol: 1e-13 });
    s.advanceTo(1);
    s.reset(1, [5]);
    s.advanceTo(2);
    expect(s.y[0]).toBeCloseTo(5 * Math.exp(-0.7), 9);
    expect(() => s.reset(2, [Number.NaN])).toThrow(/non-finite/);
  });
});
