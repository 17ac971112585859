/**
 * The ports of a Twinloop cluster: API nodes hand raw device messages to an ingest bus, ingest
 * workers own partitions of that bus through leases and commit them to the store, and every API
 * node follows a feed of committed changes and live events to keep its read model and its
 * WebSocket clients current. The adapters live in src/adapters/nats and src/adapters/postgres;
 * the worker loop over these ports is src/core/cluster/partition-worker.ts.
 */

/** A raw device message as an API node received it (before any validation). */
export interface IngestMessage {
  /** Identifies the message for the bus's duplicate window: a retried publish with the same id is stored once. */
  id: string;
  /** The MQTT topic (or HTTP route) it came in on. */
  topic: string;
  /** The bytes as received: never decoded or re-encoded by the bus (non-UTF-8 stays intact). */
  payload: Uint8Array;
  /** The device's client id. */
  clientId: string;
  /** When the API node received it, ms since the epoch. */
  receivedAt: number;
  /** The twin the message is for: decides the partition. */
  twinId: string;
}

/** A message read from one partition of the bus. */
export interface BusMessage extends IngestMessage {
  partition: number;
  /** The bus's sequence: strictly increasing within a partition (gaps allowed). */
  seq: number;
  /** How many times the bus has delivered it (1: first delivery). */
  deliveries: number;
}

/** A batch of one partition's messages in bus order, acknowledged as one. */
export interface IngestBatch {
  partition: number;
  messages: readonly BusMessage[];
  /** The seq of the last message (0 when the batch is empty). */
  lastSeq: number;
  /** Messages of the partition still waiting after this batch (for lag), when the bus knows. */
  pending?: number;
  /** Tells the bus the batch is committed: it is not delivered again. @throws ServiceUnavailable */
  ack(): Promise<void>;
}

/** One owner's reading of one partition, from a given sequence on. */
export interface PartitionReader {
  readonly partition: number;
  /**
   * The next messages in bus order (at most `max`), waiting up to `waitMs` for the first; an empty
   * batch when none came. Unacknowledged messages come again after the bus's ack wait.
   * @throws ServiceUnavailable when the bus is unreachable or the reader was fenced off (reopen).
   */
  next(max: number, waitMs: number): Promise<IngestBatch>;
  /** Stops reading; unacknowledged messages stay on the bus. Never throws. */
  close(): Promise<void>;
}

export interface OpenPartitionOptions {
  /** First sequence to deliver (the committed checkpoint + 1); from the start when absent. */
  fromSeq?: number;
  /** The lease epoch of the reader: a reader of a newer epoch fences off older ones. */
  epoch: number;
}

/** The ingest bus: a fixed number of partitions, a twin's messages always in the same one, in order. */
export interface IngestBus {
  /** Number of partitions, fixed for the life of the cluster. */
  readonly partitions: number;
  /** The partition of a twin id (stable across nodes and restarts). */
  partitionOf(twinId: string): number;
  /**
   * Stores a message durably; resolves only once the bus has stored it (then the device may be acked).
   * A repeat of an id inside the duplicate window resolves with `duplicate: true` and is stored once.
   * @throws PayloadTooLarge when the message is above the bus's limit (nothing stored)
   * @throws ServiceUnavailable when the bus is unreachable or did not confirm in time (retry with the same id)
   */
  publish(message: IngestMessage): Promise<{ partition: number; seq: number; duplicate: boolean }>;
  /**
   * Opens a reader of partition k for the holder of lease `epoch`, positioned at `fromSeq`.
   * @throws InvalidArgument for a partition out of range; ServiceUnavailable when the bus is unreachable
   */
  openPartition(partition: number, options: OpenPartitionOptions): Promise<PartitionReader>;
  /** Closes the connection (readers stop). Never throws. */
  close(): Promise<void>;
}

/** A lease on one partition: valid until `expiresAt` unless renewed; `epoch` grows with each new owner. */
export interface PartitionLease {
  partition: number;
  owner: string;
  epoch: number;
  /** Server time the lease ends, ms since the epoch. */
  expiresAt: number;
}

/** What the lease store knows about the cluster at one instant. */
export interface ClusterView {
  /** Owners whose heartbeat has not expired (including the caller), sorted. */
  liveOwners: string[];
  /** Leases not yet expired. */
  leases: PartitionLease[];
}

/** Leases on partitions, fenced by epoch, and the membership of the workers that want them. */
export interface PartitionLeases {
  /**
   * Takes partition k for `owner` for ttlMs when it is free, expired or already the owner's; the epoch grows.
   * @returns the lease, or undefined when another owner holds it. @throws StorageError
   */
  acquire(partition: number, owner: string, ttlMs: number): Promise<PartitionLease | undefined>;
  /**
   * Extends a lease the caller holds at `epoch` and that has not expired.
   * @returns the renewed lease, or undefined when it was lost (expired or taken: stop using it). @throws StorageError
   */
  renew(lease: PartitionLease, ttlMs: number): Promise<PartitionLease | undefined>;
  /** Gives a lease up at once (no-op when it was already lost). @throws StorageError */
  release(lease: PartitionLease): Promise<void>;
  /** Says `owner` is alive for ttlMs more and returns the live owners and current leases. @throws StorageError */
  heartbeat(owner: string, ttlMs: number): Promise<ClusterView>;
  /** Removes `owner` from the live owners (a clean stop). @throws StorageError */
  leave(owner: string): Promise<void>;
}

