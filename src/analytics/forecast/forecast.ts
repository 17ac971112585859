/**
 * Forecasting of one numeric series: put it on a regular grid, detect its season, fit every
 * applicable ETS(A,T,S) model (T ∈ N, A, Ad; S ∈ N, A, M), keep the one with the lowest AICc and
 * answer point forecasts with 80 % and 95 % prediction intervals. Pure and bounded: the input,
 * the grid, the fitting window, the season and the horizon are capped, and `forecastSteps` yields
 * between models so that a server can fit in slices without holding its event loop.
 *
 * @example
 * const f = forecast({ times, values }, { horizon: 24 });
 * f.points[0]; // { time, value, lower80, upper80, lower95, upper95 }
 */
import { errors, type Problem } from '../../core/errors/errors.js';
import { fitEts, type EtsFit } from './ets-fit.js';
import { forecastEts, modelName, type EtsSpec, type Trend } from './ets-model.js';
import { toRegularGrid } from './forecast-grid.js';
import { detectSeason, MAX_SEASON } from './seasonality.js';

/** Longest horizon, in grid steps. */
export const MAX_HORIZON = 2_000;
/** The fit uses at most the last this many grid points. */
export const MAX_FIT_POINTS = 4_000;

export interface ForecastSeries {
  /** Reading times (any unit; ms in Twinloop). */
  times: ArrayLike<number>;
  values: ArrayLike<number>;
}

export interface ForecastOptions {
  /** Steps ahead (1..MAX_HORIZON). */
  horizon: number;
  /** Grid step, in the times' unit (default: the median spacing). */
  step?: number;
  /** Season length in steps, 'none', or 'auto' (default: detected). */
  season?: number | 'auto' | 'none';
  /** Allow multiplicative seasonality when the data are positive (default true). */
  multiplicative?: boolean;
  /** Nelder–Mead evaluations per model (default 300). */
  maxEvaluations?: number;
  /**
   * Trends tried (default all: N, A, Ad). Leaving out the damped trend suits questions far ahead
   * in steps: a trend damped by φ ≤ 0.98 adds at most φ/(1 − φ) ≈ 49 steps' worth of slope however
   * far one looks, so a steady ramp 128 steps from its limit would never be forecast to reach it.
   */
  trends?: readonly Trend[];
}

export interface FittedModel {
  /** e.g. "ETS(A,Ad,A)". */
  model: string;
  alpha: number;
  beta: number | null;
  gamma: number | null;
  phi: number | null;
  /** Season length in steps, null without seasonality. */
  season: number | null;
  aicc: number | null;
  /** In-sample one-step MAE over the seasonal naive one's (absent when that is 0). */
  mase?: number;
  /** Standard deviation of the one-step errors, in the series' unit. */
  sigma: number;
  /** Grid points the fit used. */
  n: number;
}

export interface ForecastPoint {
  time: number;
  value: number;
  lower80: number;
  upper80: number;
  lower95: number;
  upper95: number;
}

export interface ForecastResult {
  step: number;
  /** Time of the last grid point (the forecast origin). */
  origin: number;
  fitted: FittedModel;
  points: ForecastPoint[];
}

const Z80 = 1.2815515655446004;
const Z95 = 1.959963984540054;
const clampF = (v: number): number =>
  Number.isNaN(v) ? 0 : Math.max(-Number.MAX_VALUE, Math.min(Number.MAX_VALUE, v));

function checkOptions(o: ForecastOptions): void {
  const problems: Problem[] = [];
  if (!(Number.isSafeInteger(o.horizon) && o.horizon >= 1 && o.horizon <= MAX_HORIZON))
    problems.push({
      code: 'forecast.horizon',
      message: `The horizon must be a whole number of steps from 1 to ${MAX_HORIZON}, got ${String(o.horizon)}.`,
      pointer: '/horizon',
    });
  const s = o.season;
  if (
    s !== undefined &&
    s !== 'auto' &&
    s !== 'none' &&
    !(Number.isSafeInteger(s) && s >= 2 && s <= MAX_SEASON)
  )
    problems.push({
      code: 'forecast.season',
      message: `The season must be 'auto', 'none' or a whole number of steps from 2 to ${MAX_SEASON}.`,
      pointer: '/season',
    });
  if (problems.length) throw errors.validation('BadRequest', 'The forecast options are not valid.', problems);
}

