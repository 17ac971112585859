/**
 * Query subscriptions on the real query engine: compiles "SELECT T FROM DIGITALTWINS T WHERE ..."
 * into a LiveQueryMatcher. Membership of one twin is decided by running the query with the extra
 * condition `T.$dtId = '<id>'`, which the planner turns into an index lookup — so an event costs
 * one plan over one twin (and its neighbours for JOIN/MATCH), never a scan.
 */
import { TwinloopError } from '../errors/errors.js';
import type { GraphView, TwinRecord } from '../graph/graph-types.js';
import type { Expr, QueryAst } from '../query/query-ast.js';
import { parseQuery } from '../query/query-parser.js';
import { planQuery } from '../query/query-planner.js';
import { runPlanSync } from '../query/query-runner.js';
import { QUERY_LIMITS } from '../query/query-executor.js';
import { DEFAULT_QUERY_BUDGET, QueryBudget, type QueryBudgetLimits } from '../query/query-budget.js';
import type { LiveQueryCompiler, LiveQueryMatcher } from './live-hub.js';

export interface LiveQueryCompilerOptions {
  /** The workspace's current graph (undefined: unknown workspace, refused as NotFound). */
  graphOf: (workspace: string) => GraphView | undefined;
  /** IS_OF_MODEL of the workspace (ModelRegistry.matchesModel). */
  isOfModel: (workspace: string, modelId: string, baseId: string) => boolean;
  /** Hop cap for MATCH variable hops (default: the query engine's, none). */
  maxHops?: number;
  /**
   * Work budget of one evaluation (default: the query engine's). An evaluation runs synchronously
   * on the live hub's drain, so the visit limit is what bounds it; passing it throws QueryBudgetExceeded.
   */
  budget?: Partial<QueryBudgetLimits>;
}

function unsupported(message: string, at: { line: number; column: number }): TwinloopError {
  return new TwinloopError('QueryNotSupported', `${message} (line ${at.line}, column ${at.column})`, {
    problems: [
      { code: 'query.live.unsupported', message, source: 'query', line: at.line, column: at.column },
    ],
  });
}

/** Names of the twin and relationship collections the query declares. */
function collections(ast: QueryAst): { twins: Set<string>; rels: Set<string> } {
  const twins = new Set<string>();
  const rels = new Set<string>();
  if (ast.from.alias !== undefined) twins.add(ast.from.alias);
  for (const j of ast.joins) {
    twins.add(j.alias);
    if (j.relAlias !== undefined) rels.add(j.relAlias);
  }
  for (const n of ast.match?.nodes ?? []) twins.add(n.name);
  for (const e of ast.match?.edges ?? []) if (e.relAlias !== undefined) rels.add(e.relAlias);
  return { twins, rels };
}

/**
 * Whether a WHERE reads latest telemetry: only through `$telemetry` (`T.$telemetry.vibration`, or
 * `$telemetry.vibration` over one collection). Other paths read properties, so telemetry events
 * need not re-evaluate the query.
 */
function readsTelemetry(e: Expr | undefined, c: { twins: Set<string>; rels: Set<string> }): boolean {
  if (e === undefined) return false;
  switch (e.kind) {
    case 'path': {
      const [first, second] = e.segments;
      if (first !== undefined && c.rels.has(first)) return false;
      const field = first !== undefined && c.twins.has(first) ? second : first;
      return field === '$telemetry';
    }
    case 'compare':
    case 'and':
    case 'or':
      return readsTelemetry(e.left, c) || readsTelemetry(e.right, c);
    case 'not':
    case 'in':
      return readsTelemetry(e.operand, c);
    case 'call':
      return e.args.some((a) => readsTelemetry(a, c));
    default:
      return false;
  }
}

/**
 * The twin collection a live query follows: the only one, or the one a JOIN/MATCH query selects
 * (`SELECT P FROM DIGITALTWINS MATCH (L)-[:contains]->(P) WHERE ...`).
 */
