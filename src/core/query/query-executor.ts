/**
 * The query entry point: text in, one page of ADT-shaped rows out, within a work budget.
 *
 * It reads the live graph, so a write is visible to the very next query. The walk runs as a
 * generator (query-runner.ts): executeQueryAsync pulls it in slices of `sliceMs` and yields the
 * event loop between them, so a heavy query never holds MQTT acknowledgements or /healthz;
 * executeQuery pulls it in one go (for small work and tests). Either way the budget's visit and
 * wall-time limits hold, and passing one fails with QueryBudgetExceeded.
 *
 * Paging keeps the walk: when a page is full, the suspended generator (with the one row read
 * ahead) goes into the QueryCursorStore and the continuation token names it, so page k costs the
 * work of page k and the rows of a result are each returned once, even when writes commit between
 * pages. A token gives its page once; an expired or dropped cursor is ContinuationTokenExpired.
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
import { DEFAULT_QUERY_BUDGET, QueryBudget, type QueryBudgetLimits } from './query-budget.js';
import type { QueryCursor, QueryCursorStore } from './query-cursors.js';
import { fieldReader, resolvePath, type Row, type ValueFn, type VarInfo } from './query-eval.js';
import { syntaxError } from './query-lexer.js';
import { parseQuery } from './query-parser.js';
import { planQuery, type QueryPlan } from './query-planner.js';
import { PAUSE, planRows } from './query-runner.js';

export const QUERY_LIMITS = {
  maxQueryLength: 8000,
  defaultPageSize: 100,
  maxPageSize: 10_000,
  /** No hop cap: a variable-hop condition walks as far as the graph goes, within the budget. */
  defaultMaxHops: Infinity,
} as const;

export interface QueryOptions {
  /**
   * Rows per page (default 100, at most 10,000). For a next page, default: the first page's size
   * (the .NET SDK sends the page size with the first request only).
   */
  pageSize?: number;
  /** From the previous page's answer. With a token the query text is ignored (ADT) and may be empty. */
  continuationToken?: string | null;
  /** Hop cap for MATCH variable hops (default: none). Reaching it is an error, never a silent cut. */
  maxHops?: number;
  /** IS_OF_MODEL (not exact): true when `modelId` or a model it extends is `base` or a later version of it (ModelRegistry.matchesModel). */
  isOfModel: (modelId: string, base: string) => boolean;
  /** Tells components from object properties in returned twins (default: looksLikeComponent). */
  isComponent?: ComponentTest;
  /** Secret signing continuation tokens; default: random per process. */
  tokenSecret?: Uint8Array;
  /** Where the rest of a paged result is kept for its next page. */
  cursors: QueryCursorStore;
  /** Work budget of this request (default DEFAULT_QUERY_BUDGET). */
  budget?: Partial<QueryBudgetLimits>;
  /** Clock of the budget, ms (default performance.now). */
  now?: () => number;
}

export interface QueryAsyncOptions extends QueryOptions {
  /** Gives the event loop back between slices (default: setImmediate). */
  yieldNow?: () => Promise<void>;
  /**
   * Waits `ms` (default: setTimeout). Used to back off when the server is busy: when other work
   * kept the event loop longer than a slice while the query was paused, the query waits twice that
   * (at most BACKOFF_MAX_MS) before its next slice, so ingest keeps most of a busy process.
   */
  sleep?: (ms: number) => Promise<void>;
  /** Stops the query at its next pause (e.g. the client went away): it rejects with BadRequest. */
  signal?: AbortSignal;
}

export interface QueryPage {
  value: unknown[];
  continuationToken: string | null;
  /** Twins and relationships this request visited (the budget's count). */
  visits: number;
}

type PageWork = Generator<typeof PAUSE, QueryPage, void>;

/**
 * Runs one page in one go (the event loop is held until it returns: use it for small work).
 * @example
 * const page = executeQuery(graph, "SELECT P FROM DIGITALTWINS MATCH (L)-[:contains]->(P) WHERE L.$dtId = 'line-3' AND P.$telemetry.vibration > 7",
 *   { isOfModel: registry.matchesModel.bind(registry), cursors });
 * // page.value: [{ P: { $dtId: 'pump-7', ... } }], page.continuationToken: null
 * @throws TwinloopError SqlQueryError (problems[0].line/column), QueryNotSupported, QueryTooLarge,
 *   QueryBudgetExceeded, InvalidContinuationToken, ContinuationTokenExpired, BadRequest (page size)
 */
export function executeQuery(graph: GraphView, text: string | undefined, options: QueryOptions): QueryPage {
  const work = pageWork(graph, text, options);
  for (;;) {
    const r = work.next();
    if (r.done) return r.value;
  }
}

/**
 * Runs one page cooperatively: slices of the budget's `sliceMs`, the event loop yielded between
 * them. Same answers and errors as executeQuery.
 */
