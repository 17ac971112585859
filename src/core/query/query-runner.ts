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
        const other = graph.getTwin(r.sourceId === fromTwin.id ? r.targetId : r.sourceId);
        if (other === undefined) continue;
        if (wasBound !== undefined) {
          if (other.id !== wasBound.id) continue;
        } else row[step.to] = other;
        if (edge.rel !== undefined) row[edge.rel] = r;
        if (!passes(step.filters)) continue;
        if (k === last) yield row;
        else yield* expand(k + 1);
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

  /** The distinct end twins of a variable-hop walk, level by level. */
  function* variableHops(
    startTwin: TwinRecord,
    direction: Dir,
    names: readonly string[],
    minHops: number,
    maxHops: number,
    capped: boolean,
  ): Generator<TwinRecord | typeof PAUSE, void, void> {
    const emitted = new Set<string>();
    if (minHops === 0) {
      emitted.add(startTwin.id);
      yield startTwin;
    }
    let frontier: TwinRecord[] = [startTwin];
    let d = 1;
    for (; d <= maxHops && frontier.length > 0; d++) {
      const next: TwinRecord[] = [];
      const level = new Set<string>();
      const inRange = d >= minHops;
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
          if (level.has(id)) continue;
          const other = graph.getTwin(id);
          if (other === undefined) continue;
          level.add(id);
          if (inRange) {
            if (emitted.has(id)) continue;
            emitted.add(id);
            next.push(other);
            yield other;
          } else next.push(other);
        }
        closeSource();
      }
      frontier = next;
    }
    if (capped && frontier.length > 0 && d > maxHops) {
      // The cap stopped the walk: an error if one more hop would reach a twin not reached yet.
      for (const node of frontier) {
        for (const r of relationshipsOf(graph, node.id, direction, names)) {
          if (!emitted.has(r.sourceId === node.id ? r.targetId : r.sourceId)) throw hopCapReached(maxHops);
        }
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
