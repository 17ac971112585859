/**
 * Who may do what on the embedded broker (docs/mqtt.md, "Devices as principals"). Three kinds of
 * MQTT client:
 * - platform: presented the platform token (the device simulator, operators' tools): full rights;
 * - device: presented a device credential: publishes only its own twin's telemetry, command
 *   responses, reported state and connection, subscribes only to its own twin's commands and desired
 *   state, and its client id is its twin id;
 * - anonymous: no credential, allowed only when authentication is off (loopback pilot): may publish
 *   and subscribe to twin topics as before, but never `$SYS` and never takes over the client id of a
 *   connected session.
 * Commands and desired state are published by the platform in-process only, whoever asks.
 */
import {
  isDeviceControlTopic,
  isPlatformOnlyTopic,
  parseDeviceTopic,
} from '../../core/control/device-topics.js';
import type { DeviceCredential } from '../../core/ports/device-credential-store.js';
import { encodeLevel } from '../../core/telemetry/topic-scheme.js';
import type { TopicScheme } from '../../core/telemetry/topic-scheme.js';

export type MqttPrincipal =
  { kind: 'platform' } | { kind: 'anonymous' } | { kind: 'device'; credential: DeviceCredential };

/** Why a publish is refused, or undefined when it is allowed. */
export function publishRefusal(p: MqttPrincipal, topic: string, scheme: TopicScheme): string | undefined {
  if (isPlatformOnlyTopic(topic)) return `publishing on ${topic} is reserved to the platform`;
  if (p.kind !== 'device') return undefined;
  const m = scheme.match(topic);
  const c = p.credential;
  if (m.kind === 'telemetry' && m.target.twinId === c.twinId && m.target.workspace === c.workspace)
    return undefined;
  const control = parseDeviceTopic(topic);
  if (isDeviceControlTopic(control) && control.twinId === c.twinId) return undefined;
  return `device credential ${c.id} of twin '${c.twinId}' may publish only that twin's telemetry, command responses, reported state and connection (not on ${topic})`;
}

/** Whether a subscription filter is allowed. */
export function maySubscribe(p: MqttPrincipal, filter: string): boolean {
  if (p.kind === 'platform') return true;
  // `$SYS/...` shows every client id (and a `$`-topic is never matched by `#` or `+`).
  if (filter.startsWith('$')) return false;
  if (p.kind === 'anonymous') return true;
  const levels = filter.split('/');
  if (levels[0] !== 'twins' || levels[1] !== encodeLevel(p.credential.twinId)) return false;
  if (levels.length === 3) return levels[2] === 'desired';
  if (levels.length === 4) return levels[2] === 'commands';
  return false;
}
