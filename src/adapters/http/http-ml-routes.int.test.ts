/**
 * The ML model routes on a real, listening Twinloop HTTP server (with a token) over the registry and
 * the SQLite store in a temp folder: list and paging, show (with a 5 MB artefact), compare, promote,
 * rollback and delete with their errors; hostile ids, queries, bodies and cross-site requests; and
 * the `twinloop ml` commands against it.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_STATUS } from '../../core/errors/errors.js';
import { openTestWorkspace, type TestWorkspace } from '../../../test/adt-sdk/workspace-fixture.js';
import { cliFor } from '../../../test/cli/cli-runner.js';
import { rawRequest } from '../../../test/edge/raw-http.js';
import { errorCodeOf, httpCaller } from '../../../test/support/http-call.js';
import { MlModelRegistry, type MlModelInput } from '../../analytics/ml/ml-model-registry.js';
import type { MlModelRecord } from '../../core/ports/ml-model-store.js';
import { IngestService } from '../../core/telemetry/ingest-service.js';
import { mlRoutesPlugin } from './http-ml-routes.js';
import { createHttpServer, type HttpServer } from './http-server.js';

const TOKEN = 'ml-test-token';
const PUMP = 'dtmi:x:Pump;1';
const FAN = 'dtmi:x:Fan;1';
const spec = (window = 30) => ({
  sensors: ['s2', 's3'],
  settings: [],
  window,
  cap: 125,
  regimes: 1,
  validationFraction: 0.2,
  seed: 7,
});
const input = (target = PUMP, window = 30, rmse = 14, model: unknown = { w: [1, 2] }): MlModelInput => ({
  kind: 'rul',
  target,
  features: spec(window),
  metrics: {
    validationRmse: rmse,
    validationScore: 300,
    validationMethod: 'last row of each held-out asset',
    trainingAssets: 8,
    validationAssets: 2,
    trainingRows: 1000,
    notes: [],
    trainingMs: 1200,
  },
  trainingRange: { from: Date.UTC(2020, 0, 1), to: Date.UTC(2020, 6, 1), assets: 10, rows: 1000 },
  artefact: { format: 'twinloop-rul/1', spec: spec(window), model },
});

describe('ML model routes', () => {
  let w: TestWorkspace;
  let http: HttpServer;
  let url: string;
  let port: number;
  let registry: MlModelRegistry;
  const m: MlModelRecord[] = [];
  const call = httpCaller(() => url, TOKEN);

  beforeAll(async () => {
    w = await openTestWorkspace();
    registry = new MlModelRegistry({
      workspace: 'default',
      store: w.storage.mlModels,
      codeVersion: '0.1.0+test',
    });
    m.push(await registry.add(input(PUMP, 30, 14)));
    m.push(await registry.add(input(PUMP, 40, 12.5, { blob: 'x'.repeat(5 * 1024 * 1024) })));
    m.push(await registry.add(input(FAN)));
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
      plugins: [mlRoutesPlugin(registry)],
    });
    ({ url, port } = await http.listen());
  });
  afterAll(async () => {
    await http.close();
    await w.close();
  });

  it('lists newest first without artefacts, filters by target and kind, pages with nextLink', async () => {
    const all = await call('GET', '/ml/models');
    expect(all.status).toBe(200);
    expect(all.json.value!.map((x) => x.id)).toEqual([m[2]!.id, m[1]!.id, m[0]!.id]);
    expect(all.json.value![1]).not.toHaveProperty('artefact');
    expect(all.json.value![1]).toMatchObject({
      version: 2,
      status: 'candidate',
      target: PUMP,
      codeVersion: '0.1.0+test',
      trainingRange: {
        from: '2020-01-01T00:00:00.000Z',
        to: '2020-07-01T00:00:00.000Z',
        assets: 10,
        rows: 1000,
      },
    });
    const pumps = await call('GET', `/ml/models?target=${encodeURIComponent(PUMP)}&kind=rul&limit=1`);
    expect(pumps.json.value!.map((x) => x.version)).toEqual([2]);
    const next = await call('GET', pumps.json.nextLink!);
    expect(next.json.value!.map((x) => x.version)).toEqual([1]);
    expect(next.json.nextLink).toBeUndefined();
    expect((await call('GET', '/ml/models?status=active')).json.value).toEqual([]);
  });

  it('shows a model, with its 5 MB artefact only when asked', async () => {
    const plain = await call('GET', `/ml/models/${m[1]!.id}`);
    expect(plain.status).toBe(200);
    expect(plain.json).not.toHaveProperty('artefact');
    expect(plain.json.features).toEqual(spec(40));
    const full = await call('GET', `/ml/models/${m[1]!.id}?artefact=true`);
    expect(full.status).toBe(200);
    expect((full.json.artefact as { model: { blob: string } }).model.blob).toHaveLength(5 * 1024 * 1024);
    expect(full.json.id).toBe(m[1]!.id);
    const missing = await call('GET', '/ml/models/rul-000000000000-v9');
    expect(missing.status).toBe(404);
    expect(errorCodeOf(missing)).toBe('NotFound');
  });

  it('compares two models', async () => {
    const c = await call('GET', `/ml/models/${m[0]!.id}/compare/${m[1]!.id}`);
    expect(c.status).toBe(200);
    expect(c.json.features).toEqual([{ pointer: '/window', a: 30, b: 40 }]);
    expect((c.json.metrics as { name: string }[]).find((x) => x.name === 'validationRmse')).toEqual({
      name: 'validationRmse',
      a: 14,
      b: 12.5,
      difference: -1.5,
      better: 'b',
    });
    expect((await call('GET', `/ml/models/${m[0]!.id}/compare/nope`)).status).toBe(404);
  });

  it('promotes, rolls back and deletes, saying who and why, with 409 where nothing can be done', async () => {
    const p1 = await call(
      'POST',
      `/ml/models/${m[0]!.id}/promote`,
      { reason: 'baseline' },
      { 'twinloop-user': 'ana' },
    );
    expect(p1.status).toBe(200);
    expect(p1.json).toMatchObject({ changed: true, model: { id: m[0]!.id, status: 'active' } });
    expect(p1.json.activation).toMatchObject({ action: 'promote', by: 'ana', reason: 'baseline' });
    const p2 = await call('POST', `/ml/models/${m[1]!.id}/promote`);
    expect(p2.json).toMatchObject({
      previous: { id: m[0]!.id, status: 'retired' },
      activation: { by: 'anonymous' },
    });
    const again = await call('POST', `/ml/models/${m[1]!.id}/promote`, {});
    expect(again.json).toMatchObject({ changed: false });
    const del = await call('DELETE', `/ml/models/${m[1]!.id}`);
    expect(del.status).toBe(409);
    expect(errorCodeOf(del)).toBe('Conflict');
    const back = await call(
      'POST',
      '/ml/rollback',
      { target: PUMP, reason: 'v2 drifts' },
      { 'twinloop-user': 'bo' },
    );
    expect(back.status).toBe(200);
    expect(back.json).toMatchObject({
      model: { id: m[0]!.id, status: 'active' },
      previous: { id: m[1]!.id },
    });
    const none = await call('POST', '/ml/rollback', { kind: 'rul', target: PUMP });
    expect(none.status).toBe(409);
    expect((await call('POST', '/ml/rollback', { target: FAN })).status).toBe(409);
    const log = await call('GET', `/ml/activations?target=${encodeURIComponent(PUMP)}`);
    expect(log.json.value!.map((a) => [a.action, a.version, a.by, a.reason])).toEqual([
      ['rollback', 1, 'bo', 'v2 drifts'],
      ['promote', 2, 'anonymous', undefined],
      ['promote', 1, 'ana', 'baseline'],
    ]);
    expect((await call('POST', '/ml/models/nope/promote', {})).status).toBe(404);
    expect((await call('DELETE', '/ml/models/nope')).status).toBe(404);
  });

  it('refuses bad ids, queries and bodies with the place named, changing nothing', async () => {
    const long = await call('GET', `/ml/models/${'x'.repeat(300)}`);
    expect(long.status).toBe(400);
    const q = await call('GET', '/ml/models?kind=forecast&limit=0&target=a&target=b');
    expect(q.status).toBe(400);
    expect(JSON.stringify(q.json)).toMatch(/\/limit/);
    expect(JSON.stringify(q.json)).toMatch(/\/target/);
    expect((await call('GET', '/ml/models?kind=forecast')).status).toBe(400);
    expect((await call('GET', '/ml/models?target=not-a-dtmi')).status).toBe(400);
    expect((await call('GET', '/ml/models?continuationToken=garbage')).status).toBe(400);
    expect((await call('GET', '/ml/models?__proto__=x&constructor=y')).status).toBe(200);
    expect((await call('GET', `/ml/models/${m[0]!.id}?artefact=yes`)).status).toBe(400);
    const id = m[2]!.id;
    const bodies: unknown[] = [
      '{"__proto__": {"admin": true}, "reason": "x"}',
      { reason: 42 },
      { reason: 'x', by: 'mallory' },
      [1, 2],
      'null-ish',
      '['.repeat(1000) + ']'.repeat(1000), // deeper than the server's 128 levels
      { reason: 'r'.repeat(2001) },
    ];
    for (const b of bodies) {
      const r = await call('POST', `/ml/models/${id}/promote`, b);
      expect(r.status, JSON.stringify(b).slice(0, 40)).toBe(400);
    }
    expect((await call('POST', '/ml/rollback', {})).status).toBe(400);
    expect((await call('POST', '/ml/rollback', { target: PUMP, kind: 'nope' })).status).toBe(400);
    expect((await call('POST', '/ml/rollback', { target: 'dtmi:bad target' })).status).toBe(400);
    const huge = await call('POST', `/ml/models/${id}/promote`, { reason: 'r'.repeat(20_000) });
    expect(huge.status).toBe(413);
    expect(
      (await call('POST', `/ml/models/${id}/promote`, {}, { 'twinloop-user': 'u'.repeat(500) })).status,
    ).toBe(400);
    const badUtf8 = await rawRequest(
      port,
      'POST',
      `/ml/models/${id}/promote`,
      [
        ['Authorization', `Bearer ${TOKEN}`],
        ['Content-Type', 'application/json'],
      ],
      Buffer.concat([Buffer.from('{"reason":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]),
    );
    expect(badUtf8.status).toBe(400);
    // A browser's cross-site form post (text/plain), a cross-origin JSON post, a cross-site fetch.
    const form = await call('POST', `/ml/models/${id}/promote`, 'reason=pwned', {
      'content-type': 'text/plain',
    });
    expect([403, 415]).toContain(form.status);
    expect(
      (await call('POST', `/ml/models/${id}/promote`, {}, { origin: 'https://evil.example' })).status,
    ).toBe(403);
    expect(
      (await call('POST', '/ml/rollback', { target: PUMP }, { 'sec-fetch-site': 'cross-site' })).status,
    ).toBe(403);
    expect(
      (await call('DELETE', `/ml/models/${id}`, undefined, { origin: 'https://evil.example' })).status,
    ).toBe(403);
    // Nothing changed: the fan model is still a candidate, and still there.
    expect((await call('GET', `/ml/models/${id}`)).json).toMatchObject({ status: 'candidate' });
    expect((await fetch(`${url}/ml/models`)).status).toBe(401);
  });

  it('property: random bodies, content types, ids and queries never give a 5xx; every refusal is catalogued', async () => {
    const hostile = fc
      .tuple(
        fc.constantFrom('__proto__', 'constructor', 'prototype', 'reason', 'target', 'kind'),
        fc.jsonValue({ maxDepth: 2 }),
      )
      .map(([k, v]) => `{"${k}":${JSON.stringify(v)}}`);
    const body: fc.Arbitrary<string | Buffer> = fc.oneof(
      hostile,
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc.integer({ min: 100, max: 3000 }).map((d) => '['.repeat(d) + ']'.repeat(d)),
      fc.constantFrom('{"reason":1e999}', '{"target":"dtmi:x:Fan;1","kind":["rul"]}', '', '{'),
      fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)),
    );
    const id = fc.oneof(
      fc.constantFrom('rul-000000000000-v1', '%00', '..%2F..', '%E0%A4%A', '__proto__', 'constructor'),
      fc.string({ maxLength: 20 }).map((x) => encodeURIComponent(x) || 'x'),
    );
    const request = fc.oneof(
      fc.tuple(
        fc.constant('POST'),
        id.map((i) => `/ml/models/${i}/promote`),
      ),
      fc.tuple(fc.constant('POST'), fc.constant('/ml/rollback')),
      fc.tuple(
        fc.constant('GET'),
        fc.tuple(id, id).map(([a, b]) => `/ml/models/${a}/compare/${b}`),
      ),
      fc.tuple(
        fc.constant('GET'),
        fc
          .array(
            fc.tuple(
              fc.constantFrom('kind', 'target', 'status', 'limit', 'continuationToken', '__proto__'),
              fc.string({ maxLength: 12 }),
            ),
            { maxLength: 4 },
          )
          .map((kv) => `/ml/models?${kv.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`),
      ),
    );
    const type = fc.constantFrom(
      'application/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/json; charset=latin1',
    );
    await fc.assert(
      fc.asyncProperty(request, type, body, async ([method, path], ct, b) => {
        const r = await rawRequest(
          port,
          method,
          path,
          [
            ['Authorization', `Bearer ${TOKEN}`],
            ['Content-Type', ct],
          ],
          method === 'POST' ? b : undefined,
        );
        expect(r.status, `${method} ${path}: ${r.body.slice(0, 200)}`).toBeLessThan(500);
        if (r.status >= 400) {
          const code = r.headers['x-ms-error-code'];
          expect(code && code in ERROR_STATUS, `code ${code}`).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
    expect((await call('GET', `/ml/models/${m[2]!.id}`)).json).toMatchObject({ status: 'candidate' });
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  }, 120_000);

  it('twinloop ml lists, shows, compares, promotes, rolls back and deletes', async () => {
    const cli = cliFor(w.dir);
    const flags = ['--url', url, '--token', TOKEN];
    const extra = await registry.add(input(FAN, 50, 9));
    const list = await cli('ml', 'list', '--target', FAN, '--format', 'json', ...flags);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { id: string }[]).map((x) => x.id)).toEqual([extra.id, m[2]!.id]);
    const table = await cli('ml', 'list', '--format', 'table', ...flags);
    expect(table.stdout).toContain('validation RMSE');
    expect(table.stdout).toContain(extra.id);
    const show = await cli('ml', 'show', extra.id, '--format', 'json', ...flags);
    expect(JSON.parse(show.stdout)).toMatchObject({ id: extra.id, version: 2 });
    const cmp = await cli('ml', 'compare', m[2]!.id, extra.id, '--format', 'csv', ...flags);
    expect(cmp.stdout).toMatch(/features \/window,30,50/);
    const promote = await cli('ml', 'promote', m[2]!.id, '--reason', 'first', '--user', 'cli-user', ...flags);
    expect(promote.stdout.trim()).toBe(`${m[2]!.id} (v1) is active`);
    await cli('ml', 'promote', extra.id, ...flags);
    const back = await cli('ml', 'rollback', '--target', FAN, '--reason', 'worse', ...flags);
    expect(back.stdout.trim()).toBe(`${m[2]!.id} (v1) is active again; ${extra.id} (v2) retired`);
    const log = await cli('ml', 'log', '--target', FAN, '--format', 'json', ...flags);
    expect((JSON.parse(log.stdout) as { by: string }[])[2]).toMatchObject({ by: 'cli-user' });
    const refused = await cli('ml', 'delete', m[2]!.id, ...flags);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Conflict.*active/);
    const del = await cli('ml', 'delete', extra.id, ...flags);
    expect(del.stdout.trim()).toBe(`${extra.id}: deleted`);
    const nothing = await cli('ml', 'rollback', '--target', FAN, ...flags);
    expect(nothing.code).toBe(1);
  }, 90_000);
});
