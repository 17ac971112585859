/**
 * The in-memory TwinGraph: one workspace's twins and relationships with the indexes the query
 * engine needs — by id, by model, and adjacency both ways.
 *
 * Sized for a million twins and millions of relationships in under 1.5 GB:
 *  - every twin gets a slot number; relationships live in column storage (EdgeStore) with
 *    adjacency threaded through it, so an edge costs ~70 bytes plus its id and etag strings, and
 *    no twin has a Map, Set or array of its own;
 *  - reads hand out fresh RelationshipRecord objects (source/target ids are the graph's own
 *    strings, names interned, no empty properties object kept): to change one, put it back;
 *  - only "hub" twins with many outgoing edges get a per-source id index, so building a hub with
 *    10,000 edges stays linear; model ids are interned as the keys of the model index.
 * The graph holds one workspace: records read back carry the workspace of the first write.
 */
import { TwinloopError, errors } from '../errors/errors.js';
import { EdgeStore } from './edge-store.js';
import type { RelationshipRecord, TwinGraph, TwinRecord } from './graph-types.js';

/** What the graph needs from the model registry: the query language's IS_OF_MODEL rule. */
export interface ModelHierarchy {
  /**
   * True when twins of `modelId` are of the model `queried` (not exact): in ADT, `modelId` or a
   * model it extends is `queried` or a later version of it (ModelRegistry.matchesModel).
   */
  matchesModel(modelId: string, queried: string): boolean;
}

export interface InMemoryTwinGraphOptions {
  /** Resolves twinsOfModel(…, exact = false) (inheritance, versions). Without it, only exact models match. */
  hierarchy?: ModelHierarchy;
  /** Above this many outgoing edges a source twin gets an id index (default 16). */
  hubThreshold?: number;
}

/**
 * @example
 * const g = new InMemoryTwinGraph({ hierarchy: registry });
 * g.putTwin(pump); g.putTwin(line);
 * g.putRelationship({ id: 'r1', sourceId: 'line-3', targetId: 'pump-1', name: 'contains', ... });
 * [...g.outgoing('line-3', 'contains')];
 */