function trackedAlias(ast: QueryAst, c: { twins: Set<string> }): { path: string[]; single: boolean } {
  if (ast.from.kind !== 'twins')
    throw unsupported('A live query selects twins: use FROM DIGITALTWINS', ast.from.pos);
  if (ast.select.kind === 'count')
    throw unsupported('COUNT() cannot be followed live; select the twins instead', ast.select.pos);
  if (ast.top !== undefined) throw unsupported('TOP cannot be followed live', ast.select.pos);
  const single = ast.joins.length === 0 && ast.match === undefined;
  if (single) return { path: ast.from.alias === undefined ? ['$dtId'] : [ast.from.alias, '$dtId'], single };
  const items = ast.select.kind === 'items' ? ast.select.items : [];
  const only = items.length === 1 ? items[0] : undefined;
  const name = only?.expr.segments.length === 1 ? only.expr.segments[0] : undefined;
  if (name === undefined || !c.twins.has(name)) {
    throw unsupported(
      'With JOIN or MATCH, a live query must select exactly one twin collection (SELECT P ...)',
      ast.select.pos,
    );
  }
  return { path: [name, '$dtId'], single };
}

/**
 * @example
 * const hub = new LiveHub({ bus, isOfModel, compileQuery: createLiveQueryCompiler({ graphOf, isOfModel }) });
 * @throws (from the returned compiler) TwinloopError SqlQueryError / QueryNotSupported with line and column,
 *   QueryTooLarge, NotFound for an unknown workspace.
 */
export function createLiveQueryCompiler(options: LiveQueryCompilerOptions): LiveQueryCompiler {
  const maxHops = options.maxHops ?? QUERY_LIMITS.defaultMaxHops;
  const limits: QueryBudgetLimits = { ...DEFAULT_QUERY_BUDGET, ...options.budget };
  return (workspace: string, text: string): LiveQueryMatcher => {
    if (text.length > QUERY_LIMITS.maxQueryLength) {
      throw new TwinloopError(
        'QueryTooLarge',
        `The query is ${text.length} characters long; at most ${QUERY_LIMITS.maxQueryLength} are allowed.`,
      );
    }
    const graph = options.graphOf(workspace);
    if (graph === undefined) throw new TwinloopError('NotFound', `There is no workspace '${workspace}'.`);
    const ast = parseQuery(text);
    const names = collections(ast);
    const tracked = trackedAlias(ast, names);
    const isOfModel = (m: string, b: string): boolean => options.isOfModel(workspace, m, b);
    // Plans the whole query once now, so that semantic errors (unknown alias ...) surface at subscribe.
    const fullPlan = planQuery(ast, graph, { maxHops, isOfModel });
    const trackedVar = fullPlan.vars.find(
      (v) => v.name === (tracked.path.length === 1 ? fullPlan.ctx.defaultVar?.name : tracked.path[0]),
    );
    if (trackedVar === undefined || trackedVar.kind !== 'twin')
      throw unsupported('The selected collection is not a twin collection', ast.select.pos);

    const pos = ast.from.pos;
    return {
      readsTelemetry: readsTelemetry(ast.where, names),
      dependsOnOtherTwins: !tracked.single,
      members(): Iterable<string> {
        const ids = new Set<string>();
        runPlanSync(planQuery(ast, graph, { maxHops, isOfModel }), graph, new QueryBudget(limits), (row) => {
          ids.add((row[trackedVar.slot] as TwinRecord).id);
          return true;
        });
        return ids;
      },
      matches(twinId: string): boolean {
        if (graph.getTwin(twinId) === undefined) return false;
        const restriction: Expr = {
          kind: 'compare',
          op: '=',
          left: { kind: 'path', segments: tracked.path, pos },
          right: { kind: 'literal', value: twinId, pos },
          pos,
        };
        const where: Expr =
          ast.where === undefined ? restriction : { kind: 'and', left: restriction, right: ast.where, pos };
        let found = false;
        const plan = planQuery({ ...ast, where }, graph, { maxHops, isOfModel });
        runPlanSync(plan, graph, new QueryBudget(limits), () => {
          found = true;
          return false;
        });
        return found;
      },
    };
  };
}
