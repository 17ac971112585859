/**
 * Turns a QueryAst into an execution plan: which variable to start from, in which order to follow
 * the pattern's edges, and at which step each WHERE conjunct can be evaluated (as soon as every
 * variable it reads is bound, so filters prune during traversal, not after).
 *
 * JOINs and MATCH edges become the same thing — an edge between two twin variables — so a JOIN
 * chain and a MATCH chain run on one engine, and either can be started from any end: the planner
 * picks the cheapest start (an id anchor `X.$dtId = 'x'` / `IN [...]`, else the smallest model
 * filter `IS_OF_MODEL(X, ...)` via the model index, else a scan) and walks edges from there,
 * reversing their direction when it walks them backwards.
 */
import { TwinloopError } from '../errors/errors.js';
import type { GraphView } from '../graph/graph-types.js';
import type { Expr, QueryAst } from './query-ast.js';
import { syntaxError, type Pos } from './query-lexer.js';
import {
  compileCondition,
  resolvePath,
  varsOf,
  isOfModelVar,
  type EvalContext,
  type Row,
  type Truth,
  type VarInfo,
} from './query-eval.js';

export interface PlanEdge {
  a: number;
  b: number;
  rel: number | undefined;
  names: readonly string[];
  direction: 'out' | 'in' | 'both';
  minHops: number;
  maxHops: number;
  variable: boolean;
  /** True when maxHops is the configured cap, not the query's own bound: reaching it is an error. */
  capped: boolean;
  /**
   * A single-hop MATCH condition: it binds no relationship that another single-hop condition of the
   * pattern already bound (ADT traverses a relationship once), so `(a)-[]-(b)-[]-(c)` never walks
   * back over the relationship it came by. JOIN conditions are joins: no such rule.
   */
  distinct: boolean;
}

export type StartSource =
  | { kind: 'ids'; slot: number; ids: string[] }
  | { kind: 'model'; slot: number; model: string; exact: boolean }
  | { kind: 'scan'; slot: number }
  | { kind: 'relsBySource'; slot: number; id: string }
  | { kind: 'relsByTarget'; slot: number; id: string }
  | { kind: 'allRels'; slot: number };

/** One traversal step after the start: follow `edge` from the bound end `from` to the other end. */
export interface PlanStep {
  edge: PlanEdge;
  /** Slot already bound. */
  from: number;
  /** Slot bound (or checked, when already bound) by this step. */
  to: number;
  /** Direction as walked (the edge's direction, reversed when walked from b to a). */
  direction: 'out' | 'in' | 'both';
  filters: ((row: Row) => Truth)[];
}

export interface QueryPlan {
  vars: VarInfo[];
  start: StartSource;
  startFilters: ((row: Row) => Truth)[];
  steps: PlanStep[];
  ctx: EvalContext;
}

export interface PlanOptions {
  /** Hop cap for variable hops; Infinity (the default of every caller) for none. */
  maxHops: number;
  isOfModel(modelId: string, base: string): boolean;
}

interface Conjunct {
  expr: Expr;
  slots: Set<number>;
  used: boolean;
}

/** Optional GraphView extension the in-memory graph provides; used to pick the smallest model. */
interface ModelCounting {
  modelCount(modelId: string, exact: boolean): number;
}

