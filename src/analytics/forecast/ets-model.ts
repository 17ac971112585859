/**
 * Exponential smoothing state space models with additive errors, ETS(A,T,S) with trend
 * T ∈ {N, A, Ad} and season S ∈ {N, A, M} (Hyndman, Koehler, Ord & Snyder, "Forecasting with
 * Exponential Smoothing", 2008): the one-step filter (errors, final states), heuristic initial
 * states, point forecasts and forecast variances. Analytic variances are exact for the linear
 * models (season N or A); with multiplicative season they are the first-order approximation that
 * holds the seasonal factors at their final estimates (the level's innovations are scaled by the
 * ratio of the target's factor to the factor at which they enter).
 */

export type Trend = 'N' | 'A' | 'Ad';
export type Season = 'N' | 'A' | 'M';

export interface EtsSpec {
  trend: Trend;
  season: Season;
  /** Season length in cells (ignored when season is N). */
  m: number;
}

export interface EtsParams {
  alpha: number;
  beta: number;
  gamma: number;
  /** Damping (1 for trend A, 0 for trend N). */
  phi: number;
}

export interface EtsState {
  level: number;
  trend: number;
  /** Seasonal states by phase (cell index mod m); empty when season is N. */
  season: Float64Array;
}

export interface EtsRun {
  sse: number;
  /** Sum of absolute one-step errors. */
  sae: number;
  final: EtsState;
}

export const modelName = (s: EtsSpec): string => `ETS(A,${s.trend},${s.season})`;

/**
 * Number of estimated parameters (for the AICc): the smoothing parameters and the initial level
 * and slope, which the fit optimises. The initial seasonal states are set by a heuristic from the
 * first seasons, not estimated, and are not counted: counting m − 1 of them makes a daily season
 * of 5-minute data (m = 288) lose to a local trend that follows the curve one step ahead and
 * misses it hours ahead.
 */
export function parameterCount(s: EtsSpec): number {
  const smoothing = 1 + (s.trend === 'N' ? 0 : 1) + (s.trend === 'Ad' ? 1 : 0) + (s.season === 'N' ? 0 : 1);
  const states = 1 + (s.trend === 'N' ? 0 : 1);
  return smoothing + states;
}

/**
 * Initial states from the first whole seasons (up to four) or the first ten cells: a
 * least-squares line (through the season means when seasonal) gives level and slope, the mean detrended (or ratio-to-trend) value per
 * phase gives the seasonal states, normalised to sum 0 (additive) or average 1 (multiplicative).
 * The level is placed one cell before the first observation, as the filter expects.
 */
export function initialState(y: Float64Array, spec: EtsSpec): EtsState {
  const n = y.length;
  const m = spec.season === 'N' ? 1 : spec.m;
  const k = spec.season === 'N' ? Math.min(n, 10) : m * Math.max(1, Math.min(4, Math.floor(n / m)));
  // Seasonal: a line through the season means (at each season's centre), so that the seasonal
  // pattern does not bias the slope; otherwise a line through the first cells.
  const xs: number[] = [];
  const ys: number[] = [];
  if (spec.season === 'N') {
    for (let i = 0; i < k; i++) {
      xs.push(i);
      ys.push(y[i] as number);
    }
  } else {
    for (let c = 0; c < k / m; c++) {
      let sum = 0;
      for (let i = c * m; i < (c + 1) * m; i++) sum += y[i] as number;
      xs.push(c * m + (m - 1) / 2);
      ys.push(sum / m);
    }
  }
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    sxx += ((xs[i] as number) - mx) ** 2;
  }
  const slope = spec.trend !== 'N' && sxx > 0 ? sxy / sxx : 0;
  const intercept = my - slope * mx;
  const season = new Float64Array(spec.season === 'N' ? 0 : m);
  if (spec.season !== 'N') {
    const counts = new Float64Array(m);
    for (let i = 0; i < k; i++) {
      const line = intercept + slope * i;
      const v = spec.season === 'A' ? (y[i] as number) - line : (y[i] as number) / line;
      season[i % m] = (season[i % m] as number) + v;
      counts[i % m] = (counts[i % m] as number) + 1;
    }
    let mean = 0;
    for (let j = 0; j < m; j++) {
      season[j] = (season[j] as number) / (counts[j] as number);
      mean += (season[j] as number) / m;
    }
    for (let j = 0; j < m; j++)
      season[j] = spec.season === 'A' ? (season[j] as number) - mean : (season[j] as number) / mean;
  }
  return { level: intercept - slope, trend: slope, season };
}

