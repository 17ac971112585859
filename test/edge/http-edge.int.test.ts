// The HTTP edge over a real listening server and raw TCP: content types (415), Host (421), Origin
// and Sec-Fetch-Site (403), CORS only when configured, untrusted JSON bodies (deep, 1e999, bad
// UTF-8, hostile keys → 400 with a pointer; huge → 413), and every 500 logged with its request id.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { ALL_MODELS } from '../adt-sdk/workspace-fixture.js';
import { startTestServer, type TestServer } from '../adt-sdk/http-fixture.js';
import { rawRequest, type RawResponse } from './raw-http.js';

const ROOM = 'dtmi:test:Room;1';
const TOKEN = 'edge-test-token';
const AUTH: [string, string] = ['Authorization', `Bearer ${TOKEN}`];
const JSON_CT: [string, string] = ['Content-Type', 'application/json'];

const logLines: Record<string, unknown>[] = [];
let s: TestServer;
let port: number;
let withCors: TestServer;
let corsPort: number;

async function listen(t: TestServer): Promise<number> {
  return (await t.http.listen()).port;
}

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n'))
        if (l.trim()) logLines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const boom = async (app: FastifyInstance): Promise<void> => {
    app.get('/boom', async () => {
      throw new Error('the disk caught fire');
    });
  };
  s = await startTestServer({
    host: '127.0.0.1',
    allowedHosts: ['twins.lan', 'proxy.lan:8443'],
    loggerInstance: pino({ level: 'info' }, sink),
    plugins: [boom],
  });
  port = await listen(s);
  await s.w.models.add(ALL_MODELS);
  await s.w.twins.createOrReplace('r1', { $metadata: { $model: ROOM }, thermostat: { $metadata: {} } });
  withCors = await startTestServer({ token: TOKEN, corsOrigins: ['http://app.example:5173'] });
  corsPort = await listen(withCors);
}, 30_000);

afterAll(async () => {
  await s.close();
  await withCors.close();
});

const code = (r: RawResponse): string | undefined => r.headers['x-ms-error-code'];
const errorOf = (r: RawResponse) =>
  (
    JSON.parse(r.body) as {
      error: {
        code: string;
        message: string;
        requestId?: string;
        details?: { code: string; pointer?: string }[];
      };
    }
  ).error;

describe('content types', () => {
  const post = (type: string | undefined, body = '[]', path = '/models') =>
    rawRequest(port, 'POST', path, type === undefined ? [] : [['Content-Type', type]], body);

  it.each([
    'text/plain',
    'text/plain;charset=UTF-8',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/xml',
    'application/x-ndjson',
    'application/json; charset=iso-8859-1',
    'application/jsonx',
  ])('refuses %s with 415 UnsupportedMediaType (a CSRF "simple request")', async (type) => {
    const r = await post(type);
    expect(r.status).toBe(415);
    expect(code(r)).toBe('UnsupportedMediaType');
    expect(errorOf(r).message).toMatch(/application\/json/);
  });

  it('refuses a body without a Content-Type (415), and a chunked one too', async () => {
    expect((await post(undefined)).status).toBe(415);
    const chunked = await rawRequest(
      port,
      'POST',
      '/models',
      [['Transfer-Encoding', 'chunked']],
      '2\r\n[]\r\n0\r\n\r\n',
    );
    expect(chunked.status).toBe(415);
  });

  it("accepts application/json with or without charset, and ADT's json-patch+json on PATCH", async () => {
    expect(
      (await post('application/json; charset=utf-8', '{"query":"SELECT * FROM digitaltwins"}', '/query'))
        .status,
    ).toBe(200);
    expect((await post('Application/JSON', '{"query":"SELECT * FROM digitaltwins"}', '/query')).status).toBe(
      200,
    );
    const patch = await rawRequest(
      port,
      'PATCH',
      '/digitaltwins/r1',
      [['Content-Type', 'application/json-patch+json']],
      '[{"op":"add","path":"/temperature","value":21}]',
    );
    expect(patch.status).toBe(204);
  });

  it('takes NDJSON on POST /telemetry/bulk only', async () => {
    for (const t of ['application/x-ndjson', 'application/ndjson']) {
      const r = await post(t, '{"$dtId":"r1","humidity":40}\n', '/telemetry/bulk');
      expect(r.status).toBe(200);
    }
    expect((await post('text/csv', '{"$dtId":"r1","humidity":40}\n', '/telemetry/bulk')).status).toBe(415);
    expect((await post('application/x-ndjson', '{}', '/digitaltwins/r1/telemetry')).status).toBe(415);
  });

  it('a bodyless POST/DELETE needs no Content-Type', async () => {
    const r = await rawRequest(port, 'DELETE', '/digitaltwins/nobody');
    expect(r.status).toBe(404);
  });
});

