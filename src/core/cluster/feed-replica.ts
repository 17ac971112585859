/**
 * Keeps a node's read model (twin graph, models, live event bus) in step with the rest of the
 * cluster over the ClusterFeed, and tells the cluster what this node committed.
 *
 * Outgoing: every committed twin or relationship write this node announces on its live event bus
 * becomes a feed change carrying the record as it is now in this node's graph (the writer applied
 * its own write at once: read-your-writes on the writer's node); telemetry (an ingest worker's
 * commits) becomes one `telemetry.last` change per commit (latest values, replayable) and one live
 * event batch (best effort), with the alarm transitions of this node (the one running the analytics)
 * in it. Incoming: a change made elsewhere is applied to the graph and its live
 * event re-published on the local bus (so WebSocket clients of this node see it); `models.changed`
 * (an upload, decommission or delete, with the model ids) brings the models in step with the store
 * (`reloadModels` adds, flags and removes: the store is shared, and a change is never applied from
 * the feed's copy); `routes.changed` (an event route or endpoint written on another node) reloads
 * the routes this node journals with; `rules.changed` (a rule written on another node) reloads the
 * rules of the node's live rule engine (only the node running the analytics has one); a gap (the
 * node was away longer than the feed keeps) reloads the whole read model, models, routes and rules
 * included. Reloads of a kind run one at a time, coalesced. Changes of this node's own origin are
 * skipped (applied already).
 */
import type { InMemoryTwinGraph } from '../graph/in-memory-twin-graph.js';
import type { RelationshipRecord, TwinRecord } from '../graph/graph-types.js';
import type { LiveEvent, LiveEventBus } from '../live/live-events.js';
import type { ClusterFeed, FeedChange, FeedEvent, FeedSubscription } from '../ports/cluster.js';

export const FEED_KINDS = {
  twinPut: 'twin.put',
  twinDelete: 'twin.delete',
  relationshipPut: 'relationship.put',
  relationshipDelete: 'relationship.delete',
  models: 'models.changed',
  routes: 'routes.changed',
  rules: 'rules.changed',
  telemetryLast: 'telemetry.last',
  live: 'live',
} as const;

/** What a model write of a node changed (ADT's three model writes). */
export interface ModelChange {
  op: 'upload' | 'decommission' | 'delete';
  ids: readonly string[];
}

type Log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

export interface FeedReplicaOptions {
  /** This node's name (unique per process). */
  origin: string;
  workspace: string;
  graph: InMemoryTwinGraph;
  live: LiveEventBus;
  feed: ClusterFeed;
  /** Brings the models in step with the store (another node changed them: add, flag, remove). */
  reloadModels: () => Promise<void>;
  /** Reloads the event routes and endpoints from the store (another node changed them). */
  reloadRoutes?: () => Promise<void>;
  /** Reloads the rules from the store (another node changed them; the analytics' rule engine). */
  reloadRules?: () => Promise<void>;
  /** Reloads the twins and relationships from the store (changes were missed). */
  reloadGraph: () => Promise<void>;
  /** How long a change that could not be published is retried, ms (default 30 000). */
  retryForMs?: number;
  /** Publish the telemetry this node commits (live events and last values) to the other nodes. */
  publishTelemetry: boolean;
  /**
   * Follow the other nodes' live telemetry events (default true: API nodes serve them to WebSocket
   * clients). An ingest worker serves no client and takes last values from the durable changes.
   */
  followEvents?: boolean;
  log?: Log;
}

/** [twinId, path, value, time] */
type LastValue = [string, string, unknown, number];

export class FeedReplica {
  private sub: FeedSubscription | undefined;
  private unsubscribe: (() => void) | undefined;
  /** True while re-publishing a remote change locally: such events are not sent back out. */
  private applying = false;
  private stopping = false;
  private outgoing: Promise<unknown> = Promise.resolve();
  private readonly models: SerialReload;
  private readonly routes: SerialReload;
  private readonly rules: SerialReload;
  private readonly log: Log;
  /** Counters for /metrics and tests. */
  readonly counts = { applied: 0, published: 0, failed: 0, reloads: 0 };

  constructor(private readonly o: FeedReplicaOptions) {
    this.log = o.log ?? (() => undefined);
    const failed = (what: string) => (err: unknown) => {
      this.counts.failed++;
      this.log('error', `could not reload the ${what}`, { err: (err as Error).message });
    };
    this.models = new SerialReload(o.reloadModels, failed('models'));
    this.routes = new SerialReload(o.reloadRoutes ?? (() => Promise.resolve()), failed('event routes'));
    this.rules = new SerialReload(o.reloadRules ?? (() => Promise.resolve()), failed('rules'));
  }

