/**
 * ADT's POST /query: `{ query, continuationToken? }` in, `{ value, continuationToken }` out, the
 * page size from the `max-items-per-page` header and a `query-charge` header (see docs/api.md: it
 * counts rows, it is not ADT's billing unit).
 */
import type { FastifyInstance } from 'fastify';
import { TwinloopError } from '../../core/errors/errors.js';
import { QUERY_LIMITS, executeQuery } from '../../core/query/query-executor.js';
import type { HttpWorkspace } from './http-context.js';
import { pageSize } from './http-adt-common.js';

export interface QueryRouteOptions {
  maxQueryLength: number;
  /** Cap on MATCH variable hops (default: the engine's). */
  maxHops?: number;
  tokenSecret?: Uint8Array;
}

export function registerQueryRoutes(
  app: FastifyInstance,
  ws: HttpWorkspace,
  options: QueryRouteOptions,
): void {
  app.post(
    '/query',
    {
      schema: {
        tags: ['Query'],
        summary: 'Runs a query over the twin graph, paged by continuationToken.',
        body: {
          type: 'object',
          required: ['query'],
          properties: { query: { type: 'string' }, continuationToken: { type: ['string', 'null'] } },
        },
      },
    },
    async (req, reply) => {
      const body = req.body as { query: string; continuationToken?: string | null };
      if (body.query.length > options.maxQueryLength) {
        throw new TwinloopError(
          'QueryTooLarge',
          `The query is ${body.query.length} characters long; this server accepts at most ${options.maxQueryLength}.`,
        );
      }
      const page = executeQuery(ws.graph, body.query, {
        pageSize: pageSize(req, QUERY_LIMITS.defaultPageSize),
        continuationToken: body.continuationToken ?? null,
        isOfModel: (m, base) => ws.models.isOfModel(m, base),
        isComponent: (t, n) => ws.twins.isComponent(t, n),
        ...(options.maxHops !== undefined ? { maxHops: options.maxHops } : {}),
        ...(options.tokenSecret ? { tokenSecret: options.tokenSecret } : {}),
      });
      return reply
        .header('query-charge', String(1 + page.value.length))
        .send({ value: page.value, continuationToken: page.continuationToken });
    },
  );
}
