/**
 * Window features of RUL prediction, computed the same way in training and at prediction.
 *
 * A *channel* is one normalised sensor, or the health index (a linear blend of all of them fitted
 * to the target, less noisy than any one sensor). For the window of the last `window` rows ending at
 * a row, each channel gives: its last value, an exponentially smoothed value (started at the
 * window's first row), the mean over the window and over its last `short` rows, the least-squares
 * slope (per step) over both, and the standard deviation over the window. One more feature is the
 * asset's age (the step number of the row).
 *
 * Short histories: a window never reaches before the asset's first row — when fewer rows exist the
 * statistics are taken over the rows there are (a slope over one row is 0, a deviation 0), so
 * nothing is padded and a twin with a single row still gets a prediction. Training uses every row
 * of every asset as an end row, so the learner sees such short windows too.
 */

/** The shape of the window features (stored in the artefact). */
export interface FeatureSpec {
  window: number;
  short: number;
  alpha: number;
  /** false: the age feature is left at 0 (the model ignores the asset's age). */
  age?: boolean;
}

/** Features per channel (see the module comment). */
export const PER_CHANNEL = 7;

/** Number of features for `channels` channels. */
export function featureCount(channels: number): number {
  return channels * PER_CHANNEL + 1;
}

/** Names of the features, for notes and debugging. */
export function featureNames(channels: string[]): string[] {
  const out: string[] = [];
  for (const c of channels)
    for (const f of ['last', 'ewm', 'mean', 'meanShort', 'slope', 'slopeShort', 'std']) out.push(`${c}.${f}`);
  out.push('age');
  return out;
}

function slope(
  x: ArrayLike<number>,
  ch: Float64Array,
  C: number,
  c: number,
  from: number,
  to: number,
): number {
  const n = to - from + 1;
  if (n < 2) return 0;
  let sx = 0;
  let sy = 0;
  for (let i = from; i <= to; i++) {
    sx += x[i] as number;
    sy += ch[i * C + c] as number;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = from; i <= to; i++) {
    const dx = (x[i] as number) - mx;
    sxy += dx * ((ch[i * C + c] as number) - my);
    sxx += dx * dx;
  }
  return sxx > 0 ? sxy / sxx : 0;
}

/**
 * Writes the features of the window ending at row `t` into `out` from `offset`.
 * `ch` holds C channels per row (row-major); `steps` the step number of each row.
 */
export function windowFeatures(
  ch: Float64Array,
  C: number,
  steps: ArrayLike<number>,
  t: number,
  spec: FeatureSpec,
  out: Float64Array,
  offset: number,
): void {
  const from = Math.max(0, t - spec.window + 1);
  const fromShort = Math.max(0, t - spec.short + 1);
  const n = t - from + 1;
  const ns = t - fromShort + 1;
  let o = offset;
  for (let c = 0; c < C; c++) {
    let sum = 0;
    let sum2 = 0;
    let sumS = 0;
    let e = ch[from * C + c] as number;
    for (let i = from; i <= t; i++) {
      const v = ch[i * C + c] as number;
      sum += v;
      if (i > from) e += spec.alpha * (v - e);
      if (i >= fromShort) sumS += v;
    }
    const mean = sum / n;
    for (let i = from; i <= t; i++) {
      const d = (ch[i * C + c] as number) - mean;
      sum2 += d * d;
    }
    out[o++] = ch[t * C + c] as number;
    out[o++] = e;
    out[o++] = mean;
    out[o++] = sumS / ns;
    out[o++] = slope(steps, ch, C, c, from, t);
    out[o++] = slope(steps, ch, C, c, fromShort, t);
    out[o++] = n > 1 ? Math.sqrt(sum2 / (n - 1)) : 0;
  }
  out[o] = spec.age === false ? 0 : (steps[t] as number);
}