describe('untrusted JSON bodies', () => {
  it('answers 400 (not a 500 stack overflow) to 10k-deep JSON, valid or not', async () => {
    for (const body of [
      '['.repeat(10_000) + ']'.repeat(10_000),
      '{"a":' + '['.repeat(10_000),
      '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000),
    ]) {
      const r = await rawRequest(port, 'POST', '/models', [JSON_CT], body);
      expect(r.status).toBe(400);
      expect(code(r)).toBe('BadRequest');
    }
    const r = await rawRequest(
      port,
      'PUT',
      '/digitaltwins/r9',
      [JSON_CT],
      '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000),
    );
    expect(errorOf(r).details?.[0]).toMatchObject({ code: 'json.depth' });
  });

  it('says "number out of range at /x" for 1e999', async () => {
    const r = await rawRequest(
      port,
      'PUT',
      '/digitaltwins/r1',
      [JSON_CT],
      `{"$metadata":{"$model":"${ROOM}"},"thermostat":{"$metadata":{}},"temperature":1e999}`,
    );
    expect(r.status).toBe(400);
    expect(errorOf(r).message).toMatch(/^Number out of range at \/temperature/);
    expect(errorOf(r).details?.[0]).toMatchObject({ code: 'json.number.range', pointer: '/temperature' });
  });

  it('refuses bytes that are not UTF-8 with a clear 400', async () => {
    const r = await rawRequest(
      port,
      'POST',
      '/query',
      [JSON_CT],
      Buffer.from([0x7b, 0x22, 0x71, 0xff, 0x22, 0x7d]),
    );
    expect(r.status).toBe(400);
    expect(errorOf(r).message).toBe('The request body is not valid UTF-8 text (bad byte at offset 3).');
  });

  it('refuses __proto__ in a body with its pointer, and a patch through /__proto__', async () => {
    const put = await rawRequest(
      port,
      'PUT',
      '/digitaltwins/r1',
      [JSON_CT],
      `{"$metadata":{"$model":"${ROOM}"},"thermostat":{"$metadata":{},"__proto__":{"setPoint":99}}}`,
    );
    expect(put.status).toBe(400);
    expect(errorOf(put).details?.[0]).toMatchObject({
      code: 'json.key.forbidden',
      pointer: '/thermostat/__proto__',
    });
    const patch = await rawRequest(
      port,
      'PATCH',
      '/digitaltwins/r1',
      [['Content-Type', 'application/json-patch+json']],
      '[{"op":"add","path":"/__proto__","value":{"temperature":"hot"}}]',
    );
    expect(patch.status).toBe(400);
    expect(code(patch)).toBe('JsonPatchInvalid');
  });

  it('treats __proto__ and constructor as ordinary ids in URLs (ids are data, not keys)', async () => {
    for (const id of ['__proto__', 'constructor', 'prototype']) {
      const put = await rawRequest(
        port,
        'PUT',
        `/digitaltwins/${id}`,
        [JSON_CT],
        `{"$metadata":{"$model":"${ROOM}"},"thermostat":{"$metadata":{}},"temperature":20}`,
      );
      expect(put.status).toBe(200);
      const get = await rawRequest(port, 'GET', `/digitaltwins/${id}`);
      expect(JSON.parse(get.body)).toMatchObject({ $dtId: id, temperature: 20 });
      expect((await rawRequest(port, 'GET', `/digitaltwins/r1/components/${id}`)).status).toBe(404);
      expect((await rawRequest(port, 'DELETE', `/digitaltwins/${id}`)).status).toBe(204);
    }
    expect(s.w.graph.getTwin('r1')).toBeDefined();
  });

  it('says where a syntax error is', async () => {
    const r = await rawRequest(port, 'POST', '/query', [JSON_CT], '{\n  "query": "x",\n  oops\n}');
    expect(r.status).toBe(400);
    expect(errorOf(r).message).toMatch(/Malformed JSON at 3:3/);
  });

  it('keeps 413 for bodies over the limit', async () => {
    const r = await rawRequest(port, 'POST', '/models', [JSON_CT], `["${'x'.repeat(17 * 1024 * 1024)}"]`);
    expect(r.status).toBe(413);
    expect(code(r)).toBe('PayloadTooLarge');
  });
});

