/**
 * The twin graph's records and its read/write contract. One TwinGraph holds one workspace's twins
 * and relationships in memory with the indexes the query engine needs (by id, by model, adjacency
 * both ways); storage adapters persist it, the graph itself does no I/O.
 */

/** One digital twin. Property values are plain JSON, components are nested objects as in ADT. */
export interface TwinRecord {
  readonly id: string;
  readonly modelId: string;
  readonly workspace: string;
  /** Opaque version tag, changes on every write (ADT form: W/"..."). */
  etag: string;
  /** Last write to the twin, ms since epoch. */
  lastUpdateTime: number;
  /**
   * Property values by name; a component is an object of its properties by name.
   * Never contains `$`-prefixed keys: those are derived ($dtId, $etag, $metadata).
   */
  contents: Record<string, unknown>;
  /** Per-property last update time (ms): key "prop", or "component/prop" for a component's property. */
  propertyTimes: Record<string, number>;
  /**
   * Per-property sourceTime set by the writer (ADT's `$metadata.<prop>.sourceTime`), exactly as
   * written (RFC 3339, up to nanoseconds); same keys as propertyTimes. Absent when none is set.
   */
  sourceTimes?: Record<string, string>;
  /** Latest telemetry reading by name ("name" or "component/name"): value and source time (ms). */
  telemetry: Record<string, { value: unknown; time: number }>;
  /** The device side (docs/control.md): presence, desired versus reported. Absent until either exists. */
  device?: TwinDeviceState;
}

/**
 * What a twin knows of its device, shown in `$metadata` (ADT / IoT Plug and Play style):
 * `$metadata.$connection` and, per writable property, `desiredValue`, `desiredVersion`, `ackVersion`,
 * `ackCode`, `ackDescription`, the reported value and a `pending` flag until they agree.
 */
export interface TwinDeviceState {
  /** Counts changes of the twin's desired state (its writable properties); 0 before any. */
  desiredVersion: number;
  /** Per property ("prop" or "component/prop"). */
  properties: Record<string, DevicePropertyState>;
  connection?: DeviceConnection;
}

export interface DevicePropertyState {
  /** The desiredVersion at which this property's desired value was last written. */
  desiredVersion?: number;
  /** ms since epoch. */
  desiredTime?: number;
  /** What the device last reported for it. */
  reportedValue?: unknown;
  reportedTime?: number;
  /** The desired version the device acknowledged, its HTTP-like code and description. */
  ackVersion?: number;
  ackCode?: number;
  ackDescription?: string;
  ackTime?: number;
}

export interface DeviceConnection {
  state: 'connected' | 'disconnected';
  /** When the state began, ms since epoch. */
  since: number;
  /** Last time anything was heard from the device, ms since epoch. */
  lastSeen: number;
}

/** One relationship (an edge), owned by its source twin; ids are unique per source twin. */
export interface RelationshipRecord {
  readonly id: string;
  readonly sourceId: string;
  readonly targetId: string;
  readonly name: string;
  readonly workspace: string;
  etag: string;
  lastUpdateTime: number;
  /** Relationship property values by name. */
  properties: Record<string, unknown>;
}

/** Read access to one workspace's graph. Iterables are live views: do not mutate while iterating. */
export interface GraphView {
  readonly twinCount: number;
  readonly relationshipCount: number;
  /** The twin, or undefined. */
  getTwin(id: string): TwinRecord | undefined;
  /** Every twin, in no particular order. */
  allTwins(): Iterable<TwinRecord>;
  /** Twins whose model is `modelId`, or (exact = false) any model IS_OF_MODEL matches: later versions, models extending them. */
  twinsOfModel(modelId: string, exact: boolean): Iterable<TwinRecord>;
  /** The relationship `relId` of `sourceId`, or undefined. */
  getRelationship(sourceId: string, relId: string): RelationshipRecord | undefined;
  /** Relationships leaving `sourceId` (optionally only those called `name`). */
  outgoing(sourceId: string, name?: string): Iterable<RelationshipRecord>;
  /** Relationships arriving at `targetId` (optionally only those called `name`). */
  incoming(targetId: string, name?: string): Iterable<RelationshipRecord>;
  /** Every relationship, in no particular order. */
  allRelationships(): Iterable<RelationshipRecord>;
  /** How many twins twinsOfModel would yield (optional; lets the query planner pick the smaller side). */
  modelCount?(modelId: string, exact: boolean): number;
}

/** The mutable graph. Writes are immediately visible to the next read (no indexing lag). */
export interface TwinGraph extends GraphView {
  /** Inserts or replaces the twin with this id (indexes updated). */
  putTwin(twin: TwinRecord): void;
  /** Removes the twin; returns false when absent. Callers remove its relationships first. */
  deleteTwin(id: string): boolean;
  /** Inserts or replaces the relationship (sourceId, id). @throws if source or target twin is absent. */
  putRelationship(rel: RelationshipRecord): void;
  /** Removes the relationship; returns false when absent. */
  deleteRelationship(sourceId: string, relId: string): boolean;
}
