/**
 * The scene routes on a real, listening Twinloop HTTP server (with a token) over the SceneService
 * and the SQLite scene store in a temp folder, with the pump-line pilot's shipped scene: list,
 * binding, model (ETag, 304), binding edits stored and kept by a new service on the same store, and
 * hostile paths, bodies and requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestWorkspace, type TestWorkspace } from '../../../test/adt-sdk/workspace-fixture.js';
import { rawRequest } from '../../../test/edge/raw-http.js';
import { readPilotScenes } from '../../app/pilot-scenes.js';
import { IngestService } from '../../core/telemetry/ingest-service.js';
import { SceneService } from '../../core/scenes/scene-service.js';
import { createHttpServer, type HttpServer } from './http-server.js';
import { MAX_SCENE_BINDING_BODY, sceneRoutesPlugin } from './http-scene-routes.js';
import { httpCaller, type HttpAnswer } from '../../../test/support/http-call.js';

const TOKEN = 'scene-test-token';
const TWINS = new Set([
  'pump-1a',
  'pump-1b',
  'pump-1c',
  'pump-3a',
  'pump-3b',
  'pump-3c',
  'pump-3d',
  'tank-1',
  'tank-3',
  'line-1',
  'line-3',
  'site-lyon',
  '<i>x</i>',
]);

describe('scene routes', () => {
  let w: TestWorkspace;
  let http: HttpServer;
  let url: string;
  let port: number;
  const scenes = readPilotScenes('pump-line');
  const service = () =>
    new SceneService({
      workspace: 'default',
      store: w.storage.scenes,
      scenes,
      twinExists: (id) => TWINS.has(id),
    });

  const call = httpCaller(() => url, TOKEN);
  const pointers = (a: HttpAnswer) =>
    ((a.json.error as { details?: { pointer?: string; code: string }[] }).details ?? []).map(
      (d) => `${d.pointer} ${d.code}`,
    );

  beforeAll(async () => {
    w = await openTestWorkspace();
    const s = service();
    expect(await s.seed()).toBe(1);
    const ingest = new IngestService({
      workspace: (name) => (name === 'default' ? { graph: w.graph, models: w.models } : undefined),
      history: w.storage.history,
      deadLetters: w.storage.deadLetters,
      live: w.live,
    });
    http = await createHttpServer({
      workspace: { name: 'default', models: w.models, twins: w.twins, graph: w.graph },
      ingest,
      history: w.storage.history,
      deadLetters: w.storage.deadLetters,
      token: TOKEN,
      plugins: [sceneRoutesPlugin(s)],
    });
    ({ url, port } = await http.listen());
  });
  afterAll(async () => {
    await http?.close();
    await w?.close();
  });

  it('lists scenes, filtered by twin, and answers a scene with its binding and parts', async () => {
    const list = await call('GET', '/scenes');
    expect(list.json.value).toEqual([
      { id: 'pump-line', title: 'pump-line', version: 1, parts: 9, model: '/scenes/pump-line/model' },
    ]);
    expect((await call('GET', '/scenes?twin=pump-3a')).json.value).toHaveLength(1);
    expect((await call('GET', '/scenes?twin=nobody')).json.value).toEqual([]);
    const one = await call('GET', '/scenes/pump-line');
    expect(one.status).toBe(200);
    expect(one.json).toMatchObject({
      id: 'pump-line',
      version: 1,
      binding: { parts: { 'pump-1a': { twin: 'pump-1a' } } },
    });
    expect(one.json.parts).toContain('site-lyon');
    expect((await call('GET', '/scenes/nope')).status).toBe(404);
    expect((await fetch(`${url}/scenes`)).status).toBe(401);
  });

  it('serves the model as GLB with an ETag, 304 when the client has it', async () => {
    const res = await fetch(`${url}/scenes/pump-line/model`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('model/gltf-binary');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.equals(scenes[0]!.model)).toBe(true);
    const etag = res.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await fetch(`${url}/scenes/pump-line/model`, {
      headers: { authorization: `Bearer ${TOKEN}`, 'if-none-match': `"other", ${etag}` },
    });
    expect(again.status).toBe(304);
    expect((await call('GET', '/scenes/nope/model')).status).toBe(404);
    expect((await call('GET', `/scenes/${'x'.repeat(65)}/model`)).status).toBe(400);
  });

  it('stores an edited binding as a new version that a new service on the same store keeps', async () => {
    const current = (await call('GET', '/scenes/pump-line')).json.binding as {
      title: string;
      parts: Record<string, { twin: string; color?: { min: number; max: number } }>;
    };
    current.parts['pump-1a']!.color!.max = 8;
    current.title = 'Lyon pumps';
    const put = await call('PUT', '/scenes/pump-line/binding', current);
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({ version: 2, outcome: 'updated', title: 'Lyon pumps' });
    expect((await call('PUT', '/scenes/pump-line/binding', current)).json).toMatchObject({
      version: 2,
      outcome: 'unchanged',
    });
    const fresh = service();
    expect(await fresh.seed()).toBe(0);
    expect((await fresh.get('pump-line')).binding.parts['pump-1a']?.color?.max).toBe(8);
  });

  it('refuses a bad binding with every problem at its pointer, storing nothing', async () => {
    const bad = await call('PUT', '/scenes/pump-line/binding', {
      title: 't',
      parts: {
        'pump-1a': { twin: 'ghost', color: { telemetry: 'vibration', min: 3, max: 1 } },
        'no/part': { twin: 'pump-1a' },
      },
    });
    expect(bad.status).toBe(400);
    expect((bad.json.error as { code: string }).code).toBe('ValidationFailed');
    expect(pointers(bad).sort()).toEqual(
      [
        '/parts/pump-1a/twin scene.twin.unknown',
        '/parts/pump-1a/color/max scene.scale.invalid',
        '/parts/no~1part scene.part.unknown',
      ].sort(),
    );
    // A twin id with markup is data: accepted when the twin exists, returned as it was sent.
    const markup = await call('PUT', '/scenes/pump-line/binding', {
      title: 't',
      parts: { 'pump-1a': { twin: '<i>x</i>' } },
    });
    expect(markup.status).toBe(200);
    expect((markup.json.binding as { parts: Record<string, { twin: string }> }).parts['pump-1a']!.twin).toBe(
      '<i>x</i>',
    );
    expect((await call('GET', '/scenes/pump-line')).json.version).toBe(3);
  });

  it('refuses hostile bodies and requests, changing nothing', async () => {
    const before = (await call('GET', '/scenes/pump-line')).json.version;
    const proto = await call(
      'PUT',
      '/scenes/pump-line/binding',
      '{"title":"t","parts":{},"__proto__":{"admin":true}}',
    );
    expect(proto.status).toBe(400);
    const deep = '{"title":"t","parts":' + '['.repeat(10_000) + ']'.repeat(10_000) + '}';
    expect((await call('PUT', '/scenes/pump-line/binding', deep)).status).toBe(400);
    const huge = await call('PUT', '/scenes/pump-line/binding', {
      title: 't',
      parts: { 'pump-1a': { twin: 'x'.repeat(MAX_SCENE_BINDING_BODY) } },
    });
    expect(huge.status).toBe(413);
    const many: Record<string, unknown> = {};
    for (let i = 0; i < 2001; i++) many[`p${i}`] = { twin: 'pump-1a' };
    const tooMany = await call('PUT', '/scenes/pump-line/binding', { title: 't', parts: many });
    expect(tooMany.status).toBe(400);
    expect(pointers(tooMany)).toEqual(['/parts scene.limit']);
    expect((await call('PUT', '/scenes/pump-line/binding', [1])).status).toBe(400);
    expect((await call('PUT', '/scenes/pump-line/binding')).status).toBe(400);
    const badUtf8 = await rawRequest(
      port,
      'PUT',
      '/scenes/pump-line/binding',
      [
        ['Authorization', `Bearer ${TOKEN}`],
        ['Content-Type', 'application/json'],
      ],
      Buffer.concat([
        Buffer.from('{"title":"'),
        Buffer.from([0xc3, 0x28, 0xff]),
        Buffer.from('","parts":{}}'),
      ]),
    );
    expect(badUtf8.status).toBe(400);
    // Cross-site writes: a form post (text/plain), a foreign Origin, Sec-Fetch-Site.
    const form = await call('PUT', '/scenes/pump-line/binding', '{"title":"t","parts":{}}', {
      'content-type': 'text/plain',
    });
    expect([403, 415]).toContain(form.status);
    const valid = { title: 'pwned', parts: {} };
    expect(
      (await call('PUT', '/scenes/pump-line/binding', valid, { origin: 'https://evil.example' })).status,
    ).toBe(403);
    expect(
      (await call('PUT', '/scenes/pump-line/binding', valid, { 'sec-fetch-site': 'cross-site' })).status,
    ).toBe(403);
    expect(
      (
        await fetch(`${url}/scenes/pump-line/binding`, {
          method: 'PUT',
          body: JSON.stringify(valid),
          headers: { 'content-type': 'application/json' },
        })
      ).status,
    ).toBe(401);
    expect((await call('PUT', '/scenes/nope/binding', valid)).status).toBe(404);
    expect((await call('GET', '/scenes/pump-line')).json.version).toBe(before);
  });
});
