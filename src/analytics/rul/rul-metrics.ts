/**
 * The figures of RUL prediction, as the PHM08 challenge defines them: RMSE, and the asymmetric
 * PHM08 score that punishes late predictions (predicted RUL above the true one) harder than early ones.
 */

/** Root mean squared error of `predicted` against `actual` (same length; 0 for none). */
export function rmse(predicted: ArrayLike<number>, actual: ArrayLike<number>): number {
  if (predicted.length !== actual.length) throw new RangeError('rmse: arrays of different lengths');
  if (predicted.length === 0) return 0;
  let s = 0;
  for (let i = 0; i < predicted.length; i++) {
    const d = (predicted[i] as number) - (actual[i] as number);
    s += d * d;
  }
  return Math.sqrt(s / predicted.length);
}

/**
 * The PHM08 score: Σ s(d), d = predicted − true RUL, s(d) = e^(−d/13) − 1 when d < 0 (early) and
 * e^(d/10) − 1 otherwise (late). A sum, so it grows with the number of predictions; lower is better.
 *
 * @example phm08Score([110], [100]) // e^(10/10) − 1 ≈ 1.718
 */
export function phm08Score(predicted: ArrayLike<number>, actual: ArrayLike<number>): number {
  if (predicted.length !== actual.length) throw new RangeError('phm08Score: arrays of different lengths');
  let s = 0;
  for (let i = 0; i < predicted.length; i++) {
    const d = (predicted[i] as number) - (actual[i] as number);
    s += d < 0 ? Math.exp(-d / 13) - 1 : Math.exp(d / 10) - 1;
  }
  return s;
}
