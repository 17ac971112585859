/**
 * The cluster feed on NATS. Two kinds of traffic, two mechanisms:
 *
 * - Committed changes (twin and relationship writes) go to a JetStream stream `<PREFIX>_FEED`
 *   (subject `<prefix>.feed.change`, limits retention: by default the last 10 minutes and at most
 *   1 000 000 changes). Every API node follows it with an ordered consumer (no acks, one per node)
 *   from the last change it applied: a node that reconnects after a NATS blip resumes at the next
 *   change without losing one; a node that was away longer than the stream keeps sees a sequence gap
 *   (onGap) and reloads its read model from PostgreSQL. Core NATS would drop changes silently
 *   during a reconnect and leave a read model wrong without anyone knowing.
 * - Live events (telemetry points for dashboards) go over core NATS (`<prefix>.feed.event`): they
 *   are many, only useful now, and a client that missed some reads history. Storing them in a
 *   stream would double the bus's disk writes for nothing.
 */
import { checkedPrefix, connectNats, streamName } from './nats-connection.js';
import {
  consumerOpts,
  DiscardPolicy,
  nanos,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamSubscription,
  type NatsConnection,
  type Subscription,
} from 'nats';
import { TwinloopError } from '../../core/errors/errors.js';
import type {
  ClusterFeed,
  FeedChange,
  FeedEvent,
  FeedHandlers,
  FeedSubscription,
} from '../../core/ports/cluster.js';

export interface NatsClusterFeedOptions {
  url: string;
  /** Subject prefix (default "twinloop"). */
  subjectPrefix?: string;
  /** Stream of changes (default `<PREFIX>_FEED`). */
  stream?: string;
  /** How long changes stay replayable, ms (default 600 000; used when creating the stream). */
  maxAgeMs?: number;
  /** Most changes kept (default 1 000 000; used when creating the stream). */
  maxChanges?: number;
  timeoutMs?: number;
  name?: string;
}