export async function executeQueryAsync(
  graph: GraphView,
  text: string | undefined,
  options: QueryAsyncOptions,
): Promise<QueryPage> {
  const yieldNow = options.yieldNow ?? (() => new Promise<void>((resolve) => setImmediate(resolve)));
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? (() => performance.now());
  const sliceMs = options.budget?.sliceMs ?? DEFAULT_QUERY_BUDGET.sliceMs;
  const work = pageWork(graph, text, options);
  for (;;) {
    const r = work.next();
    if (r.done) return r.value;
    const t = now();
    await yieldNow();
    const others = now() - t; // what the rest of the process did meanwhile
    if (others > sliceMs) await sleep(Math.min(BACKOFF * others, BACKOFF_MAX_MS));
    if (options.signal?.aborted) {
      work.return(undefined as never);
      throw new TwinloopError('BadRequest', 'The query was stopped: its request was cancelled.');
    }
  }
}

/** A busy process: the query waits this many times what the others took (see QueryAsyncOptions.sleep). */
const BACKOFF = 2;
const BACKOFF_MAX_MS = 50;

/** The page as a generator that yields PAUSE when a slice is over. */
function* pageWork(graph: GraphView, text: string | undefined, options: QueryOptions): PageWork {
  const requested = options.pageSize;
  if (
    requested !== undefined &&
    (!Number.isSafeInteger(requested) || requested < 1 || requested > QUERY_LIMITS.maxPageSize)
  ) {
    throw new TwinloopError(
      'BadRequest',
      `The page size must be a whole number from 1 to ${QUERY_LIMITS.maxPageSize}, not ${requested}.`,
    );
  }
  const maxHops = options.maxHops ?? QUERY_LIMITS.defaultMaxHops;
  const { cursors } = options;

  let cursor: QueryCursor;
  if (options.continuationToken) {
    // ADT ignores the query text when a token is given: the token alone names the query.
    const t = decodeToken(options.continuationToken, options.tokenSecret);
    cursor = cursors.take(t.cursor, t.seq);
    if (cursor.graph !== graph || cursor.queryHash !== t.queryHash) {
      cursor.rows.return();
      throw new TwinloopError(
        'InvalidContinuationToken',
        'The continuation token is not valid for this query: it was issued for another workspace.',
      );
    }
    cursor.budget.restart();
  } else {
    if (typeof text !== 'string' || text.trim() === '')
      throw new TwinloopError('BadRequest', 'The query text is empty (and no continuationToken was given).');
    if (text.length > QUERY_LIMITS.maxQueryLength) {
      throw new TwinloopError(
        'QueryTooLarge',
        `The query is ${text.length} characters long; at most ${QUERY_LIMITS.maxQueryLength} are allowed.`,
      );
    }
    const hash = queryHash(text, maxHops);
    const ast = parseQuery(text);
    const plan = planQuery(ast, graph, { maxHops, isOfModel: options.isOfModel });
    const budget = new QueryBudget({ ...DEFAULT_QUERY_BUDGET, ...options.budget }, options.now);
    const rows = planRows(plan, graph, budget);
    const top = ast.top ?? Infinity;
    if (ast.select.kind === 'count') {
      let n = 0;
      for (const r of rows) {
        if (r === PAUSE) yield* pause(budget);
        else if (++n >= top) break;
      }
      return { value: [{ COUNT: Math.min(n, top) }], continuationToken: null, visits: budget.visits };
    }
    const project = projector(ast, plan, options.isComponent ?? looksLikeComponent);
    cursor = {
      id: cursors.newId(),
      queryHash: hash,
      pageSize: requested ?? QUERY_LIMITS.defaultPageSize,
      graph,
      rows,
      budget,
      project,
      pending: [],
      remaining: top,
      seq: 0,
      expiresAt: 0,
      bytes: 0,
    };
  }

  const { budget, rows, project } = cursor;
  const want = Math.min(requested ?? cursor.pageSize, cursor.remaining);
  const value: unknown[] = [];
  // The row read ahead by the previous page opens this one (unless a write removed part of it).
  if (cursor.seq > 0 && refresh(graph, cursor.pending)) value.push(project(cursor.pending));
  let more = false;
  for (;;) {
    if (value.length === want && cursor.remaining <= want) break; // TOP ends here: no look-ahead
    const r = rows.next();
    if (r.done) break;
    if (r.value === PAUSE) {
      yield* pause(budget);
      continue;
    }
    if (value.length === want) {
      // One row beyond the page: there is a next page. Keep it (a copy: the row array is reused).
      cursor.pending = r.value.slice();
      more = true;
      break;
    }
    value.push(project(r.value));
  }
  cursor.remaining -= value.length;
  if (!more) {
    rows.return();
    return { value, continuationToken: null, visits: budget.visits };
  }
  cursor.seq++;
  budget.suspend(); // the walk lets go of live graph iterators before writes can commit
  cursors.put(cursor);
  return {
    value,
    continuationToken: encodeToken(
      { queryHash: cursor.queryHash, cursor: cursor.id, seq: cursor.seq },
      options.tokenSecret,
    ),
    visits: budget.visits,
  };
}

/** Re-reads a kept row's twins and relationships in place; false when one was deleted meanwhile. */
function refresh(graph: GraphView, row: Row): boolean {
  for (let i = 0; i < row.length; i++) {
    const x = row[i];
    if (x === undefined) continue;
    const now = 'modelId' in x ? graph.getTwin(x.id) : graph.getRelationship(x.sourceId, x.id);
    if (now === undefined) return false;
    row[i] = now;
  }
  return true;
}

function* pause(budget: QueryBudget): Generator<typeof PAUSE, void, void> {
  yield PAUSE;
  budget.resumed();
  budget.checkTime();
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
