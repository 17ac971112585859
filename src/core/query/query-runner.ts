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
 * Variable-hop edges (`*`, `*N..M`) yield each distinct end twin of a trail (no relationship twice)
 * once per start twin (query-hops.ts): cycles terminate and an unbounded `*` really is unbounded:
 * it ends where the graph ends (or where the budget ends). A configured hop cap that would cut a
 * walk short is an error, never a silent cut. The single-hop conditions of one MATCH pattern bind
 * different relationships.
 */
import type { GraphView, RelationshipRecord, TwinRecord } from '../graph/graph-types.js';
import type { QueryBudget } from './query-budget.js';
import type { Row } from './query-eval.js';
import { PAUSE, relKey, relationshipsOf, variableHops, type HopWalk } from './query-hops.js';
import type { PlanStep, QueryPlan } from './query-planner.js';
import { Source } from './query-source.js';

/** Yielded when the slice is over: the driver yields the event loop, then pulls again. */
export { PAUSE };
export type RowStream = Generator<Row | typeof PAUSE, void, void>;
/** Pulls through a nested walk: rows and pauses go up, nothing comes back. */
type Walk = Generator<Row | typeof PAUSE, void, void>;

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
      const ends = variableHops(walk, {
        startTwin: fromTwin,
        direction: step.direction,
        names: edge.names,
        minHops: edge.minHops,
        maxHops: edge.maxHops,
        capped: edge.capped,
      });
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

  const walk: HopWalk = { graph, budget, openSource, closeSource, beforePause, freshRel };

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
