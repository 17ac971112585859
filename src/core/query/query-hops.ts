/**
 * Variable-hop MATCH conditions (`[*3]`, `[*1..3]`, `[*..2]`, `[*]`): the distinct twins at the end
 * of a trail of the allowed length from one twin. A trail uses no relationship twice (ADT traverses
 * each relationship once), so cycles end and a twin is not its own neighbour's neighbour.
 *
 * minHops 0 or 1 walk breadth first (polynomial, exact: a shortest path is a trail); minHops 2 or
 * more walk the trails depth first (exact; on dense graphs the query budget ends it). Both count
 * every relationship considered as a visit of the budget and pause through the walk's HopWalk.
 */
import { TwinloopError } from '../errors/errors.js';
import type { GraphView, RelationshipRecord, TwinRecord } from '../graph/graph-types.js';
import type { QueryBudget } from './query-budget.js';
import type { Source } from './query-source.js';

/** Yielded when the slice is over (the same symbol as query-runner's PAUSE). */
export const PAUSE: unique symbol = Symbol('pause');

export type Dir = 'out' | 'in' | 'both';

/** What a hop walk needs of the row walk it is part of (query-runner.ts). */
export interface HopWalk {
  graph: GraphView;
  budget: QueryBudget;
  /** Opens a list (copied before a pause with the walk's other open lists); close it LIFO. */
  openSource<T>(items: Iterable<T>): Source<T>;
  closeSource(): void;
  /** Copies the open lists: call before yielding PAUSE. */
  beforePause(): void;
  /** The relationship as it is now when read from a copied list (undefined when deleted). */
  freshRel(r: RelationshipRecord, src: Source<unknown>): RelationshipRecord | undefined;
}

/** A variable-hop condition from one twin: `-[:names*minHops..maxHops]-`, walked in `direction`. */
export interface HopCondition {
  startTwin: TwinRecord;
  direction: Dir;
  names: readonly string[];
  minHops: number;
  maxHops: number;
  /** maxHops is the configured cap, not the query's bound: reaching it with more graph is an error. */
  capped: boolean;
}

/**
 * The distinct end twins of a variable-hop condition: twins at the end of a trail (a path that
 * uses no relationship twice: ADT traverses each relationship once) of minHops..maxHops hops.
 */
export function variableHops(
  w: HopWalk,
  hops: HopCondition,
): Generator<TwinRecord | typeof PAUSE, void, void> {
  return hops.minHops <= 1 ? nearHops(w, hops) : trailHops(w, hops);
}

/**
 * minHops 0 or 1, breadth first: every twin but the start is expanded once (a shortest path is a
 * trail, so a twin is in range when its distance is). The start twin is in range when a cycle
 * through it is no longer than maxHops: directed, an edge back to it; undirected, an edge that
 * joins two branches of the search (labelled by their first relationship), the standard shortest
 * cycle through a vertex.
 */
function* nearHops(w: HopWalk, hops: HopCondition): Generator<TwinRecord | typeof PAUSE, void, void> {
  const { startTwin, direction, names, minHops, maxHops, capped } = hops;
  let startOut = minHops === 0;
  if (startOut) yield startTwin;
  const depth = new Map<string, number>([[startTwin.id, 0]]);
  /** Twin id -> the first relationship of its branch (undirected walks only). */
  const branch = new Map<string, string>();
  let frontier: TwinRecord[] = [startTwin];
  let d = 1;
  for (; d <= maxHops && frontier.length > 0; d++) {
    const next: TwinRecord[] = [];
    for (const node of frontier) {
      const src = w.openSource(relationshipsOf(w.graph, node.id, direction, names));
      for (let r0 = src.next(); r0 !== undefined; r0 = src.next()) {
        if (w.budget.visit()) {
          w.beforePause();
          yield PAUSE;
        }
        const r = w.freshRel(r0, src);
        if (r === undefined) continue;
        const id = r.sourceId === node.id ? r.targetId : r.sourceId;
        const key = relKey(r);
        const nodeBranch = node === startTwin ? key : (branch.get(node.id) as string);
        const seen = depth.get(id);
        if (seen !== undefined) {
          if (startOut) continue;
          // A cycle through the start: an edge back to it, or (undirected) one joining two branches.
          const closes =
            id === startTwin.id
              ? direction !== 'both' || node === startTwin || nodeBranch !== key
              : direction === 'both' && branch.get(id) !== nodeBranch;
          if (closes && (depth.get(node.id) as number) + seen + 1 <= maxHops) {
            startOut = true;
            yield startTwin;
          }
          continue;
        }
        const other = w.graph.getTwin(id);
        if (other === undefined) continue;
        depth.set(id, d);
        if (direction === 'both') branch.set(id, nodeBranch);
        next.push(other);
        yield other;
      }
      w.closeSource();
    }
    frontier = next;
  }
  if (capped && frontier.length > 0 && d > maxHops) {
    // The cap stopped the walk: an error if one more hop would reach a twin not reached yet.
    for (const node of frontier) {
      for (const r of relationshipsOf(w.graph, node.id, direction, names)) {
        if (!depth.has(r.sourceId === node.id ? r.targetId : r.sourceId)) throw hopCapReached(maxHops);
      }
    }
  }
}

