/**
 * ADT's twin, component and relationship routes under /digitaltwins/{id}, with ADT's status codes
 * (PUT 200 + body, PATCH 204, DELETE 204) and the entity's etag in the ETag header.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { RelationshipRecord, TwinRecord } from '../../core/graph/graph-types.js';
import { componentMeta, relationshipToJson, twinToJson } from '../../core/graph/twin-json.js';
import type { HttpWorkspace } from './http-context.js';
import { conditions, pageOf, withEtag } from './http-adt-common.js';

/** Header set on a committed twin write whose property history could not be recorded. */
export const HISTORY_WARNING_HEADER = 'Twinloop-Warning';

/** Says on the answer that the write is committed but its history was not recorded (logged). */
function warnIfUnrecorded(reply: FastifyReply, ws: HttpWorkspace, twin: TwinRecord): FastifyReply {
  if (ws.twins.historyNotRecorded(twin) === undefined) return reply;
  return reply.header(
    HISTORY_WARNING_HEADER,
    'HistoryNotRecorded: the change is committed, but its property history could not be recorded (see the server log).',
  );
}

const twinTags = ['Digital twins'];
const relTags = ['Relationships'];
const str = { type: 'string' } as const;
const twinParams = { type: 'object', properties: { id: str }, required: ['id'] } as const;
const compParams = {
  type: 'object',
  properties: { id: str, component: str },
  required: ['id', 'component'],
} as const;
const relParams = { type: 'object', properties: { id: str, relId: str }, required: ['id', 'relId'] } as const;

/** The twin as ADT returns it, with components told apart by the model. */
export function twinJson(ws: HttpWorkspace, twin: TwinRecord): Record<string, unknown> {
  return twinToJson(twin, (t, name) => ws.twins.isComponent(t, name));
}

/** A component as ADT returns it: its properties and their metadata. */
export function componentJson(
  twin: TwinRecord,
  name: string,
  value: Record<string, unknown>,
): Record<string, unknown> {
  return { ...value, $metadata: componentMeta(twin, name, value) };
}

function incomingJson(rel: RelationshipRecord): Record<string, unknown> {
  return {
    $relationshipId: rel.id,
    $sourceId: rel.sourceId,
    $relationshipName: rel.name,
    $relationshipLink: `/digitaltwins/${encodeURIComponent(rel.sourceId)}/relationships/${encodeURIComponent(rel.id)}`,
  };
}

