/**
 * Ingestion from an external MQTT broker (Mosquitto, EMQX, HiveMQ ...): subscribes QoS 1 with a
 * persistent session (fixed clientId, clean: false) and acknowledges each message to the broker only
 * after the ingest service made it durable, so a crash loses nothing: the broker redelivers what was
 * never acknowledged (at-least-once; a redelivered message is stored again).
 *
 * How the PUBACK is held back: MQTT.js handles incoming packets strictly one after another and sends
 * a PUBACK when `handleMessage`'s callback runs (lib/handlers/publish.js). Waiting in that callback
 * would allow one message per commit per connection, so instead the callback runs at once and the
 * PUBACK it sends is intercepted and released, in arrival order, when that message's ingest resolves.
 * Acks still pending when the connection drops are discarded: the broker redelivers those messages.
 *
 * close() is graceful: messages arriving after it starts are not ingested and get no PUBACK (the
 * broker keeps them for the next session); the commits under way finish and their PUBACKs go out
 * before the DISCONNECT. The client id is a secret (a client using it takes over the session): it is
 * never logged, only its fingerprint.
 */
import { OwedAcks } from './mqtt-owed-acks.js';
import type { DevicePublishOptions } from '../../core/ports/device-channel.js';
import mqtt from 'mqtt';
import { clientIdFingerprint } from './mqtt-client-id.js';
import type { IClientOptions, IPublishPacket, MqttClient, Packet } from 'mqtt';
import type { TelemetryIngest } from '../../core/telemetry/ingest-service.js';
import { TopicScheme } from '../../core/telemetry/topic-scheme.js';
import { routeDeviceMessage, silentLogger } from './mqtt-message-handler.js';
import type { MqttLogger } from './mqtt-message-handler.js';
import type { DeviceInbox } from '../../core/ports/device-channel.js';
import { PLATFORM_CONTROL_FILTERS } from '../../core/control/device-topics.js';

export interface MqttClientIngestOptions {
  /** mqtt://, mqtts://, ws:// or wss:// URL; user name and password may be given in it. */
  url: string;
  /** Fixed client id, so the broker keeps the session (and queued messages) across restarts. Secret: never logged. */
  clientId?: string;
  /** How long close() waits for commits under way before disconnecting anyway (default 10 s). */
  closeTimeoutMs?: number;
  /** Telemetry topic patterns (default DEFAULT_TELEMETRY_TOPICS); subscribed with `+` for tokens. */
  topics?: readonly string[];
  /** MQTT protocol version: 5 (default) or 4 (3.1.1). */
  protocolVersion?: 4 | 5;
  /** Largest payload accepted, bytes (default 256 KiB); larger ones are dead-lettered. */
  maxMessageBytes?: number;
  /** First reconnect delay, ms (default 500); doubles up to maxReconnectDelayMs (default 30 s). */
  reconnectDelayMs?: number;
  maxReconnectDelayMs?: number;
  /** How long start() waits for the first subscription before resolving anyway (default 5 s). */
  startTimeoutMs?: number;
  /** Extra MQTT.js options (TLS ca/cert/key, keepalive ...). */
  clientOptions?: IClientOptions;
  ingest: TelemetryIngest;
  /**
   * What devices send back on control topics (command responses, reported state, connection
   * messages): subscribed too, and acknowledged once the inbox has stored what it changed.
   */
  inbox?: DeviceInbox;
  logger?: MqttLogger;
}

interface PendingAck {
  messageId: number;
  ready: boolean;
  ack?: Packet;
}

/**
 * @example
 * const ext = new MqttClientIngest({ url: 'mqtt://127.0.0.1:1883', ingest });
 * await ext.start();   // subscribed (or still retrying, logged)
 * await ext.close();
 */
