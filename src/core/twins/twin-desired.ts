/**
 * The desired side of a twin's device state (docs/control.md, "Desired versus reported"): every
 * committed write that changes a writable property (of the twin or of one of its components)
 * counts up the twin's `device.desiredVersion` and stamps the changed properties with that version
 * and the write's time. The twin service calls this while building the record it commits, so the
 * version is stored in the same commit as the write. Pure.
 */
import type { TwinDeviceState } from '../graph/graph-types.js';
import { jsonEqual } from '../json/json-equal.js';
import type { InterfaceInfo, ModelLookup } from '../models/model-types.js';

/**
 * The twin's device state after a write from `before` to `after` contents (both under `iface`,
 * the model after the write); `device` itself when no writable property changed (or undefined when
 * there was none and nothing changed).
 * @example withDesiredChanges(iface, models, { flowSetpoint: 50 }, { flowSetpoint: 60 }, dev, now)
 *   // → { desiredVersion: dev.desiredVersion + 1, properties: { flowSetpoint: { desiredVersion, desiredTime: now } } }
 */
export function withDesiredChanges(
  iface: InterfaceInfo,
  models: ModelLookup,
  before: Readonly<Record<string, unknown>> | undefined,
  after: Readonly<Record<string, unknown>>,
  device: TwinDeviceState | undefined,
  now: number,
): TwinDeviceState | undefined {
  const changed = changedWritable(iface, models, before ?? {}, after);
  if (changed.length === 0) return device;
  const desiredVersion = (device?.desiredVersion ?? 0) + 1;
  const properties = { ...device?.properties };
  for (const key of changed) properties[key] = { ...properties[key], desiredVersion, desiredTime: now };
  const next: TwinDeviceState = { desiredVersion, properties };
  if (device?.connection) next.connection = device.connection;
  return next;
}

/** Keys ("prop" or "comp/prop") of the writable properties whose value differs (set, changed or removed). */
export function changedWritable(
  iface: InterfaceInfo,
  models: ModelLookup,
  before: Readonly<Record<string, unknown>>,
  after: Readonly<Record<string, unknown>>,
): string[] {
  const out: string[] = [];
  for (const c of iface.contents.values()) {
    if (c.kind === 'Property') {
      if (c.writable && !jsonEqual(own(before, c.name), own(after, c.name))) out.push(c.name);
    } else if (c.kind === 'Component') {
      const comp = models.getInterface(c.schema);
      if (!comp) continue;
      const b = asObject(own(before, c.name));
      const a = asObject(own(after, c.name));
      for (const cc of comp.contents.values())
        if (cc.kind === 'Property' && cc.writable && !jsonEqual(own(b, cc.name), own(a, cc.name)))
          out.push(`${c.name}/${cc.name}`);
    }
  }
  return out;
}

function own(o: Readonly<Record<string, unknown>>, k: string): unknown {
  return Object.hasOwn(o, k) ? o[k] : undefined;
}

function asObject(v: unknown): Readonly<Record<string, unknown>> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
