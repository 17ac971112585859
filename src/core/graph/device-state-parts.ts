/**
 * A twin's device state has two owners, and stores keep them apart so neither overwrites the
 * other: the **desired** part (desiredVersion, each property's desiredVersion / desiredTime) is
 * written by twin writes, guarded by the twin's etag; the **device** part (reported values,
 * acknowledgements, the connection) by the device-state service, which changes no etag. A twin
 * write from a node whose graph is stale on the device side (another node stored a report since)
 * therefore cannot set reported values back. Pure.
 */
import type { DevicePropertyState, TwinDeviceState } from './graph-types.js';

export interface DesiredPart {
  desiredVersion: number;
  properties: Record<string, Pick<DevicePropertyState, 'desiredVersion' | 'desiredTime'>>;
}

export interface DevicePart {
  properties: Record<string, Omit<DevicePropertyState, 'desiredVersion' | 'desiredTime'>>;
  connection?: TwinDeviceState['connection'];
}

/** The desired part of a device state. */
export function desiredPart(d: TwinDeviceState): DesiredPart {
  const properties: DesiredPart['properties'] = {};
  for (const [k, p] of Object.entries(d.properties)) {
    if (p.desiredVersion === undefined && p.desiredTime === undefined) continue;
    const q: DesiredPart['properties'][string] = {};
    if (p.desiredVersion !== undefined) q.desiredVersion = p.desiredVersion;
    if (p.desiredTime !== undefined) q.desiredTime = p.desiredTime;
    properties[k] = q;
  }
  return { desiredVersion: d.desiredVersion, properties };
}

/** The device part of a device state. */
export function devicePart(d: TwinDeviceState): DevicePart {
  const properties: DevicePart['properties'] = {};
  for (const [k, p] of Object.entries(d.properties)) {
    const { desiredVersion: _v, desiredTime: _t, ...rest } = p;
    if (Object.keys(rest).length) properties[k] = rest;
  }
  return d.connection ? { properties, connection: d.connection } : { properties };
}

/** The device state of the two parts as stored (either may be absent); undefined when both are. */
export function mergeDeviceParts(
  desired: DesiredPart | null | undefined,
  device: DevicePart | null | undefined,
): TwinDeviceState | undefined {
  if (!desired && !device) return undefined;
  const properties: Record<string, DevicePropertyState> = {};
  for (const [k, p] of Object.entries(desired?.properties ?? {})) properties[k] = { ...p };
  for (const [k, p] of Object.entries(device?.properties ?? {})) properties[k] = { ...properties[k], ...p };
  const out: TwinDeviceState = { desiredVersion: desired?.desiredVersion ?? 0, properties };
  if (device?.connection) out.connection = device.connection;
  return out;
}
