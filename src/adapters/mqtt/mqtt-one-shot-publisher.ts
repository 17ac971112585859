/**
 * One message to a broker and back: connects (no reconnects, 5 s to answer), publishes with QoS 1,
 * waits for the PUBACK (the broker has stored it) and disconnects. For the CLI's `twinloop send --mqtt`.
 */
import mqtt from 'mqtt';
import { TwinloopError } from '../../core/errors/errors.js';

export interface OneShotPublishOptions {
  url: string;
  clientId: string;
  /** Username and password, when the broker asks for them (Twinloop's: the token as password). */
  credentials?: { username: string; password: string };
  topic: string;
  payload: string;
}

/** @throws TwinloopError ServiceUnavailable when the broker cannot be reached; rejects when the publish fails. */
export async function publishOnce(o: OneShotPublishOptions): Promise<void> {
  const c = await mqtt
    .connectAsync(o.url, {
      clientId: o.clientId,
      reconnectPeriod: 0,
      connectTimeout: 5000,
      ...(o.credentials ?? {}),
    })
    .catch((e: unknown) => {
      throw new TwinloopError(
        'ServiceUnavailable',
        `Cannot reach the MQTT broker at ${o.url}: ${(e as Error).message}`,
      );
    });
  try {
    await c.publishAsync(o.topic, o.payload, { qos: 1 });
  } finally {
    await c.endAsync();
  }
}
