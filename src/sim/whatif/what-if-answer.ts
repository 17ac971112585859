/**
 * The answer to a what-if question, from a run's trajectories: which limits are crossed, when and by
 * which twin. A limit is a property called `<name>Limit` or `<name>Max` (upper) or `<name>Min`
 * (lower) beside a telemetry or output `<name>` — the pump's `vibrationLimit` (7.1 mm/s) against its
 * `vibration`. Limit values come from the run (properties the behaviour maps) or, failing that, from
 * the live twin's properties. Used by the CLI (`twinloop whatif`) and the server
 * (GET /simulations/{id}/answer, the web app's answer in words).
 */

/** The part of a trajectory (GET /simulations/{id}/trajectories) the answer reads. */
export interface TrajectoryLike {
  twinId: string;
  times: ArrayLike<number>;
  telemetry: Record<string, ArrayLike<number | null>>;
  properties: Record<string, ArrayLike<number | null>>;
  outputs?: Record<string, ArrayLike<number | null>>;
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

/** Seconds as a person says them: "45 s", "20 min", "21 h", "2 d 3 h". */
export function spokenDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 90) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 90) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return min % 60 ? `${h} h ${min % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/**
 * The answer in one sentence: the earliest crossing ("pump-3a crosses its vibrationLimit (7.1 mm/s)
 * in 21 h"), with how many others cross; else "No limit crossed within 24 h"; else that there was no
 * limit to check. `checks` as limitChecks orders them (crossed first, earliest first).
 */
export function answerSentence(checks: readonly LimitCheck[], horizonSeconds: number): string {
  const crossed = checks.filter((c) => c.crossedAt !== undefined);
  const first = crossed[0];
  if (first) {
    const limit = `${round(first.limit)}${first.unit ? ` ${first.unit}` : ''}`;
    const more = crossed.length - 1;
    return (
      `${first.twinId} crosses its ${first.limitName} (${first.direction === 'above' ? '>' : '<'} ${limit}) in ${spokenDuration(first.crossedAt!)}` +
      (more
        ? `; ${more} more limit${more > 1 ? 's' : ''} crossed within ${spokenDuration(horizonSeconds)}.`
        : '.')
    );
  }
  if (checks.length)
    return `No limit crossed within ${spokenDuration(horizonSeconds)} (${checks.length} limit${checks.length > 1 ? 's' : ''} checked).`;
  return 'No limits to check: no twin of the run has a <telemetry>Limit, Max or Min property.';
}

/** A number with at most 3 significant decimals, as the answer shows limits. */
function round(v: number): string {
  return String(+v.toPrecision(4));
}

/** The answer of a finished run (GET /simulations/{id}/answer). */
export interface WhatIfAnswer {
  id: string;
  /** The answer in words (answerSentence). */
  sentence: string;
  /** Every limit checked, crossed first (earliest first). */
  checks: LimitCheck[];
}

/**
 * The answer of a run from its trajectories; a limit the behaviour does not map is read from the live
 * twin's property (`property(twinId, "vibrationLimit")`), for each series of the run only.
 */
export function answerOf(
  job: { id: string; horizon: number },
  twins: readonly TrajectoryLike[],
  property: (twinId: string, name: string) => unknown,
): WhatIfAnswer {
  const live: Record<string, Record<string, unknown>> = {};
  for (const tr of twins) {
    const props: Record<string, unknown> = {};
    for (const series of [...Object.keys(tr.telemetry), ...Object.keys(tr.outputs ?? {})]) {
      for (const [suffix] of SUFFIXES) {
        const name = series + suffix;
        if (tr.properties[name]) continue;
        const v = property(tr.twinId, name);
        if (typeof v === 'number' && Number.isFinite(v)) props[name] = v;
      }
    }
    live[tr.twinId] = props;
  }
  const checks = limitChecks(twins, live);
  return { id: job.id, sentence: answerSentence(checks, job.horizon), checks };
}