/**
 * minHops 2 or more, depth first over trails (no relationship twice on one trail), each end twin
 * yielded once. Exact, and as cheap as the graph is sparse; on dense graphs the budget ends it.
 */
function* trailHops(w: HopWalk, hops: HopCondition): Generator<TwinRecord | typeof PAUSE, void, void> {
  const { startTwin, direction, names, minHops, maxHops, capped } = hops;
  const emitted = new Set<string>();
  /** Relationships on the current trail. */
  const used = new Set<string>();
  /** Twins at the cap whose trail could go on (only when the cap, not the query, bounds the walk). */
  const atCap: TwinRecord[] = [];
  const stack: { node: TwinRecord; src: Source<RelationshipRecord>; key: string | undefined }[] = [
    {
      node: startTwin,
      src: w.openSource(relationshipsOf(w.graph, startTwin.id, direction, names)),
      key: undefined,
    },
  ];
  while (stack.length > 0) {
    const top = stack[stack.length - 1] as (typeof stack)[number];
    const r0 = top.src.next();
    if (r0 === undefined) {
      w.closeSource();
      stack.pop();
      if (top.key !== undefined) used.delete(top.key);
      continue;
    }
    if (w.budget.visit()) {
      w.beforePause();
      yield PAUSE;
    }
    const r = w.freshRel(r0, top.src);
    if (r === undefined) continue;
    const key = relKey(r);
    if (used.has(key)) continue;
    const other = w.graph.getTwin(r.sourceId === top.node.id ? r.targetId : r.sourceId);
    if (other === undefined) continue;
    const hops = stack.length;
    if (hops >= minHops && !emitted.has(other.id)) {
      emitted.add(other.id);
      yield other;
    }
    if (hops < maxHops) {
      used.add(key);
      stack.push({
        node: other,
        src: w.openSource(relationshipsOf(w.graph, other.id, direction, names)),
        key,
      });
    } else if (capped) atCap.push(other);
  }
  for (const node of atCap) {
    for (const r of relationshipsOf(w.graph, node.id, direction, names)) {
      if (!emitted.has(r.sourceId === node.id ? r.targetId : r.sourceId)) throw hopCapReached(maxHops);
    }
  }
}

function hopCapReached(maxHops: number): TwinloopError {
  return new TwinloopError(
    'QueryBudgetExceeded',
    `The query was stopped: a variable-hop condition reached the hop cap of ${maxHops} (query.maxHops) ` +
      `and the graph goes on. Give the condition an upper bound (e.g. [*1..${maxHops}]) to stop there on ` +
      `purpose, or raise or remove the cap (query.maxHops in the config file, TWINLOOP_QUERY_MAX_HOPS or --query-max-hops).`,
    { details: { limit: 'maxHops', value: maxHops } },
  );
}

/** A relationship's identity within the graph (ids are unique per source twin). */
export const relKey = (r: RelationshipRecord): string => `${r.sourceId}\u0000${r.id}`;

/** Relationships along which `twinId` reaches its neighbours (the other end is the neighbour). */
export function* relationshipsOf(
  graph: GraphView,
  twinId: string,
  direction: Dir,
  names: readonly string[],
): Generator<RelationshipRecord, void, void> {
  const nameOk = (r: RelationshipRecord): boolean => names.length === 0 || names.includes(r.name);
  // With one name, let the graph filter (it can skip building records for other relationships).
  const only = names.length === 1 ? names[0] : undefined;
  if (direction !== 'in') for (const r of graph.outgoing(twinId, only)) if (nameOk(r)) yield r;
  if (direction !== 'out') {
    for (const r of graph.incoming(twinId, only)) {
      // An undirected walk sees a self-loop once, from its outgoing side.
      if (nameOk(r) && !(direction === 'both' && r.sourceId === r.targetId)) yield r;
    }
  }
}