export function registerTwinRoutes(app: FastifyInstance, ws: HttpWorkspace): void {
  const twins = ws.twins;

  app.get(
    '/digitaltwins/:id',
    { schema: { tags: twinTags, summary: 'Gets a digital twin.', params: twinParams } },
    async (req, reply) => {
      const twin = twins.get((req.params as { id: string }).id);
      return withEtag(reply, twin.etag).send(twinJson(ws, twin));
    },
  );

  app.put(
    '/digitaltwins/:id',
    {
      schema: {
        tags: twinTags,
        summary: 'Creates or replaces a digital twin (If-None-Match: * to only create).',
        params: twinParams,
      },
    },
    async (req, reply) => {
      const twin = await twins.createOrReplace((req.params as { id: string }).id, req.body, conditions(req));
      return withEtag(warnIfUnrecorded(reply, ws, twin), twin.etag)
        .status(200)
        .send(twinJson(ws, twin));
    },
  );

  app.patch(
    '/digitaltwins/:id',
    {
      schema: {
        tags: twinTags,
        summary: 'Updates a digital twin with a JSON Patch (If-Match).',
        params: twinParams,
      },
    },
    async (req, reply) => {
      const twin = await twins.update((req.params as { id: string }).id, req.body, conditions(req));
      return withEtag(warnIfUnrecorded(reply, ws, twin), twin.etag)
        .status(204)
        .send();
    },
  );

  app.delete(
    '/digitaltwins/:id',
    {
      schema: {
        tags: twinTags,
        summary: 'Deletes a digital twin without relationships (If-Match).',
        params: twinParams,
      },
    },
    async (req, reply) => {
      await twins.delete((req.params as { id: string }).id, conditions(req));
      return reply.status(204).send();
    },
  );

  app.get(
    '/digitaltwins/:id/components/:component',
    { schema: { tags: twinTags, summary: 'Gets a component of a digital twin.', params: compParams } },
    async (req, reply) => {
      const { id, component } = req.params as { id: string; component: string };
      const { twin, value } = twins.getComponent(id, component);
      return withEtag(reply, twin.etag).send(componentJson(twin, component, value));
    },
  );

  app.patch(
    '/digitaltwins/:id/components/:component',
    {
      schema: {
        tags: twinTags,
        summary: 'Updates a component with a JSON Patch (If-Match).',
        params: compParams,
      },
    },
    async (req, reply) => {
      const { id, component } = req.params as { id: string; component: string };
      const twin = await twins.updateComponent(id, component, req.body, conditions(req));
      return withEtag(warnIfUnrecorded(reply, ws, twin), twin.etag)
        .status(204)
        .send();
    },
  );

  app.get(
    '/digitaltwins/:id/relationships',
    {
      schema: {
        tags: relTags,
        summary: 'Lists the relationships of a twin, optionally only those with one name.',
        params: twinParams,
        querystring: { type: 'object', properties: { relationshipName: str, continuationToken: str } },
      },
    },
    async (req) => {
      const { relationshipName } = req.query as { relationshipName?: string };
      const rels = twins.relationships.listOutgoing(
        (req.params as { id: string }).id,
        relationshipName || undefined,
      );
      return pageOf(req, rels, relationshipToJson);
    },
  );

  app.get(
    '/digitaltwins/:id/incomingrelationships',
    {
      schema: {
        tags: relTags,
        summary: 'Lists the relationships pointing at a twin.',
        params: twinParams,
        querystring: { type: 'object', properties: { continuationToken: str } },
      },
    },
    async (req) =>
      pageOf(req, twins.relationships.listIncoming((req.params as { id: string }).id), incomingJson),
  );

  app.get(
    '/digitaltwins/:id/relationships/:relId',
    { schema: { tags: relTags, summary: 'Gets a relationship.', params: relParams } },
    async (req, reply) => {
      const { id, relId } = req.params as { id: string; relId: string };
      const rel = twins.relationships.get(id, relId);
      return withEtag(reply, rel.etag).send(relationshipToJson(rel));
    },
  );

  app.put(
    '/digitaltwins/:id/relationships/:relId',
    {
      schema: {
        tags: relTags,
        summary: 'Creates or replaces a relationship (If-None-Match: * to only create).',
        params: relParams,
      },
    },
    async (req, reply) => {
      const { id, relId } = req.params as { id: string; relId: string };
      const rel = await twins.relationships.createOrReplace(id, relId, req.body, conditions(req));
      return withEtag(reply, rel.etag).status(200).send(relationshipToJson(rel));
    },
  );

  app.patch(
    '/digitaltwins/:id/relationships/:relId',
    {
      schema: {
        tags: relTags,
        summary: "Updates a relationship's properties with a JSON Patch (If-Match).",
        params: relParams,
      },
    },
    async (req, reply) => {
      const { id, relId } = req.params as { id: string; relId: string };
      const rel = await twins.relationships.update(id, relId, req.body, conditions(req));
      return withEtag(reply, rel.etag).status(204).send();
    },
  );

  app.delete(
    '/digitaltwins/:id/relationships/:relId',
    { schema: { tags: relTags, summary: 'Deletes a relationship (If-Match).', params: relParams } },
    async (req, reply) => {
      const { id, relId } = req.params as { id: string; relId: string };
      await twins.relationships.delete(id, relId, conditions(req));
      return reply.status(204).send();
    },
  );
}
