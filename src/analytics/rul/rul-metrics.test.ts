import { describe, expect, it } from 'vitest';
import { phm08Score, rmse } from './rul-metrics.js';

describe('RUL metrics', () => {
  it('rmse: hand-computed', () => {
    // d = [3, -4] → sqrt((9 + 16) / 2) = sqrt(12.5)
    expect(rmse([13, 6], [10, 10])).toBeCloseTo(Math.sqrt(12.5), 12);
    expect(rmse([5], [5])).toBe(0);
    expect(rmse([], [])).toBe(0);
    expect(() => rmse([1], [])).toThrow(RangeError);
  });

  it('phm08Score: late errors cost more than early ones (hand-computed)', () => {
    // d = +10 → e^1 − 1 = 1.718281828; d = −13 → e^1 − 1 as well; d = 0 → 0
    expect(phm08Score([110], [100])).toBeCloseTo(Math.E - 1, 9);
    expect(phm08Score([87], [100])).toBeCloseTo(Math.E - 1, 9);
    expect(phm08Score([100], [100])).toBe(0);
    // d = +20 → e^2 − 1 = 6.389056099; d = −20 → e^(20/13) − 1 = 3.657351...
    expect(phm08Score([120, 80], [100, 100])).toBeCloseTo(Math.exp(2) - 1 + (Math.exp(20 / 13) - 1), 9);
    expect(phm08Score([120], [100])).toBeGreaterThan(phm08Score([80], [100]));
    expect(() => phm08Score([1, 2], [1])).toThrow(RangeError);
  });
});
