import { describe, expect, it } from 'vitest';
import { autocorrelation, detectSeason } from './seasonality.js';
import { fillGaps, toRegularGrid } from './forecast-grid.js';
import { TwinloopError } from '../../core/errors/errors.js';

/** Deterministic standard normal draws (mulberry32 + Box–Muller). */
export function gaussian(seed: number): () => number {
  let a = seed >>> 0;
  const u = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

describe('season detection', () => {
  const g = gaussian(7);
  it('finds the period of a noisy sine with a trend, not a multiple of it', () => {
    const y = Array.from({ length: 500 }, (_, i) => 0.02 * i + Math.sin((2 * Math.PI * i) / 24) + 0.2 * g());
    expect(detectSeason(y)).toBe(24);
  });
  it('finds a daily period of 288 five-minute cells in a square wave', () => {
    const y = Array.from({ length: 288 * 4 }, (_, i) => (i % 288 < 144 ? 80 : 20));
    expect(detectSeason(y)).toBe(288);
  });
  it('answers none for noise, a random walk, a straight line and a constant', () => {
    expect(detectSeason(Array.from({ length: 600 }, () => g()))).toBeUndefined();
    let w = 0;
    expect(detectSeason(Array.from({ length: 600 }, () => (w += g())))).toBeUndefined();
    expect(detectSeason(Array.from({ length: 600 }, (_, i) => 3 * i))).toBeUndefined();
    expect(detectSeason(new Array(600).fill(5))).toBeUndefined();
    expect(Array.from(autocorrelation(new Array(50).fill(5), 3))).toEqual([0, 0, 0, 0]);
  });
});

describe('regular grid', () => {
  it('averages cells, sorts, drops non-finite readings and interpolates gaps', () => {
    const g = toRegularGrid([30, 0, 10, 10, 50, 20], [7, 1, 2, 4, 9, NaN], 10);
    expect(g.start).toBe(0);
    expect(Array.from(g.values)).toEqual([1, 3, 5, 7, 8, 9]);
  });
  it('defaults the step to the median spacing', () => {
    expect(toRegularGrid([0, 5, 10, 15, 100], [1, 2, 3, 4, 5]).step).toBe(5);
  });
  it('refuses too few readings, a bad step, and too many cells, naming where', () => {
    const code = (f: () => unknown): unknown => {
      try {
        f();
      } catch (e) {
        return e instanceof TwinloopError ? [e.code, e.problems?.map((p) => p.pointer)] : e;
      }
      return 'no error';
    };
    expect(code(() => toRegularGrid([1], [1]))).toEqual(['BadRequest', ['/values']]);
    expect(code(() => toRegularGrid([1, 2], [1, NaN]))).toEqual(['BadRequest', ['/values']]);
    expect(code(() => toRegularGrid([1, 2], [1, 2], -1))).toEqual(['BadRequest', ['/step']]);
    expect(code(() => toRegularGrid([0, 1e9], [1, 2], 1))).toEqual(['BadRequest', ['/step']]);
    expect(code(() => toRegularGrid([0, 1], [1]))).toEqual(['BadRequest', ['/values']]);
  });
  it('fillGaps carries the ends and zero-fills an all-NaN array', () => {
    const a = Float64Array.from([NaN, 2, NaN, 4, NaN]);
    fillGaps(a);
    expect(Array.from(a)).toEqual([2, 2, 3, 4, 4]);
    const b = Float64Array.from([NaN, NaN]);
    fillGaps(b);
    expect(Array.from(b)).toEqual([0, 0]);
  });
});
