/**
 * Topics from the platform to devices (docs/mqtt.md, "Commands and desired state"):
 * - `twins/{twinId}/commands/{command}`: one command request, QoS 1, not retained;
 * - `twins/{twinId}/desired`: the twin's desired state (its writable properties), QoS 1, retained,
 *   so a device that connects later gets the latest at once.
 * Twin ids and names are percent-encoded like telemetry topics (`/`, `+`, `#`, `%`, NUL).
 */
import { decodeLevel, encodeLevel } from '../telemetry/topic-scheme.js';

export function commandTopic(twinId: string, command: string): string {
  return `twins/${encodeLevel(twinId)}/commands/${encodeLevel(command)}`;
}

export function desiredTopic(twinId: string): string {
  return `twins/${encodeLevel(twinId)}/desired`;
}

/** Subscription filters a device-side client (the simulator) uses to receive both. */
export const DEVICE_CONTROL_FILTERS: readonly string[] = ['twins/+/commands/+', 'twins/+/desired'];

export type DeviceTopic =
  { kind: 'command'; twinId: string; command: string } | { kind: 'desired'; twinId: string };

/** Parses a control topic; undefined when the topic is not one (or badly encoded). */
export function parseDeviceTopic(topic: string): DeviceTopic | undefined {
  const p = topic.split('/');
  if (p[0] !== 'twins' || p.length < 3) return undefined;
  const twinId = decodeLevel(p[1] as string);
  if (!twinId) return undefined;
  if (p.length === 3 && p[2] === 'desired') return { kind: 'desired', twinId };
  if (p.length === 4 && p[2] === 'commands') {
    const command = decodeLevel(p[3] as string);
    return command ? { kind: 'command', twinId, command } : undefined;
  }
  return undefined;
}

/** True for topics only the platform may publish on (a device publishing there is refused). */
export function isPlatformOnlyTopic(topic: string): boolean {
  return parseDeviceTopic(topic) !== undefined;
}

/** A command message as devices receive it. */
export interface CommandMessage {
  requestId: string;
  command: string;
  /** The command's request payload (validated against the model), absent when it takes none. */
  request?: unknown;
  /** When the platform sent it, ISO 8601. */
  sentAt: string;
}

/** The desired-state document as devices receive it. */
export interface DesiredStateMessage {
  /** The twin's writable properties (components as nested objects), only those set. */
  desired: Record<string, unknown>;
  /** The twin's etag when this was published: changes with every write. */
  $etag: string;
  /** Last write to the twin, ISO 8601. */
  $lastUpdateTime: string;
}
