// Fuzz of the HTTP routes that parse input, over a real listening server: hostile keys at any depth,
// 10k-deep JSON, 1e999, bad UTF-8, random bytes, bad timestamps, odd content types. No crash, every
// refusal a catalogued code (never InternalError), and telemetry answered 204 is in history.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ERROR_STATUS } from '../../src/core/errors/errors.js';
import { ALL_MODELS } from '../adt-sdk/workspace-fixture.js';
import { startTestServer, type TestServer } from '../adt-sdk/http-fixture.js';
import { rawRequest } from './raw-http.js';

const ROOM = 'dtmi:test:Room;1';
let s: TestServer;
let port: number;

beforeAll(async () => {
  s = await startTestServer();
  port = (await s.http.listen()).port;
  await s.w.models.add(ALL_MODELS);
  await s.w.twins.createOrReplace('r1', { $metadata: { $model: ROOM }, thermostat: { $metadata: {} } });
  await s.w.twins.createOrReplace('s1', { $metadata: { $model: 'dtmi:test:Sensor;1' } });
});

afterAll(async () => s.close());

const hostileKey = fc.constantFrom('__proto__', 'constructor', 'prototype');
const name = fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,6}$/);

/** JSON text with a hostile key planted at a random depth of a random JSON value. */
const hostileJson = fc
  .tuple(fc.array(name, { maxLength: 5 }), hostileKey, fc.jsonValue({ maxDepth: 2 }))
  .map(([path, key, leaf]) => {
    let inner = `{"${key}":${JSON.stringify(leaf)}}`;
    for (let i = path.length - 1; i >= 0; i--) inner = `{"${path[i]}":${inner}}`;
    return inner;
  });

const deepJson = fc
  .tuple(fc.integer({ min: 100, max: 12_000 }), fc.boolean(), fc.constantFrom('[', '{"a":'))
  .map(([d, closed, open]) => open.repeat(d) + '1' + (closed ? (open === '[' ? ']' : '}').repeat(d) : ''));

const bodies: fc.Arbitrary<string | Buffer> = fc.oneof(
  hostileJson,
  hostileJson.map((h) => `[${h}]`),
  hostileJson.map((h) => `[{"op":"add","path":"/info","value":${h}}]`),
  fc.tuple(name, hostileKey).map(([a, k]) => `[{"op":"add","path":"/${a}/${k}","value":1}]`),
  hostileJson.map((h) => `{"$metadata":{"$model":"${ROOM}"},"thermostat":{"$metadata":{}},${h.slice(1)}`),
  hostileJson.map((h) => `{"$targetId":"s1","$relationshipName":"contains",${h.slice(1)}`),
  deepJson,
  fc.constantFrom('{"temperature":1e999}', '[1e999]', '{"query":1e999}', '{"humidity":-1e400}'),
  fc
    .oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom('2026-13-40T00:00:00Z', '1e999', 'null'),
      fc.double(),
    )
    .map(
      (ts) =>
        `{"$ts":${typeof ts === 'string' && ts !== '1e999' && ts !== 'null' ? JSON.stringify(ts) : String(ts)},"humidity":1}`,
    ),
  fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b)),
  fc
    .uint8Array({ maxLength: 40 })
    .map((b) => Buffer.concat([Buffer.from('{"query":"'), Buffer.from([0xc3, ...b]), Buffer.from('"}')])),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
);

const routes = fc.constantFrom(
  ['POST', '/models'],
  ['PUT', '/digitaltwins/fz'],
  ['PATCH', '/digitaltwins/r1'],
  ['PATCH', '/digitaltwins/r1/components/thermostat'],
  ['PUT', '/digitaltwins/r1/relationships/rel'],
  ['POST', '/query'],
  ['POST', '/digitaltwins/r1/telemetry'],
  ['POST', '/telemetry/bulk'],
  ['POST', '/simulator/faults'],
  ['DELETE', '/digitaltwins/fz'],
) as fc.Arbitrary<[string, string]>;

const types = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/json-patch+json',
  'application/x-ndjson',
  'text/plain',
  'application/x-www-form-urlencoded',
);

describe('HTTP fuzz', () => {
  it('property: no 5xx, every refusal a catalogued code, never InternalError', async () => {
    await fc.assert(
      fc.asyncProperty(routes, types, bodies, async ([method, path], type, body) => {
        const r = await rawRequest(port, method, path, [['Content-Type', type]], body);
        expect(r.status, `${method} ${path} ${type}: ${r.body.slice(0, 200)}`).toBeLessThan(500);
        if (r.status >= 400) {
          const code = r.headers['x-ms-error-code'];
          expect(code && code in ERROR_STATUS, `code ${code}`).toBe(true);
          expect(ERROR_STATUS[code as keyof typeof ERROR_STATUS]).toBe(r.status);
          expect((JSON.parse(r.body) as { error: { message: string } }).error.message.length).toBeGreaterThan(
            0,
          );
        }
        expect(Object.getPrototypeOf(s.w.twins.get('r1').contents)).toBe(Object.prototype);
      }),
      { numRuns: 400 },
    );
  }, 180_000);

  it('property: telemetry answered 204 is in history; refused telemetry is in the dead letters', async () => {
    let ts = Date.parse('2026-01-01T00:00:00Z');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.double({ min: 0, max: 100, noNaN: true }).map((v) => ({ v })),
          bodies.map((b) => ({ b })),
        ),
        async (c) => {
          const t = ts++;
          const body = 'v' in c ? JSON.stringify({ $ts: t, humidity: c.v }) : c.b;
          const dead = await s.w.storage.deadLetters.count('default');
          const r = await rawRequest(
            port,
            'POST',
            '/digitaltwins/r1/telemetry',
            [['Content-Type', 'application/json']],
            body,
          );
          expect(r.status).toBeLessThan(500);
          if (r.status === 204 && 'v' in c) {
            const points = (
              await s.w.storage.history.queryRaw({
                workspace: 'default',
                twinId: 'r1',
                path: 'humidity',
                from: t,
                to: t + 1,
                limit: 5,
              })
            ).points;
            expect(points.some((p) => p.ts === t && p.value === (Object.is(c.v, -0) ? 0 : c.v))).toBe(true);
          }
          if (r.status >= 400 && r.status !== 415)
            expect(await s.w.storage.deadLetters.count('default')).toBe(dead + 1);
        },
      ),
      { numRuns: 200 },
    );
  }, 180_000);
});
