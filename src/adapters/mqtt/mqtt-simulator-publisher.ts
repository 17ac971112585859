/**
 * The device simulator's MQTT connections: one shared MQTT 5 client of the broker, logged in like a
 * device (the platform's token as password when auth is on), publishing readings with QoS 1 to
 * `twins/{twinId}/telemetry` (and, for twins beyond the device-connection cap, receiving their
 * commands and desired state); plus one device connection per simulated twin
 * (mqtt-device-connection.ts: client id = twin id, last will, presence). Implements the
 * SimulatorLink port (core/ports/simulator-link.ts) for src/sim/device/device-simulator.ts;
 * `startMqttSimulator` is the two put together, for `twinloop start` and `twinloop simulate`.
 */
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { DEVICE_CONTROL_FILTERS } from '../../core/control/device-topics.js';
import { TwinloopError } from '../../core/errors/errors.js';
import type {
  ControlHandler,
  DeviceConnection,
  DevicePublish,
  SimulatorLink,
} from '../../core/ports/simulator-link.js';
import { telemetryTopic } from '../../core/telemetry/topic-scheme.js';
import {
  startSimulator,
  type Simulator,
  type SimulatorLogger,
  type SimulatorOptions,
} from '../../sim/device/device-simulator.js';
import { MqttDeviceConnection, publishQos1 } from './mqtt-device-connection.js';

export interface MqttSimulatorPublisherOptions {
  mqttUrl: string;
  /** MQTT password: the platform's token when auth is on. */
  password?: string;
  /** How long to wait for the broker's first CONNACK (default 5000 ms). */
  connectTimeoutMs?: number;
  logger: SimulatorLogger;
}

/** The simulator's connection to a broker, once its first CONNACK came. */
export class MqttSimulatorPublisher implements SimulatorLink {
  private offline = false;

  private constructor(
    private readonly client: MqttClient,
    private readonly o: MqttSimulatorPublisherOptions,
  ) {
    client.on('offline', () => {
      if (!this.offline)
        o.logger.warn(
          `Simulator: lost the MQTT broker at ${o.mqttUrl}; readings are skipped until it is back.`,
        );
      this.offline = true;
    });
    client.on('connect', () => {
      if (this.offline) o.logger.info('Simulator: MQTT broker back, publishing again.');
      this.offline = false;
    });
  }

  /**
   * Connects (reconnecting every second after a loss).
   * @throws TwinloopError ServiceUnavailable when no broker answers within the timeout.
   */
  static connect(o: MqttSimulatorPublisherOptions): Promise<MqttSimulatorPublisher> {
    const opts: IClientOptions = {
      clientId: `twinloop-sim-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
      protocolVersion: 5,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: o.connectTimeoutMs ?? 5000,
      ...(o.password ? { username: 'twinloop-sim', password: o.password } : {}),
    };
    const client = mqtt.connect(o.mqttUrl, opts);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        client.end(true);
        reject(
          new TwinloopError(
            'ServiceUnavailable',
            `Simulator: no MQTT broker answered at ${o.mqttUrl} within ${opts.connectTimeout} ms (is Twinloop running? give --mqtt-url).`,
          ),
        );
      }, opts.connectTimeout);
      client.once('connect', () => {
        clearTimeout(timer);
        resolve(new MqttSimulatorPublisher(client, o));
      });
      client.on('error', (e) => o.logger.warn(`Simulator: MQTT error: ${e.message}`));
    });
  }

  get connected(): boolean {
    return this.client.connected;
  }

  publishTelemetry(twinId: string, payload: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.publish(telemetryTopic(twinId), payload, { qos: 1 }, (err) =>
        err ? reject(err) : resolve(),
      );
    });
  }

  receiveControl(handler: ControlHandler): Promise<void> {
    this.client.on('message', (topic, payload, packet) => {
      const p = packet.properties;
      handler(topic, payload, {
        ...(p?.responseTopic !== undefined ? { responseTopic: p.responseTopic } : {}),
        ...(p?.correlationData !== undefined ? { correlationData: p.correlationData } : {}),
      });
    });
    return new Promise<void>((resolve) => {
      this.client.subscribe([...DEVICE_CONTROL_FILTERS], { qos: 1 }, (err) => {
        if (err)
          this.o.logger.warn(`Simulator: cannot subscribe to commands and desired state: ${err.message}`);
        resolve();
      });
    });
  }

  publishControl(topic: string, payload: string, options: DevicePublish = {}): Promise<void> {
    return publishQos1(this.client, topic, payload, options);
  }

  openDevice(twinId: string, handler: ControlHandler): Promise<DeviceConnection> {
    return MqttDeviceConnection.open({
      mqttUrl: this.o.mqttUrl,
      twinId,
      ...(this.o.password ? { credentials: { username: 'twinloop-sim', password: this.o.password } } : {}),
      ...(this.o.connectTimeoutMs !== undefined ? { connectTimeoutMs: this.o.connectTimeoutMs } : {}),
      handler,
      logger: this.o.logger,
    });
  }

  async close(): Promise<void> {
    // Wait for in-flight PUBACKs, but never hang a shutdown on a vanished broker.
    await Promise.race([
      new Promise<void>((resolve) => this.client.end(false, {}, () => resolve())),
      new Promise<void>((resolve) => setTimeout(resolve, 2000).unref()),
    ]);
    if (this.client.connected || this.client.disconnecting) this.client.end(true);
  }

  abort(): void {
    this.client.end(true);
  }
}

const silent: SimulatorLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Options of startMqttSimulator: the simulator's, with the broker to publish to instead of `connect`. */
export type MqttSimulatorOptions = Omit<SimulatorOptions, 'connect'> &
  Omit<MqttSimulatorPublisherOptions, 'logger'>;

/**
 * Starts the device simulator publishing over MQTT (see startSimulator for what it does).
 * @throws TwinloopError as startSimulator, ServiceUnavailable when the broker is unreachable.
 */
export function startMqttSimulator(o: MqttSimulatorOptions): Promise<Simulator> {
  const { mqttUrl, password, connectTimeoutMs, ...sim } = o;
  return startSimulator({
    ...sim,
    connect: () =>
      MqttSimulatorPublisher.connect({
        mqttUrl,
        ...(password !== undefined ? { password } : {}),
        ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
        logger: o.logger ?? silent,
      }),
  });
}
