/**
 * Reads one partition's durable pull consumer through ONE inbox subscription that lives as long as
 * the reader. Pull requests (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`) all answer to it.
 *
 * Why not `js.fetch` per read: each fetch subscribes a fresh inbox and unsubscribes it when the
 * fetch ends, and a message the server sends while the fetch ends (a race under steady publishing:
 * measured several times a minute per worker) reaches an inbox nobody listens to. The client drops
 * it; its delivery is counted; it would come again only after the ack wait, behind newer messages.
 * The reader saw the gap in the delivery sequence and reopened the partition from its checkpoint,
 * which took 0.5–3 s each time (it also made one failover take 6 s). Here a late delivery simply
 * lands in the same subscription and is read next.
 *
 * One pull is outstanding at a time (`batch` = the caller's max, `expires` = its wait), so the next
 * batch is delivered while the caller commits the current one. The end of a pull is a status
 * message (404 no messages, 408 expired) or its batch filled. A 409 (consumer deleted: fenced off
 * by a newer owner) or 503 (no consumer answers) fails the reader: the caller reopens. The delivery
 * sequence is still checked: a gap now means a message really got lost (a reconnect), and fails
 * the reader too.
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from 'nats';
import { TwinloopError } from '../../core/errors/errors.js';
import type { BusMessage, IngestBatch, PartitionReader } from '../../core/ports/cluster.js';

/** Metadata JetStream puts in a delivered message's reply subject (`$JS.ACK.…`). */
interface Delivery {
  msg: Msg;
  streamSeq: number;
  deliverySeq: number;
  deliveries: number;
  pending: number;
}

/** How long after a pull's expiry its end is awaited (its 408 status, or late messages), ms. */
const PULL_GRACE_MS = 100;

