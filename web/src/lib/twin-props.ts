/**
 * A twin's properties as rows: values with the time each was last written (and its source time when
 * a device gave one), components' properties under `component/name`; desired values from the
 * desired-state document beside them. A writable property with device state (docs/control.md) also
 * carries what the device reported and whether the desired value is still pending, read from its
 * `$metadata`; and the twin's `$metadata.$connection` is read by `connectionOf`.
 */
import type { TwinJson } from '../api/types.js';

export interface PropertyRow {
  path: string;
  value: unknown;
  /** ms since epoch; undefined when the server gave none. */
  updated?: number;
  sourceTime?: number;
  desired?: unknown;
  /** Set when the property has device state: what the device reported (absent: nothing yet). */
  device?: { reported?: unknown; reportedTime?: number; pending: boolean };
}

export interface DeviceConnectionView {
  state: 'connected' | 'disconnected';
  since: number;
  lastSeen: number;
}

const time = (x: unknown): number | undefined =>
  typeof x === 'string' && !Number.isNaN(Date.parse(x)) ? Date.parse(x) : undefined;

/** The twin's `$metadata.$connection`, or undefined when its device was never seen. */
export function connectionOf(twin: TwinJson): DeviceConnectionView | undefined {
  const c = twin.$metadata.$connection as Record<string, unknown> | undefined;
  if (!c || (c.state !== 'connected' && c.state !== 'disconnected')) return undefined;
  const since = time(c.since);
  const lastSeen = time(c.lastSeen);
  if (since === undefined || lastSeen === undefined) return undefined;
  return { state: c.state, since, lastSeen };
}

function deviceOf(meta: unknown, name: string): PropertyRow['device'] | undefined {
  const m = (meta as Record<string, Record<string, unknown> | undefined> | undefined)?.[name];
  if (!m || typeof m.pending !== 'boolean') return undefined;
  const out: NonNullable<PropertyRow['device']> = { pending: m.pending };
  if (Object.hasOwn(m, 'reportedValue')) out.reported = m.reportedValue;
  const t = time(m.reportedTime);
  if (t !== undefined) out.reportedTime = t;
  return out;
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
        const device = deviceOf(v.$metadata, ck);
        rows.push({
          path: `${k}/${ck}`,
          value: cv,
          ...metaTimes(v.$metadata, ck),
          ...(Object.hasOwn(d, ck) ? { desired: d[ck] } : {}),
          ...(device ? { device } : {}),
        });
      }
      continue;
    }
    const device = deviceOf(twin.$metadata, k);
    rows.push({
      path: k,
      value: v,
      ...metaTimes(twin.$metadata, k),
      ...(Object.hasOwn(desired, k) && !isComponent(desired[k]) ? { desired: desired[k] } : {}),
      ...(device ? { device } : {}),
    });
  }
  return rows.sort((a, b) => a.path.localeCompare(b.path));
}
