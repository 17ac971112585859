/**
 * "Tank forecast to overflow within 2 h": when (and how likely) a forecast crosses a threshold,
 * for the rules engine. The time is the first forecast step whose point forecast is at or beyond
 * the threshold; the probability is the largest, over the horizon, of the Gaussian probability
 * that the value at one step is beyond it (a lower bound of the probability of crossing at some
 * step, which would need the joint distribution of the path).
 */
import { errors } from '../../core/errors/errors.js';
import { forecast, type ForecastOptions, type ForecastPoint, type ForecastSeries } from './forecast.js';

export interface CrossingOptions extends Omit<ForecastOptions, 'horizon'> {
  /** 'above' (default): value ≥ threshold; 'below': value ≤ threshold. */
  direction?: 'above' | 'below';
}

export interface Crossing {
  /** Time of the first step whose point forecast crosses; absent when none does. */
  time?: number;
  /** Largest per-step probability of being beyond the threshold, in [0, 1]. */
  probability: number;
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 through erf; |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  if (z === Infinity) return 1;
  if (z === -Infinity) return 0;
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/**
 * @param horizon how far ahead, in the series' time unit (e.g. 2 h in ms); the number of steps is
 *   rounded up (at most MAX_HORIZON steps of the series' grid).
 * @throws TwinloopError BadRequest as forecast() does, or for a non-finite threshold/horizon.
 */
export function forecastCrossing(
  series: ForecastSeries,
  threshold: number,
  horizon: number,
  options: CrossingOptions = {},
): Crossing {
  if (!Number.isFinite(threshold))
    throw errors.validation('BadRequest', 'The crossing query is not valid.', [
      {
        code: 'forecast.threshold',
        message: `The threshold must be a finite number, got ${String(threshold)}.`,
        pointer: '/threshold',
      },
    ]);
  // With a given step one fit is enough; otherwise a one-step probe learns the grid's step.
  const probe = options.step === undefined ? forecast(series, { ...options, horizon: 1 }) : undefined;
  const step = probe?.step ?? (options.step as number);
  const steps = Math.ceil(horizon / step);
  const f = probe && steps === 1 ? probe : forecast(series, { ...options, step, horizon: steps });
  return crossingOf(
    f.points,
    threshold,
    options.direction === undefined ? {} : { direction: options.direction },
  );
}

/** Probability that a point's value is beyond the threshold (Gaussian, from its 95 % bound). */
export function beyondProbability(p: ForecastPoint, threshold: number, above: boolean): number {
  const sd = (p.upper95 - p.value) / 1.959963984540054;
  if (!(sd > 0)) return (above ? p.value >= threshold : p.value <= threshold) ? 1 : 0;
  return normalCdf((above ? p.value - threshold : threshold - p.value) / sd);
}

export interface CrossingQuery {
  /** 'above' (default): value ≥ threshold; 'below': value ≤ threshold. */
  direction?: 'above' | 'below';
  /**
   * When given, `time` is the first step whose probability of being beyond the threshold is at
   * least this; otherwise the first step whose point forecast is at or beyond it.
   */
  probability?: number;
  /** Only steps up to this time count (default: all). */
  until?: number;
}

/** When forecast points cross a threshold (see forecastCrossing), without fitting anything. */
export function crossingOf(
  points: readonly ForecastPoint[],
  threshold: number,
  q: CrossingQuery = {},
): Crossing {
  const above = (q.direction ?? 'above') === 'above';
  let time: number | undefined;
  let probability = 0;
  for (const p of points) {
    if (q.until !== undefined && p.time > q.until) break;
    const pr = beyondProbability(p, threshold, above);
    probability = Math.max(probability, pr);
    const crosses =
      q.probability === undefined
        ? above
          ? p.value >= threshold
          : p.value <= threshold
        : pr >= q.probability;
    if (time === undefined && crosses) time = p.time;
  }
  return time === undefined ? { probability } : { time, probability };
}
