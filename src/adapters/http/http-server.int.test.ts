import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { ALL_MODELS } from '../../../test/adt-sdk/workspace-fixture.js';
import { startTestServer, type TestServer } from '../../../test/adt-sdk/http-fixture.js';
import { TwinloopError } from '../../core/errors/errors.js';
import type { InjectOptions } from 'fastify';

const V = '?api-version=2023-10-31';
const ROOM = 'dtmi:test:Room;1';
const json = (body: unknown, headers: Record<string, string> = {}) => ({
  payload: JSON.stringify(body),
  headers: { 'content-type': 'application/json', ...headers },
});

describe('HTTP API (ADT data plane + extensions)', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => s.close());
  const inject = (o: InjectOptions) => s.http.app.inject(o);

  it('uploads models (201), lists them paged with nextLink, gets one with its definition', async () => {
    const up = await inject({ method: 'POST', url: `/models${V}`, ...json(ALL_MODELS) });
    expect(up.statusCode).toBe(201);
    expect(up.json()).toHaveLength(4);
    const again = await inject({ method: 'POST', url: `/models${V}`, ...json([ALL_MODELS[2]]) });
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('ModelAlreadyExists');
    const p1 = await inject({ method: 'GET', url: `/models${V}`, headers: { 'max-items-per-page': '3' } });
    expect(p1.json().value).toHaveLength(3);
    const next = new URL(p1.json().nextLink as string);
    const p2 = await inject({ method: 'GET', url: next.pathname + next.search });
    expect(p2.json().value).toHaveLength(1);
    expect(p2.json().nextLink).toBeUndefined();
    const one = await inject({
      method: 'GET',
      url: `/models/${encodeURIComponent(ROOM)}${V}&includeModelDefinition=true`,
    });
    expect(one.json().model['@id']).toBe(ROOM);
    const deps = await inject({
      method: 'GET',
      url: `/models${V}&dependenciesFor=${encodeURIComponent('dtmi:test:Sensor;1')}`,
    });
    expect(deps.json().value.map((m: { id: string }) => m.id)).toEqual(['dtmi:test:Sensor;1']);
  });

  it('creates a twin (200 + ETag), patches with If-Match (204, new ETag), 412 on a stale etag', async () => {
    const put = await inject({
      method: 'PUT',
      url: `/digitaltwins/room-1${V}`,
      ...json({ $metadata: { $model: ROOM }, temperature: 20, thermostat: { $metadata: {} } }),
    });
    expect(put.statusCode).toBe(200);
    const etag = put.headers.etag as string;
    expect(etag).toMatch(/^W\/"/);
    expect(put.json()).toMatchObject({
      $dtId: 'room-1',
      $etag: etag,
      $metadata: { $model: ROOM },
      temperature: 20,
      thermostat: { $metadata: {} },
    });
    expect(put.json().$metadata.temperature.lastUpdateTime).toMatch(/Z$/);
    const dup = await inject({
      method: 'PUT',
      url: `/digitaltwins/room-1${V}`,
      ...json({ $metadata: { $model: ROOM }, thermostat: { $metadata: {} } }, { 'if-none-match': '*' }),
    });
    expect(dup.statusCode).toBe(412);
    const patch = await inject({
      method: 'PATCH',
      url: `/digitaltwins/room-1${V}`,
      payload: JSON.stringify([{ op: 'replace', path: '/temperature', value: 22 }]),
      headers: { 'content-type': 'application/json-patch+json', 'if-match': etag },
    });
    expect(patch.statusCode).toBe(204);
    expect(patch.headers.etag).not.toBe(etag);
    const stale = await inject({
      method: 'PATCH',
      url: `/digitaltwins/room-1${V}`,
      ...json([{ op: 'replace', path: '/temperature', value: 1 }], { 'if-match': etag }),
    });
    expect(stale.statusCode).toBe(412);
    expect(stale.json().error.code).toBe('PreconditionFailed');
    const get = await inject({ method: 'GET', url: `/digitaltwins/room-1${V}` });
    expect(get.json().temperature).toBe(22);
    expect(get.headers.etag).toBe(patch.headers.etag);
  });

  it('answers validation problems in ADT error shape with pointers in details', async () => {
    const bad = await inject({
      method: 'PUT',
      url: `/digitaltwins/bad${V}`,
      ...json({ $metadata: { $model: ROOM }, temperature: 'hot' }),
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['x-ms-error-code']).toBe('ValidationFailed');
    const details = bad.json().error.details as { pointer: string }[];
    expect(details.map((d) => d.pointer).sort()).toEqual(['/temperature', '/thermostat']);
    const notJson = await inject({
      method: 'PUT',
      url: `/digitaltwins/bad${V}`,
      payload: '{"a":',
      headers: { 'content-type': 'application/json' },
    });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().error.code).toBe('BadRequest');
    const version = await inject({ method: 'GET', url: '/digitaltwins/room-1?api-version=2019-01-01' });
    expect(version.statusCode).toBe(400);
    expect(version.json().error.code).toBe('InvalidArgument');
    expect(version.json().error.message).toMatch(/2020-10-31, 2022-05-31, 2023-06-30, 2023-10-31/);
    const missing = await inject({ method: 'GET', url: `/digitaltwins/nope${V}` });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('DigitalTwinNotFound');
    const badQuery = await inject({ method: 'POST', url: `/query${V}`, ...json({ nope: 1 }) });
    expect(badQuery.statusCode).toBe(400);
    expect(badQuery.json().error.details[0].pointer).toBe('/query');
  });

  it('relationships: PUT/GET/PATCH/DELETE, list by name (paged), incoming; twin delete refused while related', async () => {
    for (const id of ['s-1', 's-2']) {
      expect(
        (
          await inject({
            method: 'PUT',
            url: `/digitaltwins/${id}${V}`,
            ...json({ $metadata: { $model: 'dtmi:test:Sensor;1' } }),
          })
        ).statusCode,
      ).toBe(200);
    }
    const r1 = await inject({
      method: 'PUT',
      url: `/digitaltwins/room-1/relationships/c1${V}`,
      ...json({ $targetId: 's-1', $relationshipName: 'contains' }),
    });
    expect(r1.statusCode).toBe(200);
    expect(r1.json()).toMatchObject({
      $relationshipId: 'c1',
      $sourceId: 'room-1',
      $targetId: 's-1',
      $relationshipName: 'contains',
    });
    await inject({
      method: 'PUT',
      url: `/digitaltwins/room-1/relationships/c2${V}`,
      ...json({ $targetId: 's-2', $relationshipName: 'contains' }),
    });
    const page1 = await inject({
      method: 'GET',
      url: `/digitaltwins/room-1/relationships${V}&relationshipName=contains`,
      headers: { 'max-items-per-page': '1' },
    });
    expect(page1.json().value).toHaveLength(1);
    const n = new URL(page1.json().nextLink as string);
    expect(n.searchParams.get('relationshipName')).toBe('contains');
    const page2 = await inject({ method: 'GET', url: n.pathname + n.search });
    expect(page2.json().value).toHaveLength(1);
    const inc = await inject({ method: 'GET', url: `/digitaltwins/s-1/incomingrelationships${V}` });
    expect(inc.json().value).toEqual([
      {
        $relationshipId: 'c1',
        $sourceId: 'room-1',
        $relationshipName: 'contains',
        $relationshipLink: '/digitaltwins/room-1/relationships/c1',
      },
    ]);
    const patch = await inject({
      method: 'PATCH',
      url: `/digitaltwins/room-1/relationships/c1${V}`,
      ...json([{ op: 'add', path: '/since', value: '2024' }], { 'if-match': r1.headers.etag as string }),
    });
    expect(patch.statusCode).toBe(204);
    const del = await inject({ method: 'DELETE', url: `/digitaltwins/s-2${V}` });
    expect(del.statusCode).toBe(400);
    expect(del.json().error.code).toBe('RelationshipsNotDeleted');
    expect(
      (await inject({ method: 'DELETE', url: `/digitaltwins/room-1/relationships/c2${V}` })).statusCode,
    ).toBe(204);
    expect((await inject({ method: 'DELETE', url: `/digitaltwins/s-2${V}` })).statusCode).toBe(204);
  });

  it('components: GET with $metadata and ETag, PATCH 204', async () => {
    const p = await inject({
      method: 'PATCH',
      url: `/digitaltwins/room-1/components/thermostat${V}`,
      ...json([{ op: 'add', path: '/setPoint', value: 19.5 }]),
    });
    expect(p.statusCode).toBe(204);
    const g = await inject({ method: 'GET', url: `/digitaltwins/room-1/components/thermostat${V}` });
    expect(g.json()).toMatchObject({
      setPoint: 19.5,
      $metadata: { setPoint: { lastUpdateTime: expect.any(String) } },
    });
    expect(g.headers.etag).toBe(p.headers.etag);
    expect(
      (await inject({ method: 'GET', url: `/digitaltwins/room-1/components/nope${V}` })).json().error.code,
    ).toBe('ComponentNotFound');
  });

  it('query pages with continuationToken, max-items-per-page and query-charge', async () => {
    for (let i = 0; i < 5; i++)
      await inject({
        method: 'PUT',
        url: `/digitaltwins/q-${i}${V}`,
        ...json({ $metadata: { $model: 'dtmi:test:Sensor;1' }, kind: 'co2' }),
      });
    const first = await inject({
      method: 'POST',
      url: `/query${V}`,
      ...json({ query: "SELECT * FROM DIGITALTWINS T WHERE T.kind = 'co2'" }, { 'max-items-per-page': '2' }),
    });
    expect(first.statusCode).toBe(200);
    expect(first.headers['query-charge']).toBeDefined();
    const ids: string[] = first.json().value.map((r: { $dtId: string }) => r.$dtId);
    let token = first.json().continuationToken as string | null;
    while (token) {
      const next = await inject({
        method: 'POST',
        url: `/query${V}`,
        ...json(
          { query: "SELECT * FROM DIGITALTWINS T WHERE T.kind = 'co2'", continuationToken: token },
          { 'max-items-per-page': '2' },
        ),
      });
      ids.push(...next.json().value.map((r: { $dtId: string }) => r.$dtId));
      token = next.json().continuationToken;
    }
    expect(ids.sort()).toEqual(['q-0', 'q-1', 'q-2', 'q-3', 'q-4']);
    const syntax = await inject({ method: 'POST', url: `/query${V}`, ...json({ query: 'SELEC nope' }) });
    expect(syntax.statusCode).toBe(400);
  });

  it('telemetry: 204 once durable, then history raw and aggregated; bad payload 400 and dead-lettered', async () => {
    const t = Date.UTC(2024, 4, 1, 12, 0, 0);
    for (let i = 0; i < 4; i++) {
      const r = await inject({
        method: 'POST',
        url: `/digitaltwins/room-1/telemetry${V}`,
        payload: JSON.stringify({ humidity: 40 + i }),
        headers: {
          'content-type': 'application/json',
          'message-id': `m${i}`,
          'telemetry-source-time': new Date(t + i * 1000).toISOString(),
        },
      });
      expect(r.statusCode).toBe(204);
    }
    const raw = await inject({
      method: 'GET',
      url: `/digitaltwins/room-1/history?path=humidity&from=${t}&to=${new Date(t + 10_000).toISOString()}`,
    });
    expect(raw.statusCode).toBe(200);
    expect(raw.json().value.map((p: { value: number }) => p.value)).toEqual([40, 41, 42, 43]);
    const agg = await inject({
      method: 'GET',
      url: `/digitaltwins/room-1/history?path=humidity&from=${t}&to=${t + 4000}&interval=2s&fn=avg,max`,
    });
    expect(agg.json().value.map((b: { avg: number; max: number }) => [b.avg, b.max])).toEqual([
      [40.5, 41],
      [42.5, 43],
    ]);
    const badHist = await inject({
      method: 'GET',
      url: `/digitaltwins/room-1/history?from=yesterday&fn=median`,
    });
    expect(badHist.statusCode).toBe(400);
    expect(badHist.json().error.code).toBe('InvalidHistoryQuery');
    expect(
      badHist
        .json()
        .error.details.map((d: { pointer: string }) => d.pointer)
        .sort(),
    ).toEqual(['/fn', '/fn', '/from', '/path']);

    const bad = await inject({
      method: 'POST',
      url: `/digitaltwins/room-1/telemetry${V}`,
      payload: Buffer.from([0xff, 0xfe, 0x00]),
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.statusCode).toBe(400);
    const dl = await inject({ method: 'GET', url: '/deadletters?limit=5' });
    const newest = dl.json().value[0];
    expect(newest.payloadEncoding).toBe('base64');
    expect(Buffer.from(newest.payload, 'base64')).toEqual(Buffer.from([0xff, 0xfe, 0x00]));
    const unknown = await inject({
      method: 'POST',
      url: `/digitaltwins/ghost/telemetry${V}`,
      ...json({ humidity: 1 }),
    });
    expect(unknown.statusCode).toBe(404);
  });

  it('bulk NDJSON telemetry returns counts and per-line outcomes', async () => {
    const body = ['{"$dtId":"room-1","humidity":50}', 'not json', '{"$dtId":"ghost","humidity":1}'].join(
      '\n',
    );
    const r = await inject({
      method: 'POST',
      url: '/telemetry/bulk',
      payload: body,
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ acceptedLines: 1, deadLettered: 2 });
    expect(r.json().lines.map((l: { ok: boolean }) => l.ok)).toEqual([true, false, false]);
  });

  it('decommissions and deletes models over HTTP', async () => {
    const dec = await inject({
      method: 'PATCH',
      url: `/models/${encodeURIComponent('dtmi:test:Thermostat;1')}${V}`,
      ...json([{ op: 'replace', path: '/decommissioned', value: true }]),
    });
    expect(dec.statusCode).toBe(204);
    expect(
      (
        await inject({ method: 'GET', url: `/models/${encodeURIComponent('dtmi:test:Thermostat;1')}${V}` })
      ).json().decommissioned,
    ).toBe(true);
    const inUse = await inject({
      method: 'DELETE',
      url: `/models/${encodeURIComponent('dtmi:test:Space;1')}${V}`,
    });
    expect(inUse.statusCode).toBe(409);
  });

  it('serves /healthz, /metrics with HTTP metrics, /openapi.json and /docs', async () => {
    expect((await inject({ method: 'GET', url: '/healthz' })).json()).toMatchObject({
      status: 'ok',
      models: 4,
    });
    const m = await inject({ method: 'GET', url: '/metrics' });
    expect(m.body).toMatch(
      /twinloop_http_requests_total\{method="PUT",route="\/digitaltwins\/:id",status="200"\}/,
    );
    const api = (await inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(api.openapi).toMatch(/^3\./);
    expect(Object.keys(api.paths)).toEqual(
      expect.arrayContaining(['/models', '/digitaltwins/{id}', '/query', '/digitaltwins/{id}/history']),
    );
    expect((await inject({ method: 'GET', url: '/docs/' })).statusCode).toBe(200);
    expect((await inject({ method: 'GET', url: '/nope' })).json().error.code).toBe('NotFound');
  });
});

describe('HTTP security and limits', () => {
  it('needs the bearer token everywhere but /healthz; enforces the body limit', async () => {
    const s = await startTestServer({ token: 's3cret', bodyLimit: 1024 });
    try {
      const app = s.http.app;
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      const no = await app.inject({ method: 'GET', url: `/models${V}` });
      expect(no.statusCode).toBe(401);
      expect(no.headers['www-authenticate']).toBe('Bearer');
      expect(
        (await app.inject({ method: 'GET', url: `/models${V}`, headers: { authorization: 'Bearer wrong' } }))
          .statusCode,
      ).toBe(401);
      expect(
        (await app.inject({ method: 'GET', url: `/models${V}`, headers: { authorization: 'Bearer s3cret' } }))
          .statusCode,
      ).toBe(200);
      const big = await app.inject({
        method: 'POST',
        url: `/models${V}`,
        payload: JSON.stringify([{ x: 'a'.repeat(2000) }]),
        headers: { authorization: 'Bearer s3cret', 'content-type': 'application/json' },
      });
      expect(big.statusCode).toBe(413);
      expect(big.json().error.code).toBe('PayloadTooLarge');
    } finally {
      await s.close();
    }
  });

  it('listens on an OS port and turns a busy port into PortInUse with advice', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    const s = await startTestServer({ port });
    const ok = await startTestServer();
    try {
      const err = await s.http.listen().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TwinloopError);
      expect((err as TwinloopError).code).toBe('PortInUse');
      expect((err as TwinloopError).message).toMatch(new RegExp(`${port}.*--http-port.*TWINLOOP_HTTP_PORT`));
      const { url, port: p } = await ok.http.listen();
      expect(p).toBeGreaterThan(0);
      const res = await fetch(`${url}/healthz`);
      expect(res.status).toBe(200);
    } finally {
      blocker.close();
      await s.close();
      await ok.close();
    }
  });
});
