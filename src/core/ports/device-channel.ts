/**
 * The way back to devices and what devices send back on control topics (docs/mqtt.md, "Control").
 * The MQTT adapters implement DeviceChannel (the embedded broker publishes in-process; the
 * external-broker client publishes to the broker it is connected to) and feed a DeviceInbox.
 */
export interface DevicePublishOptions {
  qos: 0 | 1;
  /** Kept by the broker for devices that subscribe later (desired state). */
  retain: boolean;
  /** MQTT 5 properties, sent to MQTT 5 subscribers (3.1.1 ones get the payload only). */
  properties?: {
    responseTopic?: string;
    correlationData?: Buffer;
    /** Seconds; the broker drops the message for a subscriber that has not got it by then. */
    messageExpiryInterval?: number;
    contentType?: string;
  };
}

export interface DeviceChannel {
  /**
   * Publishes one message. Resolves once the broker has taken it (embedded: handed to its
   * subscribers' queues; external: PUBACK for QoS 1). @throws when the broker is unreachable.
   */
  publish(topic: string, payload: string, options: DevicePublishOptions): Promise<void>;
}

/** One message a device published on a control topic (command response, reported state, connection). */
export interface DeviceControlMessage {
  topic: string;
  payload: Buffer;
  /** MQTT 5 Correlation Data, when the device sent it (a command response). */
  correlationData?: Buffer;
  /** The MQTT client id, for dead letters and logs. */
  clientId?: string;
  /** ms since epoch. */
  receivedAt: number;
}

/** How a device's connection was seen: by the embedded broker itself, or from a connection message. */
export type PresenceSource = 'broker' | 'message';

/**
 * What the MQTT adapters tell the platform about devices. Every method resolves once what it
 * changed is durable: the adapters acknowledge the device's message (PUBACK) only then.
 */
export interface DeviceInbox {
  /** A message on a device → platform control topic. Bad input is dead-lettered, never thrown. */
  receive(message: DeviceControlMessage): Promise<void>;
  /**
   * The device of a twin connected or disconnected (embedded broker: its client, identified by its
   * credential or, without one, by a client id equal to the twin id).
   */
  presence(
    twinId: string,
    state: 'connected' | 'disconnected',
    at: number,
    source: PresenceSource,
  ): Promise<void>;
  /**
   * The device of a twin subscribed to its commands: queued commands may go now (embedded broker;
   * with an external broker a `connected` connection message stands for it).
   */
  ready(twinId: string): void;
  /** The device of a twin acknowledged a command (its MQTT PUBACK; embedded broker only). */
  delivered(twinId: string, requestId: string, at: number): void;
}
