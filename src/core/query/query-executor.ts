/**
 * The query entry point: text in, one page of ADT-shaped rows out.
 *
 * It reads the live graph, so a write is visible to the very next query. Paging re-runs the query
 * and skips to the token's offset, stopping one row after the page — cheap with early stopping,
 * and exact as long as the graph does not change between pages (iteration order is insertion
 * order); a page read after concurrent writes may miss or repeat rows near the boundary, as with
 * ADT's own index.
 *
 * Row shapes follow ADT: `SELECT *` over one collection returns the twin (or relationship) JSON;
 * `SELECT T, CT` returns `{ "T": {...}, "CT": {...} }` (and so does `SELECT T`); property
 * projections return `{ "name": value }` with undefined properties left out; COUNT returns
 * `[{ "COUNT": n }]`. Extension: `SELECT *` with JOIN/MATCH returns every named collection.
 */
import { TwinloopError } from '../errors/errors.js';
import type { GraphView, RelationshipRecord, TwinRecord } from '../graph/graph-types.js';
import {
  looksLikeComponent,
  relationshipToJson,
  twinToJson,
  type ComponentTest,
} from '../graph/twin-json.js';
import { decodeToken, encodeToken, queryHash } from './continuation-token.js';
import type { QueryAst } from './query-ast.js';
import { fieldReader, resolvePath, type Row, type ValueFn, type VarInfo } from './query-eval.js';
import { syntaxError } from './query-lexer.js';
import { parseQuery } from './query-parser.js';
import { planQuery, type QueryPlan } from './query-planner.js';
import { runPlan } from './query-runner.js';

export const QUERY_LIMITS = {
  maxQueryLength: 8000,
  defaultPageSize: 100,
  maxPageSize: 10_000,
  defaultMaxHops: 100,
} as const;

export interface QueryOptions {
  /** Rows per page (default 100, at most 10,000). */
  pageSize?: number;
  /** From the previous page's answer. */
  continuationToken?: string | null;
  /** Hop cap for MATCH variable hops (default 100). */
  maxHops?: number;
  /** True when `modelId` is `base` or extends it (the model registry's isOfModel). */
  isOfModel: (modelId: string, base: string) => boolean;
  /** Tells components from object properties in returned twins (default: looksLikeComponent). */
  isComponent?: ComponentTest;
  /** Secret signing continuation tokens; default: random per process. */
  tokenSecret?: Uint8Array;
}

export interface QueryPage {
  value: unknown[];
  continuationToken: string | null;
}

/**
 * @example
 * const page = executeQuery(graph, "SELECT P FROM DIGITALTWINS MATCH (L)-[:contains]->(P) WHERE L.$dtId = 'line-3' AND P.vibration > 7",
 *   { isOfModel: registry.isOfModel.bind(registry) });
 * // page.value: [{ P: { $dtId: 'pump-7', ... } }], page.continuationToken: null
 * @throws TwinloopError QuerySyntaxError (problems[0].line/column), QueryNotSupported, QueryTooLarge,
 *   InvalidContinuationToken, BadRequest (page size)
 */
export function executeQuery(graph: GraphView, text: string, options: QueryOptions): QueryPage {
  if (typeof text !== 'string' || text.trim() === '')
    throw new TwinloopError('BadRequest', 'The query text is empty.');
  if (text.length > QUERY_LIMITS.maxQueryLength) {
    throw new TwinloopError(
      'QueryTooLarge',
      `The query is ${text.length} characters long; at most ${QUERY_LIMITS.maxQueryLength} are allowed.`,
    );
  }
  const pageSize = options.pageSize ?? QUERY_LIMITS.defaultPageSize;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > QUERY_LIMITS.maxPageSize) {
    throw new TwinloopError(
      'BadRequest',
      `The page size must be a whole number from 1 to ${QUERY_LIMITS.maxPageSize}, not ${pageSize}.`,
    );
  }
  const maxHops = options.maxHops ?? QUERY_LIMITS.defaultMaxHops;
  const hash = queryHash(text, maxHops);
  const offset = options.continuationToken
    ? decodeToken(options.continuationToken, hash, options.tokenSecret)
    : 0;

  const ast = parseQuery(text);
  const plan = planQuery(ast, graph, { maxHops, isOfModel: options.isOfModel });
  const top = ast.top ?? Infinity;

  if (ast.select.kind === 'count') {
    let n = 0;
    runPlan(plan, graph, () => ++n < top);
    return { value: [{ COUNT: Math.min(n, top) }], continuationToken: null };
  }

  const project = projector(ast, plan, options.isComponent ?? looksLikeComponent);
  const value: unknown[] = [];
  let seen = 0;
  let more = false;
  const end = Math.min(top, offset + pageSize);
  runPlan(plan, graph, (row) => {
    if (seen >= end) {
      // One row beyond the page: there is a next page (unless TOP ends here).
      more = seen < top;
      return false;
    }
    if (seen >= offset) value.push(project(row));
    seen++;
    return true;
  });
  return {
    value,
    continuationToken: more ? encodeToken({ queryHash: hash, offset: end }, options.tokenSecret) : null,
  };
}

function toJson(v: VarInfo, row: Row, isComponent: ComponentTest): unknown {
  const x = row[v.slot];
  if (x === undefined) return undefined;
  return v.kind === 'twin'
    ? twinToJson(x as TwinRecord, isComponent)
    : relationshipToJson(x as RelationshipRecord);
}

function projector(ast: QueryAst, plan: QueryPlan, isComponent: ComponentTest): (row: Row) => unknown {
  const named = plan.vars.filter((v) => !v.name.startsWith('#'));
  if (ast.select.kind === 'star') {
    const only = plan.vars.length === 1 ? plan.vars[0] : undefined;
    if (only) return (row) => toJson(only, row, isComponent);
    return (row) => {
      const out: Record<string, unknown> = {};
      for (const v of named) out[v.name] = toJson(v, row, isComponent);
      return out;
    };
  }
  if (ast.select.kind !== 'items') throw new Error('unreachable: COUNT has no projector');
  const cols: { key: string; read: ValueFn }[] = [];
  const keys = new Set<string>();
  for (const item of ast.select.items) {
    if (keys.has(item.key)) {
      throw syntaxError(`Two selected columns are both called '${item.key}': name one with AS`, item.pos);
    }
    keys.add(item.key);
    const p = resolvePath(plan.ctx, item.expr);
    const v = p.v;
    const read: ValueFn = p.rest.length === 0 ? (row) => toJson(v, row, isComponent) : fieldReader(p);
    cols.push({ key: item.key, read });
  }
  return (row) => {
    const out: Record<string, unknown> = {};
    for (const c of cols) {
      const x = c.read(row);
      if (x !== undefined) out[c.key] = x;
    }
    return out;
  };
}
