/**
 * ADT data-plane parity, raw HTTP (as the .NET and Python SDKs and curl call it): api-versions,
 * ADT's error codes and body, over-long ids, sourceTime, moving a twin to another model, model
 * deletion, and telemetry bodies as ADT takes them. One behaviour per test, each from the spec.
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_MODELS } from '../../../test/adt-sdk/workspace-fixture.js';
import { startTestServer, type TestServer } from '../../../test/adt-sdk/http-fixture.js';

const V = '?api-version=2023-10-31';
const ROOM = 'dtmi:test:Room;1';
const json = (body: unknown, headers: Record<string, string> = {}) => ({
  payload: JSON.stringify(body),
  headers: { 'content-type': 'application/json', ...headers },
});
const patch = (body: unknown, headers: Record<string, string> = {}) => ({
  payload: JSON.stringify(body),
  headers: { 'content-type': 'application/json-patch+json', ...headers },
});

interface ErrorBody {
  error: {
    code: string;
    message: string;
    innererror?: { code: string };
    details?: { code: string; pointer?: string }[];
  };
}

/** ADT's error answer: status, x-ms-error-code equal to error.code, the ErrorResponse shape. */
function adtError(r: LightMyRequestResponse, status: number, code: string): ErrorBody['error'] {
  expect(r.statusCode).toBe(status);
  expect(r.headers['x-ms-error-code']).toBe(code);
  const body = r.json<ErrorBody>();
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  return body.error;
}

