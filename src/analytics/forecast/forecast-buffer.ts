/**
 * A bounded, thinned buffer of one stream's recent readings, for forecasts refitted while the
 * readings come (forecast rules, continuous forecasts): readings are averaged into cells of
 * `spacing` = history / BUFFER_POINTS (whole ms, aligned on multiples of it since the epoch), each
 * kept as the mean time and mean value of its readings; cells more than `history` older than the
 * newest reading are dropped and at most BUFFER_POINTS are kept, so the memory (≈ 12 KiB) and the
 * cost of a refit are bounded whatever the reading rate. Plain numbers, so that it snapshots as
 * JSON.
 *
 * A refit puts the cells on a regular grid by linear interpolation between their mean times (not
 * by labelling each cell with its centre: readings every 10 s in cells of 56.25 s fall 5 or 6 to
 * a cell in a repeating pattern, and the centres would add a saw-tooth that the season detection
 * takes for a season of 8 cells and that bends the trend).
 *
 * @example
 * const shape = bufferShape(8 * 3_600_000); // 8 h of history: cells of 56.25 s
 * let buf: ForecastBuffer | undefined;
 * buf = addReading(buf, shape, time, level);
 * const f = forecastBuffer(buf, shape, 2 * 3_600_000); // undefined until MIN_FIT_POINTS cells hold readings
 */
import { TwinloopError } from '../../core/errors/errors.js';
import { forecast, MAX_HORIZON, type ForecastOptions, type ForecastResult } from './forecast.js';
import { medianStep } from './forecast-grid.js';

/** Cells kept per stream at most. */
export const BUFFER_POINTS = 512;
/** Cells holding readings before a forecast is fitted. */
export const MIN_FIT_POINTS = 16;
/** Nelder–Mead evaluations per model in a refit (the on-request route uses 300). */
export const REFIT_EVALUATIONS = 200;

export interface BufferShape {
  /** How far back the buffer reaches (a whole number of cells). */
  historyMs: number;
  /** Cell width, whole ms. */
  spacingMs: number;
}

/** The cells for a history: BUFFER_POINTS of them, each at least 1 ms wide. */
export function bufferShape(historyMs: number): BufferShape {
  const spacingMs = Math.max(1, Math.ceil(historyMs / BUFFER_POINTS));
  return { historyMs: spacingMs * BUFFER_POINTS, spacingMs };
}

export interface ForecastBuffer {
  /** [time₀, mean₀, time₁, mean₁, …]: each cell's mean reading time and value, oldest first, at most BUFFER_POINTS pairs. */
  points: number[];
  /** Readings averaged into the last cell. */
  lastCount: number;
  /** Time of the newest reading. */
  lastTime: number;
}

const cellOf = (time: number, spacing: number): number => Math.floor(time / spacing);

/**
 * Folds one reading in (a new buffer when `buf` is undefined). Readings that are not finite, or
 * older than the newest cell, are ignored.
 * @returns the buffer (the same object when one was given)
 */
export function addReading(
  buf: ForecastBuffer | undefined,
  shape: BufferShape,
  time: number,
  value: number,
): ForecastBuffer | undefined {
  if (!Number.isFinite(time) || !Number.isFinite(value)) return buf;
  if (buf === undefined) return { points: [time, value], lastCount: 1, lastTime: time };
  const p = buf.points;
  const cell = cellOf(time, shape.spacingMs);
  const lastCell = p.length ? cellOf(p[p.length - 2] as number, shape.spacingMs) : -Infinity;
  if (cell < lastCell) return buf;
  buf.lastTime = Math.max(buf.lastTime, time);
  if (cell === lastCell) {
    // Running means of the cell's times and values: m += (x − m) / n.
    const n = ++buf.lastCount;
    p[p.length - 2] = (p[p.length - 2] as number) + (time - (p[p.length - 2] as number)) / n;
    // Values near ±MAX_VALUE can overflow the difference: the mean is then halved first.
    const m = p[p.length - 1] as number;
    const next = m + (value - m) / n;
    p[p.length - 1] = Number.isFinite(next) ? next : m / 2 + (value / 2 - m / 2) / n;
    return buf;
  }
  p.push(time, value);
  buf.lastCount = 1;
  let drop = 0;
  while (drop + 2 < p.length && (p[drop] as number) < time - shape.historyMs) drop += 2;
  if (p.length - drop > 2 * BUFFER_POINTS) drop = p.length - 2 * BUFFER_POINTS;
  if (drop > 0) p.splice(0, drop);
  return buf;
}

