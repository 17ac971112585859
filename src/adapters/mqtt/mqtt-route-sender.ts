/**
 * MQTT endpoints: each CloudEvent published (structured JSON, QoS 1) to a topic, through the
 * platform's broker connection (the embedded broker or the external one Twinloop is a client of),
 * or through a client of its own when the endpoint names another broker (`url`).
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { DeviceChannel } from '../../core/ports/device-channel.js';
import { DeliveryFailure, type CloudEvent, type EndpointSender } from '../../core/ports/event-routing.js';

export interface MqttRouteSenderOptions {
  topic: string;
  /** The platform's broker connection (used when `url` is absent). */
  channel?: DeviceChannel;
  url?: string;
  timeoutMs?: number;
}

export class MqttRouteSender implements EndpointSender {
  private client: MqttClient | undefined;

  constructor(private readonly o: MqttRouteSenderOptions) {}

  async send(event: CloudEvent): Promise<void> {
    const payload = JSON.stringify(event);
    try {
      if (this.o.url) {
        this.client ??= mqtt.connect(this.o.url, {
          clientId: `twinloop-routes-${globalThis.crypto.randomUUID().slice(0, 8)}`,
          reconnectPeriod: 1000,
          connectTimeout: this.o.timeoutMs ?? 10_000,
        });
        if (!this.client.connected) throw new Error('not connected to the broker');
        await this.client.publishAsync(this.o.topic, payload, { qos: 1 });
        return;
      }
      if (!this.o.channel) throw new Error('no broker connection');
      await this.o.channel.publish(this.o.topic, payload, { qos: 1, retain: false });
    } catch (e) {
      throw new DeliveryFailure(`MQTT did not take the event: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c) await c.endAsync(true).catch(() => undefined);
  }
}
