/**
 * What the device simulator (src/sim/device) needs of the outside world to behave like a fleet of
 * devices: a connection it publishes readings over and receives commands and desired state from.
 * The MQTT adapter (src/adapters/mqtt/mqtt-simulator-publisher.ts) implements it as one MQTT client
 * of the platform's broker; a test can implement it in memory. Reading models and twins is not a
 * port: the simulator is given its catalog, its twins and a `SimulatorWorld` (sim/device) to read.
 */

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
  receiveControl(handler: (topic: string, payload: Uint8Array) => void): Promise<void>;
  /** Disconnects after in-flight acknowledgements, never waiting more than a short grace. Idempotent. */
  close(): Promise<void>;
  /** Disconnects at once, dropping anything in flight (a failed start). */
  abort(): void;
}