export class MqttClientIngest {
  private client: MqttClient | undefined;
  private readonly scheme: TopicScheme;
  /** Where a device's message goes (telemetry to ingest, control topics to the inbox). */
  private readonly routing: Parameters<typeof routeDeviceMessage>[0];
  private readonly log: MqttLogger;
  private readonly clientId: string;
  private readonly maxMessageBytes: number;
  private readonly baseDelay: number;
  private readonly maxDelay: number;
  /** Acks waiting for their message's commit, in arrival order; replaced on every (re)connect. */
  /** PUBACKs in arrival order; `head` is the first not yet sent (shift() would be O(n) per ack). */
  private queue: PendingAck[] = [];
  private head = 0;
  private byId = new Map<number, PendingAck>();
  private subscribed = false;
  private readonly safeUrl: string;
  /** Ingests whose PUBACK is owed (close() waits for them). */
  private readonly owed = new OwedAcks();
  /** Set by close(): messages arriving now are neither ingested nor acknowledged. */
  private closing = false;
  /** Message ids received while closing: their PUBACK is withheld, so the broker redelivers them. */
  private readonly withheld = new Set<number>();

  constructor(private readonly options: MqttClientIngestOptions) {
    this.scheme = new TopicScheme(options.topics);
    this.log = options.logger ?? silentLogger;
    this.clientId = options.clientId ?? 'twinloop-ingest';
    this.maxMessageBytes = options.maxMessageBytes ?? 256 * 1024;
    this.routing = {
      ingest: options.ingest,
      scheme: this.scheme,
      ...(options.inbox ? { inbox: options.inbox } : {}),
      maxBytes: this.maxMessageBytes,
    };
    this.baseDelay = options.reconnectDelayMs ?? 500;
    this.maxDelay = options.maxReconnectDelayMs ?? 30_000;
    this.safeUrl = redact(options.url);
  }

