/**
 * What the device simulator (src/sim/device) needs of the outside world to behave like a fleet of
 * devices: a shared connection it publishes readings over, and one device connection per simulated
 * twin (its own session, last will and presence) on which it receives that twin's commands and
 * desired state and answers them. The MQTT adapter (src/adapters/mqtt/mqtt-simulator-publisher.ts)
 * implements it with MQTT clients of the platform's broker; a test can implement it in memory.
 * Reading models and twins is not a port: the simulator is given its catalog, its twins and a
 * `SimulatorWorld` (sim/device) to read.
 */

/** Control message metadata a device gets besides topic and payload (MQTT 5 properties). */
export interface ControlMessageProperties {
  /** MQTT 5 Response Topic of a command. */
  responseTopic?: string;
  /** MQTT 5 Correlation Data of a command (the platform's request id). */
  correlationData?: Uint8Array;
}

/** Receives a raw (untrusted) control message: topic, bytes and its MQTT 5 properties. */
export type ControlHandler = (
  topic: string,
  payload: Uint8Array,
  properties: ControlMessageProperties,
) => void;

/** Options of a device → platform publish (command response, reported state, connection). */
export interface DevicePublish {
  /** Kept by the broker (connection messages). */
  retain?: boolean;
  /** MQTT 5 Correlation Data, echoed from the command it answers. */
  correlationData?: Uint8Array;
}

/**
 * One simulated twin's own connection, as a real device has: client id = twin id, last will
 * `{"state":"disconnected"}` (retained, QoS 1) on `twins/{id}/connection`, subscribed to the twin's
 * commands and desired state, then `{"state":"connected"}` (retained) published. It reconnects by
 * itself after a lost broker (subscribing and announcing itself again) until `drop` or `close`.
 */
export interface DeviceConnection {
  readonly twinId: string;
  /** True while connected (and subscribed). */
  readonly connected: boolean;
  /**
   * Publishes as the device, QoS 1. Resolves on the broker's acknowledgement.
   * @throws (rejects) when not connected or the broker refused it.
   */
  publish(topic: string, payload: string, options?: DevicePublish): Promise<void>;
  /**
   * Cuts the connection abruptly (no DISCONNECT packet: the broker publishes the last will), and
   * does not reconnect. Idempotent.
   */
  drop(): void;
  /** Publishes `{"state":"disconnected"}` (retained) and disconnects cleanly. Idempotent. */
  close(): Promise<void>;
}

/** One connection of the simulator to where devices talk (a broker). */
export interface SimulatorLink {
  /** True while the connection is up; readings are skipped (and counted) while it is down. */
  readonly connected: boolean;
  /**
   * Publishes a reading set of one twin (JSON with `$ts`) as a device would (QoS 1 to
   * `twins/{twinId}/telemetry`). Resolves once the broker acknowledged it.
   * @throws (rejects) when the broker refused it or the connection dropped before the acknowledgement.
   */
  publishTelemetry(twinId: string, payload: string): Promise<void>;
  /**
   * Delivers every command and desired-state message (any twin: the caller filters) to `handler`,
   * raw (topic and bytes, untrusted). Resolves once subscribed; a refused subscription is logged by
   * the adapter and resolves too (the simulator then publishes without receiving).
   */
  receiveControl(handler: ControlHandler): Promise<void>;
  /**
   * Publishes a device → platform control message on the shared connection, QoS 1: the answers of
   * twins beyond the device-connection cap, which have no connection of their own.
   * @throws (rejects) when the broker refused it or the connection dropped.
   */
  publishControl(topic: string, payload: string, options?: DevicePublish): Promise<void>;
  /**
   * Opens a twin's own device connection (see DeviceConnection); its control messages go to
   * `handler`. Resolves once connected, subscribed and announced, or after the connect timeout with
   * `connected` false (it keeps trying in the background): a device that cannot connect never
   * fails the simulator.
   */
  openDevice(twinId: string, handler: ControlHandler): Promise<DeviceConnection>;
  /** Disconnects after in-flight acknowledgements, never waiting more than a short grace. Idempotent. */
  close(): Promise<void>;
  /** Disconnects at once, dropping anything in flight (a failed start). */
  abort(): void;
}
