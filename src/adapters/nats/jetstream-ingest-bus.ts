/**
 * The ingest bus on NATS JetStream: one stream `<STREAM>` over subjects `<prefix>.ingest.<p>`,
 * p = FNV-1a(twin id) mod N. N is fixed per cluster and written into the stream's description, so
 * a node configured with another N refuses to start. Publishes carry a Nats-Msg-Id (the stream's
 * duplicate window drops a retried publish) and resolve on the stream's PubAck (jetstream-publisher.ts:
 * many in flight at the cost of a map entry each). Each partition is
 * read by one durable pull consumer named after the lease epoch of its owner (`p<k>_e<epoch>`),
 * created at the owner's checkpoint + 1 (older epochs' consumers are deleted: fencing), with
 * cumulative acks (the last message of a committed batch acks it all) and an ack wait after which
 * unacknowledged messages are delivered again.
 * Metadata rides in headers (tl-*) percent-encoded; the payload bytes are never touched.
 */
import { JetStreamPartitionReader } from './jetstream-partition-reader.js';
import { JetStreamPublisher } from './jetstream-publisher.js';
import { checkedPrefix, connectNats, streamName } from './nats-connection.js';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  headers as natsHeaders,
  nanos,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type Msg,
  type NatsConnection,
} from 'nats';
import { TwinloopError } from '../../core/errors/errors.js';
import {
  partitionOfTwin,
  type BusMessage,
  type IngestBus,
  type IngestMessage,
  type OpenPartitionOptions,
  type PartitionReader,
} from '../../core/ports/cluster.js';

export interface JetStreamIngestBusOptions {
  /** nats://host:port (comma-separated for several servers). */
  url: string;
  /** Subject prefix: subjects are `<prefix>.ingest.<p>` (default "twinloop"). */
  subjectPrefix?: string;
  /** Stream name (default: the prefix in upper case with . → _, plus "_INGEST"). */
  stream?: string;
  /** Number of partitions; must match the stream's when it exists. */
  partitions: number;
  /** Unacknowledged messages come again after this long, ms (default 30 000). */
  ackWaitMs?: number;
  /** Duplicate window of the stream, ms (default 120 000; only used when creating it). */
  duplicateWindowMs?: number;
  /** How long the stream keeps messages, ms (default 7 days; only used when creating it). */
  maxAgeMs?: number;
  /** A read that gets no answer in this long fails (a fenced-off or unreachable consumer), ms (default 5000). */
  fetchTimeoutMs?: number;
  /** Per publish and per API call, ms (default 10 000). */
  timeoutMs?: number;
  /** Connection name shown by the server. */
  name?: string;
}

const DESCRIPTION = /^twinloop ingest bus; partitions=(\d+)$/;
const H = { topic: 'tl-topic', client: 'tl-client', received: 'tl-received', twin: 'tl-twin', id: 'tl-id' };

