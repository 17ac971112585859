/**
 * POST /deadletters/{id}/reingest on a real, listening server (with a token) over the real ingest
 * service and SQLite stores: a letter for a twin that did not exist is re-ingested once the twin
 * exists (MQTT, ADT HTTP and NDJSON letters), at most once under concurrent clicks; refused again
 * with the new problems; hostile ids, truncated payloads, foreign sources, cross-site requests and
 * a missing token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestWorkspace, type TestWorkspace } from '../../../test/adt-sdk/workspace-fixture.js';
import { reingestDeadLetter } from '../../core/telemetry/dead-letter-reingest.js';
import { IngestService } from '../../core/telemetry/ingest-service.js';
import { TopicScheme } from '../../core/telemetry/topic-scheme.js';
import { createHttpServer, type HttpServer } from './http-server.js';
import { errorCodeOf, httpCaller, type HttpAnswer } from '../../../test/support/http-call.js';

const TOKEN = 'reingest-token';
const T0 = Date.UTC(2026, 5, 1, 12);
const PUMP = {
  '@id': 'dtmi:test:Pump;1',
  '@type': 'Interface',
  '@context': 'dtmi:dtdl:context;3',
  contents: [
    { '@type': 'Telemetry', name: 'vibration', schema: 'double' },
    { '@type': 'Telemetry', name: 'flow', schema: 'double' },
  ],
};

describe('re-ingest of dead letters', () => {
  let w: TestWorkspace;
  let http: HttpServer;
  let url: string;

  const call = httpCaller(() => url, TOKEN);
  const code = errorCodeOf;
  const message = (a: HttpAnswer) => (a.json.error as { message?: string } | undefined)?.message ?? '';
  const letters = async (twinId?: string) =>
    (await call('GET', `/deadletters?limit=100${twinId ? `&twinId=${encodeURIComponent(twinId)}` : ''}`)).json
      .value!;
  const history = async (twinId: string, path: string) =>
    (
      await call(
        'GET',
        `/digitaltwins/${encodeURIComponent(twinId)}/history?path=${path}&from=${T0 - 3600_000}&to=${T0 + 3600_000}`,
      )
    ).json.value!;
  const addLetter = async (over: Record<string, unknown>) => {
    await w.storage.deadLetters.add([
      {
        workspace: 'default',
        time: T0,
        source: 'mqtt',
        payload: Buffer.from('{"vibration": 3.5}'),
        code: 'DigitalTwinNotFound',
        reason: 'no twin',
        ...over,
      },
    ]);
    const [d] = await letters();
    return d!.id as number;
  };

  beforeAll(async () => {
    w = await openTestWorkspace();
    await w.models.add([PUMP]);
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
    });
    ({ url } = await http.listen());
  });
  afterAll(async () => {
    await http.close();
    await w.close();
  });

  it('re-ingests an ADT HTTP letter once the twin exists, at most once under concurrent clicks', async () => {
    const sent = await call(
      'POST',
      '/digitaltwins/pump%2F1/telemetry',
      { vibration: 4.25 },
      { 'telemetry-source-time': new Date(T0).toISOString() },
    );
    expect(sent.status).toBe(404); // no such twin yet: dead-lettered
    const [d] = await letters('pump/1');
    expect(d).toMatchObject({ source: 'http', twinId: 'pump/1', code: 'DigitalTwinNotFound' });
    // Still no twin: refused again, the payload kept as a letter with the new reason.
    const again = await call('POST', `/deadletters/${d!.id as number}/reingest`);
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ outcome: 'rejected', code: 'DigitalTwinNotFound' });
    const [kept] = await letters('pump/1');
    expect(kept).toMatchObject({ source: 'http', payload: '{"vibration":4.25}' });
    expect(kept!.id).not.toBe(d!.id);

    await call('PUT', '/digitaltwins/pump%2F1', { $metadata: { $model: 'dtmi:test:Pump;1' } });
    const clicks = await Promise.all(
      Array.from({ length: 6 }, () => call('POST', `/deadletters/${kept!.id as number}/reingest`)),
    );
    const ok = clicks.filter((c) => c.status === 200);
    expect(ok).toHaveLength(1);
    expect(ok[0]!.json).toEqual({ id: kept!.id, outcome: 'accepted', readings: 1 });
    expect(clicks.filter((c) => c.status === 404)).toHaveLength(5);
    expect(message(clicks.find((c) => c.status === 404)!)).toMatch(/already re-ingested/);
    const points = await history('pump/1', 'vibration');
    expect(points).toHaveLength(1); // stored once, at the time it was first sent
    expect(points[0]).toMatchObject({ value: 4.25, time: new Date(T0).toISOString() });
    expect(await letters('pump/1')).toEqual([]);
  });

  it('re-ingests an MQTT letter through the topic scheme, and reports new problems with where they are', async () => {
    const id = await addLetter({
      topic: 'twins/pump-2/telemetry',
      payload: Buffer.from('{"vibration": 3.5}'),
    });
    await call('PUT', '/digitaltwins/pump-2', { $metadata: { $model: 'dtmi:test:Pump;1' } });
    const r = await call('POST', `/deadletters/${id}/reingest`);
    expect(r.json).toEqual({ id, outcome: 'accepted', readings: 1 });
    expect((await history('pump-2', 'vibration'))[0]).toMatchObject({ value: 3.5 });

    const bad = await addLetter({
      topic: 'twins/pump-2/telemetry',
      payload: Buffer.from('{"vibration": "x"}'),
    });
    const r2 = await call('POST', `/deadletters/${bad}/reingest`);
    expect(r2.status).toBe(200);
    expect(r2.json).toMatchObject({ outcome: 'rejected', code: 'InvalidTelemetry' });
    expect(r2.json.problems).toEqual([expect.objectContaining({ pointer: '/vibration' })]);
  });

  it('re-ingests an NDJSON line', async () => {
    await call('PUT', '/digitaltwins/pump-3', { $metadata: { $model: 'dtmi:test:Pump;1' } });
    const id = await addLetter({
      source: 'http-bulk',
      topic: 'POST /telemetry/bulk',
      payload: Buffer.from('{"$dtId":"pump-3","flow":12}'),
    });
    expect((await call('POST', `/deadletters/${id}/reingest`)).json).toEqual({
      id,
      outcome: 'accepted',
      readings: 1,
    });
  });

  it('refuses, keeping the letter, what cannot be re-ingested: truncated payloads, foreign sources, broken topics', async () => {
    const cut = await addLetter({
      topic: 'twins/pump-2/telemetry',
      payload: Buffer.from('{"vibration": 3.'),
      receivedBytes: 20_000_000,
    });
    const r = await call('POST', `/deadletters/${cut}/reingest`);
    expect(r.status).toBe(409);
    expect(message(r)).toMatch(/truncated payload is never re-ingested/);
    expect(message(r)).toContain('20000000 bytes');
    const tooLarge = await addLetter({ topic: 'twins/pump-2/telemetry', code: 'PayloadTooLarge' });
    expect((await call('POST', `/deadletters/${tooLarge}/reingest`)).status).toBe(409);
    const file = await addLetter({ source: 'file', topic: '/tmp/x.csv' });
    expect(message(await call('POST', `/deadletters/${file}/reingest`))).toMatch(/not re-ingested/);
    const broken = await addLetter({ topic: 'twins/%zz/telemetry' });
    expect((await call('POST', `/deadletters/${broken}/reingest`)).status).toBe(409);
    const other = await addLetter({ topic: 'factory/line-1/status' });
    expect(message(await call('POST', `/deadletters/${other}/reingest`))).toMatch(/not a telemetry topic/);
    // An ADT message whose good values were stored: re-ingest would store them twice.
    const sent = await call('POST', '/digitaltwins/pump-2/telemetry', { vibration: 1, flow: 'x' });
    expect(sent.status).toBe(204);
    const [partial] = await letters('pump-2');
    expect(partial!.reason).toMatch(/^1 value\(s\) not stored, 1 stored/);
    const twice = await call('POST', `/deadletters/${partial!.id as number}/reingest`);
    expect(twice.status).toBe(409);
    expect(message(twice)).toMatch(/would store them twice/);
    const ids = (await letters()).map((d) => d.id);
    for (const id of [cut, tooLarge, file, broken, other, partial!.id as number]) expect(ids).toContain(id);
  });

  it('answers hostile ids, cross-site requests and a missing token without touching letters', async () => {
    const id = await addLetter({ topic: 'twins/pump-2/telemetry' });
    for (const bad of ['abc', '0', '-1', '1.5', '1e3', '99999999999999999999', '__proto__', '%00', '1%20']) {
      const r = await call('POST', `/deadletters/${bad}/reingest`);
      expect(r.status, bad).toBe(400);
      expect(code(r)).toBe('BadRequest');
    }
    const unknown = await call('POST', '/deadletters/987654321/reingest');
    expect(unknown.status).toBe(404);
    expect(code(unknown)).toBe('NotFound');
    const cross = await call('POST', `/deadletters/${id}/reingest`, undefined, {
      origin: 'https://evil.example',
    });
    expect(cross.status).toBe(403);
    const site = await call('POST', `/deadletters/${id}/reingest`, undefined, {
      'sec-fetch-site': 'cross-site',
    });
    expect(site.status).toBe(403);
    const form = await call('POST', `/deadletters/${id}/reingest`, 'a=b', { 'content-type': 'text/plain' });
    expect([403, 415]).toContain(form.status);
    // A body is not read by this route; a hostile one is refused at the edge, or ignored.
    const deep = await call('POST', `/deadletters/${id}/reingest`, '['.repeat(5000) + ']'.repeat(5000));
    expect(deep.status).toBe(400);
    const proto = await call(
      'POST',
      '/deadletters/987654321/reingest',
      '{"__proto__": {"outcome": "accepted"}}',
    );
    expect(proto.status).toBe(400); // the edge refuses __proto__ keys in any body
    expect(proto.json.outcome).toBeUndefined();
    expect(({} as Record<string, unknown>).outcome).toBeUndefined();
    const anon = await fetch(`${url}/deadletters/${id}/reingest`, { method: 'POST' });
    expect(anon.status).toBe(401);
    expect((await letters()).map((d) => d.id)).toContain(id);
  });
});

describe('re-ingest when storage fails', () => {
  it('puts the letter back (under a new id) and reports the failure', async () => {
    const w = await openTestWorkspace();
    try {
      await w.models.add([PUMP]);
      await w.twins.createOrReplace('pump-1', { $metadata: { $model: 'dtmi:test:Pump;1' } });
      const ingest = new IngestService({
        workspace: (name) => (name === 'default' ? { graph: w.graph, models: w.models } : undefined),
        history: w.storage.history,
        deadLetters: w.storage.deadLetters,
        live: w.live,
      });
      await w.storage.deadLetters.add([
        {
          workspace: 'default',
          time: T0,
          source: 'mqtt',
          topic: 'twins/pump-1/telemetry',
          payload: Buffer.from('{"vibration": 1.5}'),
          code: 'DigitalTwinNotFound',
          reason: 'no twin',
        },
      ]);
      const [d] = await w.storage.deadLetters.list({ workspace: 'default', limit: 1 });
      await w.storage.history.close(); // appends now fail with StorageError
      await expect(
        reingestDeadLetter(
          { store: w.storage.deadLetters, ingest, scheme: new TopicScheme() },
          'default',
          d!.id!,
        ),
      ).rejects.toMatchObject({ code: 'StorageError' });
      const after = await w.storage.deadLetters.list({ workspace: 'default', limit: 10 });
      expect(after).toHaveLength(1);
      expect(after[0]).toMatchObject({ topic: 'twins/pump-1/telemetry', reason: 'no twin', time: T0 });
      expect(after[0]!.payload.toString()).toBe('{"vibration": 1.5}');
      expect(after[0]!.id).not.toBe(d!.id);
    } finally {
      await w.close();
    }
  });
});
