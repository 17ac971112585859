/**
 * How a twin's device side shows in its `$metadata` (docs/control.md), ADT / IoT Plug and Play
 * style: per writable property with device state, `desiredValue` (the twin's current value),
 * `desiredVersion`, `desiredTime`, `reportedValue`, `reportedTime`, `ackVersion`, `ackCode`,
 * `ackDescription` and `pending`; and `$metadata.$connection` = `{ state, since, lastSeen }`.
 * A twin without device state gets none of these (it renders exactly as before). Pure.
 */
import { jsonEqual } from '../json/json-equal.js';
import type { DevicePropertyState, TwinRecord } from './graph-types.js';

const iso = (ms: number): string => new Date(ms).toISOString();

/** The desired value of "prop" or "comp/prop": the twin's current value, undefined when unset. */
export function desiredValueOf(twin: TwinRecord, key: string): unknown {
  const slash = key.indexOf('/');
  if (slash < 0) return own(twin.contents, key);
  const comp = own(twin.contents, key.slice(0, slash));
  return typeof comp === 'object' && comp !== null && !Array.isArray(comp)
    ? own(comp, key.slice(slash + 1))
    : undefined;
}

/** True while a desired value is set and the device's reported value does not deep-equal it. */
export function isPending(state: DevicePropertyState | undefined, desired: unknown): boolean {
  if (desired === undefined || state === undefined) return false;
  return !jsonEqual(state.reportedValue, desired);
}

/** The device state of one property ("prop" or "comp/prop"), or undefined. */
export function devicePropertyOf(twin: TwinRecord, key: string): DevicePropertyState | undefined {
  const props = twin.device?.properties;
  return props === undefined ? undefined : (own(props, key) as DevicePropertyState | undefined);
}

/** The `$metadata.{prop}` members of a property's device state (added to lastUpdateTime / sourceTime). */
export function devicePropertyMeta(twin: TwinRecord, key: string): Record<string, unknown> | undefined {
  const d = devicePropertyOf(twin, key);
  if (d === undefined) return undefined;
  const desired = desiredValueOf(twin, key);
  const m: Record<string, unknown> = {};
  if (desired !== undefined) m.desiredValue = desired;
  if (d.desiredVersion !== undefined) m.desiredVersion = d.desiredVersion;
  if (d.desiredTime !== undefined) m.desiredTime = iso(d.desiredTime);
  if (d.reportedValue !== undefined) m.reportedValue = d.reportedValue;
  if (d.reportedTime !== undefined) m.reportedTime = iso(d.reportedTime);
  if (d.ackVersion !== undefined) m.ackVersion = d.ackVersion;
  if (d.ackCode !== undefined) m.ackCode = d.ackCode;
  if (d.ackDescription !== undefined) m.ackDescription = d.ackDescription;
  m.pending = isPending(d, desired);
  return m;
}

/** `$metadata.$connection` of the twin, or undefined when its device was never seen. */
export function connectionMeta(twin: TwinRecord): Record<string, unknown> | undefined {
  const c = twin.device?.connection;
  if (c === undefined) return undefined;
  return { state: c.state, since: iso(c.since), lastSeen: iso(c.lastSeen) };
}

/** Keys of device-state properties that are not set on the twin (top level, or of component `comp`). */
export function unsetDeviceKeys(twin: TwinRecord, comp?: string): string[] {
  const props = twin.device?.properties;
  if (props === undefined) return [];
  const out: string[] = [];
  for (const key of Object.keys(props)) {
    const slash = key.indexOf('/');
    if (comp === undefined ? slash >= 0 : key.slice(0, slash) !== comp || slash < 0) continue;
    if (desiredValueOf(twin, key) === undefined) out.push(comp === undefined ? key : key.slice(slash + 1));
  }
  return out;
}

function own(obj: object, key: string): unknown {
  return Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
}
