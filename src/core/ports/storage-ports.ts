/**
 * Storage ports: what the core needs from a store. The embedded adapter is SQLite
 * (adapters/sqlite); PostgreSQL comes next and must pass the same contract suites.
 * Every method documents its failure: storage failures throw TwinloopError('StorageError').
 */
import type { RelationshipRecord, TwinDeviceState, TwinRecord } from '../graph/graph-types.js';
import type { OutboxRow } from './event-routing.js';

// ---------------------------------------------------------------- models

export interface StoredModel {
  workspace: string;
  /** The interface DTMI. */
  id: string;
  /** The model document exactly as uploaded (JSON text of one DTDL interface). */
  definition: string;
  /** Upload time, ms since epoch. */
  uploadTime: number;
  decommissioned: boolean;
}

export interface ModelStore {
  /** Every stored model of the workspace, in upload order. @throws StorageError */
  list(workspace: string): Promise<StoredModel[]>;
  /** Inserts all models in one transaction; @throws StorageError (nothing written) on failure. */
  insert(models: readonly StoredModel[]): Promise<void>;
  /** Sets the decommissioned flag; resolves false when the model is absent. @throws StorageError */
  setDecommissioned(workspace: string, id: string, decommissioned: boolean): Promise<boolean>;
  /** Deletes the model; resolves false when absent. @throws StorageError */
  delete(workspace: string, id: string): Promise<boolean>;
}

// ---------------------------------------------------------------- twins

/**
 * One write of a unit of work. `expectEtag`: undefined = unconditional; null = the twin or
 * relationship must be absent; a string = its stored etag must equal it. A failed expectation
 * rejects the whole commit with PreconditionFailed (nothing written): the guard for a node whose
 * in-memory graph is stale (another node wrote since).
 */
export type TwinStoreOp =
  | { op: 'putTwin'; twin: TwinRecord; expectEtag?: string | null }
  | { op: 'deleteTwin'; workspace: string; id: string; expectEtag?: string | null }
  | { op: 'putRelationship'; rel: RelationshipRecord; expectEtag?: string | null }
  | {
      op: 'deleteRelationship';
      workspace: string;
      sourceId: string;
      relId: string;
      expectEtag?: string | null;
    }
  /**
   * The device's side of a twin (docs/control.md: reported values, acknowledgements, presence):
   * stores the device part of `device` (core/graph/device-state-parts.ts) and nothing else, so the
   * twin's etag and lastUpdateTime stay (the device is not a user writing the twin). Does nothing
   * when the twin is absent (deleted). putTwin stores the desired part of `twin.device` with the
   * twin (a write's desired version commits with it) and keeps the stored device part of an
   * existing twin, so a writer whose copy is stale on the device side cannot set it back.
   */
  | { op: 'putDeviceState'; workspace: string; id: string; device: TwinDeviceState };

/** One service write: its store ops and the outbox rows of the events it causes. */
export interface TwinWrite {
  ops: readonly TwinStoreOp[];
  outbox?: readonly OutboxRow[];
}

export interface TwinStore {
  /** Every twin of the workspace (telemetry last values included), streamed. @throws StorageError */
  loadTwins(workspace: string): AsyncIterable<TwinRecord>;
  /** Every relationship of the workspace, streamed. @throws StorageError */
  loadRelationships(workspace: string): AsyncIterable<RelationshipRecord>;
  /**
   * Applies every write's ops (in order) and outbox rows in ONE transaction, all or nothing;
   * resolves once durable. putTwin stores the twin without its telemetry (history keeps that);
   * deleteTwin also deletes the twin's relationships (both directions) and its history where the
   * store holds it, so a new twin that reuses the id starts with no telemetry or history.
   * @throws PreconditionFailed (an expectEtag did not hold), InvalidArgument (a value the store
   *   cannot hold, e.g. a NUL character on PostgreSQL), StorageError
   */
  commit(writes: readonly TwinWrite[]): Promise<void>;
}

// ---------------------------------------------------------------- history

export type HistoryValue = number | string | boolean | null | Record<string, unknown> | unknown[];

/** One timestamped value of one series. A series is (workspace, twinId, path). */
export interface HistoryPoint {
  workspace: string;
  twinId: string;
  /** "name" or "component/name" (or a deeper path for object members: "comp/name/field"). */
  path: string;
  kind: 'telemetry' | 'property';
  /** Source time, ms since epoch. */
  ts: number;
  value: HistoryValue;
  /**
   * True when `ts` is the device's own source time (`$ts`): the point is stored at most once per
   * series and ts, so a message redelivered after a crash or resent after a lost PUBACK never counts
   * twice (the first stored value wins). Points without it (server receive time) are always stored.
   */
  once?: boolean;
}

export type AggregateFn = 'avg' | 'min' | 'max' | 'sum' | 'count' | 'first' | 'last';

export interface HistoryRawQuery {
  workspace: string;
  twinId: string;
  path: string;
  /** Inclusive start, exclusive end; ms since epoch. */
  from: number;
  to: number;
  /** Page size (the adapter caps it). */
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
  order?: 'asc' | 'desc';
}

export interface HistoryRawPage {
  points: { ts: number; value: HistoryValue }[];
  /** Present when there are more points. */
  cursor?: string;
}

