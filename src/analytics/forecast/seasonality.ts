/**
 * Detects the season length of a regular series from its autocorrelation: the series is
 * detrended (least-squares line), the ACF computed up to half its length (capped), and the
 * period is the shortest strong, prominent local peak (so a daily series answers one day, not
 * two). Noise, trends and random walks answer undefined.
 */

/** Longest season looked for (cells); the ACF costs n × this. */
export const MAX_SEASON = 1000;

export interface SeasonOptions {
  /** Longest period to consider (default MAX_SEASON, and never above n / 2). */
  maxPeriod?: number;
  /** Minimum autocorrelation at the peak (default 0.3). */
  minCorrelation?: number;
}

/** Autocorrelation r[0..maxLag] of a detrended copy of y (r[0] = 1; all 0 for a constant series). */
export function autocorrelation(y: ArrayLike<number>, maxLag: number): Float64Array {
  const n = y.length;
  const r = new Float64Array(maxLag + 1);
  if (n < 3) return r;
  // Least-squares line through (i, y_i).
  let sy = 0;
  let sxy = 0;
  const mx = (n - 1) / 2;
  for (let i = 0; i < n; i++) {
    sy += y[i] as number;
    sxy += (i - mx) * (y[i] as number);
  }
  const my = sy / n;
  const sxx = (n * (n * n - 1)) / 12;
  const slope = sxy / sxx;
  const d = new Float64Array(n);
  let scale = 0;
  let yScale = 0;
  for (let i = 0; i < n; i++) {
    d[i] = (y[i] as number) - my - slope * (i - mx);
    scale = Math.max(scale, Math.abs(d[i] as number));
    yScale = Math.max(yScale, Math.abs(y[i] as number));
  }
  // What is left of a straight line or a constant is rounding, not a pattern.
  if (!(scale > 1e-9 * yScale) || !Number.isFinite(scale)) return r;
  let c0 = 0;
  for (let i = 0; i < n; i++) {
    d[i] = (d[i] as number) / scale;
    c0 += (d[i] as number) ** 2;
  }
  if (!(c0 > 1e-24)) return r;
  for (let k = 0; k <= maxLag && k < n; k++) {
    let c = 0;
    for (let i = k; i < n; i++) c += (d[i] as number) * (d[i - k] as number);
    r[k] = c / c0;
  }
  return r;
}

/** The detected season length in cells (≥ 2), or undefined when the series shows none. */
export function detectSeason(y: ArrayLike<number>, options: SeasonOptions = {}): number | undefined {
  const maxLag = Math.min(options.maxPeriod ?? MAX_SEASON, Math.floor(y.length / 2));
  if (maxLag < 3) return undefined;
  const minR = options.minCorrelation ?? 0.3;
  const r = autocorrelation(y, maxLag + 1);
  const peaks: { lag: number; r: number }[] = [];
  let trough = r[1] as number;
  for (let k = 2; k <= maxLag; k++) {
    const v = r[k] as number;
    trough = Math.min(trough, r[k - 1] as number);
    if (v >= (r[k - 1] as number) && v > (r[k + 1] as number) && v >= minR && v - trough >= 0.1)
      peaks.push({ lag: k, r: v });
  }
  if (peaks.length === 0) return undefined;
  const best = Math.max(...peaks.map((p) => p.r));
  // The shortest peak almost as strong as the best: multiples of the period peak too.
  return peaks.find((p) => p.r >= 0.8 * best)?.lag;
}
