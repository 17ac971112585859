/**
 * The in-memory TwinGraph: one workspace's twins and relationships with the indexes the query
 * engine needs — by id, by model, and adjacency both ways.
 *
 * Sized for a million twins and millions of relationships in under 1.5 GB:
 *  - relationships are kept in a compact internal form (Edge): no copy of the source id (implicit),
 *    target id and relationship name interned, no workspace per edge, no empty properties object.
 *    Reads hand out fresh RelationshipRecord objects — mutate a copy and putRelationship it back;
 *  - adjacency is one global Map from twin id to its edges: the edge itself when there is one, an
 *    exactly-sized array when there are a few (a pushed-to array over-allocates ~17 slots), and
 *    only "hub" twins with many outgoing edges get a per-source id index, so building a hub with
 *    10,000 edges stays linear;
 *  - no per-twin Map or Set; model ids are interned as the keys of the model index.
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

/** A stored relationship. `source` and `target` are the graph's own (interned) twin id strings. */
interface Edge {
  id: string;
  source: string;
  target: string;
  name: string;
  etag: string;
  time: number;
  props: Record<string, unknown> | null;
}

/** One twin's edges in one direction: none, one, or an array. */
type EdgeList = Edge | Edge[];

/** Arrays up to this length are copied exactly-sized on insert instead of pushed to. */
const EXACT_UP_TO = 8;

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
  private readonly out = new Map<string, EdgeList>();
  private readonly inc = new Map<string, EdgeList>();
  /** Only for sources with more than hubThreshold outgoing edges: relId -> edge. */
  private readonly hubIndex = new Map<string, Map<string, Edge>>();
  private readonly names = new Map<string, string>();
  private readonly hierarchy: ModelHierarchy | undefined;
  private readonly hubThreshold: number;
  private readonly workspace: { value: string | undefined } = { value: undefined };
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
    const e = this.findEdge(sourceId, relId);
    return e && this.toRecord(e);
  }

  *outgoing(sourceId: string, name?: string): Iterable<RelationshipRecord> {
    for (const e of edgesOf(this.out.get(sourceId))) if (name === undefined || e.name === name) yield this.toRecord(e);
  }

  *incoming(targetId: string, name?: string): Iterable<RelationshipRecord> {
    for (const e of edgesOf(this.inc.get(targetId))) if (name === undefined || e.name === name) yield this.toRecord(e);
  }

  *allRelationships(): Iterable<RelationshipRecord> {
    for (const list of this.out.values()) for (const e of edgesOf(list)) yield this.toRecord(e);
  }

  putTwin(twin: TwinRecord): void {
    const old = this.twins.get(twin.id);
    if (old) this.byModel.get(old.modelId)?.delete(old);
    // Map.set on an existing key keeps its position: iteration order (and so paging) is stable.
    this.twins.set(twin.id, twin);
    let set = this.byModel.get(twin.modelId);
    if (!set) this.byModel.set(twin.modelId, (set = new Set()));
    set.add(twin);
    this.workspace.value ??= twin.workspace;
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
    const source = this.twins.get(rel.sourceId);
    if (!source) throw errors.twinNotFound(rel.sourceId);
    const target = this.twins.get(rel.targetId);
    if (!target) {
      throw new TwinloopError(
        'InvalidRelationship',
        `Relationship '${rel.id}' of '${rel.sourceId}' targets '${rel.targetId}', which does not exist.`,
        { details: { sourceId: rel.sourceId, relationshipId: rel.id, targetId: rel.targetId } },
      );
    }
    this.workspace.value ??= rel.workspace;
    let name = this.names.get(rel.name);
    if (name === undefined) this.names.set(rel.name, (name = rel.name));
    const edge: Edge = {
      id: rel.id,
      source: source.id,
      target: target.id,
      name,
      etag: rel.etag,
      time: rel.lastUpdateTime,
      props: hasKeys(rel.properties) ? rel.properties : null,
    };
    const old = this.findEdge(rel.sourceId, rel.id);
    if (old) {
      this.out.set(source.id, replaceIn(this.out.get(source.id), old, edge));
      if (old.target === edge.target) this.inc.set(edge.target, replaceIn(this.inc.get(edge.target), old, edge));
      else {
        removeFrom(this.inc, old.target, old);
        addTo(this.inc, edge.target, edge);
      }
      this.hubIndex.get(source.id)?.set(edge.id, edge);
      return;
    }
    const list = addTo(this.out, source.id, edge);
    addTo(this.inc, edge.target, edge);
    this.relCount++;
    const hub = this.hubIndex.get(source.id);
    if (hub) hub.set(edge.id, edge);
    else if (Array.isArray(list) && list.length > this.hubThreshold) this.hubIndex.set(source.id, new Map(list.map((e) => [e.id, e])));
  }

  deleteRelationship(sourceId: string, relId: string): boolean {
    const old = this.findEdge(sourceId, relId);
    if (!old) return false;
    removeFrom(this.out, sourceId, old);
    removeFrom(this.inc, old.target, old);
    const hub = this.hubIndex.get(sourceId);
    if (hub) {
      hub.delete(relId);
      if (hub.size <= this.hubThreshold / 2) this.hubIndex.delete(sourceId);
    }
    this.relCount--;
    return true;
  }

  private findEdge(sourceId: string, relId: string): Edge | undefined {
    const hub = this.hubIndex.get(sourceId);
    if (hub) return hub.get(relId);
    for (const e of edgesOf(this.out.get(sourceId))) if (e.id === relId) return e;
    return undefined;
  }

  private toRecord(e: Edge): RelationshipRecord {
    return {
      id: e.id,
      sourceId: e.source,
      targetId: e.target,
      name: e.name,
      workspace: this.workspace.value ?? '',
      etag: e.etag,
      lastUpdateTime: e.time,
      properties: e.props === null ? {} : { ...e.props },
    };
  }

  private modelsFor(modelId: string, exact: boolean): Iterable<string> {
    if (exact || !this.hierarchy) return [modelId];
    const models = new Set<string>([modelId]);
    for (const d of this.hierarchy.descendantsOf(modelId)) models.add(d);
    return models;
  }
}

