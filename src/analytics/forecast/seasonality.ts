/**
 * Detects the season length of a regular series from its autocorrelation: the series is
 * detrended (least-squares line), the ACF (per overlapping pair, without the usual taper)
 * computed up to half its length (capped), the shortest strong, prominent local peak (so a daily
 * series answers one day, not two), refined to the lag nearby where the series differs least
 * from itself. Noise, trends and random walks answer undefined.
 */

/** Longest season looked for (cells); the ACF costs n × this. */
export const MAX_SEASON = 1000;

export interface SeasonOptions {
  /** Longest period to consider (default MAX_SEASON, and never above n / 2). */
  maxPeriod?: number;
  /** Minimum autocorrelation at the peak (default 0.3). */
  minCorrelation?: number;
}

/** y minus its least-squares line, scaled to |d| ≤ 1; undefined when nothing but rounding is left. */
function detrend(y: ArrayLike<number>): Float64Array | undefined {
  const n = y.length;
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
  if (!(scale > 1e-9 * yScale) || !Number.isFinite(scale)) return undefined;
  for (let i = 0; i < n; i++) d[i] = (d[i] as number) / scale;
  return d;
}

/** Autocorrelation r[0..maxLag] of a detrended copy of y (all 0 for a constant series). */
export function autocorrelation(y: ArrayLike<number>, maxLag: number): Float64Array {
  const n = y.length;
  const r = new Float64Array(maxLag + 1);
  const d = n < 3 ? undefined : detrend(y);
  if (!d) return r;
  let c0 = 0;
  for (let i = 0; i < n; i++) c0 += (d[i] as number) ** 2;
  if (!(c0 > 1e-24)) return r;
  for (let k = 0; k <= maxLag && k < n; k++) {
    let c = 0;
    for (let i = k; i < n; i++) c += (d[i] as number) * (d[i - k] as number);
    // Per overlapping pair (not the usual /n), so that the taper (n − k)/n does not pull the
    // peaks of a short series towards shorter lags.
    r[k] = c / (n - k) / (c0 / n);
  }
  return r;
}

/**
 * The lag within ±5 % of `p` where the detrended series differs least from itself (mean squared
 * difference per pair): the ACF peak of a short, non-sinusoidal cycle sits a few lags early.
 */
function refine(y: ArrayLike<number>, p: number, maxLag: number): number {
  const d = detrend(y);
  if (!d) return p;
  const n = d.length;
  const delta = Math.max(2, Math.round(0.05 * p));
  let best = p;
  let bestD = Infinity;
  for (let k = Math.max(2, p - delta); k <= Math.min(maxLag, p + delta); k++) {
    let s = 0;
    for (let i = k; i < n; i++) s += ((d[i] as number) - (d[i - k] as number)) ** 2;
    const v = s / (n - k);
    if (v < bestD - 1e-15) {
      bestD = v;
      best = k;
    }
  }
  return best;
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
  const lag = peaks.find((p) => p.r >= 0.8 * best)?.lag;
  return lag === undefined ? undefined : refine(y, lag, maxLag);
}
