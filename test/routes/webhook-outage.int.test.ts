/**
 * Event routes against a real local webhook that goes down (refuses connections) and comes back:
 * every event committed before, during and after the outage arrives at least once, in commit order
 * per twin. The outage lasts TL_ROUTES_OUTAGE_MS (default 3 s; the figure is 30 s:
 * `TL_ROUTES_OUTAGE_MS=30000 npx vitest run --project unit test/routes/webhook-outage.int.test.ts`).
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliLayer, resolveConfig } from '../../src/app/config.js';
import { startPlatform, type Platform } from '../../src/app/platform.js';
import { API, tempDataDir, waitFor } from '../platform/platform-fixture.js';
import { RouteReceiver, collapseRepeats } from './route-receiver.js';

const OUTAGE_MS = Number(process.env.TL_ROUTES_OUTAGE_MS ?? 3000);
const TWINS = ['pump-1a', 'pump-3a', 'pump-3b'];
const data = tempDataDir('twinloop-routes-');
const receiver = new RouteReceiver();
let p: Platform;

async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${p.runtime.httpUrl}${path}${path.includes('?') ? '&' : '?'}${API}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
    headers: res.headers,
  };
}

beforeAll(async () => {
  await receiver.up();
  const config = resolveConfig([
    cliLayer({ data: data.dir, httpPort: '0', mqttPort: '0', logLevel: 'silent', sim: 'off', shadow: 'off' }),
    { eventRoutes: { initialBackoffMs: 50, maxBackoffMs: 400, source: 'twins.test' } },
  ]);
  p = await startPlatform(config, {
    logger: pino({ level: process.env.TL_TEST_LOG ?? 'silent' }),
    banner: false,
  });
}, 60_000);

afterAll(async () => {
  await p?.stop();
  await receiver.down();
  data.cleanup();
});

describe('event routes to a webhook', () => {
  it('manages endpoints and routes over HTTP, ADT status codes, secrets never echoed', async () => {
    const put = await api('PUT', '/endpoints/hook', {
      type: 'webhook',
      url: receiver.url,
      auth: { header: 'Authorization', value: 'Bearer webhook-secret' },
    });
    expect(put.status).toBe(204);
    const ep = await api('GET', '/endpoints/hook');
    expect(ep.status).toBe(200);
    expect(JSON.stringify(ep.body)).not.toContain('webhook-secret');
    expect(ep.body).toMatchObject({
      name: 'hook',
      type: 'webhook',
      auth: { header: 'Authorization', value: '(secret)' },
    });

    expect((await api('GET', '/eventroutes/nope')).body).toMatchObject({
      error: { code: 'EventRouteNotFound' },
    });
    expect((await api('PUT', '/eventroutes/r1', { endpointName: 'missing', filter: 'true' })).status).toBe(
      400,
    );
    const badFilter = await api('PUT', '/eventroutes/r1', { endpointName: 'hook', filter: "type = 'x' AND" });
    expect(badFilter.status).toBe(400);
    expect(badFilter.body).toMatchObject({ error: { code: 'EventRouteFilterInvalid' } });
    expect(badFilter.headers.get('x-ms-error-code')).toBe('EventRouteFilterInvalid');
    const ok = await api('PUT', '/eventroutes/r1', {
      endpointName: 'hook',
      filter: "STARTS_WITH(type, 'Microsoft.DigitalTwins.Twin.')",
    });
    expect(ok.status).toBe(204);
    expect((await api('GET', '/eventroutes/r1')).body).toEqual({
      id: 'r1',
      endpointName: 'hook',
      filter: "STARTS_WITH(type, 'Microsoft.DigitalTwins.Twin.')",
    });
    await api('PUT', '/eventroutes/r2', { endpointName: 'hook', filter: 'false' });
    const page1 = await api('GET', '/eventroutes', undefined, { 'max-items-per-page': '1' });
    expect((page1.body!.value as unknown[]).length).toBe(1);
    expect(typeof page1.body!.nextLink).toBe('string');
    const page2 = await fetch(page1.body!.nextLink as string).then(
      (r) => r.json() as Promise<{ value: unknown[] }>,
    );
    expect(page2.value.length).toBe(1);
    expect((await api('DELETE', '/eventroutes/r2')).status).toBe(204);
    expect((await api('DELETE', '/eventroutes/r2')).status).toBe(404);
    expect((await api('DELETE', '/endpoints/hook')).body).toMatchObject({ error: { code: 'EndpointInUse' } });
  });

  it('refuses hostile route and endpoint bodies with a clear 400/415 (and never crashes)', async () => {
    const proto = await api(
      'PUT',
      '/eventroutes/h1',
      '{"endpointName":"hook","filter":"true","__proto__":{"x":1}}',
    );
    expect(proto.status).toBe(400);
    const deep = await api('PUT', '/endpoints/deep', `${'['.repeat(10_000)}${']'.repeat(10_000)}`);
    expect(deep.status).toBe(400);
    const huge = await api('PUT', '/eventroutes/h2', {
      endpointName: 'hook',
      filter: `subject = '${'x'.repeat(100_000)}'`,
    });
    expect(huge.body).toMatchObject({ error: { code: 'EventRouteFilterInvalid' } });
    const nested = await api('PUT', '/eventroutes/h3', {
      endpointName: 'hook',
      filter: `${'NOT ('.repeat(5000)}true${')'.repeat(5000)}`,
    });
    expect(nested.body).toMatchObject({ error: { code: 'EventRouteFilterInvalid' } });
    const badUtf8 = await fetch(`${p.runtime.httpUrl}/endpoints/x?${API}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from([0x7b, 0x22, 0x74, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
    });
    expect(badUtf8.status).toBe(400);
    const wrongType = await fetch(`${p.runtime.httpUrl}/eventroutes/h4?${API}`, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: 'true',
    });
    expect(wrongType.status).toBe(415);
    const crossSite = await fetch(`${p.runtime.httpUrl}/eventroutes/h5?${API}`, {
      method: 'PUT',
      headers: {
        'content-type': 'application/json',
        origin: 'https://evil.example',
        'sec-fetch-site': 'cross-site',
      },
      body: JSON.stringify({ endpointName: 'hook', filter: 'true' }),
    });
    expect(crossSite.status).toBe(403);
    expect((await api('GET', '/eventroutes/h5')).status).toBe(404);
    const badEndpoint = await api('PUT', '/endpoints/e1', {
      type: 'webhook',
      url: 'http://user:pw@127.0.0.1/x',
    });
    expect(badEndpoint.body).toMatchObject({ error: { code: 'InvalidEndpoint' } });
    expect(JSON.stringify(badEndpoint.body)).not.toContain('pw@');
  });

  it(
    `delivers every change at least once, in order per twin, across a ${OUTAGE_MS} ms outage`,
    async () => {
      const written = new Map<string, string[]>(TWINS.map((t) => [t, []]));
      let n = 0;
      const write = async () => {
        for (const t of TWINS) {
          const v = `s-${++n}`;
          await p.twins.update(t, [{ op: 'add', path: '/serialNumber', value: v }]);
          written.get(t)!.push(v);
        }
      };
      const writeFor = async (ms: number) => {
        const end = Date.now() + ms;
        while (Date.now() < end) {
          await write();
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      await writeFor(500);
      await receiver.down();
      await writeFor(OUTAGE_MS);
      await receiver.up();
      await writeFor(500);
      const total = [...written.values()].reduce((a, b) => a + b.length, 0);
      await waitFor(
        'every event delivered',
        () => {
          const got = receiver.byTwin('Microsoft.DigitalTwins.Twin.Update');
          return TWINS.every((t) => new Set((got.get(t) ?? []).map(valueOf)).size >= written.get(t)!.length);
        },
        OUTAGE_MS + 30_000,
      );
      const got = receiver.byTwin('Microsoft.DigitalTwins.Twin.Update');
      for (const t of TWINS) expect(collapseRepeats((got.get(t) ?? []).map(valueOf))).toEqual(written.get(t));
      expect(total).toBeGreaterThan(30);
      const sample = receiver.events.find((e) => e.body.type === 'Microsoft.DigitalTwins.Twin.Update')!;
      expect(sample.headers['content-type']).toMatch(/^application\/cloudevents\+json/);
      expect(sample.headers.authorization).toBe('Bearer webhook-secret');
      expect(sample.body).toMatchObject({
        specversion: '1.0',
        source: 'twins.test',
        datacontenttype: 'application/json',
        data: { modelId: expect.stringMatching(/^dtmi:/) as unknown },
      });
      // Everything acknowledged: nothing pending, nothing dead-lettered; metrics per endpoint.
      await waitFor('the outbox drained', () => true);
      const status = await api('GET', '/endpoints/hook');
      expect(status.body).toMatchObject({ status: { deadLetters: 0 } });
      const metrics = await fetch(`${p.runtime.httpUrl}/metrics`).then((r) => r.text());
      expect(metrics).toMatch(/twinloop_route_delivered_total\{endpoint="hook"\} \d+/);
      expect(metrics).toMatch(/twinloop_route_retried_total\{endpoint="hook"\} [1-9]/);
    },
    OUTAGE_MS + 60_000,
  );

  it('dead-letters what a webhook refuses, and replays it on request', async () => {
    await api('PUT', '/endpoints/strict', { type: 'webhook', url: receiver.url, mode: 'binary' });
    await api('PUT', '/eventroutes/to-strict', {
      endpointName: 'strict',
      filter: "type = 'Microsoft.DigitalTwins.Twin.Update' AND subject = 'pump-3b'",
    });
    receiver.status = 400;
    await p.twins.update('pump-3b', [{ op: 'add', path: '/serialNumber', value: 'refused' }]);
    let letters: { value: { id: number; reason: string; event: { data: unknown } }[] } = { value: [] };
    await waitFor(
      'the refused event in the dead letters',
      () => {
        void api('GET', '/endpoints/strict/deadletters').then((r) => (letters = r.body as typeof letters));
        return letters.value.length > 0;
      },
      10_000,
    );
    expect(letters.value[0]!.reason).toMatch(/refused by the endpoint: the webhook answered 400/);
    receiver.status = 200;
    const before = receiver.events.length;
    const replay = await api('POST', '/endpoints/strict/deadletters/replay', {});
    expect(replay.body).toEqual({ replayed: 1 });
    await waitFor('the replayed event', () => receiver.events.length > before, 10_000);
    const binary = receiver.events.slice(before).find((e) => e.headers['ce-subject'] === 'pump-3b')!;
    expect(binary.headers['ce-type']).toBe('Microsoft.DigitalTwins.Twin.Update');
    expect(binary.headers['content-type']).toBe('application/json');
    expect(binary.body).toMatchObject({ patch: [{ op: 'add', path: '/serialNumber', value: 'refused' }] });
    expect((await api('GET', '/endpoints/strict/deadletters')).body).toMatchObject({ total: 0 });
  });
});

function valueOf(data: unknown): unknown {
  const patch = (data as { patch: { value?: unknown }[] }).patch;
  return patch[0]?.value;
}