/** Opens the bus: connects, creates the stream or checks its partition count. @throws InvalidConfig, ServiceUnavailable */
export async function openJetStreamIngestBus(o: JetStreamIngestBusOptions): Promise<JetStreamIngestBus> {
  if (!Number.isInteger(o.partitions) || o.partitions < 1 || o.partitions > 4096)
    throw new TwinloopError(
      'InvalidConfig',
      `The ingest partition count must be 1..4096 (got ${o.partitions}).`,
    );
  const prefix = checkedPrefix(o.subjectPrefix);
  const stream = o.stream ?? streamName(prefix, 'INGEST');
  const nc = await connectNats({ url: o.url, name: o.name ?? 'twinloop-ingest', timeoutMs: o.timeoutMs });
  try {
    const jsm = await nc.jetstreamManager({ timeout: o.timeoutMs ?? 10_000 });
    await ensureStream(jsm, stream, prefix, o);
    return new JetStreamIngestBus(nc, jsm, stream, prefix, o);
  } catch (e) {
    await nc.close().catch(() => undefined);
    if (e instanceof TwinloopError) throw e;
    throw new TwinloopError('ServiceUnavailable', `NATS JetStream is not usable: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

async function ensureStream(
  jsm: JetStreamManager,
  stream: string,
  prefix: string,
  o: JetStreamIngestBusOptions,
): Promise<void> {
  const description = `twinloop ingest bus; partitions=${o.partitions}`;
  const check = (desc: string | undefined, subjects: string[]): void => {
    const m = DESCRIPTION.exec(desc ?? '');
    if (!m)
      throw new TwinloopError(
        'InvalidConfig',
        `The NATS stream ${stream} exists but is not a Twinloop ingest bus (description '${(desc ?? '').slice(0, 80)}').`,
      );
    if (Number(m[1]) !== o.partitions)
      throw new TwinloopError(
        'InvalidConfig',
        `The ingest stream ${stream} has ${m[1]} partitions but this node is configured with ${o.partitions}: ` +
          'every node of a cluster must use the same partition count (changing it needs a new stream).',
      );
    if (!subjects.includes(`${prefix}.ingest.*`))
      throw new TwinloopError(
        'InvalidConfig',
        `The ingest stream ${stream} does not take subjects ${prefix}.ingest.* (it has ${subjects.join(', ')}).`,
      );
  };
  try {
    const info = await jsm.streams.info(stream);
    check(info.config.description, info.config.subjects);
    return;
  } catch (e) {
    if (e instanceof TwinloopError) throw e;
    if (!/stream not found/i.test((e as Error).message)) throw e;
  }
  try {
    await jsm.streams.add({
      name: stream,
      description,
      subjects: [`${prefix}.ingest.*`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(o.maxAgeMs ?? 7 * 24 * 3600_000),
      duplicate_window: nanos(o.duplicateWindowMs ?? 120_000),
      num_replicas: 1,
    });
  } catch (e) {
    // Another node created it at the same time (with other settings): check what it made.
    const info = await jsm.streams.info(stream).catch(() => {
      throw e;
    });
    check(info.config.description, info.config.subjects);
  }
}

export class JetStreamIngestBus implements IngestBus {
  readonly partitions: number;
  private readonly publisher: JetStreamPublisher;
  private closed = false;
  private readonly readers = new Set<JetStreamPartitionReader>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    readonly stream: string,
    readonly prefix: string,
    private readonly o: JetStreamIngestBusOptions,
  ) {
    this.partitions = o.partitions;
    this.publisher = new JetStreamPublisher(nc, o.timeoutMs ?? 10_000);
  }

  partitionOf(twinId: string): number {
    return partitionOfTwin(twinId, this.partitions);
  }

  subjectOf(partition: number): string {
    return `${this.prefix}.ingest.${partition}`;
  }

  async publish(m: IngestMessage): Promise<{ partition: number; seq: number; duplicate: boolean }> {
    if (this.closed) throw new TwinloopError('ServiceUnavailable', 'The ingest bus is closed.');
    const partition = this.partitionOf(m.twinId);
    const h = natsHeaders();
    h.set(H.topic, headerValue(m.topic, 'topic'));
    h.set(H.client, headerValue(m.clientId, 'client id'));
    h.set(H.received, String(m.receivedAt));
    h.set(H.twin, headerValue(m.twinId, 'twin id'));
    h.set(H.id, headerValue(m.id, 'message id'));
    const max = this.nc.info?.max_payload ?? 1024 * 1024;
    if (m.payload.length > max)
      throw new TwinloopError(
        'PayloadTooLarge',
        `The message of ${m.payload.length} bytes is above the bus's limit of ${max} bytes (NATS max_payload).`,
      );
    h.set('Nats-Msg-Id', headerValue(m.id, 'message id'));
    try {
      const ack = await this.publisher.publish(this.subjectOf(partition), m.payload, h);
      return { partition, seq: ack.seq, duplicate: ack.duplicate };
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause;
      if (cause?.code === 'MAX_PAYLOAD_EXCEEDED')
        throw new TwinloopError(
          'PayloadTooLarge',
          `The message of ${m.payload.length} bytes plus its headers is above the bus's limit of ${max} bytes.`,
          { cause: e },
        );
      throw e;
    }
  }

  async openPartition(partition: number, opts: OpenPartitionOptions): Promise<PartitionReader> {
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions)
      throw new TwinloopError(
        'InvalidArgument',
        `Partition ${partition} is not in 0..${this.partitions - 1}.`,
      );
    if (this.closed) throw new TwinloopError('ServiceUnavailable', 'The ingest bus is closed.');
    const name = `p${partition}_e${opts.epoch}`;
    try {
      // Fencing and repositioning: older epochs' consumers go, and this epoch's consumer is made
      // anew at the checkpoint (a consumer's start cannot be moved).
      const stale: string[] = [];
      for await (const ci of this.jsm.consumers.list(this.stream))
        if (ci.name.startsWith(`p${partition}_e`)) stale.push(ci.name);
      for (const n of stale) await this.jsm.consumers.delete(this.stream, n).catch(() => undefined);
      const from = opts.fromSeq && opts.fromSeq > 1 ? opts.fromSeq : undefined;
      await this.jsm.consumers.add(this.stream, {
        durable_name: name,
        filter_subject: this.subjectOf(partition),
        // A partition is read and committed in order: acking a batch's last message acks the batch
        // (one ack message per batch instead of one per message: measured a large share of a
        // worker's socket writes and of the NATS server's work under ingest).
        ack_policy: AckPolicy.All,
        ack_wait: nanos(this.o.ackWaitMs ?? 30_000),
        deliver_policy: from ? DeliverPolicy.StartSequence : DeliverPolicy.All,
        ...(from ? { opt_start_seq: from } : {}),
        max_deliver: -1,
        max_ack_pending: 20_000,
      });
    } catch (e) {
      throw new TwinloopError(
        'ServiceUnavailable',
        `Could not open ingest partition ${partition} on NATS: ${(e as Error).message}`,
        { cause: e },
      );
    }
    const reader = new JetStreamPartitionReader(
      this.nc,
      this.stream,
      name,
      partition,
      this.o.fetchTimeoutMs ?? 5000,
      toBusMessage,
      () => this.readers.delete(reader),
    );
    this.readers.add(reader);
    return reader;
  }

  /** Deletes the stream and everything in it (tests and `twinloop reset` only). */
  async destroy(): Promise<void> {
    await this.jsm.streams.delete(this.stream).catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const r of [...this.readers]) await r.close();
    await this.nc.drain().catch(() => this.nc.close().catch(() => undefined));
    // After the drain: answers that were on their way have settled their publishes.
    this.publisher.close();
  }
}

function toBusMessage(m: Msg, partition: number, d: { seq: number; deliveries: number }): BusMessage {
  const get = (k: string): string => {
    const v = m.headers?.get(k) ?? '';
    try {
      return decodeURIComponent(v);
    } catch {
      return v;
    }
  };
  return {
    id: get(H.id),
    topic: get(H.topic),
    clientId: get(H.client),
    twinId: get(H.twin),
    receivedAt: Number(get(H.received)) || 0,
    payload: m.data,
    partition,
    seq: d.seq,
    deliveries: d.deliveries,
  };
}

/** Percent-encodes a header value (headers are one line of text); lone surrogates are refused. */
function headerValue(v: string, what: string): string {
  try {
    return encodeURIComponent(v);
  } catch {
    throw new TwinloopError('InvalidArgument', `The ${what} is not well-formed Unicode (a lone surrogate).`);
  }
}