export interface HistoryAggregateQuery {
  workspace: string;
  twinId: string;
  path: string;
  from: number;
  to: number;
  /** Bucket width, ms; buckets start at `from`. */
  interval: number;
  fns: readonly AggregateFn[];
}

export interface HistoryBucket {
  /** Bucket start, ms. */
  start: number;
  count: number;
  avg?: number | null;
  min?: number | null;
  max?: number | null;
  sum?: number | null;
  first?: HistoryValue;
  last?: HistoryValue;
}

export interface SeriesInfo {
  workspace: string;
  twinId: string;
  path: string;
  kind: 'telemetry' | 'property';
  lastTs: number;
  lastValue: HistoryValue;
}

/** Stored with the points of one append, in the same transaction (see HistoryStore.append). */
export interface HistoryCheckpoint {
  /** What the sequence belongs to, e.g. "ingest/<stream>/<partition>". */
  key: string;
  /** The last sequence committed under that key (the store keeps the value of the latest commit). */
  seq: number;
}

export interface HistoryAppendOptions {
  /**
   * Stored in the same transaction as the points: when the commit fails neither is stored, so a
   * consumer that reads it back after a restart skips exactly what was committed.
   */
  checkpoint?: HistoryCheckpoint;
  /**
   * Event-route rows of these points (telemetry events), inserted into the outbox in the same
   * transaction as the points: stored with them or not at all, whichever commit takes them.
   */
  outbox?: readonly OutboxRow[];
}

export interface HistoryStore {
  /**
   * Points per append this store commits soonest (a store that runs commits side by side answers a
   * burst sooner in a few appends than in one); absent: any size, the larger the better.
   */
  readonly preferredAppendPoints?: number;
  /**
   * Appends points durably. Resolves once the points are committed to disk (group commit: many
   * concurrent appends share one transaction). @throws StorageError (rejects) when the commit fails;
   * InvalidTelemetry (rejects, nothing stored) when a point is invalid.
   */
  append(points: readonly HistoryPoint[], options?: HistoryAppendOptions): Promise<void>;
  /** The sequence last stored under `key` by an append's checkpoint; undefined when none. @throws StorageError */
  readCheckpoint(key: string): Promise<number | undefined>;
  /** Raw points of one series in [from, to), paged. @throws InvalidContinuationToken, StorageError */
  queryRaw(q: HistoryRawQuery): Promise<HistoryRawPage>;
  /** Aggregates of one series over fixed buckets in [from, to); empty buckets have count 0. @throws StorageError */
  queryAggregate(q: HistoryAggregateQuery): Promise<HistoryBucket[]>;
  /** Series of a twin (for listing what has history), with their latest values. @throws StorageError */
  listSeries(workspace: string, twinId?: string): Promise<SeriesInfo[]>;
  /** Deletes points older than `before` (ms); resolves to how many were removed. @throws StorageError */
  prune(before: number): Promise<number>;
  /** Deletes every series of the twin. @throws StorageError */
  deleteTwin(workspace: string, twinId: string): Promise<void>;
  /** Commits what is pending and stops accepting appends. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------- dead letters

export interface DeadLetter {
  /** Assigned by the store (monotonic). */
  id?: number;
  workspace: string;
  /** When it was received, ms since epoch. */
  time: number;
  /** Where it came from: "mqtt", "http", "http-bulk", "file", ... */
  source: string;
  /** MQTT topic, HTTP route, file path ... */
  topic?: string;
  /** Client or device id when known. */
  clientId?: string;
  /** The twin the message was meant for, when known (for filtering). */
  twinId?: string;
  /** The raw payload as received (binary-safe); its head only when it was cut (see receivedBytes). */
  payload: Buffer;
  /** Set when the store kept only the head of the payload: its size as received, bytes. */
  receivedBytes?: number;
  /** Stable error code and a readable reason. */
  code: string;
  reason: string;
  /** Every problem found, each with where it is. */
  problems?: { code: string; message: string; pointer?: string; line?: number; column?: number }[];
}

export interface DeadLetterQuery {
  workspace: string;
  limit: number;
  /** Only ids lower than this (pages backwards from newest). */
  beforeId?: number;
  source?: string;
  twinId?: string;
  /** End the page once its payloads reach this many bytes (it holds at least one letter). */
  maxBytes?: number;
}

export interface DeadLetterStore {
  /**
   * Durably stores dead letters (resolves on commit). A store may keep only the head of a large
   * payload (then `receivedBytes` is set) and drop the oldest letters when over its size limit.
   */
  add(letters: readonly DeadLetter[]): Promise<void>;
  /** Newest first; at most `limit` letters and, with `maxBytes`, about that many payload bytes. */
  list(q: DeadLetterQuery): Promise<DeadLetter[]>;
  count(workspace: string): Promise<number>;
  /** One letter of the workspace by id; undefined when there is none (pruned, taken, other workspace). */
  get(workspace: string, id: number): Promise<DeadLetter | undefined>;
  /**
   * Deletes one letter and resolves to it, atomically: of concurrent calls for one id only one gets
   * the letter, the others undefined (a letter is re-ingested at most once). @throws StorageError
   */
  take(workspace: string, id: number): Promise<DeadLetter | undefined>;
  /** Deletes dead letters older than `before` (ms); resolves to how many. @throws StorageError */
  prune(before: number): Promise<number>;
  /** Deletes the oldest dead letters (every workspace) while over the size limit; resolves to how many. */
  pruneToSize(): Promise<number>;
}
