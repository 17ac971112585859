/**
 * Kept query cursors: the rest of a paged result waits here, as the suspended row generator of
 * its query, until the client asks for the next page. A page then costs the work of that page,
 * not of every page before it, and a write between pages neither repeats nor skips a row (the
 * walk goes on from where it stopped; see query-runner.ts for what it sees of new writes).
 *
 * Bounded: at most `maxCursors` cursors and `maxBytes` (estimated) at once, each kept `ttlMs`
 * after its last page. Past a bound the least recently used cursor is dropped; its token then
 * gets ContinuationTokenExpired, a clear "run the query again" rather than a wrong page.
 */
import { randomBytes } from 'node:crypto';
import { TwinloopError } from '../errors/errors.js';
import type { GraphView } from '../graph/graph-types.js';
import type { QueryBudget } from './query-budget.js';
import type { Row } from './query-eval.js';
import type { RowStream } from './query-runner.js';

export interface QueryCursorLimits {
  /** Cursors kept at once (default 1,000). */
  maxCursors: number;
  /** Estimated memory of all kept cursors, bytes (default 64 MiB). */
  maxBytes: number;
  /** How long a cursor waits for its next page, ms (default 5 minutes). */
  ttlMs: number;
}

export const DEFAULT_CURSOR_LIMITS: Readonly<QueryCursorLimits> = Object.freeze({
  maxCursors: 1000,
  maxBytes: 64 * 1024 * 1024,
  ttlMs: 5 * 60_000,
});

/** Estimated bytes per list entry the suspended walk holds, and per kept cursor. */
const BYTES_PER_HELD = 100;
const BYTES_PER_CURSOR = 2048;

export interface QueryCursor {
  readonly id: string;
  readonly queryHash: string;
  readonly graph: GraphView;
  readonly rows: RowStream;
  readonly budget: QueryBudget;
  readonly project: (row: Row) => unknown;
  /** Rows per page asked for by the first page: the default of the next ones. */
  readonly pageSize: number;
  /** The row read ahead to know there was a next page (a copy). */
  pending: Row;
  /** Rows TOP still allows (Infinity without TOP). */
  remaining: number;
  /** Pages served so far; the token of the next page carries it. */
  seq: number;
  expiresAt: number;
  bytes: number;
}

/**
 * @example
 * const cursors = new QueryCursorStore({ maxCursors: 1000, maxBytes: 64 << 20, ttlMs: 300_000 });
 * executeQuery(graph, text, { isOfModel, cursors });
 */
export class QueryCursorStore {
  /** Map order is recency order: the first entry is the least recently used. */
  private readonly cursors = new Map<string, QueryCursor>();
  private total = 0;

  constructor(
    readonly limits: Readonly<QueryCursorLimits> = DEFAULT_CURSOR_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.cursors.size;
  }

  /** Estimated bytes of every kept cursor. */
  get bytes(): number {
    return this.total;
  }

  newId(): string {
    return randomBytes(12).toString('base64url');
  }

  /** Keeps a cursor for its next page; drops expired ones and then the least recently used past a bound. */
  put(cursor: QueryCursor): void {
    const t = this.now();
    cursor.expiresAt = t + this.limits.ttlMs;
    cursor.bytes = BYTES_PER_CURSOR + cursor.budget.held * BYTES_PER_HELD;
    this.cursors.set(cursor.id, cursor);
    this.total += cursor.bytes;
    for (const c of this.cursors.values()) {
      if (
        c.expiresAt > t &&
        this.cursors.size <= this.limits.maxCursors &&
        this.total <= this.limits.maxBytes
      )
        break;
      this.drop(c);
    }
  }

  /**
   * Takes a cursor out to serve its next page (put it back after, if there is another page).
   * @throws TwinloopError ContinuationTokenExpired when it expired, was dropped, or is being read.
   */
  take(id: string, seq: number): QueryCursor {
    const c = this.cursors.get(id);
    if (c === undefined || c.expiresAt <= this.now()) {
      if (c) this.drop(c);
      throw expired(this.limits);
    }
    if (c.seq !== seq) {
      throw new TwinloopError(
        'ContinuationTokenExpired',
        'This continuation token was already used: each token gives its page once. Run the query again from the first page.',
      );
    }
    this.cursors.delete(id);
    this.total -= c.bytes;
    return c;
  }

  /** Drops every cursor (e.g. at shutdown). */
  clear(): void {
    for (const c of [...this.cursors.values()]) this.drop(c);
  }

  private drop(c: QueryCursor): void {
    if (!this.cursors.delete(c.id)) return;
    this.total -= c.bytes;
    c.rows.return();
  }
}

function expired(l: QueryCursorLimits): TwinloopError {
  return new TwinloopError(
    'ContinuationTokenExpired',
    `The continuation token has expired (or is in use by another request): a paged result is kept ${Math.round(l.ttlMs / 1000)} s after its last page, ` +
      `and at most ${l.maxCursors} results (${Math.round(l.maxBytes / 1048576)} MiB) are kept at once. Run the query ` +
      'again from the first page (or raise query.cursorTtlMs, query.maxCursors or query.cursorMaxBytes).',
  );
}
