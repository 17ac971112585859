/**
 * The answer to a what-if question, from a run's trajectories: which limits are crossed, when and by
 * which twin. A limit is a property called `<name>Limit` or `<name>Max` (upper) or `<name>Min`
 * (lower) beside a telemetry or output `<name>` — the pump's `vibrationLimit` (7.1 mm/s) against its
 * `vibration`. Limit values come from the run (properties the behaviour maps) or, failing that, from
 * the live twin's properties.
 */

/** The part of a trajectory (GET /simulations/{id}/trajectories) the answer reads. */
export interface TrajectoryLike {
  twinId: string;
  times: number[];
  telemetry: Record<string, (number | null)[]>;
  properties: Record<string, (number | null)[]>;
  outputs?: Record<string, (number | null)[]>;
  units?: Record<string, string>;
}

export interface LimitCheck {
  twinId: string;
  /** The telemetry (or output) checked. */
  series: string;
  /** The property holding the limit. */
  limitName: string;
  direction: 'above' | 'below';
  /** The limit at the first crossing, else at the end of the run. */
  limit: number;
  /** Seconds after the fork of the first sample beyond the limit; undefined: never crossed. */
  crossedAt?: number;
  /** The value at the first crossing. */
  crossedValue?: number;
  /** The worst value of the run (highest for an upper limit, lowest for a lower one) and when. */
  peak: number;
  peakAt: number;
  unit?: string;
}

const SUFFIXES: readonly [string, 'above' | 'below'][] = [
  ['Limit', 'above'],
  ['Max', 'above'],
  ['Min', 'below'],
];

const finite = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Every limit of every twin checked against its series, crossed ones first (earliest first).
 * @example limitChecks(result.twins, { 'pump-3a': { vibrationLimit: 7.1 } })
 */
export function limitChecks(
  twins: readonly TrajectoryLike[],
  liveProperties: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {},
): LimitCheck[] {
  const out: LimitCheck[] = [];
  for (const tr of twins) {
    const live = liveProperties[tr.twinId] ?? {};
    const limitNames = new Set([...Object.keys(tr.properties), ...Object.keys(live)]);
    for (const limitName of limitNames) {
      const suffix = SUFFIXES.find(([s]) => limitName.endsWith(s) && limitName.length > s.length);
      if (!suffix) continue;
      const [s, direction] = suffix;
      const series = limitName.slice(0, -s.length);
      const values = tr.telemetry[series] ?? tr.outputs?.[series];
      if (!values) continue;
      const liveValue = live[limitName];
      const limits = tr.properties[limitName];
      const limitAt = (i: number): number | undefined => {
        const v = limits?.[i];
        if (finite(v)) return v;
        return typeof liveValue === 'number' && Number.isFinite(liveValue) ? liveValue : undefined;
      };
      const beyond = (v: number, l: number) => (direction === 'above' ? v > l : v < l);
      let check: LimitCheck | undefined;
      for (let i = 0; i < tr.times.length; i++) {
        const v = values[i];
        const l = limitAt(i);
        if (!finite(v) || l === undefined) continue;
        const t = tr.times[i]!;
        if (!check) check = { twinId: tr.twinId, series, limitName, direction, limit: l, peak: v, peakAt: t };
        if (direction === 'above' ? v > check.peak : v < check.peak) {
          check.peak = v;
          check.peakAt = t;
        }
        if (check.crossedAt === undefined) {
          check.limit = l;
          if (beyond(v, l)) {
            check.crossedAt = t;
            check.crossedValue = v;
          }
        }
      }
      if (!check) continue;
      const unit = tr.units?.[series];
      if (unit) check.unit = unit;
      out.push(check);
    }
  }
  return out.sort(
    (a, b) =>
      (a.crossedAt ?? Infinity) - (b.crossedAt ?? Infinity) ||
      a.twinId.localeCompare(b.twinId) ||
      a.series.localeCompare(b.series),
  );
}
