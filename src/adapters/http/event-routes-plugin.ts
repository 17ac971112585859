/**
 * Event routes over HTTP (docs/event-routes.md), a Fastify plugin given to the server's `plugins`:
 * - ADT's API: GET /eventroutes (paged: max-items-per-page, nextLink), GET / PUT (204) / DELETE (204)
 *   /eventroutes/{id}, with ADT's error codes (EventRouteNotFound, EventRouteIdInvalid,
 *   EventRouteEndpointInvalid, EventRouteFilterInvalid, LimitExceeded) and the api-version check;
 * - a Twinloop extension (ADT keeps endpoints in its control plane): GET /endpoints, GET / PUT (204) /
 *   DELETE (204) /endpoints/{name} (the auth header's value is never returned), and the endpoint's
 *   dead letters: GET /endpoints/{name}/deadletters, POST .../deadletters/replay, POST .../deadletters/purge.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { TwinloopError } from '../../core/errors/errors.js';
import type { EventRouteService } from '../../core/events/event-route-service.js';
import { toCloudEvent } from '../../core/events/change-events.js';
import type { EventOutbox } from '../../core/ports/event-routing.js';
import { checkApiVersion, pageOf } from './http-adt-common.js';

export interface EventRoutesPluginOptions {
  routes: EventRouteService;
  outbox: EventOutbox;
  /** Delivery state of an endpoint (down, last error, in flight). */
  status?: (endpoint: string) => Record<string, unknown> | undefined;
  /** Told after dead letters were replayed (the delivery engine reads them). */
  onReplayed?: () => void;
}

const ROUTE_TAGS = ['EventRoutes'];
const EXT_TAGS = ['Endpoints (Twinloop)'];
const idParams = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } as const;
const nameParams = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } as const;
const idsBody = {
  type: 'object',
  additionalProperties: false,
  properties: { ids: { type: 'array', maxItems: 10_000, items: { type: 'integer', minimum: 1 } } },
} as const;

function limitOf(v: unknown, fallback: number, max: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new TwinloopError('BadRequest', `limit must be a whole number of at least 1, not '${String(v)}'.`);
  return Math.min(n, max);
}

export function eventRoutesPlugin(o: EventRoutesPluginOptions): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    await app.register(async (adt) => {
      adt.addHook('preValidation', async (req) => checkApiVersion(req));
      adt.get(
        '/eventroutes',
        { schema: { tags: ROUTE_TAGS, summary: 'Lists event routes (paged).' } },
        async (req) => pageOf(req, o.routes.listRoutes(), (r) => r),
      );
      adt.get(
        '/eventroutes/:id',
        { schema: { tags: ROUTE_TAGS, summary: 'Gets an event route.', params: idParams } },
        async (req) => o.routes.getRoute((req.params as { id: string }).id),
      );
      adt.put(
        '/eventroutes/:id',
        {
          schema: {
            tags: ROUTE_TAGS,
            summary: 'Adds or replaces an event route: { endpointName, filter }.',
            params: idParams,
          },
        },
        async (req, reply) => {
          await o.routes.putRoute((req.params as { id: string }).id, req.body);
          return reply.status(204).send();
        },
      );
      adt.delete(
        '/eventroutes/:id',
        { schema: { tags: ROUTE_TAGS, summary: 'Deletes an event route.', params: idParams } },
        async (req, reply) => {
          await o.routes.deleteRoute((req.params as { id: string }).id);
          return reply.status(204).send();
        },
      );
    });

    const withStatus = async (name: string, view: Record<string, unknown>) => {
      const backlog = (await o.outbox.backlog()).get(name);
      return {
        ...view,
        status: {
          pending: backlog?.count ?? 0,
          oldestPending: backlog ? new Date(backlog.oldest).toISOString() : null,
          deadLetters: await o.outbox.countDeadLetters(name),
          ...(o.status?.(name) ?? {}),
        },
      };
    };
    const known = (name: string) => o.routes.getEndpoint(name); // throws EndpointNotFound

    app.get('/endpoints', { schema: { tags: EXT_TAGS, summary: 'Lists endpoints.' } }, async () => ({
      value: await Promise.all(o.routes.listEndpoints().map((e) => withStatus(String(e.name), e))),
    }));
    app.get(
      '/endpoints/:name',
      {
        schema: { tags: EXT_TAGS, summary: 'Gets an endpoint and its delivery status.', params: nameParams },
      },
      async (req) => {
        const { name } = req.params as { name: string };
        return withStatus(name, known(name));
      },
    );
    app.put(
      '/endpoints/:name',
      {
        schema: {
          tags: EXT_TAGS,
          summary:
            'Adds or replaces an endpoint: webhook { url, mode, auth }, mqtt { topic, url? }, nats { subject, url?, jetstream? }.',
          params: nameParams,
        },
      },
      async (req, reply) => {
        await o.routes.putEndpoint((req.params as { name: string }).name, req.body);
        return reply.status(204).send();
      },
    );
    app.delete(
      '/endpoints/:name',
      { schema: { tags: EXT_TAGS, summary: 'Deletes an endpoint no route uses.', params: nameParams } },
      async (req, reply) => {
        await o.routes.deleteEndpoint((req.params as { name: string }).name);
        return reply.status(204).send();
      },
    );
    app.get(
      '/endpoints/:name/deadletters',
      {
        schema: {
          tags: EXT_TAGS,
          summary: 'Events the endpoint would not take before its limit, newest first.',
          params: nameParams,
          querystring: {
            type: 'object',
            properties: { limit: { type: 'string' }, beforeId: { type: 'string' } },
          },
        },
      },
      async (req) => {
        const { name } = req.params as { name: string };
        known(name);
        const q = req.query as { limit?: string; beforeId?: string };
        const limit = limitOf(q.limit, 100, 1000);
        const beforeId =
          q.beforeId === undefined ? undefined : limitOf(q.beforeId, 1, Number.MAX_SAFE_INTEGER);
        const letters = await o.outbox.listDeadLetters({
          endpoint: name,
          limit,
          ...(beforeId ? { beforeId } : {}),
        });
        return {
          value: letters.map((d) => ({
            id: d.id,
            twinId: d.orderKey,
            committed: new Date(d.created).toISOString(),
            deadLettered: new Date(d.deadAt).toISOString(),
            attempts: d.attempts,
            reason: d.reason,
            event: toCloudEvent(d.event),
          })),
          total: await o.outbox.countDeadLetters(name),
        };
      },
    );
    app.post(
      '/endpoints/:name/deadletters/replay',
      {
        schema: {
          tags: EXT_TAGS,
          summary: 'Sends dead letters again (all of the endpoint, or { ids }), in their original order.',
          params: nameParams,
          body: idsBody,
        },
      },
      async (req) => {
        const { name } = req.params as { name: string };
        known(name);
        const ids = (req.body as { ids?: number[] } | undefined)?.ids;
        const replayed = await o.outbox.replay({ endpoint: name, ...(ids ? { ids } : {}) });
        if (replayed) o.onReplayed?.();
        return { replayed };
      },
    );
    app.post(
      '/endpoints/:name/deadletters/purge',
      {
        schema: {
          tags: EXT_TAGS,
          summary: 'Deletes dead letters (all of the endpoint, or { ids }).',
          params: nameParams,
          body: idsBody,
        },
      },
      async (req) => {
        const { name } = req.params as { name: string };
        known(name);
        const ids = (req.body as { ids?: number[] } | undefined)?.ids;
        return { deleted: await o.outbox.purgeDeadLetters({ endpoint: name, ...(ids ? { ids } : {}) }) };
      },
    );
  };
}