  /** Starts following the feed (from now: the read model was just loaded) and publishing local commits. */
  async start(afterSeq?: number): Promise<void> {
    this.unsubscribe = this.o.live.subscribe((events) => {
      if (!this.applying) this.publishLocal(events);
    });
    this.sub = await this.o.feed.subscribe(
      {
        onChange: (c) => this.onChange(c),
        ...(this.o.followEvents === false ? {} : { onEvent: (e: FeedEvent) => this.onEvent(e) }),
        onGap: (from, to) => {
          this.log('warn', 'missed feed changes: reloading the read model', { from, to });
          this.counts.reloads++;
          this.models.request();
          this.routes.request();
          this.rules.request();
          this.o.reloadGraph().catch((err: unknown) => this.log('error', 'reload failed', { err }));
        },
        onError: (err, seq) =>
          this.log('warn', 'skipped an unreadable feed message', { err: err.message, seq }),
      },
      afterSeq,
    );
  }

  get lastSeq(): number {
    return this.sub?.lastSeq ?? 0;
  }

  /** Tells the cluster that this node changed the models (the others bring theirs in step with the store). */
  modelsChanged(change?: ModelChange): Promise<void> {
    return this.send({
      kind: FEED_KINDS.models,
      origin: this.o.origin,
      data: { workspace: this.o.workspace, ...(change ? { op: change.op, ids: change.ids } : {}) },
    });
  }

  /** Tells the cluster that this node changed an event route or endpoint (the others reload theirs). */
  routesChanged(): Promise<void> {
    return this.send({
      kind: FEED_KINDS.routes,
      origin: this.o.origin,
      data: { workspace: this.o.workspace },
    });
  }

  /** Tells the cluster that this node changed a rule (the node running the analytics reloads them). */
  rulesChanged(): Promise<void> {
    return this.send({
      kind: FEED_KINDS.rules,
      origin: this.o.origin,
      data: { workspace: this.o.workspace },
    });
  }

  /** Resolves once the model, route and rule reloads asked for so far are done (tests). */
  async reloadsSettled(): Promise<void> {
    await Promise.all([this.models.settled(), this.routes.settled(), this.rules.settled()]);
  }

  /** Resolves once every change published so far has been stored by the feed (or failed). */
  async flush(): Promise<void> {
    await this.outgoing;
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.stopping = true;
    this.models.stop();
    this.routes.stop();
    this.rules.stop();
    await this.outgoing;
    await this.sub?.close();
  }

  private publishLocal(events: readonly LiveEvent[]): void {
    const telemetry: LiveEvent[] = [];
    const last = new Map<string, LastValue>();
    let alarms = 0;
    for (const e of events) {
      if (e.workspace !== this.o.workspace) continue;
      if (e.type === 'alarm') {
        // For the WebSocket clients of the other nodes (their GET /alarms reads the shared store).
        telemetry.push(e);
        alarms++;
        continue;
      }
      if (e.type === 'telemetry') {
        if (!this.o.publishTelemetry) continue;
        telemetry.push(e);
        const prefix = e.component === undefined ? '' : `${e.component}/`;
        for (const [name, value] of Object.entries(e.values)) {
          const k = `${e.twinId}\u0000${prefix}${name}`;
          const l = last.get(k);
          if (!l || l[3] <= e.time) last.set(k, [e.twinId, prefix + name, value, e.time]);
        }
        continue;
      }
      const origin = this.o.origin;
      if (e.type === 'twinDeleted')
        void this.send({ kind: FEED_KINDS.twinDelete, origin, data: { id: e.twinId, event: e } });
      else if (e.type === 'twinCreated' || e.type === 'twinReplaced' || e.type === 'propertyChange') {
        const twin = this.o.graph.getTwin(e.twinId);
        if (twin) void this.send({ kind: FEED_KINDS.twinPut, origin, data: { twin, event: e } });
      } else if (e.type === 'relationshipDeleted')
        void this.send({
          kind: FEED_KINDS.relationshipDelete,
          origin,
          data: { sourceId: e.twinId, relId: e.relationshipId, event: e },
        });
      else if ('relationshipId' in e) {
        const rel = this.o.graph.getRelationship(e.twinId, e.relationshipId);
        if (rel) void this.send({ kind: FEED_KINDS.relationshipPut, origin, data: { rel, event: e } });
      }
    }
    if (telemetry.length) {
      const ev: FeedEvent = { kind: FEED_KINDS.live, origin: this.o.origin, data: telemetry };
      this.o.feed.publishEvent(ev).catch((err: unknown) => {
        this.counts.failed++;
        this.log('warn', 'could not publish live telemetry on the feed', { err: (err as Error).message });
      });
      if (telemetry.length > alarms)
        void this.send({ kind: FEED_KINDS.telemetryLast, origin: this.o.origin, data: [...last.values()] });
    }
  }