export function planQuery(ast: QueryAst, graph: GraphView, options: PlanOptions): QueryPlan {
  const vars: VarInfo[] = [];
  const byName = new Map<string, VarInfo>();
  const declare = (name: string, kind: 'twin' | 'rel', pos: Pos, allowRepeat: boolean): VarInfo => {
    const old = byName.get(name);
    if (old) {
      if (allowRepeat && old.kind === kind) return old;
      throw syntaxError(`The name '${name}' is already used in this query`, pos);
    }
    const v: VarInfo = { name, slot: vars.length, kind };
    vars.push(v);
    byName.set(name, v);
    return v;
  };

  const edges: PlanEdge[] = [];
  let defaultVar: VarInfo | undefined;
  if (ast.from.kind === 'relationships') {
    if (ast.match || ast.joins.length) {
      throw new TwinloopError(
        'QueryNotSupported',
        'JOIN and MATCH apply to FROM DIGITALTWINS, not FROM RELATIONSHIPS.',
      );
    }
    defaultVar = declare(ast.from.alias ?? '#from', 'rel', ast.from.pos, false);
  } else if (ast.match) {
    if (ast.from.alias !== undefined) {
      throw syntaxError(
        'With MATCH, name the twins inside the pattern, not after DIGITALTWINS',
        ast.from.pos,
      );
    }
    const m = ast.match;
    const nodeSlots = m.nodes.map((n) => declare(n.name, 'twin', n.pos, true).slot);
    m.edges.forEach((e, i) => {
      if (e.relAlias !== undefined && e.variable) {
        throw new TwinloopError(
          'QueryNotSupported',
          `A relationship name ('${e.relAlias}') cannot be given to a variable-hop condition: it would stand for many relationships (line ${e.pos.line}, column ${e.pos.column}).`,
          {
            problems: [
              {
                code: 'query.variableHopAlias',
                message: 'relationship variable on a variable-hop condition',
                line: e.pos.line,
                column: e.pos.column,
              },
            ],
          },
        );
      }
      const maxHops = e.maxHops ?? options.maxHops;
      const capped = e.variable && e.maxHops === undefined && Number.isFinite(options.maxHops);
      if (maxHops > options.maxHops) {
        throw new TwinloopError(
          'QueryNotSupported',
          `At most ${options.maxHops} hops are allowed (query.maxHops), the query asks for ${maxHops} (line ${e.pos.line}, column ${e.pos.column}).`,
          {
            problems: [
              {
                code: 'query.tooManyHops',
                message: `more than ${options.maxHops} hops`,
                line: e.pos.line,
                column: e.pos.column,
              },
            ],
          },
        );
      }
      edges.push({
        a: nodeSlots[i] as number,
        b: nodeSlots[i + 1] as number,
        rel: e.relAlias === undefined ? undefined : declare(e.relAlias, 'rel', e.pos, false).slot,
        names: e.names,
        direction: e.direction,
        minHops: e.minHops,
        maxHops,
        variable: e.variable,
        capped,
        distinct: !e.variable,
      });
    });
  } else {
    defaultVar = declare(ast.from.alias ?? '#from', 'twin', ast.from.pos, false);
  }
  for (const j of ast.joins) {
    const from = byName.get(j.from);
    if (!from || from.kind !== 'twin')
      throw syntaxError(`Unknown twin collection '${j.from}' in JOIN`, j.pos);
    const to = declare(j.alias, 'twin', j.pos, false);
    edges.push({
      a: from.slot,
      b: to.slot,
      rel: j.relAlias === undefined ? undefined : declare(j.relAlias, 'rel', j.pos, false).slot,
      names: [j.relName],
      direction: 'out',
      minHops: 1,
      maxHops: 1,
      variable: false,
      capped: false,
      distinct: false,
    });
  }
  // With joins or MATCH, bare paths are ambiguous; ADT also wants them qualified.
  if (vars.length > 1) defaultVar = undefined;
  else if (defaultVar === undefined) defaultVar = vars[0];

  const ctx: EvalContext = { lookupVar: (n) => byName.get(n), defaultVar, isOfModel: options.isOfModel };
  const conjuncts: Conjunct[] = splitAnd(ast.where).map((expr) => ({
    expr,
    slots: varsOf(ctx, expr),
    used: false,
  }));

  const start = chooseStart(vars, edges, conjuncts, ctx, graph);
  const bound = new Set<number>([start.slot]);
  const bindRel = (e: PlanEdge): void => {
    if (e.rel !== undefined) bound.add(e.rel);
  };
  const takeFilters = (): ((row: Row) => Truth)[] => {
    const out: ((row: Row) => Truth)[] = [];
    for (const c of conjuncts) {
      if (c.used || ![...c.slots].every((s) => bound.has(s))) continue;
      c.used = true;
      out.push(compileCondition(ctx, c.expr));
    }
    return out;
  };
  const startFilters = takeFilters();
  const steps: PlanStep[] = [];
  const pending = [...edges];
  while (pending.length) {
    const i = pending.findIndex((e) => bound.has(e.a) || bound.has(e.b));
    if (i < 0)
      throw new TwinloopError(
        'QueryNotSupported',
        'Every twin in the query must be connected to the others by JOIN or MATCH.',
      );
    const e = pending.splice(i, 1)[0] as PlanEdge;
    const forward = bound.has(e.a);
    const from = forward ? e.a : e.b;
    const to = forward ? e.b : e.a;
    const direction = forward ? e.direction : reverse(e.direction);
    bound.add(to);
    bindRel(e);
    steps.push({ edge: e, from, to, direction, filters: takeFilters() });
  }
  // Conjuncts left over read no variable at all (e.g. `1 = 1`): evaluate them at the start.
  for (const c of conjuncts) if (!c.used) startFilters.push(compileCondition(ctx, c.expr));
  return { vars, start, startFilters, steps, ctx };
}

