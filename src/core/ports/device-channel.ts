/**
 * The way back to devices: how the platform publishes commands and desired state. The MQTT adapters
 * implement it (the embedded broker publishes in-process; the external-broker client publishes to
 * the broker it is connected to).
 */
export interface DevicePublishOptions {
  qos: 0 | 1;
  /** Kept by the broker for devices that subscribe later (desired state). */
  retain: boolean;
}

export interface DeviceChannel {
  /**
   * Publishes one message. Resolves once the broker has taken it (embedded: handed to its
   * subscribers' queues; external: PUBACK for QoS 1). @throws when the broker is unreachable.
   */
  publish(topic: string, payload: string, options: DevicePublishOptions): Promise<void>;
}
