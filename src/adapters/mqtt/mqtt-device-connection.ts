/**
 * One simulated twin's own MQTT connection, as a real device holds it (the DeviceConnection port,
 * core/ports/simulator-link.ts): MQTT 5, client id = twin id, the simulator's credentials, a last
 * will `{"state":"disconnected"}` (retained, QoS 1) on `twins/{id}/connection`. On every connect
 * (the first and each reconnect after a lost broker) it subscribes to its commands and desired
 * state and only then publishes `{"state":"connected"}` (retained): the platform may send queued
 * commands as soon as it sees it. `drop()` destroys the socket without DISCONNECT, so the broker
 * publishes the will, as when a real device loses power.
 */
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { connectionTopic, deviceFilters, type ConnectionMessage } from '../../core/control/device-topics.js';
import type { ControlHandler, DeviceConnection, DevicePublish } from '../../core/ports/simulator-link.js';
import type { SimulatorLogger } from '../../sim/device/device-simulator.js';

export interface MqttDeviceConnectionOptions {
  mqttUrl: string;
  twinId: string;
  /** MQTT user name and password (the simulator's: the platform token when auth is on). */
  credentials?: { username: string; password: string };
  /** How long open() waits for the first connect (default 5000 ms); it keeps trying after. */
  connectTimeoutMs?: number;
  handler: ControlHandler;
  logger: SimulatorLogger;
}

const payloadOf = (state: ConnectionMessage['state']): string => JSON.stringify({ state });

export class MqttDeviceConnection implements DeviceConnection {
  readonly twinId: string;
  private ready = false;
  private ended = false;

  private constructor(
    private readonly client: MqttClient,
    private readonly o: MqttDeviceConnectionOptions,
  ) {
    this.twinId = o.twinId;
  }

  /** Opens the connection; resolves once announced, or after the timeout (still trying). */
  static open(o: MqttDeviceConnectionOptions): Promise<MqttDeviceConnection> {
    const timeout = o.connectTimeoutMs ?? 5000;
    const opts: IClientOptions = {
      clientId: o.twinId,
      protocolVersion: 5,
      clean: true,
      // 1–5 s, different per device: after a lost broker a fleet does not reconnect all at once.
      reconnectPeriod: 1000 + Math.floor(Math.random() * 4000),
      connectTimeout: timeout,
      // Subscriptions are made on each connect (before announcing itself), not replayed by mqtt.js.
      resubscribe: false,
      will: {
        topic: connectionTopic(o.twinId),
        payload: Buffer.from(payloadOf('disconnected')),
        qos: 1,
        retain: true,
      },
      ...(o.credentials ?? {}),
    };
    const client = mqtt.connect(o.mqttUrl, opts);
    const conn = new MqttDeviceConnection(client, o);
    client.on('message', (topic, payload, packet) => {
      const p = packet.properties;
      o.handler(topic, payload, {
        ...(p?.responseTopic !== undefined ? { responseTopic: p.responseTopic } : {}),
        ...(p?.correlationData !== undefined ? { correlationData: p.correlationData } : {}),
      });
    });
    client.on('close', () => {
      conn.ready = false;
    });
    let warned = false;
    return new Promise((resolve) => {
      // A refused device does not hold up the start (nor the others): it keeps trying meanwhile.
      const timer = setTimeout(() => {
        o.logger.warn(
          `Simulator: the device connection of ${o.twinId} is not up after ${timeout} ms; it keeps trying.`,
        );
        resolve(conn);
      }, timeout);
      const settle = (): void => {
        clearTimeout(timer);
        resolve(conn);
      };
      client.on('error', (e) => {
        settle();
        if (warned) return; // a refused device retries: one line, not one per attempt
        warned = true;
        o.logger.warn(`Simulator: device connection of ${o.twinId}: ${e.message} (it keeps trying)`);
      });
      client.on('connect', () => {
        warned = false;
        conn.announce().then(settle, (e: unknown) => {
          settle();
          if (!conn.ended)
            o.logger.warn(
              `Simulator: device ${o.twinId} could not subscribe or announce itself: ${(e as Error).message}`,
            );
        });
      });
    });
  }

  get connected(): boolean {
    return this.ready && this.client.connected;
  }

  /** Subscribes to the twin's commands and desired state, then publishes `connected` (retained). */
  private async announce(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.client.subscribe(deviceFilters(this.twinId), { qos: 1 }, (err, granted) => {
        if (err) return reject(err);
        const refused = (granted ?? []).filter((g) => g.qos >= 0x80);
        if (refused.length)
          return reject(new Error(`the broker refused ${refused.map((g) => g.topic).join(', ')}`));
        resolve();
      });
    });
    await this.publishRaw(connectionTopic(this.twinId), payloadOf('connected'), { retain: true });
    this.ready = true;
  }

  publish(topic: string, payload: string, options: DevicePublish = {}): Promise<void> {
    // Connected is enough (not yet announced): the retained desired state arrives right after the
    // subscription, and its report follows the `connected` message on the same connection.
    if (this.ended || !this.client.connected)
      return Promise.reject(new Error(`device ${this.twinId} is not connected`));
    return this.publishRaw(topic, payload, options);
  }

  private publishRaw(topic: string, payload: string, options: DevicePublish): Promise<void> {
    return publishQos1(this.client, topic, payload, options);
  }

  drop(): void {
    if (this.ended) return;
    this.ended = true;
    this.ready = false;
    // No DISCONNECT packet: to the broker this is a lost device, so it publishes the will.
    this.client.end(true);
  }

  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (this.client.connected) {
      // A device shutting down says so (a clean DISCONNECT suppresses the will).
      await Promise.race([
        this.publishRaw(connectionTopic(this.twinId), payloadOf('disconnected'), { retain: true }).catch(
          () => undefined,
        ),
        new Promise<void>((resolve) => setTimeout(resolve, 1000).unref()),
      ]);
    }
    this.ready = false;
    await Promise.race([
      new Promise<void>((resolve) => this.client.end(false, {}, () => resolve())),
      new Promise<void>((resolve) => setTimeout(resolve, 1000).unref()),
    ]);
    if (this.client.connected || this.client.disconnecting) this.client.end(true);
  }
}

/** A QoS 1 publish of a device's control message (MQTT 5 Correlation Data when given). */
export function publishQos1(
  client: MqttClient,
  topic: string,
  payload: string,
  options: DevicePublish,
): Promise<void> {
  return new Promise((resolve, reject) => {
    client.publish(
      topic,
      payload,
      {
        qos: 1,
        retain: options.retain ?? false,
        ...(options.correlationData
          ? { properties: { correlationData: Buffer.from(options.correlationData) } }
          : {}),
      },
      (err) => (err ? reject(err) : resolve()),
    );
  });
}