  /**
   * Publishes from the platform to devices through the external broker (the DeviceChannel port):
   * resolves on PUBACK (QoS 1). @throws when not connected, so a caller can report it.
   */
  publish(topic: string, payload: string, options: DevicePublishOptions): Promise<void> {
    const client = this.client;
    if (!client?.connected)
      return Promise.reject(new Error(`not connected to the MQTT broker at ${this.safeUrl}`));
    return new Promise((resolve, reject) => {
      const props = options.properties;
      const opts = { qos: options.qos, retain: options.retain, ...(props ? { properties: props } : {}) };
      client.publish(topic, payload, opts, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** True while connected and subscribed. */
  get connected(): boolean {
    return this.subscribed && this.client?.connected === true;
  }

  /** Connects and subscribes; resolves once subscribed, or after startTimeoutMs with a warning (retrying goes on). */
  async start(): Promise<void> {
    const v5 = (this.options.protocolVersion ?? 5) === 5;
    const opts: IClientOptions = {
      ...this.options.clientOptions,
      clientId: this.clientId,
      clean: false,
      protocolVersion: v5 ? 5 : 4,
      reconnectPeriod: this.baseDelay,
      connectTimeout: 10_000,
      resubscribe: false, // we subscribe on every connect ourselves (and only when the broker lost the session)
    };
    if (v5) {
      // Keep the session for a week across disconnects, and allow many unacknowledged messages in flight
      // (Mosquitto otherwise sends at most max_inflight_messages = 20 before waiting for our acks).
      opts.properties = {
        sessionExpiryInterval: 7 * 24 * 3600,
        receiveMaximum: 65535,
        ...this.options.clientOptions?.properties,
      };
    }
    const client = mqtt.connect(this.options.url, opts);
    this.client = client;
    this.installAckHold(client);
    let delay = this.baseDelay;
    let firstSubscribed: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (firstSubscribed = resolve));

    client.on('connect', (connack) => {
      delay = this.baseDelay;
      client.options.reconnectPeriod = delay;
      this.log.info(
        `MQTT ingest connected to ${this.safeUrl} (client id fingerprint ${clientIdFingerprint(this.clientId)}, session present: ${connack.sessionPresent}).`,
      );
      const filters = [
        ...this.scheme.subscriptionFilters(),
        ...(this.options.inbox ? PLATFORM_CONTROL_FILTERS : []),
      ];
      client.subscribe(
        filters.map((f) => f),
        { qos: 1 },
        (err, granted) => {
          if (err) {
            this.log.error(`MQTT ingest could not subscribe on ${this.safeUrl}: ${err.message}`);
            return;
          }
          const refused = (granted ?? []).filter((g) => g.qos > 2);
          if (refused.length)
            this.log.error(`MQTT ingest: the broker refused ${refused.map((g) => g.topic).join(', ')}.`);
          this.subscribed = true;
          firstSubscribed();
        },
      );
    });
    client.on('close', () => {
      this.subscribed = false;
      // Acks for the closed connection must never go out on the next one: the broker redelivers these messages.
      this.queue = [];
      this.head = 0;
      this.byId = new Map();
      this.withheld.clear();
    });
    client.on('reconnect', () => {
      delay = Math.min(this.maxDelay, delay * 2);
      client.options.reconnectPeriod = delay;
    });
    client.on('offline', () =>
      this.log.warn(`MQTT broker ${this.safeUrl} unreachable; retrying (next in ${delay} ms).`),
    );
    client.on('error', (err) => this.log.error(`MQTT ingest (${this.safeUrl}): ${err.message}`));

    const timeout = this.options.startTimeoutMs ?? 5000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      ready,
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.log.warn(
            `MQTT broker ${this.safeUrl} not reachable within ${timeout} ms; ingestion starts when it is.`,
          );
          resolve();
        }, timeout);
      }),
    ]);
    clearTimeout(timer);
  }

  /**
   * Disconnects gracefully: takes no new message, waits for the commits under way (at most
   * closeTimeoutMs), sends their PUBACKs, then DISCONNECT. Messages not committed are redelivered by
   * the broker to the next session.
   */
  async close(): Promise<void> {
    const client = this.client;
    this.closing = true;
    const deadline = Date.now() + (this.options.closeTimeoutMs ?? 10_000);
    await this.owed.settle(deadline);
    this.client = undefined;
    // end() (not forced) writes DISCONNECT after the PUBACKs already handed to the stream.
    if (client) await client.endAsync();
  }

  private installAckHold(client: MqttClient): void {
    const internal = client as unknown as {
      _sendPacket: (packet: Packet, cb?: (err?: Error) => void, ...rest: unknown[]) => void;
    };
    const send = internal._sendPacket.bind(client);
    internal._sendPacket = (packet, cb, ...rest) => {
      if (
        packet.cmd === 'puback' &&
        packet.messageId !== undefined &&
        this.withheld.delete(packet.messageId)
      ) {
        cb?.(); // received while closing: not stored, so not acknowledged (the broker redelivers it)
        return;
      }
      if (packet.cmd === 'puback' && packet.messageId !== undefined) {
        const entry = this.byId.get(packet.messageId);
        if (entry && !entry.ack) {
          entry.ack = packet;
          cb?.(); // lets MQTT.js go on with the next packet; the PUBACK goes out when the commit is done
          this.flush(send);
          return;
        }
      }
      send(packet, cb, ...rest);
    };
    client.handleMessage = (packet: IPublishPacket, callback) => {
      if (this.closing) {
        if (packet.qos > 0 && packet.messageId !== undefined) this.withheld.add(packet.messageId);
        return callback();
      }
      let pending;
      try {
        pending = routeDeviceMessage(this.routing, packet, undefined);
      } catch (e) {
        pending = Promise.reject(e as Error);
      }
      if (!pending) return callback();
      if (packet.qos === 0 || packet.messageId === undefined) {
        pending.catch((e: unknown) =>
          this.log.error(`MQTT ingest lost a QoS 0 message on '${packet.topic}': ${(e as Error).message}`),
        );
        return callback();
      }
      const entry: PendingAck = { messageId: packet.messageId, ready: false };
      const queue = this.queue;
      queue.push(entry);
      this.byId.set(entry.messageId, entry);
      const owed = pending.then(
        () => {
          entry.ready = true;
          if (queue === this.queue) this.flush(send);
        },
        (e: unknown) => {
          // Not stored: never acknowledge. Drop the connection so the broker redelivers after reconnecting.
          this.log.error(
            `MQTT ingest could not store a message on '${packet.topic}': ${(e as Error).message}; reconnecting.`,
          );
          if (queue === this.queue) client.stream?.destroy();
        },
      );
      this.owed.add(owed);
      callback();
    };
  }

  private flush(send: (packet: Packet, cb?: (err?: Error) => void) => void): void {
    const q = this.queue;
    let h = this.head;
    while (h < q.length && q[h]!.ready && q[h]!.ack) {
      const e = q[h++]!;
      this.byId.delete(e.messageId);
      send(e.ack!);
    }
    if (h === q.length) {
      q.length = 0;
      h = 0;
    } else if (h > 4096 && h * 2 > q.length) {
      q.splice(0, h);
      h = 0;
    }
    this.head = h;
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