describe('Host (DNS rebinding)', () => {
  it.each(['127.0.0.1', 'localhost', '[::1]', 'LOCALHOST', 'twins.lan', 'twins.lan:1234', 'proxy.lan:8443'])(
    'answers Host %s',
    async (name) => {
      const host = /:\d+$/.test(name) || name.startsWith('twins.lan') ? name : `${name}:${port}`;
      const r = await rawRequest(port, 'GET', '/healthz', [['Host', host]]);
      expect(r.status).toBe(200);
    },
  );

  it.each([
    'evil.example',
    'evil.example:PORT',
    'localhost.evil.example:PORT',
    '127.0.0.1.nip.io:PORT',
    'localhost:1',
    'proxy.lan:9999',
    'proxy.lan',
    '',
    'a b',
  ])('refuses Host %j with 421 HostNotAllowed, /healthz and writes alike', async (name) => {
    const host = name.replace('PORT', String(port));
    for (const [method, path, body] of [
      ['GET', '/healthz', undefined],
      ['POST', '/models', '[]'],
    ] as const) {
      const r = await rawRequest(port, method, path, [['Host', host], JSON_CT], body);
      expect(r.status).toBe(421);
      expect(code(r)).toBe('HostNotAllowed');
    }
  });
});

describe('Origin (cross-site writes)', () => {
  const write = (headers: [string, string][], p = port) =>
    rawRequest(p, 'POST', '/query', [JSON_CT, ...headers], '{"query":"SELECT * FROM digitaltwins"}');

  it('refuses a cross-origin write, Origin: null and Sec-Fetch-Site: cross-site with 403 OriginNotAllowed', async () => {
    for (const h of [
      [['Origin', 'http://evil.example']],
      [['Origin', 'null']],
      [['Origin', `http://localhost:${port + 1}`]],
      [['Origin', `https://127.0.0.1:${port}`]],
      [['Sec-Fetch-Site', 'cross-site']],
    ] as [string, string][][]) {
      const r = await write(h);
      expect(r.status, JSON.stringify(h)).toBe(403);
      expect(code(r)).toBe('OriginNotAllowed');
    }
    const del = await rawRequest(port, 'DELETE', '/digitaltwins/r1', [['Origin', 'http://evil.example']]);
    expect(del.status).toBe(403);
    expect(s.w.graph.getTwin('r1')).toBeDefined();
  });

  it('accepts same-origin writes and clients that send no Origin', async () => {
    expect((await write([['Origin', `http://127.0.0.1:${port}`]])).status).toBe(200);
    expect((await write([['Sec-Fetch-Site', 'same-origin']])).status).toBe(200);
    expect((await write([])).status).toBe(200);
  });

  it('sends no CORS headers when no origin is configured', async () => {
    const r = await rawRequest(port, 'GET', '/healthz', [['Origin', 'http://app.example:5173']]);
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('with --cors-origin: that origin may write and read (CORS headers, preflight without a token); others may not', async () => {
    const origin = 'http://app.example:5173';
    const pre = await rawRequest(corsPort, 'OPTIONS', '/query', [
      ['Origin', origin],
      ['Access-Control-Request-Method', 'POST'],
      ['Access-Control-Request-Headers', 'authorization, content-type'],
    ]);
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(origin);
    const ok = await write([['Origin', origin], AUTH], corsPort);
    expect(ok.status).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe(origin);
    const noToken = await write([['Origin', origin]], corsPort);
    expect(noToken.status).toBe(401);
    const evil = await write([['Origin', 'http://evil.example'], AUTH], corsPort);
    expect(evil.status).toBe(403);
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    const evilPre = await rawRequest(corsPort, 'OPTIONS', '/query', [
      ['Origin', 'http://evil.example'],
      ['Access-Control-Request-Method', 'POST'],
    ]);
    expect(evilPre.status).toBe(401);
  });
});

describe('500s', () => {
  it('are logged with their request id, which the response carries (header and body)', async () => {
    const r = await rawRequest(port, 'GET', '/boom');
    expect(r.status).toBe(500);
    expect(code(r)).toBe('InternalError');
    const id = r.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(errorOf(r).requestId).toBe(id);
    expect(r.body).not.toMatch(/disk caught fire/);
    const line = logLines.find((l) => l.requestId === id);
    expect(line).toMatchObject({ level: 50, reqId: id, code: 'InternalError', url: '/boom' });
    expect(JSON.stringify(line)).toMatch(/the disk caught fire/);
  });

  it('4xx answers carry the request id too, and are not logged as errors', async () => {
    const r = await rawRequest(port, 'GET', '/digitaltwins/nobody');
    expect(r.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(logLines.find((l) => l.reqId === r.headers['x-request-id'])).toBeUndefined();
  });
});