export async function openNatsClusterFeed(o: NatsClusterFeedOptions): Promise<NatsClusterFeed> {
  const prefix = checkedPrefix(o.subjectPrefix);
  const stream = o.stream ?? streamName(prefix, 'FEED');
  const nc = await connectNats({ url: o.url, name: o.name ?? 'twinloop-feed', timeoutMs: o.timeoutMs });
  try {
    const jsm = await nc.jetstreamManager({ timeout: o.timeoutMs ?? 10_000 });
    const config = {
      name: stream,
      description: 'twinloop cluster feed of committed changes',
      subjects: [`${prefix}.feed.change`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(o.maxAgeMs ?? 600_000),
      max_msgs: o.maxChanges ?? 1_000_000,
      num_replicas: 1,
    };
    try {
      await jsm.streams.info(stream);
    } catch {
      await jsm.streams.add(config).catch(async (e: unknown) => {
        await jsm.streams.info(stream).catch(() => {
          throw e;
        });
      });
    }
    return new NatsClusterFeed(nc, stream, prefix, o.timeoutMs ?? 10_000);
  } catch (e) {
    await nc.close().catch(() => undefined);
    throw new TwinloopError('ServiceUnavailable', `NATS JetStream is not usable: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

export class NatsClusterFeed implements ClusterFeed {
  private readonly js: JetStreamClient;
  private readonly enc = new TextEncoder();
  private readonly dec = new TextDecoder('utf-8', { fatal: true });
  private readonly subs = new Set<FeedSubscription>();
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    readonly stream: string,
    private readonly prefix: string,
    private readonly timeoutMs: number,
  ) {
    this.js = nc.jetstream({ timeout: timeoutMs });
  }

  private encode(x: FeedChange | FeedEvent, what: string): Uint8Array {
    if (this.closed) throw new TwinloopError('ServiceUnavailable', 'The cluster feed is closed.');
    if (typeof x.kind !== 'string' || typeof x.origin !== 'string')
      throw new TwinloopError('InvalidArgument', `A feed ${what} needs a string kind and origin.`);
    const bytes = this.enc.encode(JSON.stringify({ kind: x.kind, origin: x.origin, data: x.data }));
    const max = this.nc.info?.max_payload ?? 1024 * 1024;
    if (bytes.length > max)
      throw new TwinloopError(
        'PayloadTooLarge',
        `The feed ${what} of ${bytes.length} bytes is above NATS's limit of ${max} bytes.`,
      );
    return bytes;
  }

  async publishChange(change: FeedChange): Promise<number> {
    const bytes = this.encode(change, 'change');
    try {
      const ack = await this.js.publish(`${this.prefix}.feed.change`, bytes, { timeout: this.timeoutMs });
      return ack.seq;
    } catch (e) {
      throw new TwinloopError(
        'ServiceUnavailable',
        `NATS did not store the change: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  }

  async position(): Promise<number> {
    try {
      const jsm = await this.nc.jetstreamManager({ timeout: this.timeoutMs });
      return (await jsm.streams.info(this.stream)).state.last_seq;
    } catch (e) {
      throw new TwinloopError(
        'ServiceUnavailable',
        `Could not read the cluster feed's position: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  }

  publishEvent(event: FeedEvent): Promise<void> {
    const bytes = this.encode(event, 'event');
    try {
      this.nc.publish(`${this.prefix}.feed.event`, bytes);
    } catch (e) {
      return Promise.reject(
        new TwinloopError('ServiceUnavailable', `NATS did not take the event: ${(e as Error).message}`, {
          cause: e,
        }),
      );
    }
    return Promise.resolve();
  }

  private parse(data: Uint8Array): { kind: string; origin: string; data: unknown } {
    const v = JSON.parse(this.dec.decode(data)) as unknown;
    if (!v || typeof v !== 'object') throw new Error('a feed message is not an object');
    const o = v as { kind?: unknown; origin?: unknown; data?: unknown };
    if (typeof o.kind !== 'string' || typeof o.origin !== 'string')
      throw new Error('a feed message has no string kind and origin');
    return { kind: o.kind, origin: o.origin, data: o.data };
  }

  async subscribe(h: FeedHandlers, afterSeq?: number): Promise<FeedSubscription> {
    let events: Subscription | undefined;
    let messages: JetStreamSubscription;
    try {
      if (h.onEvent) {
        const onEvent = h.onEvent;
        events = this.nc.subscribe(`${this.prefix}.feed.event`, {
          callback: (err, m) => {
            if (err) return h.onError?.(err);
            try {
              onEvent(this.parse(m.data));
            } catch (e) {
              h.onError?.(e as Error);
            }
          },
        });
      }
      // The push-based ordered consumer: the pull-based one of this client does not deliver on
      // the 2.9 server. It resets itself at the next sequence after a reconnect or a missed message.
      const opts = consumerOpts();
      opts.orderedConsumer();
      if (afterSeq && afterSeq > 0) opts.startSequence(afterSeq + 1);
      else opts.deliverAll();
      messages = await this.js.subscribe(`${this.prefix}.feed.change`, opts);
    } catch (e) {
      events?.unsubscribe();
      throw new TwinloopError(
        'ServiceUnavailable',
        `Could not follow the cluster feed: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    let last = afterSeq ?? 0;
    const sub: FeedSubscription = {
      get lastSeq() {
        return last;
      },
      close: async () => {
        this.subs.delete(sub);
        events?.unsubscribe();
        messages.unsubscribe();
      },
    };
    this.subs.add(sub);
    void (async () => {
      try {
        for await (const m of messages) {
          if (m.seq <= last) continue;
          if (m.seq > last + 1 && (last > 0 || afterSeq !== undefined)) h.onGap?.(last + 1, m.seq - 1);
          last = m.seq;
          let change: FeedChange;
          try {
            change = this.parse(m.data);
          } catch (e) {
            h.onError?.(e as Error, m.seq);
            continue;
          }
          h.onChange(change, m.seq);
        }
      } catch (e) {
        h.onError?.(e as Error);
      }
    })();
    return sub;
  }

  /** Deletes the change stream (tests only). */
  async destroy(): Promise<void> {
    const jsm = await this.nc.jetstreamManager();
    await jsm.streams.delete(this.stream).catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.subs]) await s.close();
    await this.nc.drain().catch(() => this.nc.close().catch(() => undefined));
  }
}