export class InMemoryTwinGraph implements TwinGraph {
  /** Twin id -> slot; its iteration order is the order twins were first put. */
  private readonly slots = new Map<string, number>();
  private readonly records: (TwinRecord | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  /** Model id -> slots of its twins; modelPos[slot] is the twin's index in that array (O(1) removal). */
  private readonly byModel = new Map<string, number[]>();
  private modelPos = new Int32Array(0);
  private readonly edges = new EdgeStore();
  /** Only for twins with more than hubThreshold outgoing edges: relId -> edge slot. */
  private readonly hubIndex = new Map<number, Map<string, number>>();
  private readonly hierarchy: ModelHierarchy | undefined;
  private readonly hubThreshold: number;
  private workspace: string | undefined;

  constructor(options: InMemoryTwinGraphOptions = {}) {
    this.hierarchy = options.hierarchy;
    this.hubThreshold = options.hubThreshold ?? 16;
  }

  get twinCount(): number {
    return this.slots.size;
  }

  get relationshipCount(): number {
    return this.edges.count;
  }

  getTwin(id: string): TwinRecord | undefined {
    const s = this.slots.get(id);
    return s === undefined ? undefined : this.records[s];
  }

  *allTwins(): Iterable<TwinRecord> {
    for (const s of this.slots.values()) yield this.records[s] as TwinRecord;
  }

  *twinsOfModel(modelId: string, exact: boolean): Iterable<TwinRecord> {
    for (const m of this.modelsFor(modelId, exact)) {
      const slots = this.byModel.get(m);
      if (slots) for (const s of slots) yield this.records[s] as TwinRecord;
    }
  }

  /** How many twins twinsOfModel(modelId, exact) yields, without iterating them (for the planner). */
  modelCount(modelId: string, exact: boolean): number {
    let n = 0;
    for (const m of this.modelsFor(modelId, exact)) n += this.byModel.get(m)?.length ?? 0;
    return n;
  }

  getRelationship(sourceId: string, relId: string): RelationshipRecord | undefined {
    const s = this.slots.get(sourceId);
    if (s === undefined) return undefined;
    const e = this.findEdge(s, relId);
    return e < 0 ? undefined : this.toRecord(e);
  }

  *outgoing(sourceId: string, name?: string): Iterable<RelationshipRecord> {
    const s = this.slots.get(sourceId);
    if (s === undefined) return;
    const n = name === undefined ? -2 : this.edges.nameIndex(name);
    if (n === -1) return;
    for (const e of this.edges.outOf(s)) if (n === -2 || this.edges.name[e] === n) yield this.toRecord(e);
  }

  *incoming(targetId: string, name?: string): Iterable<RelationshipRecord> {
    const s = this.slots.get(targetId);
    if (s === undefined) return;
    const n = name === undefined ? -2 : this.edges.nameIndex(name);
    if (n === -1) return;
    for (const e of this.edges.inOf(s)) if (n === -2 || this.edges.name[e] === n) yield this.toRecord(e);
  }

  *allRelationships(): Iterable<RelationshipRecord> {
    for (const s of this.slots.values()) for (const e of this.edges.outOf(s)) yield this.toRecord(e);
  }

  putTwin(twin: TwinRecord): void {
    this.workspace ??= twin.workspace;
    const s = this.slots.get(twin.id);
    if (s !== undefined) {
      const old = this.records[s] as TwinRecord;
      // Same slot, same Map position: iteration order (and so paging) is stable across updates.
      this.records[s] = twin;
      if (old.modelId !== twin.modelId) {
        this.unindexModel(old.modelId, s);
        this.indexModel(twin.modelId, s);
      }
      return;
    }
    const slot = this.freeSlots.pop() ?? this.records.length;
    this.records[slot] = twin;
    this.slots.set(twin.id, slot);
    this.edges.ensureTwin(slot);
    if (slot >= this.modelPos.length) {
      const grown = new Int32Array(Math.ceil(this.modelPos.length * 1.5) + 16);
      grown.set(this.modelPos);
      this.modelPos = grown;
    }
    this.indexModel(twin.modelId, slot);
  }

  private indexModel(modelId: string, slot: number): void {
    let slots = this.byModel.get(modelId);
    if (!slots) this.byModel.set(modelId, (slots = []));
    this.modelPos[slot] = slots.length;
    slots.push(slot);
  }

  private unindexModel(modelId: string, slot: number): void {
    const slots = this.byModel.get(modelId);
    if (!slots) return;
    const i = this.modelPos[slot] as number;
    const last = slots.pop() as number;
    if (last !== slot) {
      slots[i] = last;
      this.modelPos[last] = i;
    }
    if (slots.length === 0) this.byModel.delete(modelId);
  }

  /** Removes the twin. Callers remove its relationships first; any left are removed with it. */
  deleteTwin(id: string): boolean {
    const s = this.slots.get(id);
    if (s === undefined) return false;
    const old = this.records[s] as TwinRecord;
    // A Set: a self-loop is in both lists.
    for (const e of new Set([...this.edges.outOf(s), ...this.edges.inOf(s)])) this.removeEdge(e);
    this.slots.delete(id);
    this.records[s] = undefined;
    this.freeSlots.push(s);
    this.hubIndex.delete(s);
    this.unindexModel(old.modelId, s);
    return true;
  }

  putRelationship(rel: RelationshipRecord): void {
    const src = this.slots.get(rel.sourceId);
    if (src === undefined) throw errors.twinNotFound(rel.sourceId);
    const tgt = this.slots.get(rel.targetId);
    if (tgt === undefined) {
      throw new TwinloopError(
        'InvalidRelationship',
        `Relationship '${rel.id}' of '${rel.sourceId}' targets '${rel.targetId}', which does not exist.`,
        { details: { sourceId: rel.sourceId, relationshipId: rel.id, targetId: rel.targetId } },
      );
    }
    this.workspace ??= rel.workspace;
    const name = this.edges.internName(rel.name);
    const props = hasKeys(rel.properties) ? { ...rel.properties } : null;
    const old = this.findEdge(src, rel.id);
    if (old >= 0) {
      this.edges.update(old, tgt, name, rel.etag, rel.lastUpdateTime, props);
      return;
    }
    const e = this.edges.add(rel.id, src, tgt, name, rel.etag, rel.lastUpdateTime, props);
    const hub = this.hubIndex.get(src);
    if (hub) hub.set(rel.id, e);
    else {
      let degree = 0;
      for (const x of this.edges.outOf(src)) if (x >= 0 && ++degree > this.hubThreshold) break;
      if (degree > this.hubThreshold) {
        const index = new Map<string, number>();
        for (const x of this.edges.outOf(src)) index.set(this.edges.ids[x] as string, x);
        this.hubIndex.set(src, index);
      }
    }
  }

  deleteRelationship(sourceId: string, relId: string): boolean {
    const s = this.slots.get(sourceId);
    if (s === undefined) return false;
    const e = this.findEdge(s, relId);
    if (e < 0) return false;
    this.removeEdge(e);
    return true;
  }

  private removeEdge(e: number): void {
    const src = this.edges.src[e] as number;
    const hub = this.hubIndex.get(src);
    if (hub) {
      hub.delete(this.edges.ids[e] as string);
      if (hub.size <= this.hubThreshold / 2) this.hubIndex.delete(src);
    }
    this.edges.remove(e);
  }

  private findEdge(src: number, relId: string): number {
    const hub = this.hubIndex.get(src);
    if (hub) return hub.get(relId) ?? -1;
    return this.edges.findOut(src, relId);
  }

  private toRecord(e: number): RelationshipRecord {
    const x = this.edges;
    const props = x.props.get(e);
    return {
      id: x.ids[e] as string,
      sourceId: (this.records[x.src[e] as number] as TwinRecord).id,
      targetId: (this.records[x.tgt[e] as number] as TwinRecord).id,
      name: x.names[x.name[e] as number] as string,
      workspace: this.workspace ?? '',
      etag: x.etags[e] as string,
      lastUpdateTime: x.time[e] as number,
      properties: props ? { ...props } : {},
    };
  }

  /** The models of the index whose twins twinsOfModel yields (one check per model in use). */
  private modelsFor(modelId: string, exact: boolean): string[] {
    const hierarchy = this.hierarchy;
    if (exact || !hierarchy) return [modelId];
    return [...this.byModel.keys()].filter((m) => m === modelId || hierarchy.matchesModel(m, modelId));
  }
}

function hasKeys(o: Record<string, unknown>): boolean {
  for (const k in o) if (Object.hasOwn(o, k)) return true;
  return false;
}
