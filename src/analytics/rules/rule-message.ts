/**
 * A rule's message template filled in: `{value}`, `{limit}`, `{twinId}`, `{ruleId}`, `{for}`,
 * `{telemetry}` (the telemetry the condition watches), `{$name}` (a property of the twin),
 * `{name}` (the twin's latest reading of that telemetry) and, for forecasts, `{eta}` (how long
 * until the forecast reaches the limit: "1 h 25 min") and `{probability}` ("87 %"). Unknown
 * placeholders stay as written.
 * Pure string work over a Map lookup: a template cannot reach any object property.
 */
import { formatDuration } from './rule-duration.js';

/** A number as a message shows it: at most 3 decimals, no trailing zeros. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e9 || a < 1e-3)) return v.toPrecision(3);
  return String(Math.round(v * 1000) / 1000);
}

export interface MessageValues {
  value?: number;
  limit?: number;
  twinId: string;
  ruleId: string;
  forMs: number;
  telemetry?: string;
  property: (name: string) => unknown;
  reading: (name: string) => number | undefined;
  /** Forecast: ms until the forecast reaches the limit. */
  eta?: number;
  /** Forecast: largest probability of being beyond the limit within the window. */
  probability?: number;
}

/** An ETA as people say it: "40 s", "12 min", "1 h 25 min", "3 d 4 h". */
export function formatEta(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d} d` : `${d} d ${h % 24} h`;
}

const show = (v: unknown): string =>
  typeof v === 'number' ? formatNumber(v) : typeof v === 'string' || typeof v === 'boolean' ? String(v) : '?';

/** Fills the template; the result is cut to 1000 characters. */
export function renderMessage(template: string, m: MessageValues): string {
  const fixed = new Map<string, () => string>([
    ['value', () => (m.value === undefined ? '?' : formatNumber(m.value))],
    ['limit', () => (m.limit === undefined ? '?' : formatNumber(m.limit))],
    ['twinId', () => m.twinId],
    ['ruleId', () => m.ruleId],
    ['for', () => formatDuration(m.forMs)],
    ['telemetry', () => m.telemetry ?? '?'],
  ]);
  if (m.eta !== undefined) fixed.set('eta', () => formatEta(m.eta!));
  if (m.probability !== undefined) fixed.set('probability', () => `${Math.round(m.probability! * 100)} %`);
  const out = template.replace(/\{(\$?[A-Za-z_][A-Za-z0-9_/]*)\}/g, (whole, name: string) => {
    const f = fixed.get(name);
    if (f) return f();
    if (name.startsWith('$')) return show(m.property(name.slice(1)));
    const r = m.reading(name);
    return r === undefined ? whole : formatNumber(r);
  });
  return out.length > 1000 ? `${out.slice(0, 999)}…` : out;
}
