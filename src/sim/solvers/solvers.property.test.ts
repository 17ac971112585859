import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SolverMethod } from './ode-types.js';
import { solveIvp } from './solve-ivp.js';

describe('solver properties (fast-check)', () => {
  it('dopri5 on y′ = −k·y meets its tolerance for any rate, start value and rtol', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.05, max: 5, noNaN: true }),
        fc.double({ min: -100, max: 100, noNaN: true }),
        fc.integer({ min: 4, max: 11 }),
        (k, y0, e) => {
          const rtol = 10 ** -e;
          const atol = rtol * 1e-3;
          const sol = solveIvp((_t, y, d) => void (d[0] = -k * y[0]!), 0, [y0], 5, { rtol, atol });
          const exact = y0 * Math.exp(-5 * k);
          expect(Math.abs(sol.yFinal[0]! - exact)).toBeLessThanOrEqual(20 * (rtol * Math.abs(y0) + atol));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a ball dropped from any height with any downward speed hits the floor at the analytic time', () => {
    const methods: SolverMethod[] = ['dopri5', 'rk4'];
    fc.assert(
      fc.property(
        fc.double({ min: 0.1, max: 1000, noNaN: true }),
        fc.double({ min: -50, max: 0, noNaN: true }),
        fc.constantFrom(...methods),
        (h0, v0, method) => {
          const g = 9.81;
          const sol = solveIvp(
            (_t, y, d) => {
              d[0] = y[1]!;
              d[1] = -g;
            },
            0,
            [h0, v0],
            100,
            { method, h: 0.05, events: [{ g: (_t, y) => y[0]!, direction: 'falling', terminal: true }] },
          );
          // h0 + v0 t − g t²/2 = 0
          const exact = (v0 + Math.sqrt(v0 * v0 + 2 * g * h0)) / g;
          expect(sol.status).toBe('terminated');
          expect(Math.abs(sol.tFinal - exact)).toBeLessThan(1e-9 * Math.max(1, exact));
        },
      ),
      { numRuns: 60 },
    );
  });
});
