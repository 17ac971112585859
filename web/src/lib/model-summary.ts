/** What a DTDL interface holds, in words, as the models page lists it. */
import type { DtdlInterface } from '../api/types.js';

/** "3 telemetry, 2 properties, 1 relationship" from an interface's contents. */
export function contentsSummary(m: DtdlInterface | undefined): string {
  const counts = new Map<string, number>();
  for (const c of m?.contents ?? []) {
    const types = Array.isArray(c['@type']) ? c['@type'] : [c['@type'] ?? '?'];
    const kind =
      types.find((t) => ['Telemetry', 'Property', 'Command', 'Relationship', 'Component'].includes(t)) ?? '?';
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  const words: Record<string, [string, string]> = {
    Telemetry: ['telemetry', 'telemetry'],
    Property: ['property', 'properties'],
    Command: ['command', 'commands'],
    Relationship: ['relationship', 'relationships'],
    Component: ['component', 'components'],
  };
  const parts = [...counts].map(([k, n]) => `${n} ${(words[k] ?? [k, k])[n === 1 ? 0 : 1]}`);
  return parts.length ? parts.join(', ') : 'nothing';
}