/** The models worth fitting on y (scaled) with season m (undefined: none), simplest first. */
export function candidateSpecs(
  y: Float64Array,
  m: number | undefined,
  multiplicative: boolean,
  trends: readonly Trend[] = ['N', 'A', 'Ad'],
): EtsSpec[] {
  const out: EtsSpec[] = [];
  const n = y.length;
  const positive = y.every((v) => v > 0);
  // The simplest first (ties go to it); N always, so that something fits.
  const tried = (['N', 'A', 'Ad'] as const).filter((t) => t === 'N' || trends.includes(t));
  for (const trend of tried) {
    if (trend !== 'N' && n < 4) continue;
    out.push({ trend, season: 'N', m: 1 });
  }
  if (m !== undefined && n >= 2 * m + 2) {
    for (const trend of tried) out.push({ trend, season: 'A', m });
    if (multiplicative && positive) for (const trend of tried) out.push({ trend, season: 'M', m });
  }
  return out;
}

/**
 * The forecast, computed in slices: each `next()` does a bounded piece of work (the grid and
 * season, then one model fit each); the generator's return value is the result.
 * @throws TwinloopError BadRequest for bad options or a series that cannot be forecast.
 */
export function* forecastSteps(
  series: ForecastSeries,
  options: ForecastOptions,
): Generator<void, ForecastResult> {
  checkOptions(options);
  const grid = toRegularGrid(series.times, series.values, options.step);
  const all = grid.values;
  const skip = Math.max(0, all.length - MAX_FIT_POINTS);
  // Scale to |y| ≤ 1 so that huge values cannot overflow the sums of squares.
  let scale = 0;
  for (let i = skip; i < all.length; i++) scale = Math.max(scale, Math.abs(all[i] as number));
  if (!(scale > 0)) scale = 1;
  const y = new Float64Array(all.length - skip);
  for (let i = 0; i < y.length; i++) y[i] = (all[i + skip] as number) / scale;
  const m =
    options.season === 'none'
      ? undefined
      : typeof options.season === 'number'
        ? options.season
        : detectSeason(y);
  yield;
  let best: EtsFit | undefined;
  let fallback: EtsFit | undefined;
  for (const spec of candidateSpecs(y, m, options.multiplicative ?? true, options.trends)) {
    const fit = fitEts(y, spec, options.maxEvaluations ?? 300);
    yield;
    if (!fit) continue;
    fallback ??= fit;
    if (fit.aicc !== undefined && (best?.aicc === undefined || fit.aicc < best.aicc)) best = fit;
  }
  const chosen = best ?? fallback;
  if (!chosen) throw new Error('unreachable: ETS(A,N,N) always fits finite data');
  const origin = grid.start + (all.length - 1) * grid.step;
  return {
    step: grid.step,
    origin,
    fitted: describe(chosen, y, scale),
    points: pointsOf(chosen, scale, options.horizon, origin, grid.step),
  };
}

/** The forecast in one go (see forecastSteps). @throws TwinloopError BadRequest */
export function forecast(series: ForecastSeries, options: ForecastOptions): ForecastResult {
  const it = forecastSteps(series, options);
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
  }
}

function describe(fit: EtsFit, y: Float64Array, scale: number): FittedModel {
  const { spec, params } = fit;
  const seasonal = spec.season !== 'N';
  const lag = seasonal ? spec.m : 1;
  let naive = 0;
  for (let i = lag; i < y.length; i++) naive += Math.abs((y[i] as number) - (y[i - lag] as number));
  naive /= Math.max(1, y.length - lag);
  const out: FittedModel = {
    model: modelName(spec),
    alpha: params.alpha,
    beta: spec.trend === 'N' ? null : params.beta,
    gamma: seasonal ? params.gamma : null,
    phi: spec.trend === 'Ad' ? params.phi : null,
    season: seasonal ? spec.m : null,
    aicc: fit.aicc ?? null,
    sigma: clampF(Math.sqrt(fit.sigma2) * scale),
    n: fit.n,
  };
  if (naive > 1e-12) out.mase = fit.run.sae / fit.n / naive;
  return out;
}

function pointsOf(
  fit: EtsFit,
  scale: number,
  horizon: number,
  origin: number,
  step: number,
): ForecastPoint[] {
  const { mean, varianceFactor } = forecastEts(fit.spec, fit.params, fit.run.final, fit.n, horizon);
  const points: ForecastPoint[] = [];
  for (let h = 1; h <= horizon; h++) {
    const mu = (mean[h - 1] as number) * scale;
    const sd = Math.sqrt(fit.sigma2 * (varianceFactor[h - 1] as number)) * scale;
    const sdF = Number.isFinite(sd) ? sd : Number.MAX_VALUE;
    points.push({
      time: origin + h * step,
      value: clampF(mu),
      lower80: clampF(mu - Z80 * sdF),
      upper80: clampF(mu + Z80 * sdF),
      lower95: clampF(mu - Z95 * sdF),
      upper95: clampF(mu + Z95 * sdF),
    });
  }
  return points;
}
