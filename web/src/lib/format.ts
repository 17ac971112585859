/** Numbers, times and ages as the app shows them. */

/** "just now", "12 s ago", "5 min ago", "3 h ago", "2 d ago" (future times: "in the future"). */
export function formatAge(thenMs: number, nowMs: number): string {
  if (!Number.isFinite(thenMs)) return 'unknown';
  const s = Math.round((nowMs - thenMs) / 1000);
  if (s < -5) return 'in the future';
  if (s < 2) return 'just now';
  if (s < 90) return `${s} s ago`;
  const min = Math.round(s / 60);
  if (min < 90) return `${min} min ago`;
  const h = Math.round(min / 60);
  if (h < 36) return `${h} h ago`;
  return `${Math.round(h / 24)} d ago`;
}

/** A value of any JSON type as short text: numbers to 4 significant digits, objects as JSON. */
export function formatValue(v: unknown): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    if (Number.isInteger(v)) return String(v);
    return Number(v.toPrecision(4)).toString();
  }
  if (typeof v === 'string') return v;
  if (v === undefined) return '';
  return JSON.stringify(v);
}

/** A rate per second from two counter reads; undefined when there is no earlier read or time went back. */
export function ratePerSecond(
  prev: { count: number; time: number } | undefined,
  cur: { count: number; time: number },
): number | undefined {
  if (!prev || cur.time <= prev.time || cur.count < prev.count) return undefined;
  return ((cur.count - prev.count) * 1000) / (cur.time - prev.time);
}

/** A duration in ms as a person says it: 500 ms, 15 s, 5 min, 2 h, 1 d. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toPrecision(3))} s`;
  if (ms < 3_600_000) return `${Number((ms / 60_000).toPrecision(3))} min`;
  if (ms < 86_400_000) return `${Number((ms / 3_600_000).toPrecision(3))} h`;
  return `${Number((ms / 86_400_000).toPrecision(3))} d`;
}
