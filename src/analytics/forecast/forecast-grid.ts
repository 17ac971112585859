/**
 * Puts an irregular series (timestamps + values, possibly unsorted, with duplicates, NaN or
 * infinite values) on a regular grid: each cell is the mean of the finite readings in it, empty
 * cells inside the series are filled by linear interpolation. Forecasting works on that grid.
 */
import { errors, type Problem } from '../../core/errors/errors.js';

/** At most this many raw readings are taken. */
export const MAX_INPUT_POINTS = 200_000;
/** At most this many grid cells (from the first to the last finite reading). */
export const MAX_GRID_POINTS = 20_000;

export interface RegularSeries {
  /** Time of cell 0 (the first finite reading's time). */
  start: number;
  step: number;
  /** One finite value per cell. */
  values: Float64Array;
}

const bad = (pointer: string, message: string): Problem => ({
  code: 'forecast.input',
  message,
  pointer,
  source: 'series',
});

/** The median spacing of the sorted distinct times (1 when there are fewer than two). */
export function medianStep(sortedTimes: ArrayLike<number>): number {
  const d: number[] = [];
  for (let i = 1; i < sortedTimes.length; i++) {
    const gap = (sortedTimes[i] as number) - (sortedTimes[i - 1] as number);
    if (gap > 0) d.push(gap);
  }
  if (d.length === 0) return 1;
  d.sort((a, b) => a - b);
  return d[Math.floor(d.length / 2)] as number;
}

/**
 * Resamples to a grid of `step` (default: the median spacing of the readings).
 * @throws TwinloopError BadRequest when the input is too long, has fewer than two finite
 *   readings, the step is not a positive finite number, or the grid would exceed MAX_GRID_POINTS.
 */
export function toRegularGrid(
  times: ArrayLike<number>,
  values: ArrayLike<number>,
  step?: number,
): RegularSeries {
  const problems: Problem[] = [];
  if (times.length !== values.length)
    problems.push(
      bad('/values', `times and values differ in length (${times.length} and ${values.length}).`),
    );
  if (times.length > MAX_INPUT_POINTS)
    problems.push(bad('/times', `At most ${MAX_INPUT_POINTS} readings, got ${times.length}.`));
  if (step !== undefined && !(Number.isFinite(step) && step > 0))
    problems.push(bad('/step', `The step must be a positive finite number, got ${String(step)}.`));
  if (problems.length) throw errors.validation('BadRequest', 'The series cannot be forecast.', problems);

  const idx: number[] = [];
  for (let i = 0; i < times.length; i++) {
    const t = times[i] as number;
    const v = values[i] as number;
    if (typeof t === 'number' && typeof v === 'number' && Number.isFinite(t) && Number.isFinite(v))
      idx.push(i);
  }
  idx.sort((a, b) => (times[a] as number) - (times[b] as number));
  const st = idx.map((i) => times[i] as number);
  if (idx.length < 2 || st[0] === st[st.length - 1]) {
    throw errors.validation('BadRequest', 'The series cannot be forecast.', [
      bad('/values', `At least two finite readings at different times are needed, got ${idx.length}.`),
    ]);
  }
  const dt = step ?? medianStep(st);
  const start = st[0] as number;
  const cells = Math.floor(((st[st.length - 1] as number) - start) / dt) + 1;
  if (!(cells <= MAX_GRID_POINTS)) {
    throw errors.validation('BadRequest', 'The series cannot be forecast.', [
      bad(
        '/step',
        `A step of ${dt} makes ${cells} grid points; at most ${MAX_GRID_POINTS} (use a wider step).`,
      ),
    ]);
  }
  // Sums of values divided by a power of two (exact) at least their largest magnitude times the
  // count, so that huge values cannot overflow to Infinity.
  let maxAbs = 0;
  for (const i of idx) maxAbs = Math.max(maxAbs, Math.abs(values[i] as number));
  const scale = maxAbs > 0 ? 2 ** Math.ceil(Math.log2(maxAbs) + Math.log2(idx.length)) : 1;
  const sum = new Float64Array(cells);
  const count = new Uint32Array(cells);
  for (let k = 0; k < idx.length; k++) {
    const c = Math.min(cells - 1, Math.floor(((st[k] as number) - start) / dt));
    sum[c] = (sum[c] as number) + (values[idx[k] as number] as number) / scale;
    count[c] = (count[c] as number) + 1;
  }
  const out = new Float64Array(cells).fill(NaN);
  for (let c = 0; c < cells; c++)
    if ((count[c] as number) > 0) out[c] = ((sum[c] as number) / (count[c] as number)) * scale;
  fillGaps(out);
  return { start, step: dt, values: out };
}

/** Linear interpolation over NaN runs (the ends are never NaN here: first and last cells hold readings). */
export function fillGaps(y: Float64Array): void {
  let last = -1;
  for (let i = 0; i < y.length; i++) {
    if (Number.isNaN(y[i])) continue;
    if (last >= 0 && i - last > 1) {
      const a = y[last] as number;
      const b = y[i] as number;
      for (let j = last + 1; j < i; j++) y[j] = a + ((b - a) * (j - last)) / (i - last);
    }
    last = i;
  }
  // Leading or trailing gaps (only when called on a hand-made array): carry the nearest value.
  const first = y.findIndex((v) => !Number.isNaN(v));
  if (first < 0) return (y.fill(0), undefined);
  for (let i = 0; i < first; i++) y[i] = y[first] as number;
  for (let i = last + 1; i < y.length; i++) y[i] = y[last] as number;
}