export class JetStreamPartitionReader implements PartitionReader {
  private readonly inbox = createInbox();
  private readonly sub: Subscription;
  private readonly buffer: Delivery[] = [];
  /** The pull under way: how many messages it may still deliver, and until when (ms). */
  private pull: { left: number; until: number; sentAt: number } | undefined;
  /** When the server last answered this inbox (a message or a status), ms. */
  private answeredAt = 0;
  private failure: TwinloopError | undefined;
  private wake: (() => void) | undefined;
  private closed = false;
  /** The consumer's delivery sequence of the last message handed out (the consumer is new: 0). */
  private delivered = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
    private readonly durable: string,
    readonly partition: number,
    private readonly fetchTimeoutMs: number,
    private readonly toBusMessage: (
      m: Msg,
      partition: number,
      d: { seq: number; deliveries: number },
    ) => BusMessage,
    private readonly onClose: () => void,
  ) {
    this.sub = nc.subscribe(this.inbox, { callback: (err, m) => this.receive(err, m) });
  }

  private receive(err: Error | null, m: Msg): void {
    if (err) {
      this.fail(`the subscription ended: ${err.message}`);
      return;
    }
    this.answeredAt = Date.now();
    // A status (no payload, a code in the headers) ends or fails the pull; 100 is a heartbeat.
    const code = m.headers?.code ?? 0;
    if (code !== 0) {
      if (code === 404 || code === 408)
        this.pull = undefined; // no more now / expired: the pull is over
      else if (code === 503)
        this.fail('no consumer answers (fenced off by a newer owner, or the stream is gone)');
      else if (code >= 400) this.fail(`JetStream answered ${code} ${m.headers?.description ?? ''}`.trim());
      this.wake?.();
      return;
    }
    const d = parseDelivery(m);
    if (!d) return; // not a JetStream delivery: nothing of ours
    this.buffer.push(d);
    if (this.pull && --this.pull.left <= 0) this.pull = undefined;
    this.wake?.();
  }

  private fail(why: string): void {
    this.failure ??= new TwinloopError(
      'ServiceUnavailable',
      `Reading ingest partition ${this.partition} failed: ${why}; reopen from the checkpoint.`,
    );
    this.pull = undefined;
    this.wake?.();
  }

  async next(max: number, waitMs: number): Promise<IngestBatch> {
    if (this.closed) throw new TwinloopError('ServiceUnavailable', 'The partition reader is closed.');
    if (this.buffer.length === 0 && !this.failure) {
      if (!this.pull || Date.now() > this.pull.until) this.request(max, waitMs);
      const pull = this.pull!;
      // Until a message comes, the pull ends (its status, or its expiry: a partly filled pull may
      // end without one), or it fails. A pull nothing at all answered is given fetchTimeoutMs more:
      // then NATS is unreachable or the consumer is gone (fenced off). What the server sends after
      // a pull ended still lands in this inbox, read next time.
      const end = (): number =>
        this.answeredAt >= pull.sentAt ? pull.until + PULL_GRACE_MS : pull.until + this.fetchTimeoutMs;
      while (this.buffer.length === 0 && this.pull && !this.failure && !this.closed && Date.now() < end()) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(t);
            if (this.wake === done) this.wake = undefined;
            resolve();
          };
          const t = setTimeout(done, Math.max(1, end() - Date.now()));
          this.wake = done;
        });
      }
      if (this.buffer.length === 0 && !this.failure && !this.closed && this.answeredAt < pull.sentAt) {
        this.pull = undefined;
        throw new TwinloopError(
          'ServiceUnavailable',
          `Ingest partition ${this.partition} did not answer within ${waitMs + this.fetchTimeoutMs} ms ` +
            '(NATS unreachable, or the reader was fenced off by a newer owner).',
        );
      }
    }
    if (this.failure && this.buffer.length === 0) throw this.failure;
    if (this.closed) throw new TwinloopError('ServiceUnavailable', 'The partition reader is closed.');
    const got = this.buffer.splice(0, Math.max(1, max));
    for (const d of got) {
      if (d.deliverySeq !== this.delivered + 1) {
        this.failure ??= new TwinloopError(
          'ServiceUnavailable',
          `Ingest partition ${this.partition} skipped deliveries ${this.delivered + 1}..${d.deliverySeq - 1}: reopen from the checkpoint.`,
        );
        throw this.failure;
      }
      this.delivered = d.deliverySeq;
    }
    return this.batch(got);
  }

  private request(max: number, waitMs: number): void {
    const batch = Math.max(1, max);
    const body =
      waitMs > 0 ? { batch, expires: Math.max(1, Math.floor(waitMs)) * 1_000_000 } : { batch, no_wait: true };
    const now = Date.now();
    this.pull = { left: batch, until: now + Math.max(0, waitMs), sentAt: now };
    try {
      this.nc.publish(
        `$JS.API.CONSUMER.MSG.NEXT.${this.stream}.${this.durable}`,
        new TextEncoder().encode(JSON.stringify(body)),
        { reply: this.inbox },
      );
    } catch (e) {
      this.fail(`the pull request could not be sent: ${(e as Error).message}`);
    }
  }

  private batch(got: Delivery[]): IngestBatch {
    const last = got[got.length - 1];
    return {
      partition: this.partition,
      messages: got.map((d) =>
        this.toBusMessage(d.msg, this.partition, { seq: d.streamSeq, deliveries: d.deliveries }),
      ),
      lastSeq: last?.streamSeq ?? 0,
      ...(last ? { pending: last.pending } : {}),
      ack: async () => {
        // Cumulative acks (AckPolicy.All): the last message of the batch acks it all.
        if (!last?.msg.reply) return;
        try {
          this.nc.publish(last.msg.reply);
          await this.nc.flush();
        } catch (e) {
          throw new TwinloopError(
            'ServiceUnavailable',
            `Acknowledging to NATS failed: ${(e as Error).message}`,
            {
              cause: e,
            },
          );
        }
      },
    };
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      try {
        this.sub.unsubscribe();
      } catch {
        // the connection is closed already
      }
      this.wake?.();
      this.onClose();
    }
    return Promise.resolve();
  }
}

/** `$JS.ACK.<stream>.<consumer>.<deliveries>.<streamSeq>.<deliverySeq>.<ts>.<pending>` (or with domain and account). */
function parseDelivery(m: Msg): Delivery | undefined {
  const reply = m.reply;
  if (!reply || !reply.startsWith('$JS.ACK.')) return undefined;
  const t = reply.split('.');
  if (t.length === 9) t.splice(2, 0, '_', '');
  if (t.length < 11) return undefined;
  const deliveries = Number(t[6]);
  const streamSeq = Number(t[7]);
  const deliverySeq = Number(t[8]);
  const pending = Number(t[10]);
  if (![deliveries, streamSeq, deliverySeq, pending].every(Number.isSafeInteger)) return undefined;
  return { msg: m, streamSeq, deliverySeq, deliveries, pending };
}
