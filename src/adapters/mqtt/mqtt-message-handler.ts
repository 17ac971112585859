/**
 * What both MQTT adapters (embedded aedes broker, external broker client) do with a PUBLISH: match
 * the topic against the telemetry scheme, build an IncomingMessage and hand it to the ingest service.
 * Resolves when the readings or the dead letter are durable, so the caller can acknowledge then.
 */
import type { TelemetryIngest } from '../../core/telemetry/ingest-service.js';
import type { IngestOutcome } from '../../core/telemetry/telemetry-types.js';
import { isDeviceControlTopic, parseDeviceTopic } from '../../core/control/device-topics.js';
import type { DeviceInbox } from '../../core/ports/device-channel.js';
import type { TopicScheme } from '../../core/telemetry/topic-scheme.js';

/** The few logging calls the MQTT adapters make (a pino logger fits). */
export interface MqttLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export const silentLogger: MqttLogger = { info() {}, warn() {}, error() {} };

/**
 * Ingests one MQTT message. Returns undefined when the topic is not a telemetry topic (the caller
 * passes the message through untouched). @throws StorageError (rejects) when the store fails.
 */
export function ingestMqttMessage(
  ingest: TelemetryIngest,
  scheme: TopicScheme,
  topic: string,
  raw: Buffer | Uint8Array | string,
  clientId: string | undefined,
  maxBytes: number,
): Promise<IngestOutcome> | undefined {
  const payload = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
  const m = scheme.match(topic);
  if (m.kind === 'other') return undefined;
  const receivedAt = Date.now();
  if (payload.length > maxBytes) {
    const kept = 4096;
    const workspace = m.kind === 'telemetry' ? m.target.workspace : 'default';
    return ingest.reject(
      { source: 'mqtt', workspace, topic, clientId, receivedAt, payload: payload.subarray(0, kept) },
      'PayloadTooLarge',
      `The payload has ${payload.length} bytes, more than the MQTT limit of ${maxBytes} (the dead letter keeps the first ${kept}).`,
    );
  }
  if (m.kind === 'invalid') {
    // A broken topic names no trustworthy workspace: its dead letter is kept in "default".
    return ingest.reject(
      { source: 'mqtt', workspace: 'default', topic, clientId, receivedAt, payload },
      'BadRequest',
      m.reason,
    );
  }
  const t = m.target;
  return ingest.ingest({
    source: 'mqtt',
    workspace: t.workspace,
    topic,
    clientId,
    receivedAt,
    payload,
    twinId: t.twinId,
    component: t.component,
    modelId: t.modelId,
  });
}

/**
 * One message from a device, as both MQTT adapters take it: a control topic (command response,
 * reported state, connection) goes to the inbox, telemetry to ingest; larger than `maxBytes`, either
 * is dead-lettered as PayloadTooLarge. Returns undefined for any other topic (passed through).
 */
export function routeDeviceMessage(
  o: { ingest: TelemetryIngest; scheme: TopicScheme; inbox?: DeviceInbox; maxBytes: number },
  packet: { topic: string; payload: Buffer | Uint8Array | string; properties?: { correlationData?: Buffer } },
  clientId: string | undefined,
): Promise<unknown> | undefined {
  const control = o.inbox && parseDeviceTopic(packet.topic);
  if (!o.inbox || !isDeviceControlTopic(control))
    return ingestMqttMessage(o.ingest, o.scheme, packet.topic, packet.payload, clientId, o.maxBytes);
  const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
  const receivedAt = Date.now();
  if (payload.length > o.maxBytes) {
    const kept = 4096;
    return o.ingest.reject(
      {
        source: 'mqtt',
        workspace: 'default',
        topic: packet.topic,
        clientId,
        receivedAt,
        payload: payload.subarray(0, kept),
      },
      'PayloadTooLarge',
      `The payload has ${payload.length} bytes, more than the MQTT limit of ${o.maxBytes} (the dead letter keeps the first ${kept}).`,
    );
  }
  const correlationData = packet.properties?.correlationData;
  return o.inbox.receive({
    topic: packet.topic,
    payload,
    ...(correlationData ? { correlationData } : {}),
    ...(clientId !== undefined ? { clientId } : {}),
    receivedAt,
  });
}