function reverse(d: 'out' | 'in' | 'both'): 'out' | 'in' | 'both' {
  return d === 'out' ? 'in' : d === 'in' ? 'out' : 'both';
}

function splitAnd(e: Expr | undefined): Expr[] {
  if (!e) return [];
  if (e.kind === 'and') return [...splitAnd(e.left), ...splitAnd(e.right)];
  return [e];
}

/** `V.$dtId = 'x'`, `'x' = V.$dtId`, `V.$dtId IN [...]` (and $sourceId / $targetId for relationships). */
function idAnchor(ctx: EvalContext, e: Expr, field: string): { slot: number; ids: string[] } | undefined {
  const isField = (x: Expr): number | undefined => {
    if (x.kind !== 'path') return undefined;
    const r = resolvePath(ctx, x);
    return r.rest.length === 1 && r.rest[0] === field ? r.v.slot : undefined;
  };
  if (e.kind === 'compare' && e.op === '=') {
    const l = isField(e.left);
    if (l !== undefined && e.right.kind === 'literal' && typeof e.right.value === 'string')
      return { slot: l, ids: [e.right.value] };
    const r = isField(e.right);
    if (r !== undefined && e.left.kind === 'literal' && typeof e.left.value === 'string')
      return { slot: r, ids: [e.left.value] };
  }
  if (e.kind === 'in' && !e.negated) {
    const s = isField(e.operand);
    if (s !== undefined)
      return { slot: s, ids: [...new Set(e.list.filter((x): x is string => typeof x === 'string'))] };
  }
  return undefined;
}

function chooseStart(
  vars: VarInfo[],
  edges: PlanEdge[],
  conjuncts: Conjunct[],
  ctx: EvalContext,
  graph: GraphView,
): StartSource {
  const first = vars[0] as VarInfo;
  if (first.kind === 'rel') {
    for (const c of conjuncts) {
      const s = idAnchor(ctx, c.expr, '$sourceId');
      if (s && s.ids.length === 1) return { kind: 'relsBySource', slot: first.slot, id: s.ids[0] as string };
      const t = idAnchor(ctx, c.expr, '$targetId');
      if (t && t.ids.length === 1) return { kind: 'relsByTarget', slot: first.slot, id: t.ids[0] as string };
    }
    return { kind: 'allRels', slot: first.slot };
  }
  let best: { cost: number; source: StartSource; conjunct?: Conjunct } | undefined;
  const consider = (cost: number, source: StartSource, conjunct?: Conjunct): void => {
    if (!best || cost < best.cost) best = { cost, source, ...(conjunct && { conjunct }) };
  };
  const counting =
    typeof (graph as Partial<ModelCounting>).modelCount === 'function'
      ? (graph as unknown as ModelCounting)
      : undefined;
  for (const c of conjuncts) {
    const anchor = idAnchor(ctx, c.expr, '$dtId');
    if (anchor && vars[anchor.slot]?.kind === 'twin') {
      consider(anchor.ids.length, { kind: 'ids', slot: anchor.slot, ids: anchor.ids });
    }
    if (c.expr.kind === 'isOfModel') {
      const v = isOfModelVar(ctx, c.expr);
      const cost = counting ? counting.modelCount(c.expr.model, c.expr.exact) : graph.twinCount / 2;
      // The model index yields exactly the twins that pass the filter, so it need not be re-checked.
      consider(cost, { kind: 'model', slot: v.slot, model: c.expr.model, exact: c.expr.exact }, c);
    }
  }
  if (!best) {
    // No anchor: scan from the first twin of the pattern (any end works; edges are walked both ways).
    const slot = edges.length ? (edges[0] as PlanEdge).a : first.slot;
    return { kind: 'scan', slot };
  }
  const chosen = best as { cost: number; source: StartSource; conjunct?: Conjunct };
  if (chosen.conjunct) chosen.conjunct.used = true;
  return chosen.source;
}
