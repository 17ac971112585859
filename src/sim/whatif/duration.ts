/** Durations in simulated seconds: a number of seconds, or "500ms", "90s", "15min", "2h", "7d", "2w". */
const UNITS: Record<string, number> = {
  ms: 0.001,
  s: 1,
  sec: 1,
  m: 60,
  min: 60,
  h: 3600,
  d: 86_400,
  w: 604_800,
};

/** Seconds, or undefined when `v` is not a finite non-negative duration. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*(ms|s|sec|min|m|h|d|w)?\s*$/i.exec(v);
  if (!m) return undefined;
  const n = Number(m[1]) * (UNITS[(m[2] ?? 's').toLowerCase()] as number);
  return Number.isFinite(n) ? n : undefined;
}
