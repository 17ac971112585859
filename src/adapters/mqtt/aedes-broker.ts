/**
 * The embedded MQTT broker (aedes): devices publish telemetry straight into Twinloop. A QoS 1
 * telemetry PUBLISH is acknowledged only after the ingest service has made it durable (readings in
 * history, or the message in the dead letters): aedes sends PUBACK after `authorizePublish` calls
 * back (lib/handlers/publish.js: authorizePublish, then enqueuePublish writes the PUBACK), so the
 * hook awaits ingestion. Other topics pass through untouched; telemetry is forwarded to subscribers
 * too. All packets of one socket read are handled concurrently, so one slow device does not hold
 * up the others and a connection's in-flight messages share a commit.
 *
 * Clients are principals (mqtt-access.ts): the platform token, a device credential scoped to one
 * twin, or anonymous when authentication is off. Packets larger than maxPacketBytes are refused
 * while their header is read (never buffered whole). close() is graceful: it stops taking new
 * messages, waits for the commits under way and sends their PUBACKs before closing connections.
 */
import { OwedAcks } from './mqtt-owed-acks.js';
import type { DeviceInbox, DevicePublishOptions } from '../../core/ports/device-channel.js';
import { commandTopic, parseDeviceTopic } from '../../core/control/device-topics.js';
import type { DeviceCredentialStore } from '../../core/ports/device-credential-store.js';
import { parseDeviceToken } from '../../core/ports/device-credential-store.js';
import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer as createTcpServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes } from 'aedes';
import type { AuthenticateError, AedesOptions, Client } from 'aedes';
import { maySubscribe, publishRefusal } from './mqtt-access.js';
import type { MqttPrincipal } from './mqtt-access.js';
import { limitPacketSize } from './mqtt-packet-limit.js';
import { InboundQos2Limit } from './mqtt-qos2-limit.js';
import { TwinloopError } from '../../core/errors/errors.js';
import type { TelemetryIngest } from '../../core/telemetry/ingest-service.js';
import { TopicScheme } from '../../core/telemetry/topic-scheme.js';
import { routeDeviceMessage, silentLogger } from './mqtt-message-handler.js';
import type { MqttLogger } from './mqtt-message-handler.js';

