/**
 * Simulated times in scenario files: a number of seconds, or a duration with units — '90s', '30min',
 * '2h', '1d', '1h30min', '1d 6h'. Each way a text can be wrong gets its own reason, so the problem
 * reported at its line says what to fix.
 */

/** Seconds per unit; `m` is a minute, as in what-if runs. */
export const TIME_UNITS: Readonly<Record<string, number>> = {
  ms: 0.001,
  s: 1,
  sec: 1,
  m: 60,
  min: 60,
  h: 3600,
  d: 86_400,
  w: 604_800,
};

export type TimeResult =
  { ok: true; seconds: number } | { ok: false; reason: 'negative' | 'unit' | 'syntax'; message: string };

const PART = /(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*([A-Za-zµ]*)\s*/y;
const UNIT_LIST = 'ms, s, min, h, d or w';

/**
 * Reads a time: a finite number of seconds ≥ 0, or a text of one or more `<number><unit>` parts.
 * @example parseScenarioTime('1h30min') // { ok: true, seconds: 5400 }
 */
export function parseScenarioTime(v: unknown): TimeResult {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return { ok: false, reason: 'syntax', message: 'must be a finite number' };
    if (v < 0) return { ok: false, reason: 'negative', message: `must not be negative (got ${v})` };
    return { ok: true, seconds: v };
  }
  if (typeof v !== 'string')
    return { ok: false, reason: 'syntax', message: "must be seconds or a duration such as '30min'" };
  const text = v.trim();
  if (text.startsWith('-'))
    return { ok: false, reason: 'negative', message: `must not be negative (got '${v}')` };
  if (text === '') return { ok: false, reason: 'syntax', message: 'must not be empty' };
  let seconds = 0;
  let pos = 0;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    if (!m || m[0] === '')
      return {
        ok: false,
        reason: 'syntax',
        message: `'${v}' is not a duration (seconds, or parts such as '2h', '30min', '1d 6h')`,
      };
    const unit = (m[2] ?? '').toLowerCase();
    const factor = unit === '' ? 1 : TIME_UNITS[unit];
    if (factor === undefined)
      return {
        ok: false,
        reason: 'unit',
        message: `has an unknown time unit '${m[2] ?? ''}' in '${v}'; use ${UNIT_LIST}`,
      };
    if (unit === '' && m.index + m[0].length < text.length)
      return { ok: false, reason: 'syntax', message: `'${v}': every part but the last needs a unit` };
    seconds += Number(m[1]) * factor;
    pos = m.index + m[0].length;
  }
  if (!Number.isFinite(seconds)) return { ok: false, reason: 'syntax', message: `'${v}' is too large` };
  return { ok: true, seconds };
}
