/**
 * Runs a QueryPlan over a GraphView depth-first as a generator of rows, so a caller pulls only the
 * rows it needs (TOP, one page, "is there a next page?") and can stop, or keep the generator as a
 * cursor for the next page.
 *
 * Cooperative: every twin or relationship considered is one visit of the QueryBudget; when a slice
 * has used its time the generator yields PAUSE, and the driver (query-executor.ts) gives the event
 * loop back before pulling again. Writes may commit during a pause, and the graph's iterators are
 * live views that must not be held across a write, so every list the walk has open (start twins,
 * a twin's relationships) is copied out just before a pause ("copy on pause": a query that ends
 * within one slice copies nothing). After a pause each twin or relationship read from such a copy
 * is looked up again: one deleted meanwhile is skipped, one replaced is read in its new version.
 * That is the consistency rule in docs/api.md.
 *
 * Variable-hop edges (`*`, `*N..M`) yield each distinct end twin once per start twin. They are
 * walked level by level; below the minimum hop count a level is de-duplicated on its own (walks of
 * exactly d hops), from the minimum on a twin already reached is never expanded again — so cycles
 * terminate and an unbounded `*` really is unbounded: it ends where the graph ends (or where the
 * budget ends). A configured hop cap that would cut a walk short is an error, never a silent cut.
 */
import { TwinloopError } from '../errors/errors.js';
import type { GraphView, RelationshipRecord, TwinRecord } from '../graph/graph-types.js';
import type { QueryBudget } from './query-budget.js';
import type { Row } from './query-eval.js';
import type { PlanStep, QueryPlan } from './query-planner.js';

/** Yielded when the slice is over: the driver yields the event loop, then pulls again. */
export const PAUSE: unique symbol = Symbol('pause');
export type RowStream = Generator<Row | typeof PAUSE, void, void>;
/** Pulls through a nested walk: rows and pauses go up, nothing comes back. */
type Walk = Generator<Row | typeof PAUSE, void, void>;

type Dir = 'out' | 'in' | 'both';

/** A list read from a live graph iterator until a pause, then from a copy of what was left. */
class Source<T> {
  private it: Iterator<T> | undefined;
  private buf: T[] | undefined;
  private i = 0;
  /** Items copied (0 until copied). */
  size = 0;

  constructor(items: Iterable<T>) {
    this.it = items[Symbol.iterator]();
  }

  /** True once copied: items read since may have changed (a pause came after the copy). */
  get copied(): boolean {
    return this.buf !== undefined;
  }

  /** The next item, or undefined at the end (items are never undefined). */
  next(): T | undefined {
    if (this.buf) return this.i < this.buf.length ? this.buf[this.i++] : undefined;
    const r = (this.it as Iterator<T>).next();
    return r.done ? undefined : r.value;
  }

  /** Copies what is left and lets go of the live iterator; returns how many items were copied. */
  copy(): number {
    if (this.buf) return 0;
    const it = this.it as Iterator<T>;
    const buf: T[] = [];
    for (let r = it.next(); !r.done; r = it.next()) buf.push(r.value);
    this.buf = buf;
    this.it = undefined;
    this.size = buf.length;
    return buf.length;
  }
}

/**
 * The rows of `plan`, one mutable array reused for every row: read (or copy) a row before pulling
 * the next. @throws TwinloopError QueryBudgetExceeded (from the budget, or a hop cap reached).
 */
