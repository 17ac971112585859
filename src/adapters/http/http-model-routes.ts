/**
 * ADT's model routes: POST /models (a batch, all or nothing), GET /models (dependenciesFor,
 * includeModelDefinition, paged with nextLink), GET / PATCH (decommission) / DELETE /models/{id}.
 */
import type { FastifyInstance } from 'fastify';
import type { HttpWorkspace } from './http-context.js';
import { pageOf } from './http-adt-common.js';

const tags = ['Models'];
const idParams = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } as const;

function bool(v: unknown): boolean {
  return v === true || v === 'true';
}

function list(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  const parts = (Array.isArray(v) ? v : [v]).flatMap((x) => String(x).split(','));
  return parts.map((s) => s.trim()).filter((s) => s !== '');
}

export function registerModelRoutes(app: FastifyInstance, ws: HttpWorkspace): void {
  app.post(
    '/models',
    { schema: { tags, summary: 'Uploads one or more models (all or nothing).', body: { type: 'array' } } },
    async (req, reply) => {
      const created = await ws.models.add(req.body);
      return reply.status(201).send(created);
    },
  );

  app.get(
    '/models',
    {
      schema: {
        tags,
        summary: 'Lists models, optionally only some and their dependencies.',
        querystring: {
          type: 'object',
          properties: {
            dependenciesFor: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
            includeModelDefinition: { type: 'string', enum: ['true', 'false'] },
            continuationToken: { type: 'string' },
          },
        },
      },
    },
    async (req) => {
      const q = req.query as Record<string, unknown>;
      const deps = list(q.dependenciesFor);
      const models = ws.models.list({
        ...(deps ? { dependenciesFor: deps } : {}),
        includeModelDefinition: bool(q.includeModelDefinition),
      });
      return pageOf(req, models, (m) => m);
    },
  );

  app.get(
    '/models/:id',
    {
      schema: {
        tags,
        summary: 'Gets one model.',
        params: idParams,
        querystring: {
          type: 'object',
          properties: { includeModelDefinition: { type: 'string', enum: ['true', 'false'] } },
        },
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      return ws.models.get(id, bool((req.query as Record<string, unknown>).includeModelDefinition));
    },
  );

  app.patch(
    '/models/:id',
    { schema: { tags, summary: 'Decommissions a model.', params: idParams } },
    async (req, reply) => {
      await ws.models.update((req.params as { id: string }).id, req.body);
      return reply.status(204).send();
    },
  );

  app.delete(
    '/models/:id',
    { schema: { tags, summary: 'Deletes a model no other model refers to.', params: idParams } },
    async (req, reply) => {
      await ws.models.delete((req.params as { id: string }).id);
      return reply.status(204).send();
    },
  );
}
