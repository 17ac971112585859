/**
 * The in-memory TwinGraph: one workspace's twins and relationships with the indexes the query
 * engine needs — by id, by model, and adjacency both ways.
 *
 * Sized for a million twins in well under 1.5 GB: there is no per-twin Map or Set. Adjacency is one
 * global Map from twin id to a plain array of relationships (most twins have a handful of edges, so
 * a linear scan beats a hash); only "hub" twins with many outgoing edges get a per-source id index,
 * so building a hub with 10,000 edges stays linear. Model ids are interned as the keys of the
 * model index, one Set of records per model.
 */
import { TwinloopError, errors } from '../errors/errors.js';
import type { RelationshipRecord, TwinGraph, TwinRecord } from './graph-types.js';

/** What the graph needs from the model registry: every model that extends `modelId`, transitively. */
export interface ModelHierarchy {
  /** Models extending `modelId` (directly or not); may include `modelId` itself. */
  descendantsOf(modelId: string): Iterable<string>;
}

export interface InMemoryTwinGraphOptions {
  /** Resolves inheritance for twinsOfModel(…, exact = false). Without it, only exact models match. */
  hierarchy?: ModelHierarchy;
  /** Above this many outgoing edges a source twin gets an id index (default 16). */
  hubThreshold?: number;
}

const EMPTY: readonly RelationshipRecord[] = Object.freeze([]);

/**
 * @example
 * const g = new InMemoryTwinGraph({ hierarchy: registry });
 * g.putTwin(pump); g.putTwin(line);
 * g.putRelationship({ id: 'r1', sourceId: 'line-3', targetId: 'pump-1', name: 'contains', ... });
 * [...g.outgoing('line-3', 'contains')];
 */
export class InMemoryTwinGraph implements TwinGraph {
  private readonly twins = new Map<string, TwinRecord>();
  private readonly byModel = new Map<string, Set<TwinRecord>>();
  private readonly out = new Map<string, RelationshipRecord[]>();
  private readonly inc = new Map<string, RelationshipRecord[]>();
  /** Only for sources with more than hubThreshold outgoing edges: relId -> relationship. */
  private readonly hubIndex = new Map<string, Map<string, RelationshipRecord>>();
  private readonly hierarchy: ModelHierarchy | undefined;
  private readonly hubThreshold: number;
  private relCount = 0;

  constructor(options: InMemoryTwinGraphOptions = {}) {
    this.hierarchy = options.hierarchy;
    this.hubThreshold = options.hubThreshold ?? 16;
  }

  get twinCount(): number {
    return this.twins.size;
  }

  get relationshipCount(): number {
    return this.relCount;
  }

  getTwin(id: string): TwinRecord | undefined {
    return this.twins.get(id);
  }

  allTwins(): Iterable<TwinRecord> {
    return this.twins.values();
  }

  *twinsOfModel(modelId: string, exact: boolean): Iterable<TwinRecord> {
    for (const m of this.modelsFor(modelId, exact)) {
      const set = this.byModel.get(m);
      if (set) yield* set;
    }
  }

  /** How many twins twinsOfModel(modelId, exact) yields, without iterating them (for the planner). */
  modelCount(modelId: string, exact: boolean): number {
    let n = 0;
    for (const m of this.modelsFor(modelId, exact)) n += this.byModel.get(m)?.size ?? 0;
    return n;
  }

  getRelationship(sourceId: string, relId: string): RelationshipRecord | undefined {
    const hub = this.hubIndex.get(sourceId);
    if (hub) return hub.get(relId);
    const list = this.out.get(sourceId);
    if (!list) return undefined;
    for (const r of list) if (r.id === relId) return r;
    return undefined;
  }

  outgoing(sourceId: string, name?: string): Iterable<RelationshipRecord> {
    return filterByName(this.out.get(sourceId), name);
  }

  incoming(targetId: string, name?: string): Iterable<RelationshipRecord> {
    return filterByName(this.inc.get(targetId), name);
  }

  *allRelationships(): Iterable<RelationshipRecord> {
    for (const list of this.out.values()) yield* list;
  }

