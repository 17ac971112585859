/**
 * The embedded MQTT broker (aedes): devices publish telemetry straight into Twinloop. A QoS 1
 * telemetry PUBLISH is acknowledged only after the ingest service has made it durable (readings in
 * history, or the message in the dead letters): aedes sends PUBACK after `authorizePublish` calls
 * back (lib/handlers/publish.js: authorizePublish, then enqueuePublish writes the PUBACK), so the
 * hook awaits ingestion. Other topics pass through untouched; telemetry is forwarded to subscribers
 * too. All packets of one socket read are handled concurrently, so one slow device does not hold
 * up the others and a connection's in-flight messages share a commit.
 */
import { isPlatformOnlyTopic } from '../../core/control/device-topics.js';
import type { DevicePublishOptions } from '../../core/ports/device-channel.js';
import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes } from 'aedes';
import type { AuthenticateError, AedesOptions } from 'aedes';
import { TwinloopError } from '../../core/errors/errors.js';
import type { TelemetryIngest } from '../../core/telemetry/ingest-service.js';
import { TopicScheme } from '../../core/telemetry/topic-scheme.js';
import { ingestMqttMessage, silentLogger } from './mqtt-message-handler.js';
import type { MqttLogger } from './mqtt-message-handler.js';

export interface AedesBrokerOptions {
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** TCP port; 0 lets the OS choose (read `port` after start). Default 1883. */
  port?: number;
  /** PEM certificate and key: listen with TLS (mqtts). */
  tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer };
  /** When set, clients must present it as the MQTT password (any username). */
  token?: string;
  /** Telemetry topic patterns (default DEFAULT_TELEMETRY_TOPICS). */
  topics?: readonly string[];
  /**
   * Largest telemetry payload accepted, bytes (default 256 KiB). A larger one is acknowledged and
   * dead-lettered as PayloadTooLarge (rejecting it would make the device resend it forever). Keep
   * the ingest service's maxPayloadBytes the same.
   */
  maxMessageBytes?: number;
  ingest: TelemetryIngest;
  logger?: MqttLogger;
}

/**
 * @example
 * const broker = new AedesBroker({ host: '127.0.0.1', port: 0, ingest });
 * const { port } = await broker.start();   // devices publish to twins/{twinId}/telemetry
 * await broker.close();
 */
export class AedesBroker {
  private readonly aedes: Aedes;
  private server: Server | undefined;
  private readonly scheme: TopicScheme;
  private readonly log: MqttLogger;
  private readonly tokenDigest: Buffer | undefined;
  private readonly maxMessageBytes: number;
  private boundPort = 0;

  constructor(private readonly options: AedesBrokerOptions) {
    this.scheme = new TopicScheme(options.topics);
    this.log = options.logger ?? silentLogger;
    this.maxMessageBytes = options.maxMessageBytes ?? 256 * 1024;
    this.tokenDigest = options.token === undefined ? undefined : digest(Buffer.from(options.token, 'utf8'));
    const aedesOptions: AedesOptions = {
      authenticate: (_client, _username, password, done) => {
        if (!this.tokenDigest) return done(null, true);
        // Compare digests: equal length for timingSafeEqual, and no length leak.
        if (password && timingSafeEqual(digest(password), this.tokenDigest)) return done(null, true);
        const err = new Error(
          'Bad token: present the Twinloop MQTT token as the password.',
        ) as AuthenticateError;
        err.returnCode = 4; // bad user name or password
        done(err, false);
      },
      authorizePublish: (client, packet, callback) => {
        if (isPlatformOnlyTopic(packet.topic)) {
          // Commands and desired state come from the platform only (published in-process, which
          // does not pass here): a device publishing there would command other devices.
          this.log.warn(
            `MQTT client '${client?.id ?? '?'}' may not publish on '${packet.topic}' (platform-only topic).`,
          );
          return callback(new Error(`Publishing on ${packet.topic} is reserved to the platform.`));
        }
        let pending;
        try {
          pending = ingestMqttMessage(
            this.options.ingest,
            this.scheme,
            packet.topic,
            packet.payload,
            client?.id,
            this.maxMessageBytes,
          );
        } catch (e) {
          this.log.error(`MQTT ingest failed for topic '${packet.topic}': ${(e as Error).message}`);
          return callback(e as Error);
        }
        if (!pending) return callback(null);
        pending.then(
          () => callback(null),
          (e: unknown) => {
            // Storage failed: no PUBACK. aedes closes the connection and the device resends after reconnecting.
            this.log.error(
              `MQTT ingest could not store a message on '${packet.topic}': ${(e as Error).message}`,
            );
            callback(e as Error);
          },
        );
      },
    };
    this.aedes = new Aedes(aedesOptions);
    this.aedes.on('clientError', (client, err) =>
      this.log.warn(`MQTT client '${client.id}': ${err.message}`),
    );
  }

  /** The bound port (after start). */
  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    const host = this.options.host ?? '127.0.0.1';
    return `${this.options.tls ? 'mqtts' : 'mqtt'}://${host.includes(':') ? `[${host}]` : host}:${this.boundPort}`;
  }

  /**
   * Starts listening. @throws TwinloopError('PortInUse') when the port is taken, with the ways out.
   */
  async start(): Promise<{ host: string; port: number; url: string }> {
    const host = this.options.host ?? '127.0.0.1';
    const port = this.options.port ?? 1883;
    await this.aedes.listen();
    const tls = this.options.tls;
    const handle = this.aedes.handle;
    const server = tls
      ? createTlsServer({ cert: tls.cert, key: tls.key, ca: tls.ca }, handle)
      : createTcpServer(handle);
    server.on('connection', (socket) => socket.setNoDelay(true));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') {
        throw new TwinloopError(
          'PortInUse',
          `MQTT port ${port} on ${host} is in use (is Mosquitto running?). Use --mqtt-port N, TWINLOOP_MQTT_PORT, or --mqtt-url mqtt://${host}:${port} to use that broker instead.`,
          { cause: e, details: { host, port } },
        );
      }
      if (code === 'EACCES') {
        throw new TwinloopError(
          'PortInUse',
          `MQTT port ${port} on ${host} needs privileges. Use --mqtt-port N (above 1023) or TWINLOOP_MQTT_PORT.`,
          {
            cause: e,
            details: { host, port },
          },
        );
      }
      throw e;
    }
    server.on('error', (e) => this.log.error(`MQTT listener error: ${e.message}`));
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
    this.log.info(
      `MQTT broker listening on ${this.url} (telemetry topics: ${this.scheme.subscriptionFilters().join(', ')})`,
    );
    return { host, port: this.boundPort, url: this.url };
  }

  /** Publishes from the platform to devices (commands, desired state): the DeviceChannel port. */
  publish(topic: string, payload: string, options: DevicePublishOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      this.aedes.publish(
        {
          cmd: 'publish',
          topic,
          payload: Buffer.from(payload, 'utf8'),
          qos: options.qos,
          retain: options.retain,
          dup: false,
        },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  /** Stops accepting connections, closes client connections and the broker. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Connected clients right now. */
  get connectedClients(): number {
    return this.aedes.connectedClients;
  }
}

function digest(b: Buffer): Buffer {
  return createHash('sha256').update(b).digest();
}