const NONE: readonly Edge[] = Object.freeze([]);

function edgesOf(list: EdgeList | undefined): readonly Edge[] {
  if (list === undefined) return NONE;
  return Array.isArray(list) ? list : [list];
}

function hasKeys(o: Record<string, unknown>): boolean {
  for (const k in o) if (Object.hasOwn(o, k)) return true;
  return false;
}

function addTo(map: Map<string, EdgeList>, key: string, e: Edge): EdgeList {
  const list = map.get(key);
  let next: EdgeList;
  if (list === undefined) next = e;
  else if (!Array.isArray(list)) next = [list, e];
  else if (list.length < EXACT_UP_TO) next = [...list, e];
  else {
    list.push(e);
    next = list;
  }
  if (next !== list) map.set(key, next);
  return next;
}

function removeFrom(map: Map<string, EdgeList>, key: string, e: Edge): void {
  const list = map.get(key);
  if (list === undefined) return;
  if (!Array.isArray(list)) {
    if (list === e) map.delete(key);
    return;
  }
  const i = list.indexOf(e);
  if (i < 0) return;
  if (list.length === 2) map.set(key, list[1 - i] as Edge);
  else if (list.length <= EXACT_UP_TO) map.set(key, list.filter((x) => x !== e));
  else list.splice(i, 1);
}

function replaceIn(list: EdgeList | undefined, old: Edge, e: Edge): EdgeList {
  if (list === undefined || list === old) return e;
  if (!Array.isArray(list)) return list;
  const i = list.indexOf(old);
  if (i >= 0) list[i] = e;
  return list;
}