/**
 * Runs the one-step filter over y from `init`. Answers sse = Infinity when a multiplicative model
 * meets a non-positive factor or base, or when anything stops being finite.
 */
export function runEts(y: Float64Array, spec: EtsSpec, p: EtsParams, init: EtsState): EtsRun {
  const { alpha, beta, gamma, phi } = p;
  const mult = spec.season === 'M';
  const seasonal = spec.season !== 'N';
  const m = seasonal ? spec.m : 1;
  const s = Float64Array.from(init.season);
  let l = init.level;
  let b = spec.trend === 'N' ? 0 : init.trend;
  let sse = 0;
  let sae = 0;
  let j = 0;
  for (let t = 0; t < y.length; t++) {
    const phib = phi * b;
    const base = l + phib;
    const si = seasonal ? (s[j] as number) : mult ? 1 : 0;
    let e: number;
    if (mult) {
      if (!(si > 0) || !(base > 0))
        return { sse: Infinity, sae: Infinity, final: { level: l, trend: b, season: s } };
      e = (y[t] as number) - base * si;
      l = base + (alpha * e) / si;
      b = phib + (beta * e) / si;
      s[j] = si + (gamma * e) / base;
    } else {
      e = (y[t] as number) - base - si;
      l = base + alpha * e;
      b = phib + beta * e;
      if (seasonal) s[j] = si + gamma * e;
    }
    sse += e * e;
    sae += Math.abs(e);
    if (++j === m) j = 0;
  }
  if (!Number.isFinite(sse)) sse = Infinity;
  return { sse, sae, final: { level: l, trend: b, season: s } };
}

/** φ + φ² + … + φ^h (h for an undamped trend, 0 without trend). */
function phiSum(phi: number, h: number): number {
  if (phi === 1) return h;
  if (phi === 0) return 0;
  return (phi * (1 - phi ** h)) / (1 - phi);
}

/**
 * Point forecasts and variances (in units of sigma²) for h = 1..horizon after n observed cells.
 * The seasonal phase of step h is (n + h − 1) mod m.
 */
export function forecastEts(
  spec: EtsSpec,
  p: EtsParams,
  final: EtsState,
  n: number,
  horizon: number,
): { mean: Float64Array; varianceFactor: Float64Array } {
  const seasonal = spec.season !== 'N';
  const m = seasonal ? spec.m : 1;
  const mean = new Float64Array(horizon);
  const factor = new Float64Array(horizon);
  const phase = (t: number): number => (seasonal ? t % m : 0);
  const sAt = (t: number): number =>
    seasonal ? (final.season[phase(t)] as number) : spec.season === 'M' ? 1 : 0;
  // c_j: how much the innovation j steps before the target moves it (linear models).
  const c = (j: number): number =>
    p.alpha + p.beta * phiSum(p.phi, j) + (seasonal && j % m === 0 ? p.gamma : 0);
  let acc = 1;
  for (let h = 1; h <= horizon; h++) {
    const base = final.level + phiSum(p.phi, h) * final.trend;
    const t = n + h - 1;
    mean[h - 1] = spec.season === 'M' ? base * sAt(t) : base + sAt(t);
    if (spec.season !== 'M') {
      if (h > 1) acc += c(h - 1) ** 2;
      factor[h - 1] = acc;
    } else {
      let v = 1;
      const target = sAt(t);
      for (let j = 1; j < h; j++) {
        const lt = (p.alpha + p.beta * phiSum(p.phi, j)) * (target / sAt(t - j));
        v += (lt + (j % m === 0 ? p.gamma : 0)) ** 2;
      }
      factor[h - 1] = v;
    }
  }
  return { mean, varianceFactor: factor };
}
