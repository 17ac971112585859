/**
 * 3D scenes over HTTP (docs/scenes.md), a Fastify plugin given to the server's `plugins`:
 * - GET /scenes[?twin=ID] → { value: [{ id, title, version, parts, model }] } (with twin: the
 *   scenes that bind a part to it);
 * - GET /scenes/{id} → the scene: its binding (version, time) and its model's part names;
 * - GET /scenes/{id}/model → the glTF model (GLB, model/gltf-binary), with a strong ETag
 *   (If-None-Match → 304): the web app's 3D viewer fetches it from this origin;
 * - PUT /scenes/{id}/binding (JSON) → the stored binding; 400 ValidationFailed with every problem
 *   at its JSON pointer (unknown parts, missing twins, bad scales, unknown keys).
 * Twinloop extensions beside the ADT routes: no api-version needed.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { SceneService, SceneView } from '../../core/scenes/scene-service.js';

const TAGS = ['Scenes (Twinloop)'];
/** Largest binding body (bytes): 2000 parts with long twin ids fit. */
export const MAX_SCENE_BINDING_BODY = 1024 * 1024;

const idParams = {
  type: 'object',
  properties: { id: { type: 'string', maxLength: 64 } },
  required: ['id'],
} as const;

const sceneSummary = (s: SceneView) => ({
  id: s.id,
  title: s.title,
  version: s.version,
  parts: Object.keys(s.binding.parts).length,
  model: `/scenes/${encodeURIComponent(s.id)}/model`,
});

const sceneJson = (s: SceneView) => ({
  id: s.id,
  title: s.title,
  version: s.version,
  ...(s.updatedAt ? { updatedAt: new Date(s.updatedAt).toISOString() } : {}),
  model: `/scenes/${encodeURIComponent(s.id)}/model`,
  parts: s.parts,
  binding: s.binding,
});

export function sceneRoutesPlugin(scenes: SceneService): FastifyPluginAsync {
  return async (app: FastifyInstance) => registerSceneRoutes(app, scenes);
}

export function registerSceneRoutes(app: FastifyInstance, scenes: SceneService): void {
  app.get(
    '/scenes',
    {
      schema: {
        tags: TAGS,
        summary: 'Lists the 3D scenes; with ?twin=ID only those showing that twin.',
        querystring: {
          type: 'object',
          properties: { twin: { type: 'string', maxLength: 1024 } },
        },
      },
    },
    async (req) => {
      const { twin } = req.query as { twin?: string };
      return { value: (await scenes.list(twin)).map(sceneSummary) };
    },
  );

  app.get(
    '/scenes/:id',
    { schema: { tags: TAGS, summary: "A scene: its binding and its model's part names.", params: idParams } },
    async (req) => {
      const { id } = req.params as { id: string };
      return sceneJson(await scenes.get(id));
    },
  );

  app.get(
    '/scenes/:id/model',
    {
      schema: {
        tags: TAGS,
        summary: 'The scene’s glTF model (GLB), cacheable by its ETag.',
        params: idParams,
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const file = scenes.modelFile(id);
      void reply
        .header('etag', file.etag)
        .header('cache-control', 'private, no-cache')
        .header('x-content-type-options', 'nosniff');
      const inm = req.headers['if-none-match'];
      if (typeof inm === 'string' && inm.length < 4096 && inm.split(',').some((t) => t.trim() === file.etag))
        return reply.code(304).send();
      return reply.header('content-type', 'model/gltf-binary').send(Buffer.from(file.bytes));
    },
  );

  app.put(
    '/scenes/:id/binding',
    {
      bodyLimit: MAX_SCENE_BINDING_BODY,
      schema: {
        tags: TAGS,
        summary: 'Replaces a scene’s binding (a changed binding is a new version).',
        params: idParams,
      },
    },
    async (req) => {
      const { id } = req.params as { id: string };
      const stored = await scenes.putBinding(id, req.body);
      return { ...sceneJson(stored), outcome: stored.outcome };
    },
  );
}