/** Cells holding readings. */
export const bufferSize = (buf: ForecastBuffer | undefined): number => (buf ? buf.points.length / 2 : 0);

export interface BufferForecastOptions extends Pick<ForecastOptions, 'maxEvaluations' | 'trends'> {
  /** The horizon counts from this time (default: the grid's last point); e.g. the newest reading's. */
  from?: number;
}

/**
 * Fits a forecast (forecast(): ETS with detected season, prediction intervals) on the buffer and
 * forecasts at least `horizonMs` past `from`. The grid runs from the first cell's mean time by the
 * cell width (or by the median gap between cells, whole ms, when readings come less often than
 * once a cell), with values interpolated linearly between the cells; it ends at most one step
 * before the newest cell's mean time. Undefined while fewer than MIN_FIT_POINTS cells hold
 * readings, or when the series cannot be forecast.
 */
export function forecastBuffer(
  buf: ForecastBuffer | undefined,
  shape: BufferShape,
  horizonMs: number,
  options: BufferForecastOptions = {},
): ForecastResult | undefined {
  if (!buf || bufferSize(buf) < MIN_FIT_POINTS || !(horizonMs > 0)) return undefined;
  const p = buf.points;
  const n = p.length / 2;
  const cellTimes = new Float64Array(n);
  for (let i = 0; i < n; i++) cellTimes[i] = p[2 * i] as number;
  const step = Math.max(shape.spacingMs, Math.round(medianStep(cellTimes)));
  const t0 = p[0] as number;
  const size = Math.floor(((p[p.length - 2] as number) - t0) / step) + 1;
  if (size < 2) return undefined;
  const times = new Float64Array(size);
  const values = new Float64Array(size);
  let j = 0;
  for (let k = 0; k < size; k++) {
    const t = t0 + k * step;
    while (j + 2 < n && (p[2 * (j + 1)] as number) < t) j++;
    const ta = p[2 * j] as number;
    const va = p[2 * j + 1] as number;
    const tb = p[2 * Math.min(j + 1, n - 1)] as number;
    const vb = p[2 * Math.min(j + 1, n - 1) + 1] as number;
    times[k] = t;
    values[k] = tb > ta ? va + (vb - va) * Math.min(1, Math.max(0, (t - ta) / (tb - ta))) : va;
  }
  const origin = t0 + (size - 1) * step;
  const reach = Math.max(origin, options.from ?? origin) + horizonMs - origin;
  const horizon = Math.min(MAX_HORIZON, Math.max(1, Math.ceil(reach / step)));
  try {
    return forecast(
      { times, values },
      {
        horizon,
        step,
        maxEvaluations: options.maxEvaluations ?? REFIT_EVALUATIONS,
        ...(options.trends ? { trends: options.trends } : {}),
      },
    );
  } catch (e) {
    if (e instanceof TwinloopError) return undefined;
    throw e;
  }
}

/**
 * A buffer read back from JSON (a snapshot), or undefined when it is not one: every number
 * finite, times increasing, at most BUFFER_POINTS cells.
 */
export function bufferFromJson(v: unknown): ForecastBuffer | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const own = (k: string): unknown => (Object.hasOwn(o, k) ? o[k] : undefined);
  const p = own('points');
  const n = own('lastCount');
  const t = own('lastTime');
  if (!Array.isArray(p) || p.length < 2 || p.length % 2 !== 0 || p.length > 2 * BUFFER_POINTS)
    return undefined;
  if (!(typeof n === 'number' && Number.isSafeInteger(n) && n >= 1)) return undefined;
  if (!(typeof t === 'number' && Number.isFinite(t))) return undefined;
  const points: number[] = [];
  for (let i = 0; i < p.length; i++) {
    const x: unknown = p[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) return undefined;
    if (i % 2 === 0 && i > 0 && x <= (points[i - 2] as number)) return undefined;
    points.push(x);
  }
  return { points, lastCount: n, lastTime: t };
}