  putTwin(twin: TwinRecord): void {
    const old = this.twins.get(twin.id);
    if (old) this.byModel.get(old.modelId)?.delete(old);
    // Map.set on an existing key keeps its position: iteration order (and so paging) is stable.
    this.twins.set(twin.id, twin);
    let set = this.byModel.get(twin.modelId);
    if (!set) this.byModel.set(twin.modelId, (set = new Set()));
    set.add(twin);
  }

  deleteTwin(id: string): boolean {
    const old = this.twins.get(id);
    if (!old) return false;
    this.twins.delete(id);
    const set = this.byModel.get(old.modelId);
    if (set) {
      set.delete(old);
      if (set.size === 0) this.byModel.delete(old.modelId);
    }
    return true;
  }

  putRelationship(rel: RelationshipRecord): void {
    if (!this.twins.has(rel.sourceId)) throw errors.twinNotFound(rel.sourceId);
    if (!this.twins.has(rel.targetId)) {
      throw new TwinloopError(
        'InvalidRelationship',
        `Relationship '${rel.id}' of '${rel.sourceId}' targets '${rel.targetId}', which does not exist.`,
        { details: { sourceId: rel.sourceId, relationshipId: rel.id, targetId: rel.targetId } },
      );
    }
    const old = this.getRelationship(rel.sourceId, rel.id);
    if (old) {
      replaceIn(this.out.get(rel.sourceId), old, rel);
      if (old.targetId === rel.targetId) replaceIn(this.inc.get(rel.targetId), old, rel);
      else {
        removeFrom(this.inc, old.targetId, old);
        pushTo(this.inc, rel.targetId, rel);
      }
      this.hubIndex.get(rel.sourceId)?.set(rel.id, rel);
      return;
    }
    const list = pushTo(this.out, rel.sourceId, rel);
    pushTo(this.inc, rel.targetId, rel);
    this.relCount++;
    const hub = this.hubIndex.get(rel.sourceId);
    if (hub) hub.set(rel.id, rel);
    else if (list.length > this.hubThreshold) this.hubIndex.set(rel.sourceId, new Map(list.map((r) => [r.id, r])));
  }

  deleteRelationship(sourceId: string, relId: string): boolean {
    const old = this.getRelationship(sourceId, relId);
    if (!old) return false;
    removeFrom(this.out, sourceId, old);
    removeFrom(this.inc, old.targetId, old);
    const hub = this.hubIndex.get(sourceId);
    if (hub) {
      hub.delete(relId);
      if (hub.size <= this.hubThreshold / 2) this.hubIndex.delete(sourceId);
    }
    this.relCount--;
    return true;
  }

  private modelsFor(modelId: string, exact: boolean): Iterable<string> {
    if (exact || !this.hierarchy) return [modelId];
    const models = new Set<string>([modelId]);
    for (const d of this.hierarchy.descendantsOf(modelId)) models.add(d);
    return models;
  }
}

function filterByName(list: RelationshipRecord[] | undefined, name: string | undefined): Iterable<RelationshipRecord> {
  if (!list) return EMPTY;
  if (name === undefined) return list;
  return list.filter((r) => r.name === name);
}

function pushTo(map: Map<string, RelationshipRecord[]>, key: string, rel: RelationshipRecord): RelationshipRecord[] {
  const list = map.get(key);
  if (list) {
    list.push(rel);
    return list;
  }
  const fresh = [rel];
  map.set(key, fresh);
  return fresh;
}

function removeFrom(map: Map<string, RelationshipRecord[]>, key: string, rel: RelationshipRecord): void {
  const list = map.get(key);
  if (!list) return;
  const i = list.indexOf(rel);
  if (i < 0) return;
  list.splice(i, 1);
  if (list.length === 0) map.delete(key);
}

function replaceIn(list: RelationshipRecord[] | undefined, old: RelationshipRecord, rel: RelationshipRecord): void {
  if (!list) return;
  const i = list.indexOf(old);
  if (i >= 0) list[i] = rel;
}
