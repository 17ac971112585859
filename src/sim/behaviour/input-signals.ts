/**
 * Time-driven inputs of a behaviour model — schedules and duty cycles — as pure functions of the
 * simulation time, plus the aggregation of values read through a relationship.
 */
import type { InputSource } from './behaviour-types.js';

type Schedule = Extract<InputSource, { kind: 'schedule' }>;
type Cycle = Extract<InputSource, { kind: 'cycle' }>;

/** A schedule's value at time t: held before the first point and after the last (or repeated). */
export function scheduleAt(s: Schedule, t: number): number {
  const pts = s.points;
  const first = pts[0];
  if (first === undefined) return NaN;
  const tt = s.period === undefined ? t : ((t % s.period) + s.period) % s.period;
  if (tt <= first[0]) return first[1];
  // Schedules are short; a linear scan keeps this simple and allocation-free.
  for (let i = 1; i < pts.length; i++) {
    const b = pts[i] as readonly [number, number];
    if (tt < b[0]) {
      const a = pts[i - 1] as readonly [number, number];
      return s.interpolation === 'step' ? a[1] : a[1] + ((b[1] - a[1]) * (tt - a[0])) / (b[0] - a[0]);
    }
  }
  return (pts[pts.length - 1] as readonly [number, number])[1];
}

/** A duty cycle's value at time t. */
export function cycleAt(c: Cycle, t: number): number {
  const u = ((((t - c.phase) % c.period) + c.period) % c.period) / c.period;
  return u < c.duty ? c.high : c.low;
}

/** Combines the values read from several related twins; no value gives undefined (use the default). */
export function aggregate(
  kind: 'sum' | 'mean' | 'min' | 'max' | 'first',
  values: readonly number[],
): number | undefined {
  if (values.length === 0) return undefined;
  switch (kind) {
    case 'first':
      return values[0];
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'mean':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'min':
      return Math.min(...values);
    case 'max':
      return Math.max(...values);
  }
}