/**
 * A lease on a named job that one node of the cluster runs at a time (the event-route delivery):
 * valid until `expiresAt` unless renewed; `epoch` grows with each take.
 */
export interface NamedLease {
  name: string;
  owner: string;
  epoch: number;
  /** Server time the lease ends, ms since the epoch. */
  expiresAt: number;
}

/** Named leases in the shared store, fenced by epoch (the same rules as PartitionLeases). */
export interface NamedLeases {
  /**
   * Takes lease `name` for `owner` for ttlMs when it is free, expired or already the owner's; the epoch grows.
   * @returns the lease, or undefined when another owner holds it. @throws InvalidArgument, StorageError
   */
  acquire(name: string, owner: string, ttlMs: number): Promise<NamedLease | undefined>;
  /** Extends a lease held at `epoch` and not expired. @returns undefined when it was lost. @throws StorageError */
  renew(lease: NamedLease, ttlMs: number): Promise<NamedLease | undefined>;
  /** Gives a lease up at once (no-op when it was already lost). @throws StorageError */
  release(lease: NamedLease): Promise<void>;
}

/** A committed change to the twin graph, told to every API node. */
export interface FeedChange {
  /** What changed ("twin.upsert", "relationship.delete", ...); the read model decides what it means. */
  kind: string;
  /** The node that made it (it has applied it already). */
  origin: string;
  data: unknown;
}

/** A live event (a telemetry point, a property update) for WebSocket clients; may be lost. */
export interface FeedEvent {
  kind: string;
  origin: string;
  data: unknown;
}

export interface FeedHandlers {
  /** Each change once, in order, with its feed sequence. */
  onChange(change: FeedChange, seq: number): void;
  /** Live events as they come (none while disconnected). */
  onEvent?(event: FeedEvent): void;
  /**
   * Changes from..to were missed and cannot be replayed (older than the feed keeps): the read
   * model must be reloaded from the store.
   */
  onGap?(fromSeq: number, toSeq: number): void;
  /** A feed message that could not be read (not JSON, wrong shape): it is skipped and told here. */
  onError?(error: Error, seq?: number): void;
}

export interface FeedSubscription {
  /** The seq of the last change handed to onChange (0 before any). */
  readonly lastSeq: number;
  /** Stops the subscription. Never throws. */
  close(): Promise<void>;
}

/** The cluster's fan-out: committed changes (replayable for a while) and live events (best effort). */
export interface ClusterFeed {
  /** Publishes a committed change; resolves with its feed seq once stored. @throws ServiceUnavailable, PayloadTooLarge */
  publishChange(change: FeedChange): Promise<number>;
  /**
   * The seq of the last change stored (0 when none): read it before loading the read model, then
   * subscribe after it, so nothing is missed and nothing older is replayed. @throws ServiceUnavailable
   */
  position(): Promise<number>;
  /** Publishes a live event (no replay; lost when no node is listening). @throws ServiceUnavailable, PayloadTooLarge */
  publishEvent(event: FeedEvent): Promise<void>;
  /**
   * Follows the feed: changes after `afterSeq` (the last one applied; all retained when absent),
   * then new ones; across reconnects it resumes where it was, or reports a gap.
   * @throws ServiceUnavailable
   */
  subscribe(handlers: FeedHandlers, afterSeq?: number): Promise<FeedSubscription>;
  /** Closes the connection. Never throws. */
  close(): Promise<void>;
}

/** Where an ingest worker commits a partition's batches (validate + history append + checkpoint, atomically). */
export interface IngestBatchSink {
  /**
   * Stores the messages and sets the partition's checkpoint to lastSeq in one transaction. Must be
   * idempotent under concurrency: messages at or below the stored checkpoint are skipped under a lock
   * on the checkpoint row (a fenced-off owner's late commit then stores nothing twice). A message
   * that fails validation is dead-lettered in the same transaction, never thrown: a throw makes the
   * worker retry the batch, so a bad message that throws would stall its partition.
   * @throws StorageError (nothing stored; the batch is delivered again)
   */
  commit(partition: number, messages: readonly BusMessage[], lastSeq: number): Promise<void>;
  /** The last committed seq of the partition, undefined before any commit. @throws StorageError */
  checkpoint(partition: number): Promise<number | undefined>;
}

/** FNV-1a (32-bit) over the UTF-8 bytes of the twin id, mod the partition count: the same on every node. */
export function partitionOfTwin(twinId: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(twinId)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}
