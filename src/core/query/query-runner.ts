/**
 * Runs a QueryPlan over a GraphView depth-first, handing each complete row to a callback that
 * returns false to stop — so TOP, paging and "is there a next page?" stop the traversal early
 * instead of materialising every path.
 *
 * Variable-hop edges (`*`, `*N..M`) yield each distinct end twin once per start twin. They are
 * walked level by level; below the minimum hop count a level is de-duplicated on its own (walks of
 * exactly d hops), from the minimum on a twin already reached is never expanded again — so cycles
 * terminate and the cost is bounded by (minHops + 1) × edges reached, whatever the hop cap.
 */
import type { GraphView, RelationshipRecord, TwinRecord } from '../graph/graph-types.js';
import type { Row } from './query-eval.js';
import type { PlanStep, QueryPlan } from './query-planner.js';

export type Emit = (row: Row) => boolean;

export function runPlan(plan: QueryPlan, graph: GraphView, emit: Emit): void {
  const row: Row = new Array(plan.vars.length).fill(undefined);
  const { start, startFilters, steps } = plan;
  const afterStart = (): boolean => {
    for (const f of startFilters) if (f(row) !== true) return true;
    return runStep(0);
  };
  const runStep = (k: number): boolean => {
    const step = steps[k];
    if (!step) return emit(row);
    return expand(step, k);
  };
  const passes = (step: PlanStep): boolean => {
    for (const f of step.filters) if (f(row) !== true) return false;
    return true;
  };

  // One edge step: bind (or check) `to`, and the relationship variable for single hops.
  const expand = (step: PlanStep, k: number): boolean => {
    const fromTwin = row[step.from] as TwinRecord;
    const wasBound = row[step.to];
    const { edge } = step;
    const names = edge.names;
    const visit = (other: TwinRecord, rel: RelationshipRecord | undefined): boolean => {
      if (wasBound !== undefined) {
        if (other !== wasBound) return true;
      } else row[step.to] = other;
      if (edge.rel !== undefined) row[edge.rel] = rel;
      const go = passes(step) ? runStep(k + 1) : true;
      return go;
    };
    let go = true;
    if (!edge.variable) {
      go = forEachNeighbour(graph, fromTwin, step.direction, names, (other, rel) => visit(other, rel));
    } else {
      go = variableHops(graph, fromTwin, step.direction, names, edge.minHops, edge.maxHops, (other) =>
        visit(other, undefined),
      );
    }
    if (wasBound === undefined) row[step.to] = undefined;
    if (edge.rel !== undefined) row[edge.rel] = undefined;
    return go;
  };

  const s = start;
  switch (s.kind) {
    case 'ids':
      for (const id of s.ids) {
        const t = graph.getTwin(id);
        if (!t) continue;
        row[s.slot] = t;
        if (!afterStart()) return;
      }
      return;
    case 'model':
      for (const t of graph.twinsOfModel(s.model, s.exact)) {
        row[s.slot] = t;
        if (!afterStart()) return;
      }
      return;
    case 'scan':
      for (const t of graph.allTwins()) {
        row[s.slot] = t;
        if (!afterStart()) return;
      }
      return;
    case 'relsBySource':
    case 'relsByTarget':
    case 'allRels': {
      const rels =
        s.kind === 'allRels'
          ? graph.allRelationships()
          : s.kind === 'relsBySource'
            ? graph.outgoing(s.id)
            : graph.incoming(s.id);
      for (const r of rels) {
        row[s.slot] = r;
        if (!afterStart()) return;
      }
    }
  }
}

/** Calls `visit` for every neighbour along matching relationships; false from visit stops. */
function forEachNeighbour(
  graph: GraphView,
  twin: TwinRecord,
  direction: 'out' | 'in' | 'both',
  names: readonly string[],
  visit: (other: TwinRecord, rel: RelationshipRecord) => boolean,
): boolean {
  const nameOk = (r: RelationshipRecord): boolean => names.length === 0 || names.includes(r.name);
  // With one name, let the graph filter (it can skip building records for other relationships).
  const only = names.length === 1 ? names[0] : undefined;
  if (direction !== 'in') {
    for (const r of graph.outgoing(twin.id, only)) {
      if (!nameOk(r)) continue;
      const other = graph.getTwin(r.targetId);
      if (other && !visit(other, r)) return false;
    }
  }
  if (direction !== 'out') {
    for (const r of graph.incoming(twin.id, only)) {
      // An undirected walk sees a self-loop once, from its outgoing side.
      if (!nameOk(r) || (direction === 'both' && r.sourceId === r.targetId)) continue;
      const other = graph.getTwin(r.sourceId);
      if (other && !visit(other, r)) return false;
    }
  }
  return true;
}

function variableHops(
  graph: GraphView,
  start: TwinRecord,
  direction: 'out' | 'in' | 'both',
  names: readonly string[],
  minHops: number,
  maxHops: number,
  visit: (other: TwinRecord) => boolean,
): boolean {
  const emitted = new Set<TwinRecord>();
  if (minHops === 0) {
    emitted.add(start);
    if (!visit(start)) return false;
  }
  let frontier: TwinRecord[] = [start];
  for (let d = 1; d <= maxHops && frontier.length > 0; d++) {
    const next: TwinRecord[] = [];
    const level = new Set<TwinRecord>();
    const inRange = d >= minHops;
    for (const node of frontier) {
      const go = forEachNeighbour(graph, node, direction, names, (other) => {
        if (level.has(other)) return true;
        level.add(other);
        if (inRange) {
          if (emitted.has(other)) return true;
          emitted.add(other);
          next.push(other);
          return visit(other);
        }
        next.push(other);
        return true;
      });
      if (!go) return false;
    }
    frontier = next;
  }
  return true;
}
