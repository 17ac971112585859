import { describe, expect, it } from 'vitest';
import { illinoisRoot } from './event-location.js';

describe('illinoisRoot', () => {
  it('finds π/2 as the root of cos on [0, 3] in few iterations', () => {
    const r = illinoisRoot(Math.cos, 0, 3, 1, Math.cos(3), 1e-14);
    expect(Math.abs(r.t - Math.PI / 2)).toBeLessThan(1e-13);
    expect(r.iterations).toBeLessThan(20);
    expect(Math.cos(r.t)).toBeLessThanOrEqual(0); // the end after the crossing
  });

  it('handles a flat-then-steep function (where plain regula falsi stalls)', () => {
    const g = (t: number): number => t ** 9 - 0.5;
    const r = illinoisRoot(g, 0, 1, g(0), g(1), 1e-13);
    expect(Math.abs(r.t - 0.5 ** (1 / 9))).toBeLessThan(1e-12);
    expect(r.iterations).toBeLessThan(60);
  });

  it('returns b at once when g(b) = 0', () => {
    expect(illinoisRoot(() => 1, 0, 2, -1, 0, 1e-12)).toEqual({ t: 2, iterations: 0 });
  });
});
