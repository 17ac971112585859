/**
 * The control topics between the platform and devices (docs/mqtt.md, "Control: commands, desired
 * and reported state, presence"). Twin ids and names are percent-encoded like telemetry topics
 * (`/`, `+`, `#`, `%`, NUL).
 *
 * Platform → device (only the platform publishes here):
 * - `twins/{twinId}/commands/{command}`: one command request, QoS 1, not retained. MQTT 5 devices
 *   also get a Response Topic (the response topic below), the request id as Correlation Data and a
 *   Message Expiry Interval;
 * - `twins/{twinId}/desired`: the twin's desired state (its writable properties), QoS 1, retained,
 *   so a device that connects later gets the latest at once.
 *
 * Device → platform (a device credential may publish these for its own twin only):
 * - `twins/{twinId}/commands/{command}/response`: the device's answer to a command;
 * - `twins/{twinId}/reported`: properties as the device has them (writable ones it applied, and
 *   read-only ones it reports);
 * - `twins/{twinId}/connection`: `{"state":"connected"}` after connecting and, as the MQTT last
 *   will, `{"state":"disconnected"}` (retained both): presence through any broker. The embedded
 *   broker also sees connects and disconnects itself.
 */
import { decodeLevel, encodeLevel } from '../telemetry/topic-scheme.js';

export function commandTopic(twinId: string, command: string): string {
  return `twins/${encodeLevel(twinId)}/commands/${encodeLevel(command)}`;
}

export function commandResponseTopic(twinId: string, command: string): string {
  return `${commandTopic(twinId, command)}/response`;
}

export function desiredTopic(twinId: string): string {
  return `twins/${encodeLevel(twinId)}/desired`;
}

export function reportedTopic(twinId: string): string {
  return `twins/${encodeLevel(twinId)}/reported`;
}

export function connectionTopic(twinId: string): string {
  return `twins/${encodeLevel(twinId)}/connection`;
}

/** Subscription filters a device-side client (the simulator) uses to receive both. */
export const DEVICE_CONTROL_FILTERS: readonly string[] = ['twins/+/commands/+', 'twins/+/desired'];

/** Subscription filters of the platform's client of an external broker: what devices send back. */
export const PLATFORM_CONTROL_FILTERS: readonly string[] = [
  'twins/+/commands/+/response',
  'twins/+/reported',
  'twins/+/connection',
];

/** The filters one device subscribes to for its own twin's commands and desired state. */
export function deviceFilters(twinId: string): string[] {
  const t = encodeLevel(twinId);
  return [`twins/${t}/commands/+`, `twins/${t}/desired`];
}

export type DeviceTopic =
  | { kind: 'command'; twinId: string; command: string }
  | { kind: 'desired'; twinId: string }
  | { kind: 'commandResponse'; twinId: string; command: string }
  | { kind: 'reported'; twinId: string }
  | { kind: 'connection'; twinId: string };

/** Parses a control topic (either direction); undefined when the topic is not one (or badly encoded). */
export function parseDeviceTopic(topic: string): DeviceTopic | undefined {
  const p = topic.split('/');
  if (p[0] !== 'twins' || p.length < 3 || p.length > 5) return undefined;
  const twinId = decodeLevel(p[1] as string);
  if (!twinId) return undefined;
  if (p.length === 3) {
    if (p[2] === 'desired') return { kind: 'desired', twinId };
    if (p[2] === 'reported') return { kind: 'reported', twinId };
    if (p[2] === 'connection') return { kind: 'connection', twinId };
    return undefined;
  }
  if (p[2] !== 'commands') return undefined;
  const command = decodeLevel(p[3] as string);
  if (!command) return undefined;
  if (p.length === 4) return { kind: 'command', twinId, command };
  return p[4] === 'response' ? { kind: 'commandResponse', twinId, command } : undefined;
}

/** True for topics only the platform may publish on (a device publishing there is refused). */
export function isPlatformOnlyTopic(topic: string): boolean {
  const t = parseDeviceTopic(topic);
  return t?.kind === 'command' || t?.kind === 'desired';
}

/** True for the topics devices answer on (responses, reported state, presence). */
export function isDeviceControlTopic(
  t: DeviceTopic | undefined,
): t is Extract<DeviceTopic, { kind: 'commandResponse' | 'reported' | 'connection' }> {
  return t?.kind === 'commandResponse' || t?.kind === 'reported' || t?.kind === 'connection';
}

/** A command message as devices receive it. */
export interface CommandMessage {
  requestId: string;
  command: string;
  /** The command's request payload (validated against the model), absent when it takes none. */
  request?: unknown;
  /** When the platform sent it, ISO 8601. */
  sentAt: string;
  /** When the platform stops waiting for the response (the command then expires), ISO 8601. */
  expiresAt: string;
  /** Where to answer (also the MQTT 5 Response Topic). */
  responseTopic: string;
}

/**
 * A device's answer on `…/commands/{command}/response`. `requestId` may be left out by an MQTT 5
 * device that sends the request's Correlation Data back instead.
 * - status 202: acknowledged (received, under way; a final answer follows);
 * - other 2xx: succeeded; 4xx/5xx: failed (`response` may say why).
 */
export interface CommandResponseMessage {
  requestId?: string;
  status: number;
  /** The command's response payload, checked against the model's response schema when succeeded. */
  response?: unknown;
}

/** The desired-state document as devices receive it. */
export interface DesiredStateMessage {
  /** The twin's writable properties (components as nested objects), only those set. */
  desired: Record<string, unknown>;
  /** Counts every change of the desired state; a device acknowledges the version it applied. */
  $version: number;
  /** The twin's etag when this was published: changes with every write. */
  $etag: string;
  /** Last write to the twin, ISO 8601. */
  $lastUpdateTime: string;
}

/**
 * What a device reports on `twins/{id}/reported`: property values by name (components as nested
 * objects) and, optionally, the acknowledgement of a desired version it applied.
 * @example { "flowSetpoint": 60, "serial": "A-17", "$ack": { "version": 4, "code": 200 } }
 */
export interface ReportedStateMessage {
  [property: string]: unknown;
  $ack?: { version: number; code: number; description?: string };
}

/** What a device publishes on `twins/{id}/connection` (retained; the disconnected one as its will). */
export interface ConnectionMessage {
  state: 'connected' | 'disconnected';
}
