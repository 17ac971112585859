/**
 * The `forecast` condition compiled: "tank-3's level forecast to reach its $highLevel within 2 h".
 * Per (rule, twin) it keeps a bounded, thinned buffer of the telemetry's recent readings (at most
 * BUFFER_POINTS = 512 cells spanning FORECAST_HISTORY_FACTOR × within, forecast-buffer.ts) and,
 * when the engine lets it (at most every `every` of source time, within the engine's refit budget),
 * refits an ETS forecast on it and keeps when the forecast first reaches the limit. Judging is then
 * cheap: the crossing time against the reading's time.
 *
 * - on: the latest reading is at or beyond the limit (ETA 0), or the last refit's crossing is at
 *   most `within` after the reading;
 * - off (hysteresis): the latest reading is not beyond the limit and the last refit's crossing at
 *   the clear probability is more than `clearWhen.within` (default 1.25 × within) after it, or
 *   there is none within the forecast's horizon (`clearWhen.within`);
 * - neither while the limit property is unset, or while the limit changed since the last refit
 *   (a refit is then due at once).
 *
 * The judged value is the ETA in seconds (0 when already beyond); the limit is the limit.
 */
import {
  addReading,
  bufferShape,
  bufferSize,
  forecastBuffer,
  MIN_FIT_POINTS,
} from '../forecast/forecast-buffer.js';
import { crossingOf } from '../forecast/forecast-crossing.js';
import {
  resolveRef,
  storeLatest,
  UNKNOWN,
  type CompiledRule,
  type ForecastFit,
  type RuleLookup,
} from './rule-inputs.js';
import type { RuleCondition } from './rule-types.js';

/** The buffer of a forecast condition spans this many times `within`. */
export const FORECAST_HISTORY_FACTOR = 4;
/**
 * No damped trend: `within` is 128 cells of the buffer, and a trend damped by φ ≤ 0.98 adds at
 * most ≈ 49 cells' worth of slope, so a steady ramp would never be forecast to reach a limit
 * further than that (forecast.ts, `trends`).
 */
const TRENDS = ['N', 'A'] as const;

type ForecastCondition = Extract<RuleCondition, { kind: 'forecast' }>;
type Base = Pick<CompiledRule, 'spec' | 'version' | 'needsTick' | 'twinSet'>;

/** Compiles a checked forecast condition (see the header). */
export function compileForecast(c: ForecastCondition, base: Base): CompiledRule {
  const key = c.telemetry;
  const shape = bufferShape(FORECAST_HISTORY_FACTOR * c.withinMs);
  const above = c.above !== undefined;
  const direction = above ? 'above' : 'below';
  const limitOf = (twin: RuleLookup): number | undefined => resolveRef(above ? c.above : c.below, twin);
  const beyond = (v: number, limit: number): boolean => (above ? v >= limit : v <= limit);
  return {
    ...base,
    reads: new Set([key]),
    telemetry: key,
    update(inputs, time, values) {
      storeLatest(inputs, values);
      const v = values.get(key);
      if (v !== undefined) inputs.buffer = addReading(inputs.buffer, shape, time, v);
    },
    refit: {
      due(inputs, time, twin) {
        if (bufferSize(inputs.buffer) < MIN_FIT_POINTS) return false;
        const limit = limitOf(twin);
        if (limit === undefined) return false;
        const f = inputs.fit;
        return f === undefined || f.limit !== limit || time - f.at >= c.everyMs;
      },
      run(inputs, time, twin) {
        const limit = limitOf(twin);
        if (limit === undefined) return;
        const fit: ForecastFit = { at: time, limit, probability: 0 };
        // The forecast reaches as far as the clear side looks; the raise side uses its first part.
        const f = forecastBuffer(inputs.buffer, shape, c.clearWithinMs, { trends: TRENDS, from: time });
        if (f) {
          const raise = crossingOf(f.points, limit, {
            direction,
            ...(c.probability !== undefined ? { probability: c.probability } : {}),
          });
          const clear =
            c.clearProbability === c.probability
              ? raise
              : crossingOf(f.points, limit, {
                  direction,
                  ...(c.clearProbability !== undefined ? { probability: c.clearProbability } : {}),
                });
          if (raise.time !== undefined) fit.cross = raise.time;
          if (clear.time !== undefined) fit.clear = clear.time;
          fit.probability = crossingOf(f.points, limit, { direction, until: time + c.withinMs }).probability;
        }
        inputs.fit = fit;
      },
    },
    judge(inputs, time, twin) {
      const v = inputs.latest[key];
      const limit = limitOf(twin);
      if (v === undefined || limit === undefined) return UNKNOWN;
      const fit = inputs.fit;
      if (beyond(v, limit)) return { on: true, off: false, value: 0, limit };
      if (fit === undefined) return { on: false, off: true, limit };
      if (fit.limit !== limit) return { on: false, off: false, limit };
      const eta = fit.cross === undefined ? undefined : Math.max(0, fit.cross - time);
      const clearEta = fit.clear === undefined ? undefined : Math.max(0, fit.clear - time);
      return {
        on: eta !== undefined && eta <= c.withinMs,
        off: clearEta === undefined || clearEta > c.clearWithinMs,
        ...(eta !== undefined ? { value: eta / 1000 } : {}),
        limit,
      };
    },
  };
}
