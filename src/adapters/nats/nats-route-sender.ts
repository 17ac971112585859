/**
 * NATS endpoints: each CloudEvent published (structured JSON) to a subject, with its attributes also
 * as `ce-*` headers. Core NATS: a publish counts once the server has it (flush). JetStream
 * (`jetstream: true`): once the stream acknowledged it; the event id is the Nats-Msg-Id, so a
 * redelivery within the stream's duplicate window is stored once.
 */
import { connect, headers, type JetStreamClient, type NatsConnection } from 'nats';
import { DeliveryFailure, type CloudEvent, type EndpointSender } from '../../core/ports/event-routing.js';

export interface NatsRouteSenderOptions {
  url: string;
  subject: string;
  jetstream: boolean;
  /** Per publish, ms (default 10 s). */
  timeoutMs?: number;
}

export class NatsRouteSender implements EndpointSender {
  private conn: Promise<NatsConnection> | undefined;
  private js: JetStreamClient | undefined;
  private closed = false;
  private readonly enc = new TextEncoder();

  constructor(private readonly o: NatsRouteSenderOptions) {}

  private connection(): Promise<NatsConnection> {
    if (!this.conn) {
      const p = connect({
        servers: this.o.url,
        reconnect: true,
        maxReconnectAttempts: -1,
        timeout: this.o.timeoutMs ?? 10_000,
        name: 'twinloop-event-routes',
      });
      this.conn = p;
      // A failed connect is retried on the next send.
      p.catch(() => {
        if (this.conn === p) this.conn = undefined;
      });
    }
    return this.conn;
  }

  async send(event: CloudEvent): Promise<void> {
    if (this.closed) throw new DeliveryFailure('the NATS endpoint is closed');
    let nc: NatsConnection;
    try {
      nc = await this.connection();
    } catch (e) {
      throw new DeliveryFailure(`NATS is unreachable: ${(e as Error).message}`);
    }
    const h = headers();
    for (const [k, v] of Object.entries(event))
      if (k !== 'data' && v !== undefined) h.set(`ce-${k}`, String(v));
    const payload = this.enc.encode(JSON.stringify(event));
    try {
      if (this.o.jetstream) {
        this.js ??= nc.jetstream();
        await this.js.publish(this.o.subject, payload, {
          msgID: event.id,
          headers: h,
          timeout: this.o.timeoutMs ?? 10_000,
        });
      } else {
        nc.publish(this.o.subject, payload, { headers: h });
        await nc.flush();
      }
    } catch (e) {
      throw new DeliveryFailure(`NATS did not take the event: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.conn;
    this.conn = undefined;
    if (!c) return;
    try {
      const nc = await c;
      await nc.drain();
    } catch {
      // already gone
    }
  }
}
