/**
 * JetStream publishes with many in flight, cheaply: each message is a core NATS publish whose reply
 * subject is a token under one inbox subscription of ours, and the stream's PubAck (or its error)
 * comes back there. This is what `js.publish` does too, but nats.js 2.x builds two or three Error
 * objects (stack traces) and a timer per request, and one more Error (`Cancelled`) when the answer
 * arrives: measured as the largest cost of an API node under ingest (a CPU profile: ~35% of the
 * process in NatsError, BaseRequest and their timers). Here a publish costs a map entry; one timer
 * sweeps the ones that got no answer in time.
 *
 * The semantics are JetStream's: a PubAck `{stream, seq, duplicate}` means stored (once: the
 * `Nats-Msg-Id` header and the stream's duplicate window drop a retried publish); `{error}` or a
 * 503 status (no stream listens: "no responders") means not stored; no answer within the timeout
 * means unknown (the caller retries with the same message id).
 */
import { createInbox, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import { TwinloopError } from '../../core/errors/errors.js';

export interface PubAck {
  stream: string;
  seq: number;
  duplicate: boolean;
}

interface Pending {
  resolve(ack: PubAck): void;
  reject(e: TwinloopError): void;
  deadline: number;
}

export class JetStreamPublisher {
  private readonly inbox: string;
  private readonly sub: Subscription;
  private readonly pending = new Map<string, Pending>();
  private next = 0;
  private readonly sweeper: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.inbox = createInbox();
    this.sub = nc.subscribe(`${this.inbox}.*`, {
      callback: (err, msg) => {
        if (err) return; // the subscription ends (close): pending ones fail in close()
        const token = msg.subject.slice(this.inbox.length + 1);
        const p = this.pending.get(token);
        if (!p) return; // answered after its timeout: already failed
        this.pending.delete(token);
        settle(p, msg.headers, msg.data);
      },
    });
    // Coarse on purpose: a publish fails between timeoutMs and timeoutMs + the sweep interval.
    const every = Math.max(50, Math.min(1000, Math.floor(timeoutMs / 4)));
    this.sweeper = setInterval(() => this.sweep(), every);
    this.sweeper.unref();
  }

  /** Messages published and not answered yet. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Publishes to a stream's subject; resolves with its PubAck. @throws ServiceUnavailable (not known to be stored) */
  publish(subject: string, data: Uint8Array, headers: MsgHdrs): Promise<PubAck> {
    if (this.closed)
      return Promise.reject(new TwinloopError('ServiceUnavailable', 'The publisher is closed.'));
    const token = (this.next++).toString(36);
    return new Promise<PubAck>((resolve, reject) => {
      this.pending.set(token, { resolve, reject, deadline: Date.now() + this.timeoutMs });
      try {
        this.nc.publish(subject, data, { reply: `${this.inbox}.${token}`, headers });
      } catch (e) {
        this.pending.delete(token);
        reject(notStored(`the publish failed: ${(e as Error).message}`, e));
      }
    });
  }

  private sweep(): void {
    const now = Date.now();
    for (const [token, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(token);
      p.reject(notStored(`no answer from JetStream within ${this.timeoutMs} ms`));
    }
  }

  /** Stops: what still waits fails (its messages may or may not be stored: retried with their ids). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    try {
      this.sub.unsubscribe();
    } catch {
      // the connection is closed already (drained): the subscription went with it
    }
    for (const p of this.pending.values()) p.reject(notStored('the connection to NATS is closing'));
    this.pending.clear();
  }
}

function settle(p: Pending, headers: MsgHdrs | undefined, data: Uint8Array): void {
  if (headers?.hasError) {
    const why = headers.code === 503 ? 'no stream takes the subject (no responders)' : headers.description;
    p.reject(notStored(`JetStream answered ${headers.code}: ${why}`));
    return;
  }
  let a: unknown;
  try {
    a = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    p.reject(notStored('JetStream answered something that is not JSON'));
    return;
  }
  const ack = a as {
    stream?: unknown;
    seq?: unknown;
    duplicate?: unknown;
    error?: { code?: unknown; description?: unknown };
  };
  if (ack.error !== undefined) {
    p.reject(
      notStored(`JetStream refused it: ${String(ack.error.description ?? ack.error.code ?? 'error')}`),
    );
    return;
  }
  if (typeof ack.stream !== 'string' || typeof ack.seq !== 'number') {
    p.reject(notStored('JetStream answered without a stream sequence'));
    return;
  }
  p.resolve({ stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate === true });
}

function notStored(why: string, cause?: unknown): TwinloopError {
  return new TwinloopError(
    'ServiceUnavailable',
    `NATS JetStream did not confirm the message (retry with the same id): ${why}`,
    cause === undefined ? undefined : { cause },
  );
}
