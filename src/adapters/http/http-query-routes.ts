/**
 * ADT's POST /query: `{ query }` or `{ continuationToken }` (or both: the query is then ignored, as
 * ADT does; the .NET SDK sends only the token for page 2) in, `{ value, continuationToken }` out,
 * the page size from the `max-items-per-page` header (on a next page, default: the first page's)
 * and a `query-charge` header (see docs/api.md: it counts rows, it is not ADT's billing unit).
 *
 * Every request runs cooperatively within its work budget (executeQueryAsync), so a heavy query
 * never holds the event loop; the rest of a paged result waits in a QueryCursorStore owned by this
 * route (dropped when the server closes).
 */
import type { FastifyInstance } from 'fastify';
import { TwinloopError } from '../../core/errors/errors.js';
import type { QueryBudgetLimits } from '../../core/query/query-budget.js';
import {
  DEFAULT_CURSOR_LIMITS,
  QueryCursorStore,
  type QueryCursorLimits,
} from '../../core/query/query-cursors.js';
import { QUERY_LIMITS, executeQueryAsync } from '../../core/query/query-executor.js';
import type { HttpWorkspace } from './http-context.js';
import { header, pageSize } from './http-adt-common.js';

export interface QueryRouteOptions {
  maxQueryLength: number;
  /** Cap on MATCH variable hops (default: none). */
  maxHops?: number;
  tokenSecret?: Uint8Array;
  /** Work budget of one request (default: the engine's DEFAULT_QUERY_BUDGET). */
  budget?: Partial<QueryBudgetLimits>;
  /** Bounds of the kept paging cursors (default: DEFAULT_CURSOR_LIMITS). */
  cursors?: Partial<QueryCursorLimits>;
}

export function registerQueryRoutes(
  app: FastifyInstance,
  ws: HttpWorkspace,
  options: QueryRouteOptions,
): void {
  const cursors = new QueryCursorStore({ ...DEFAULT_CURSOR_LIMITS, ...options.cursors });
  app.addHook('onClose', async () => cursors.clear());
  app.post(
    '/query',
    {
      schema: {
        tags: ['Query'],
        summary: 'Runs a query over the twin graph, paged by continuationToken.',
        body: {
          type: 'object',
          properties: { query: { type: 'string' }, continuationToken: { type: ['string', 'null'] } },
        },
      },
    },
    async (req, reply) => {
      const body = req.body as { query?: string; continuationToken?: string | null };
      const token = body.continuationToken ?? null;
      if (!token && (body.query === undefined || body.query.trim() === '')) {
        throw new TwinloopError(
          'BadRequest',
          'The body needs a query ({"query": "SELECT ..."}) or the continuationToken of a previous page.',
          {
            problems: [
              {
                code: 'query.missing',
                message: 'Expected a query (or a continuationToken)',
                source: 'request body',
                pointer: '/query',
              },
            ],
          },
        );
      }
      if (!token && body.query !== undefined && body.query.length > options.maxQueryLength) {
        throw new TwinloopError(
          'QueryTooLarge',
          `The query is ${body.query.length} characters long; this server accepts at most ${options.maxQueryLength}.`,
        );
      }
      // A client that goes away stops its query at the next slice instead of leaving it to the budget.
      const cancelled = new AbortController();
      reply.raw.once('close', () => {
        if (!reply.raw.writableEnded) cancelled.abort();
      });
      const sizeHeader = header(req, 'max-items-per-page');
      const page = await executeQueryAsync(ws.graph, token ? undefined : body.query, {
        signal: cancelled.signal,
        ...(sizeHeader !== undefined && sizeHeader !== ''
          ? { pageSize: pageSize(req, QUERY_LIMITS.defaultPageSize) }
          : {}),
        continuationToken: token,
        isOfModel: (m, base) => ws.models.matchesModel(m, base),
        isComponent: (t, n) => ws.twins.isComponent(t, n),
        cursors,
        ...(options.budget ? { budget: options.budget } : {}),
        ...(options.maxHops !== undefined ? { maxHops: options.maxHops } : {}),
        ...(options.tokenSecret ? { tokenSecret: options.tokenSecret } : {}),
      });
      return reply
        .header('query-charge', String(1 + page.value.length))
        .send({ value: page.value, continuationToken: page.continuationToken });
    },
  );
}
