/**
 * A rule's message template filled in: `{value}`, `{limit}`, `{twinId}`, `{ruleId}`, `{for}`,
 * `{telemetry}` (the telemetry the condition watches), `{$name}` (a property of the twin) and
 * `{name}` (the twin's latest reading of that telemetry). Unknown placeholders stay as written.
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
  const out = template.replace(/\{(\$?[A-Za-z_][A-Za-z0-9_/]*)\}/g, (whole, name: string) => {
    const f = fixed.get(name);
    if (f) return f();
    if (name.startsWith('$')) return show(m.property(name.slice(1)));
    const r = m.reading(name);
    return r === undefined ? whole : formatNumber(r);
  });
  return out.length > 1000 ? `${out.slice(0, 999)}…` : out;
}