export interface AedesBrokerOptions {
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** TCP port; 0 lets the OS choose (read `port` after start). Default 1883. */
  port?: number;
  /** PEM certificate and key: listen with TLS (mqtts). */
  tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer };
  /** The platform token: when set, clients must present it (or a device credential) as the MQTT password. */
  token?: string;
  /**
   * Device credentials: a client presenting one is that twin's device (see mqtt-access.ts). Checked
   * once, at CONNECT: what it grants is kept for the connection, so packets never query the store.
   */
  credentials?: Pick<DeviceCredentialStore, 'verify'>;
  /**
   * How long a credential check may take before the client is refused as "server unavailable"
   * (CONNACK 3; the device retries), ms (default 5000). A late answer never lets it in.
   */
  credentialTimeoutMs?: number;
  /**
   * Largest MQTT packet accepted, bytes (default: twice maxMessageBytes, at least maxMessageBytes +
   * 64 KiB). A larger packet is refused as soon as its header is read and the client disconnected.
   */
  maxPacketBytes?: number;
  /**
   * Inbound QoS 2 messages a client may leave unreleased (no PUBREL yet) before it is disconnected
   * (default 1000).
   */
  maxInboundQos2?: number;
  /** How long close() waits for commits under way before closing anyway (default 10 s). */
  closeTimeoutMs?: number;
  /** Telemetry topic patterns (default DEFAULT_TELEMETRY_TOPICS). */
  topics?: readonly string[];
  /**
   * Largest telemetry payload accepted, bytes (default 256 KiB). A larger one is acknowledged and
   * dead-lettered as PayloadTooLarge (rejecting it would make the device resend it forever). Keep
   * the ingest service's maxPayloadBytes the same.
   */
  maxMessageBytes?: number;
  ingest: TelemetryIngest;
  /**
   * What devices send back (command responses, reported state, connection messages), their
   * connects and disconnects, subscriptions to their commands and command PUBACKs. A message on a
   * control topic is acknowledged once the inbox has stored what it changed.
   */
  inbox?: DeviceInbox;
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
  /** Where a device's message goes (telemetry to ingest, control topics to the inbox). */
  private readonly routing: Parameters<typeof routeDeviceMessage>[0];
  private readonly log: MqttLogger;
  private readonly tokenDigest: Buffer | undefined;
  private readonly maxMessageBytes: number;
  private readonly maxPacketBytes: number;
  private readonly principals = new WeakMap<Client, MqttPrincipal>();
  private readonly credentialTimeoutMs: number;
  /** Credential ids being checked now → revoked during the check (the connection is then refused). */
  private readonly checking = new Map<string, { count: number; revoked: boolean }>();
  /** Ingests whose PUBACK is owed (close() waits for them). */
  private readonly owed = new OwedAcks();
  private readonly qos2: InboundQos2Limit;
  private readonly sockets = new Set<Socket>();
  private closing = false;
  /** Refusals because storage is paused (ServiceUnavailable), logged at most once per 10 s. */
  private refused = { last: -Infinity, since: 0 };
  private boundPort = 0;

  constructor(private readonly options: AedesBrokerOptions) {
    this.scheme = new TopicScheme(options.topics);
    this.log = options.logger ?? silentLogger;
    this.maxMessageBytes = options.maxMessageBytes ?? 256 * 1024;
    this.routing = {
      ingest: options.ingest,
      scheme: this.scheme,
      ...(options.inbox ? { inbox: options.inbox } : {}),
      maxBytes: this.maxMessageBytes,
    };
    this.credentialTimeoutMs = Math.max(1, options.credentialTimeoutMs ?? 5000);
    this.qos2 = new InboundQos2Limit(Math.max(1, options.maxInboundQos2 ?? 1000));
    this.tokenDigest = options.token === undefined ? undefined : digest(Buffer.from(options.token, 'utf8'));
    this.maxPacketBytes =
      options.maxPacketBytes ?? Math.max(2 * this.maxMessageBytes, this.maxMessageBytes + 64 * 1024);
    const aedesOptions: AedesOptions = {
      authenticate: (client, _username, password, done) => {
        // aedes's hook takes a callback: the check is asynchronous (the credential store), so
        // `done` is called exactly once, by whichever comes first of the answer and the timeout.
        let answered = false;
        const answer = (err: AuthenticateError | null, ok: boolean): void => {
          if (answered) return;
          answered = true;
          clearTimeout(timer);
          done(err, ok);
        };
        const unavailable = (why: string): void => {
          // The credential store failed or is too slow: refuse for now ("server unavailable"), the device retries.
          this.log.error(`MQTT client '${client.id}' not checked: ${why}`);
          const err = new Error('credentials cannot be checked now') as AuthenticateError;
          err.returnCode = 3;
          answer(err, false);
        };
        const timer = setTimeout(
          () => unavailable(`the credential check took longer than ${this.credentialTimeoutMs} ms`),
          this.credentialTimeoutMs,
        );
        this.authenticate(client, password).then(
          (principal) => {
            if (answered) return; // timed out: refused already, a late grant lets nobody in
            if (typeof principal === 'string') {
              this.log.warn(`MQTT client '${client.id}' refused: ${principal}`);
              const err = new Error(principal) as AuthenticateError;
              err.returnCode = principal.startsWith('client id') ? 2 : 4; // identifier rejected / bad user name or password
              return answer(err, false);
            }
            this.principals.set(client, principal);
            answer(null, true);
          },
          (e: unknown) => unavailable(e instanceof Error ? e.message : String(e)),
        );
      },
      authorizeSubscribe: (client, sub, callback) => {
        const principal = this.principals.get(client) ?? { kind: 'anonymous' };
        if (maySubscribe(principal, sub.topic)) return callback(null, sub);
        this.log.warn(`MQTT client '${client.id}' may not subscribe to '${sub.topic}'.`);
        callback(null, null); // SUBACK failure for this filter; the connection stays
      },
      authorizePublish: (client, packet, callback) => {
        const principal: MqttPrincipal = client
          ? (this.principals.get(client) ?? { kind: 'anonymous' })
          : { kind: 'platform' };
        const refusal = publishRefusal(principal, packet.topic, this.scheme);
        if (refusal) {
          // Commands and desired state come from the platform only (published in-process, which
          // does not pass here); a device publishes only its own twin's telemetry.
          this.log.warn(`MQTT client '${client?.id ?? '?'}' may not publish: ${refusal}.`);
          return callback(new Error(refusal));
        }
        // Stopping: take nothing new. No PUBACK: the device resends it to the next run.
        if (this.closing) return;
        if (client && packet.qos === 2 && !this.qos2.take(client.id, packet.messageId)) {
          this.log.warn(
            `MQTT client '${client.id}' left ${this.qos2.max} QoS 2 messages without PUBREL: disconnected.`,
          );
          setImmediate(() => client.disconnect({ reasonCode: RECEIVE_MAXIMUM_EXCEEDED }));
          return;
        }
        let pending;
        try {
          pending = routeDeviceMessage(this.routing, packet, client?.id);
        } catch (e) {
          this.log.error(`MQTT ingest failed for topic '${packet.topic}': ${(e as Error).message}`);
          return callback(e as Error);
        }
        if (!pending) return callback(null);
        const owed = pending.then(
          () => callback(null),
          (e: unknown) => {
            // Storage failed: no PUBACK. aedes closes the connection and the device resends after reconnecting.
            if ((e as { code?: unknown }).code === 'ServiceUnavailable') {
              // Storage paused (PostgreSQL unreachable, its buffer full): one line per 10 s, not per message.
              const now = Date.now();
              if (now - this.refused.last < 10_000) this.refused.since++;
              else {
                const more = this.refused.since
                  ? ` (and ${this.refused.since} more refused since the last line)`
                  : '';
                this.refused = { last: now, since: 0 };
                this.log.warn(
                  `MQTT ingest refused a message on '${packet.topic}'${more}: ${(e as Error).message}`,
                );
              }
            } else {
              this.log.error(
                `MQTT ingest could not store a message on '${packet.topic}': ${(e as Error).message}`,
              );
            }
            // Never acknowledge it: an MQTT 5 PUBACK with an error reason code would tell the device
            // to drop the message. Close the connection instead (MQTT 5: DISCONNECT 0x89 "server
            // busy"); the device reconnects and resends what is unacknowledged.
            if (client) client.disconnect({ reasonCode: SERVER_BUSY });
            else callback(e as Error);
          },
        );
        this.owed.add(owed);
      },
    };
    this.aedes = new Aedes(aedesOptions);
    this.aedes.on('clientError', (client, err) =>
      this.log.warn(`MQTT client '${client.id}': ${err.message}`),
    );
    if (options.inbox) this.followDevices(options.inbox);
  }

  /**
   * Presence and command delivery from the broker's own events. A client stands for the twin its
   * device credential names or, without one, the twin its client id names (the inbox ignores ids
   * that are no twin).
   */
  private followDevices(inbox: DeviceInbox): void {
    const twinOf = (client: Client): string => {
      const p = this.principals.get(client);
      return p?.kind === 'device' ? p.credential.twinId : client.id;
    };
    const warn = (what: string) => (e: unknown) =>
      this.log.error(`MQTT: could not store ${what}: ${(e as Error).message}`);
    this.aedes.on('clientReady', (client) => {
      const twin = twinOf(client);
      inbox.presence(twin, 'connected', Date.now(), 'broker').catch(warn(`that '${twin}' connected`));
    });
    this.aedes.on('clientDisconnect', (client) => {
      // A reconnect that took the session over: the twin's device is still connected.
      const clients = (this.aedes as unknown as { clients: Record<string, Client | undefined> }).clients;
      const current = clients[client.id];
      if (current && current !== client && current.connected) return;
      const twin = twinOf(client);
      inbox.presence(twin, 'disconnected', Date.now(), 'broker').catch(warn(`that '${twin}' disconnected`));
    });
    this.aedes.on('subscribe', (subscriptions, client) => {
      if (!client) return;
      const twin = twinOf(client);
      const probe = commandTopic(twin, 'x');
      if (subscriptions.some((s) => s.qos < 128 && filterMatches(s.topic, probe))) inbox.ready(twin);
    });
    this.aedes.on('ack', (packet, client) => {
      // aedes gives the packet only for persistent sessions (clean ones keep no copy to match).
      if (!client || packet?.cmd !== 'publish') return;
      const target = parseDeviceTopic(packet.topic);
      if (target?.kind !== 'command') return;
      const requestId = requestIdOf(packet.payload);
      if (requestId) inbox.delivered(target.twinId, requestId, Date.now());
    });
  }

  /** The client's principal, or why it is refused (a message starting "client id" is CONNACK 2, else 4). */
  private async authenticate(client: Client, password: Buffer | undefined): Promise<MqttPrincipal | string> {
    const given = password?.toString('utf8');
    let principal: MqttPrincipal | undefined;
    const token = given === undefined ? undefined : parseDeviceToken(given);
    if (given !== undefined && token) {
      const credential = await this.verifyCredential(token.id, given);
      if (!credential) return 'unknown or revoked device credential';
      if (client.id !== credential.twinId)
        return `client id '${client.id}' is not the credential's twin: a device connects with its twin id ('${credential.twinId}') as client id`;
      principal = { kind: 'device', credential };
    } else if (this.tokenDigest) {
      // Compare digests: equal length for timingSafeEqual, and no length leak.
      if (!password || !timingSafeEqual(digest(password), this.tokenDigest))
        return 'bad token: present the Twinloop MQTT token or a device credential as the password';
      principal = { kind: 'platform' };
    } else principal = { kind: 'anonymous' };
    if (principal.kind === 'anonymous') {
      // Without credentials nobody may take over a connected session (aedes would close it).
      const clients = (this.aedes as unknown as { clients: Record<string, Client | undefined> }).clients;
      const existing = clients[client.id];
      if (existing && existing !== client && existing.connected)
        return `client id '${client.id}' is in use by a connected client`;
    }
    return principal;
  }

  /** Verifies a device token; undefined also when its credential was revoked while it was being checked. */
  private async verifyCredential(
    id: string,
    token: string,
  ): Promise<Awaited<ReturnType<DeviceCredentialStore['verify']>>> {
    const store = this.options.credentials;
    if (!store) return undefined;
    const entry = this.checking.get(id) ?? { count: 0, revoked: false };
    entry.count++;
    this.checking.set(id, entry);
    try {
      const credential = await store.verify(token);
      return entry.revoked ? undefined : credential;
    } finally {
      if (--entry.count === 0) this.checking.delete(id);
    }
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
    this.qos2.install(
      (this.aedes as unknown as { persistence: Parameters<InboundQos2Limit['install']>[0] }).persistence,
    );
    const tls = this.options.tls;
    const handle = (socket: Socket): void => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      limitPacketSize(this.aedes.handle(socket), this.maxPacketBytes, this.log);
    };
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
          // MQTT 5 subscribers get them (Response Topic, Correlation Data, expiry); 3.1.1 ones do not.
          ...(options.properties ? { properties: options.properties } : {}),
        },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  /**
   * Stops gracefully: no new connections and no new messages (a message arriving now gets no PUBACK,
   * so its device resends it to the next run), waits for the commits under way (at most
   * closeTimeoutMs) and for their PUBACKs to leave, then closes the connections and the broker.
   */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.closing = true;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : undefined;
    const deadline = Date.now() + (this.options.closeTimeoutMs ?? 10_000);
    await this.owed.settle(deadline);
    // aedes writes the PUBACK a tick after the callback; then the bytes must leave the socket buffers.
    await new Promise((r) => setImmediate(r));
    while ([...this.sockets].some((s) => s.writableLength > 0 && !s.destroyed) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
    await closed;
  }

  /** Disconnects every client connected with this device credential (it was revoked); returns how many. */
  disconnectCredential(credentialId: string): number {
    // A connection whose check of this credential is under way is refused when the check ends.
    const checking = this.checking.get(credentialId);
    if (checking) checking.revoked = true;
    const clients = (this.aedes as unknown as { clients: Record<string, Client | undefined> }).clients;
    let n = 0;
    for (const c of Object.values(clients)) {
      const p = c && this.principals.get(c);
      if (c && p?.kind === 'device' && p.credential.id === credentialId) {
        this.log.info(
          `MQTT client '${c.id}' disconnected: its device credential ${credentialId} was revoked.`,
        );
        c.close();
        n++;
      }
    }
    return n;
  }

  /** Connected clients right now. */
  get connectedClients(): number {
    return this.aedes.connectedClients;
  }
}

/** MQTT 5 DISCONNECT reason codes (a 3.1.1 client is simply disconnected). */
const SERVER_BUSY = 0x89;
const RECEIVE_MAXIMUM_EXCEEDED = 0x93;

/** Whether an MQTT subscription filter matches a topic (`+` one level, `#` the rest). */
export function filterMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** The request id of a command message the platform sent (its own JSON), or undefined. */
function requestIdOf(payload: unknown): string | undefined {
  try {
    const text = Buffer.isBuffer(payload) ? payload.toString('utf8') : String(payload);
    const id = (JSON.parse(text) as { requestId?: unknown }).requestId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

function digest(b: Buffer): Buffer {
  return createHash('sha256').update(b).digest();
}