describe('ADT data-plane parity over raw HTTP', () => {
  let s: TestServer;
  const inject = (o: InjectOptions) => s.http.app.inject(o);
  beforeAll(async () => {
    s = await startTestServer();
    expect((await inject({ method: 'POST', url: `/models${V}`, ...json(ALL_MODELS) })).statusCode).toBe(201);
    for (const id of ['room-1', 'room-2']) {
      const r = await inject({
        method: 'PUT',
        url: `/digitaltwins/${id}${V}`,
        ...json({ $metadata: { $model: ROOM }, temperature: 20, thermostat: { $metadata: {} } }),
      });
      expect(r.statusCode).toBe(200);
    }
    const sensor = await inject({
      method: 'PUT',
      url: `/digitaltwins/sensor-1${V}`,
      ...json({ $metadata: { $model: 'dtmi:test:Sensor;1' }, kind: 'co2' }),
    });
    expect(sensor.statusCode).toBe(200);
  });
  afterAll(async () => s.close());

  it('takes all four GA api-versions; another is 400 InvalidArgument (innererror UnsupportedApiVersion)', async () => {
    for (const v of ['2020-10-31', '2022-05-31', '2023-06-30', '2023-10-31']) {
      const r = await inject({ method: 'GET', url: `/digitaltwins/room-1?api-version=${v}` });
      expect(r.statusCode, v).toBe(200);
    }
    const bad = adtError(
      await inject({ method: 'GET', url: '/digitaltwins/room-1?api-version=2021-06-30-preview' }),
      400,
      'InvalidArgument',
    );
    expect(bad.innererror).toEqual({ code: 'UnsupportedApiVersion' });
    expect(bad.message).toContain('2020-10-31, 2022-05-31, 2023-06-30, 2023-10-31');
  });

  it('accepts traceparent and tracestate on every operation', async () => {
    const r = await inject({
      method: 'GET',
      url: `/digitaltwins/room-1${V}`,
      headers: {
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        tracestate: 'rojo=00f067aa0ba902b7',
      },
    });
    expect(r.statusCode).toBe(200);
    expect(r.headers.etag).toMatch(/^W\/"/);
  });

  it('a 5 KB twin id is 400 InvalidArgument in ADT body shape, without echoing the id', async () => {
    const huge = 'a'.repeat(5000);
    for (const method of ['GET', 'PUT', 'DELETE'] as const) {
      const r = await inject({ method, url: `/digitaltwins/${huge}${V}`, ...json({}) });
      adtError(r, 400, 'InvalidArgument');
      expect(r.body.length).toBeLessThan(600);
      expect(r.body).not.toContain('a'.repeat(200));
    }
    // A 2000-character id reaches the service: too long to create, and never echoed whole.
    const long = 'b'.repeat(2000);
    const put = await inject({
      method: 'PUT',
      url: `/digitaltwins/${long}${V}`,
      ...json({ $metadata: { $model: ROOM }, thermostat: { $metadata: {} } }),
    });
    expect(adtError(put, 400, 'InvalidArgument').message).toMatch(/1 to 1024 characters/);
    const get = await inject({ method: 'GET', url: `/digitaltwins/${long}${V}` });
    adtError(get, 404, 'DigitalTwinNotFound');
    expect(get.body.length).toBeLessThan(600);
    const badUrl = await inject({ method: 'GET', url: `/digitaltwins/%E0%A4%A${V}` });
    adtError(badUrl, 400, 'InvalidArgument');
  });

  it('a relationship to a missing twin is 404 TargetTwinNotFound; to itself 400 OperationNotAllowed', async () => {
    const missing = await inject({
      method: 'PUT',
      url: `/digitaltwins/room-1/relationships/r-ghost${V}`,
      ...json({ $targetId: 'ghost', $relationshipName: 'contains' }),
    });
    expect(adtError(missing, 404, 'TargetTwinNotFound').details?.[0]?.pointer).toBe('/$targetId');
    const self = await inject({
      method: 'PUT',
      url: `/digitaltwins/room-1/relationships/r-self${V}`,
      ...json({ $targetId: 'room-1', $relationshipName: 'adjacentTo' }),
    });
    adtError(self, 400, 'OperationNotAllowed');
    const noSource = await inject({
      method: 'PUT',
      url: `/digitaltwins/ghost/relationships/r1${V}`,
      ...json({ $targetId: 'room-1', $relationshipName: 'contains' }),
    });
    adtError(noSource, 404, 'DigitalTwinNotFound');
  });

  it('PUT If-None-Match: * on an existing relationship is 412; PATCH answers 204 with the new ETag', async () => {
    const body = json({ $targetId: 'sensor-1', $relationshipName: 'contains' });
    const first = await inject({ method: 'PUT', url: `/digitaltwins/room-2/relationships/c1${V}`, ...body });
    expect(first.statusCode).toBe(200);
    const again = await inject({
      method: 'PUT',
      url: `/digitaltwins/room-2/relationships/c1${V}`,
      ...json({ $targetId: 'sensor-1', $relationshipName: 'contains' }, { 'if-none-match': '*' }),
    });
    adtError(again, 412, 'PreconditionFailed');
    const p = await inject({
      method: 'PATCH',
      url: `/digitaltwins/room-2/relationships/c1${V}`,
      ...patch([{ op: 'add', path: '/since', value: '2024' }], { 'if-match': first.headers.etag as string }),
    });
    expect(p.statusCode).toBe(204);
    expect(p.headers.etag).toMatch(/^W\/"/);
    expect(p.headers.etag).not.toBe(first.headers.etag);
    const del = await inject({ method: 'DELETE', url: `/digitaltwins/room-2/relationships/c1${V}` });
    expect(del.statusCode).toBe(204);
  });

  it('sourceTime: set by PUT and by JSON Patch (twin and component), returned in the twin and the component', async () => {
    const ns = '2022-05-31T12:00:01.000125009Z';
    const put = await inject({
      method: 'PUT',
      url: `/digitaltwins/room-st${V}`,
      ...json({
        $metadata: { $model: ROOM, temperature: { sourceTime: ns } },
        temperature: 21,
        thermostat: { $metadata: {} },
      }),
    });
    expect(put.statusCode).toBe(200);
    expect(put.json().$metadata.temperature.sourceTime).toBe(ns);
    const p = await inject({
      method: 'PATCH',
      url: `/digitaltwins/room-st/components/thermostat${V}`,
      ...patch([
        { op: 'add', path: '/setPoint', value: 19.5 },
        { op: 'replace', path: '/$metadata/setPoint/sourceTime', value: '2024-03-01T10:00:00Z' },
      ]),
    });
    expect(p.statusCode).toBe(204);
    const comp = await inject({ method: 'GET', url: `/digitaltwins/room-st/components/thermostat${V}` });
    expect(comp.json().$metadata.setPoint).toMatchObject({ sourceTime: '2024-03-01T10:00:00Z' });
    expect(typeof comp.json().$metadata.setPoint.lastUpdateTime).toBe('string');
    const twin = await inject({ method: 'GET', url: `/digitaltwins/room-st${V}` });
    expect(twin.json().$metadata.temperature.sourceTime).toBe(ns);
    expect(twin.json().thermostat.$metadata.setPoint.sourceTime).toBe('2024-03-01T10:00:00Z');
    // A twin as GET answers it can be PUT back as it is (read-only metadata is ignored).
    const back = await inject({ method: 'PUT', url: `/digitaltwins/room-st${V}`, ...json(twin.json()) });
    expect(back.statusCode).toBe(200);
    expect(back.json().$metadata.temperature.sourceTime).toBe(ns);
    expect(back.json().thermostat.$metadata.setPoint.sourceTime).toBe('2024-03-01T10:00:00Z');
    const bad = await inject({
      method: 'PATCH',
      url: `/digitaltwins/room-st${V}`,
      ...patch([{ op: 'replace', path: '/$metadata/temperature/sourceTime', value: 'noon' }]),
    });
    expect(adtError(bad, 400, 'JsonPatchInvalid').details?.[0]?.pointer).toBe('/0/value');
    const q = await inject({
      method: 'POST',
      url: `/query${V}`,
      ...json({
        query:
          "SELECT T.$metadata.temperature.sourceTime AS st FROM DIGITALTWINS T WHERE T.$dtId = 'room-st'",
      }),
    });
    expect(q.json().value).toEqual([{ st: ns }]);
  });

  it('PATCH /$metadata/$model moves a twin to another model (204); the twin must fit the new model', async () => {
    const bad = await inject({
      method: 'PATCH',
      url: `/digitaltwins/room-2${V}`,
      ...patch([{ op: 'replace', path: '/$metadata/$model', value: 'dtmi:test:Space;1' }]),
    });
    expect(
      adtError(bad, 400, 'ValidationFailed')
        .details?.map((d) => d.pointer)
        .sort(),
    ).toEqual(['/temperature', '/thermostat']);
    const ok = await inject({
      method: 'PATCH',
      url: `/digitaltwins/room-2${V}`,
      ...patch([
        { op: 'replace', path: '/$metadata/$model', value: 'dtmi:test:Space;1' },
        { op: 'remove', path: '/temperature' },
        { op: 'remove', path: '/thermostat' },
        { op: 'add', path: '/area', value: 12 },
      ]),
    });
    expect(ok.statusCode).toBe(204);
    const got = await inject({ method: 'GET', url: `/digitaltwins/room-2${V}` });
    expect(got.json().$metadata.$model).toBe('dtmi:test:Space;1');
    expect(got.json().area).toBe(12);
    expect(got.headers.etag).toBe(ok.headers.etag);
  });

  it('models whose relationships target each other can be deleted; an extended one is 409 ModelReferencesNotDeleted', async () => {
    const a = {
      '@context': 'dtmi:dtdl:context;3',
      '@id': 'dtmi:test:Left;1',
      '@type': 'Interface',
      contents: [{ '@type': 'Relationship', name: 'right', target: 'dtmi:test:Right;1' }],
    };
    const b = {
      ...a,
      '@id': 'dtmi:test:Right;1',
      contents: [{ '@type': 'Relationship', name: 'left', target: 'dtmi:test:Left;1' }],
    };
    expect((await inject({ method: 'POST', url: `/models${V}`, ...json([a, b]) })).statusCode).toBe(201);
    for (const id of ['dtmi:test:Left;1', 'dtmi:test:Right;1']) {
      const r = await inject({ method: 'DELETE', url: `/models/${encodeURIComponent(id)}${V}` });
      expect(r.statusCode, id).toBe(204);
    }
    const used = await inject({
      method: 'DELETE',
      url: `/models/${encodeURIComponent('dtmi:test:Space;1')}${V}`,
    });
    adtError(used, 409, 'ModelReferencesNotDeleted');
  });
});

describe('ADT telemetry routes take what ADT takes', () => {
  let s: TestServer;
  const inject = (o: InjectOptions) => s.http.app.inject(o);
  const T = Date.UTC(2024, 4, 1, 12, 0, 0);
  const send = (body: string | Buffer, headers: Record<string, string> = {}, path = 'room-1') =>
    inject({
      method: 'POST',
      url: `/digitaltwins/${path}/telemetry${V}`,
      payload: body,
      headers: { 'content-type': 'application/json', ...headers },
    });
  const history = async (path: string) =>
    (
      await inject({
        method: 'GET',
        url: `/digitaltwins/room-1/history?path=${path}&from=${T - 1}&to=${T + 3_600_000}`,
      })
    )
      .json<{ value: { value: unknown }[] }>()
      .value.map((p) => p.value);
  const newestLetter = async () =>
    (await inject({ method: 'GET', url: '/deadletters?limit=1' })).json<{
      value: { code: string; reason: string; problems?: { pointer?: string; code: string }[] }[];
    }>().value[0];
  const at = (i: number) => ({ 'telemetry-source-time': new Date(T + i * 1000).toISOString() });

  beforeAll(async () => {
    s = await startTestServer();
    expect((await inject({ method: 'POST', url: `/models${V}`, ...json(ALL_MODELS) })).statusCode).toBe(201);
    const r = await inject({
      method: 'PUT',
      url: `/digitaltwins/room-1${V}`,
      ...json({ $metadata: { $model: ROOM }, thermostat: { $metadata: {} } }),
    });
    expect(r.statusCode).toBe(200);
  });
  afterAll(async () => s.close());

  it('a body that is a JSON string holding JSON (the SDK samples) is read and stored', async () => {
    const r = await send(JSON.stringify(JSON.stringify({ humidity: 41 })), { 'message-id': 'm1', ...at(1) });
    expect(r.statusCode).toBe(204);
    expect(r.headers['twinloop-warning']).toBeUndefined();
    expect(await history('humidity')).toEqual([41]);
  });

  it('fields outside the model answer 204; the valid ones are stored, the rest kept as a dead letter with the reason', async () => {
    const before = (await inject({ method: 'GET', url: '/deadletters?limit=1' })).json<{
      value: unknown[];
    }>();
    const r = await send(JSON.stringify({ humidity: 42, vibration: 3, temperature: 'x' }), at(2));
    expect(r.statusCode).toBe(204);
    // ADT clients see a plain 204; Twinloop's CLI reads what was not stored from this header.
    expect(r.headers['twinloop-warning']).toMatch(/^InvalidTelemetry: 2 value\(s\) not stored, 1 stored/);
    expect(await history('humidity')).toEqual([41, 42]);
    const letter = await newestLetter();
    expect(letter).not.toEqual(before.value[0]);
    expect(letter?.code).toBe('InvalidTelemetry');
    expect(letter?.reason).toMatch(/2 value\(s\) not stored, 1 stored/);
    expect(letter?.problems?.map((p) => p.pointer).sort()).toEqual(['/temperature', '/vibration']);
  });

  it('a resend with the same Message-Id and Telemetry-Source-Time stores nothing twice', async () => {
    const h = { 'message-id': 'm-dup', ...at(3) };
    expect((await send(JSON.stringify({ humidity: 43 }), h)).statusCode).toBe(204);
    expect((await send(JSON.stringify({ humidity: 43 }), h)).statusCode).toBe(204);
    expect(await history('humidity')).toEqual([41, 42, 43]);
  });

  it('component telemetry takes a string body too; an unknown component is 404 ComponentNotFound, an unknown twin 404 DigitalTwinNotFound', async () => {
    const ok = await inject({
      method: 'POST',
      url: `/digitaltwins/room-1/components/thermostat/telemetry${V}`,
      payload: JSON.stringify(JSON.stringify({ anything: 1 })),
      headers: { 'content-type': 'application/json', 'message-id': 'c1' },
    });
    expect(ok.statusCode).toBe(204);
    expect((await newestLetter())?.problems?.[0]?.pointer).toBe('/anything');
    const noComp = await inject({
      method: 'POST',
      url: `/digitaltwins/room-1/components/nope/telemetry${V}`,
      ...json({ a: 1 }),
    });
    adtError(noComp, 404, 'ComponentNotFound');
    adtError(await send(JSON.stringify({ humidity: 1 }), {}, 'ghost'), 404, 'DigitalTwinNotFound');
  });

  it('hostile bodies: nested strings and non-objects are 204 + dead letter; bad UTF-8, __proto__, 10k-deep and huge are refused', async () => {
    const nested = await send(JSON.stringify(JSON.stringify(JSON.stringify({ humidity: 1 }))));
    expect(nested.statusCode).toBe(204);
    expect((await newestLetter())?.problems?.[0]?.code).toBe('payload.shape');
    expect((await send('"not json inside"')).statusCode).toBe(204);
    expect((await newestLetter())?.reason).toMatch(/holds no JSON object/);
    expect((await send('12')).statusCode).toBe(204);
    expect((await send(JSON.stringify({ $dtId: 'other', humidity: 44 }), at(4))).statusCode).toBe(204);
    expect((await newestLetter())?.problems?.[0]?.pointer).toBe('/$dtId');

    const utf8 = adtError(await send(Buffer.from([0x22, 0xff, 0xfe, 0x22])), 400, 'ValidationFailed');
    expect(utf8.innererror).toEqual({ code: 'InvalidTelemetry' });
    const proto = await send(JSON.stringify('{"__proto__": {"humidity": 1}}'));
    adtError(proto, 400, 'ValidationFailed');
    const deep = await send(JSON.stringify('['.repeat(10_000) + ']'.repeat(10_000)));
    adtError(deep, 400, 'ValidationFailed');
    const huge = await send(JSON.stringify(JSON.stringify({ humidity: 'x'.repeat(300_000) })));
    adtError(huge, 413, 'PayloadTooLarge');
    expect(huge.body.length).toBeLessThan(1000);
    const syntax = await send('{"humidity": ');
    adtError(syntax, 400, 'ValidationFailed');
    expect(await history('humidity')).toEqual([41, 42, 43, 44]);
  });

  it('wrong content type is 415, a cross-site request 403, a bad Telemetry-Source-Time 400 InvalidArgument', async () => {
    const text = await inject({
      method: 'POST',
      url: `/digitaltwins/room-1/telemetry${V}`,
      payload: '{"humidity": 1}',
      headers: { 'content-type': 'text/plain' },
    });
    adtError(text, 415, 'UnsupportedMediaType');
    const cross = await send('{"humidity": 1}', { origin: 'https://evil.example' });
    adtError(cross, 403, 'OriginNotAllowed');
    adtError(await send('{"humidity": 1}', { 'telemetry-source-time': 'soon' }), 400, 'InvalidArgument');
  });
});