  /**
   * Publishes in commit order (one at a time). A failure is retried with backoff for about
   * `retryForMs` (NATS reconnecting), then logged, never thrown: the write is committed.
   */
  private send(change: FeedChange): Promise<void> {
    const p = this.outgoing.then(async () => {
      const end = Date.now() + (this.o.retryForMs ?? 30_000);
      for (let delay = 100; ; delay = Math.min(delay * 2, 5000)) {
        try {
          await this.o.feed.publishChange(change);
          this.counts.published++;
          return;
        } catch (err) {
          if (Date.now() + delay > end || this.stopping) {
            this.counts.failed++;
            this.log('error', 'a committed change could not be told to the cluster', {
              kind: change.kind,
              err: (err as Error).message,
            });
            return;
          }
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    });
    this.outgoing = p;
    return p;
  }

  private onChange(c: FeedChange): void {
    if (c.origin === this.o.origin) return;
    try {
      this.apply(c);
      this.counts.applied++;
    } catch (err) {
      this.counts.failed++;
      this.log('warn', 'could not apply a feed change', { kind: c.kind, err: (err as Error).message });
    }
  }

  private apply(c: FeedChange): void {
    const d = (c.data ?? {}) as Record<string, unknown>;
    const g = this.o.graph;
    switch (c.kind) {
      case FEED_KINDS.twinPut: {
        const twin = d.twin as TwinRecord;
        if (!isRecord(twin) || typeof twin.id !== 'string' || twin.workspace !== this.o.workspace) return;
        const old = g.getTwin(twin.id);
        // Two nodes' publishes can cross: never replace a newer version with an older one.
        if (old && typeof twin.lastUpdateTime === 'number' && old.lastUpdateTime > twin.lastUpdateTime)
          return;
        // Last values: whichever reading is newer (the writer's copy may lag this node's telemetry).
        const telemetry = { ...(isRecord(twin.telemetry) ? twin.telemetry : {}) };
        for (const [k, v] of Object.entries(old?.telemetry ?? {}))
          if (!telemetry[k] || telemetry[k].time < v.time) telemetry[k] = v;
        g.putTwin({ ...twin, telemetry });
        break;
      }
      case FEED_KINDS.twinDelete:
        if (typeof d.id === 'string') g.deleteTwin(d.id);
        break;
      case FEED_KINDS.relationshipPut: {
        const rel = d.rel as RelationshipRecord;
        if (!isRecord(rel) || rel.workspace !== this.o.workspace) return;
        const old = g.getRelationship(String(rel.sourceId), String(rel.id));
        if (old && typeof rel.lastUpdateTime === 'number' && old.lastUpdateTime > rel.lastUpdateTime) return;
        g.putRelationship(rel);
        break;
      }
      case FEED_KINDS.relationshipDelete:
        if (typeof d.sourceId === 'string' && typeof d.relId === 'string')
          g.deleteRelationship(d.sourceId, d.relId);
        break;
      case FEED_KINDS.telemetryLast:
        if (Array.isArray(c.data)) for (const l of c.data as LastValue[]) this.setLast(l);
        return;
      case FEED_KINDS.models:
        if (d.workspace !== undefined && d.workspace !== this.o.workspace) return;
        this.log('info', 'models changed on another node: reloading them', {
          origin: String(c.origin).slice(0, 200),
          op: typeof d.op === 'string' ? d.op.slice(0, 20) : undefined,
          ids: Array.isArray(d.ids) ? d.ids.slice(0, 20).map((x) => String(x).slice(0, 200)) : undefined,
        });
        this.models.request();
        return;
      case FEED_KINDS.routes:
        this.routes.request();
        return;
      case FEED_KINDS.rules:
        if (d.workspace !== undefined && d.workspace !== this.o.workspace) return;
        this.rules.request();
        return;
      default:
        return;
    }
    if (isRecord(d.event)) this.republish([d.event as unknown as LiveEvent]);
  }

  private onEvent(e: FeedEvent): void {
    if (e.origin === this.o.origin || e.kind !== FEED_KINDS.live || !Array.isArray(e.data)) return;
    const events = (e.data as LiveEvent[]).filter(
      (x) =>
        isRecord(x) && (x.type === 'telemetry' || x.type === 'alarm') && x.workspace === this.o.workspace,
    );
    for (const x of events) {
      if (x.type !== 'telemetry' || !isRecord(x.values)) continue;
      const prefix = x.component === undefined ? '' : `${x.component}/`;
      for (const [name, value] of Object.entries(x.values))
        this.setLast([x.twinId, prefix + name, value, x.time]);
    }
    this.republish(events);
  }

  private setLast([twinId, path, value, time]: LastValue): void {
    const twin = this.o.graph.getTwin(twinId);
    if (!twin || typeof path !== 'string' || path === '__proto__' || typeof time !== 'number') return;
    const last = twin.telemetry[path];
    if (!last) twin.telemetry[path] = { value, time };
    else if (last.time <= time) {
      last.value = value;
      last.time = time;
    }
  }

  private republish(events: LiveEvent[]): void {
    if (!events.length) return;
    this.applying = true;
    try {
      this.o.live.publish(events);
    } finally {
      this.applying = false;
    }
  }
}

function isRecord(v: unknown): v is Record<string, unknown> & TwinRecord {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A reload that runs one at a time; asked for meanwhile, it runs once more after (reading anew). */
class SerialReload {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly run: () => Promise<void>,
    private readonly failed: (err: unknown) => void,
  ) {}

  request(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.run();
        } catch (err) {
          this.failed(err);
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
  }

  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  stop(): void {
    this.stopped = true;
  }
}