export function* planRows(plan: QueryPlan, graph: GraphView, budget: QueryBudget): RowStream {
  const row: Row = new Array(plan.vars.length).fill(undefined);
  const { start, startFilters, steps } = plan;
  const last = steps.length - 1;
  /** Lists open now, outermost first: copied before each pause. */
  const open: Source<unknown>[] = [];
  const openSource = <T>(items: Iterable<T>): Source<T> => {
    const s = new Source(items);
    open.push(s);
    return s;
  };
  const closeSource = (): void => {
    const s = open.pop();
    if (s?.copied) budget.held -= s.size;
  };
  /** Called when budget.visit() says the slice is over: copy the open lists, then pause. */
  const beforePause = (): void => {
    for (const s of open) budget.held += s.copy();
  };
  budget.suspend = beforePause;

  /** Relationships bound by the single-hop MATCH conditions of the current row. */
  const patternRels = new Set<string>();
  const passes = (filters: readonly ((row: Row) => unknown)[]): boolean => {
    for (const f of filters) if (f(row) !== true) return false;
    return true;
  };
  const freshTwin = (t: TwinRecord, src: Source<unknown>): TwinRecord | undefined =>
    src.copied ? graph.getTwin(t.id) : t;
  const freshRel = (r: RelationshipRecord, src: Source<unknown>): RelationshipRecord | undefined =>
    src.copied ? graph.getRelationship(r.sourceId, r.id) : r;

  // Step k: bind (or check) its `to` twin, and its relationship variable for single hops; rows
  // are yielded straight from the last step (no generator per row).
  function* expand(k: number): Walk {
    const step = steps[k] as PlanStep;
    const fromTwin = row[step.from] as TwinRecord;
    const wasBound = row[step.to] as TwinRecord | undefined;
    const { edge } = step;
    if (!edge.variable) {
      const src = openSource(relationshipsOf(graph, fromTwin.id, step.direction, edge.names));
      for (let r0 = src.next(); r0 !== undefined; r0 = src.next()) {
        if (budget.visit()) {
          beforePause();
          yield PAUSE;
        }
        const r = freshRel(r0, src);
        if (r === undefined) continue;
        const key = edge.distinct ? relKey(r) : undefined;
        if (key !== undefined && patternRels.has(key)) continue;
        const other = graph.getTwin(r.sourceId === fromTwin.id ? r.targetId : r.sourceId);
        if (other === undefined) continue;
        if (wasBound !== undefined) {
          if (other.id !== wasBound.id) continue;
        } else row[step.to] = other;
        if (edge.rel !== undefined) row[edge.rel] = r;
        if (!passes(step.filters)) continue;
        if (k === last) yield row;
        else {
          if (key !== undefined) patternRels.add(key);
          yield* expand(k + 1);
          if (key !== undefined) patternRels.delete(key);
        }
      }
      closeSource();
    } else {
      const ends = variableHops(
        fromTwin,
        step.direction,
        edge.names,
        edge.minHops,
        edge.maxHops,
        edge.capped,
      );
      for (const other of ends) {
        if (other === PAUSE) {
          yield PAUSE;
          continue;
        }
        if (wasBound !== undefined) {
          if (other.id !== wasBound.id) continue;
        } else row[step.to] = other;
        if (!passes(step.filters)) continue;
        if (k === last) yield row;
        else yield* expand(k + 1);
      }
    }
    if (wasBound === undefined) row[step.to] = undefined;
    if (edge.rel !== undefined) row[edge.rel] = undefined;
  }

  /**
   * The distinct end twins of a variable-hop condition: twins at the end of a trail (a path that
   * uses no relationship twice: ADT traverses each relationship once) of minHops..maxHops hops.
   */
  function variableHops(
    startTwin: TwinRecord,
    direction: Dir,
    names: readonly string[],
    minHops: number,
    maxHops: number,
    capped: boolean,
  ): Generator<TwinRecord | typeof PAUSE, void, void> {
    return minHops <= 1
      ? nearHops(startTwin, direction, names, minHops, maxHops, capped)
      : trailHops(startTwin, direction, names, minHops, maxHops, capped);
  }

  /**
   * minHops 0 or 1, breadth first: every twin but the start is expanded once (a shortest path is a
   * trail, so a twin is in range when its distance is). The start twin is in range when a cycle
   * through it is no longer than maxHops: directed, an edge back to it; undirected, an edge that
   * joins two branches of the search (labelled by their first relationship), the standard shortest
   * cycle through a vertex.
   */
  function* nearHops(
    startTwin: TwinRecord,
    direction: Dir,
    names: readonly string[],
    minHops: number,
    maxHops: number,
    capped: boolean,
  ): Generator<TwinRecord | typeof PAUSE, void, void> {
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
        const src = openSource(relationshipsOf(graph, node.id, direction, names));
        for (let r0 = src.next(); r0 !== undefined; r0 = src.next()) {
          if (budget.visit()) {
            beforePause();
            yield PAUSE;
          }
          const r = freshRel(r0, src);
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
          const other = graph.getTwin(id);
          if (other === undefined) continue;
          depth.set(id, d);
          if (direction === 'both') branch.set(id, nodeBranch);
          next.push(other);
          yield other;
        }
        closeSource();
      }
      frontier = next;
    }
    if (capped && frontier.length > 0 && d > maxHops) {
      // The cap stopped the walk: an error if one more hop would reach a twin not reached yet.
      for (const node of frontier) {
        for (const r of relationshipsOf(graph, node.id, direction, names)) {
          if (!depth.has(r.sourceId === node.id ? r.targetId : r.sourceId)) throw hopCapReached(maxHops);
        }
      }
    }
  }

  /**
   * minHops 2 or more, depth first over trails (no relationship twice on one trail), each end twin
   * yielded once. Exact, and as cheap as the graph is sparse; on dense graphs the budget ends it.
   */
  function* trailHops(
    startTwin: TwinRecord,
    direction: Dir,
    names: readonly string[],
    minHops: number,
    maxHops: number,
    capped: boolean,
  ): Generator<TwinRecord | typeof PAUSE, void, void> {
    const emitted = new Set<string>();
    /** Relationships on the current trail. */
    const used = new Set<string>();
    /** Twins at the cap whose trail could go on (only when the cap, not the query, bounds the walk). */
    const atCap: TwinRecord[] = [];
    const stack: { node: TwinRecord; src: Source<RelationshipRecord>; key: string | undefined }[] = [
      {
        node: startTwin,
        src: openSource(relationshipsOf(graph, startTwin.id, direction, names)),
        key: undefined,
      },
    ];
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as (typeof stack)[number];
      const r0 = top.src.next();
      if (r0 === undefined) {
        closeSource();
        stack.pop();
        if (top.key !== undefined) used.delete(top.key);
        continue;
      }
      if (budget.visit()) {
        beforePause();
        yield PAUSE;
      }
      const r = freshRel(r0, top.src);
      if (r === undefined) continue;
      const key = relKey(r);
      if (used.has(key)) continue;
      const other = graph.getTwin(r.sourceId === top.node.id ? r.targetId : r.sourceId);
      if (other === undefined) continue;
      const hops = stack.length;
      if (hops >= minHops && !emitted.has(other.id)) {
        emitted.add(other.id);
        yield other;
      }
      if (hops < maxHops) {
        used.add(key);
        stack.push({ node: other, src: openSource(relationshipsOf(graph, other.id, direction, names)), key });
      } else if (capped) atCap.push(other);
    }
    for (const node of atCap) {
      for (const r of relationshipsOf(graph, node.id, direction, names)) {
        if (!emitted.has(r.sourceId === node.id ? r.targetId : r.sourceId)) throw hopCapReached(maxHops);
      }
    }
  }

  const s = start;
  switch (s.kind) {
    case 'ids':
    case 'model':
    case 'scan': {
      const src = openSource<TwinRecord>(
        s.kind === 'ids'
          ? s.ids.map((id) => graph.getTwin(id)).filter((t): t is TwinRecord => t !== undefined)
          : s.kind === 'model'
            ? graph.twinsOfModel(s.model, s.exact)
            : graph.allTwins(),
      );
      for (let t0 = src.next(); t0 !== undefined; t0 = src.next()) {
        if (budget.visit()) {
          beforePause();
          yield PAUSE;
        }
        const twin = freshTwin(t0, src);
        if (twin === undefined) continue;
        row[s.slot] = twin;
        if (!passes(startFilters)) continue;
        if (last < 0) yield row;
        else yield* expand(0);
      }
      closeSource();
      return;
    }
    case 'relsBySource':
    case 'relsByTarget':
    case 'allRels': {
      const src = openSource<RelationshipRecord>(
        s.kind === 'allRels'
          ? graph.allRelationships()
          : s.kind === 'relsBySource'
            ? graph.outgoing(s.id)
            : graph.incoming(s.id),
      );
      for (let r0 = src.next(); r0 !== undefined; r0 = src.next()) {
        if (budget.visit()) {
          beforePause();
          yield PAUSE;
        }
        const rel = freshRel(r0, src);
        if (rel === undefined) continue;
        row[s.slot] = rel;
        if (!passes(startFilters)) continue;
        if (last < 0) yield row;
        else yield* expand(0);
      }
      closeSource();
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
const relKey = (r: RelationshipRecord): string => `${r.sourceId}\u0000${r.id}`;

/** Relationships along which `twinId` reaches its neighbours (the other end is the neighbour). */
function* relationshipsOf(
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

/**
 * Pulls every row synchronously, never yielding the event loop (for small, anchored work such as
 * one live-query membership check); the budget's visit and time limits still hold.
 * `emit` returns false to stop.
 */
export function runPlanSync(
  plan: QueryPlan,
  graph: GraphView,
  budget: QueryBudget,
  emit: (row: Row) => boolean,
): void {
  for (const r of planRows(plan, graph, budget)) {
    if (r === PAUSE) continue;
    if (!emit(r)) return;
  }
}
