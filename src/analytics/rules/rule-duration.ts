/** Durations in rule documents: a number of seconds, or a string such as `500ms`, `30s`, `5m`, `2h`, `7d`. */

const UNIT_MS: ReadonlyMap<string, number> = new Map([
  ['ms', 1],
  ['s', 1000],
  ['m', 60_000],
  ['h', 3_600_000],
  ['d', 86_400_000],
]);

/** The longest duration a rule may name (a year): longer ones are surely mistakes. */
export const MAX_RULE_DURATION_MS = 366 * 86_400_000;

/**
 * Milliseconds of a duration, undefined when it is not one (or negative, or over a year).
 * @example parseDuration('5m') // 300000; parseDuration(90) // 90000
 */
export function parseDuration(v: unknown): number | undefined {
  let ms: number | undefined;
  if (typeof v === 'number') ms = v * 1000;
  else if (typeof v === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(v);
    if (m) ms = Number(m[1]) * (UNIT_MS.get(m[2] as string) ?? NaN);
  }
  return ms !== undefined && Number.isFinite(ms) && ms >= 0 && ms <= MAX_RULE_DURATION_MS
    ? Math.round(ms)
    : undefined;
}

/** A duration as people write it: 300000 -> "5 min", 90000 -> "90 s", 7200000 -> "2 h". */
export function formatDuration(ms: number): string {
  if (ms >= 86_400_000 && ms % 86_400_000 === 0) return `${ms / 86_400_000} d`;
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms >= 1000) return `${Math.round(ms / 100) / 10} s`;
  return `${ms} ms`;
}
