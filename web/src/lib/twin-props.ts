/**
 * A twin's properties as rows: reported values with the time each was last written (and its source
 * time when a device gave one), components' properties under `component/name`; desired values from
 * the desired-state document beside them.
 */
import type { TwinJson } from '../api/types.js';

export interface PropertyRow {
  path: string;
  value: unknown;
  /** ms since epoch; undefined when the server gave none. */
  updated?: number;
  sourceTime?: number;
  desired?: unknown;
}

function metaTimes(meta: unknown, name: string): { updated?: number; sourceTime?: number } {
  const m = (meta as Record<string, { lastUpdateTime?: unknown; sourceTime?: unknown }> | undefined)?.[name];
  const t = (x: unknown) =>
    typeof x === 'string' && !Number.isNaN(Date.parse(x)) ? Date.parse(x) : undefined;
  const updated = t(m?.lastUpdateTime);
  const sourceTime = t(m?.sourceTime);
  return {
    ...(updated !== undefined ? { updated } : {}),
    ...(sourceTime !== undefined ? { sourceTime } : {}),
  };
}

function isComponent(v: unknown): v is Record<string, unknown> & { $metadata: object } {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    typeof (v as { $metadata?: unknown }).$metadata === 'object'
  );
}

export function propertyRows(twin: TwinJson, desired: Record<string, unknown> = {}): PropertyRow[] {
  const rows: PropertyRow[] = [];
  for (const [k, v] of Object.entries(twin)) {
    if (k.startsWith('$')) continue;
    if (isComponent(v)) {
      const d = (desired[k] ?? {}) as Record<string, unknown>;
      for (const [ck, cv] of Object.entries(v)) {
        if (ck.startsWith('$')) continue;
        rows.push({
          path: `${k}/${ck}`,
          value: cv,
          ...metaTimes(v.$metadata, ck),
          ...(Object.hasOwn(d, ck) ? { desired: d[ck] } : {}),
        });
      }
      continue;
    }
    rows.push({
      path: k,
      value: v,
      ...metaTimes(twin.$metadata, k),
      ...(Object.hasOwn(desired, k) && !isComponent(desired[k]) ? { desired: desired[k] } : {}),
    });
  }
  return rows.sort((a, b) => a.path.localeCompare(b.path));
}
