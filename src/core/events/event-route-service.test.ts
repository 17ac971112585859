import { describe, expect, it } from 'vitest';
import { isTwinloopError } from '../errors/errors.js';
import type { TwinRecord } from '../graph/graph-types.js';
import type { EventRouteStore, OutboxRow, StoredEndpoint, StoredRoute } from '../ports/event-routing.js';
import { EVENT_TYPES, diffContents, toCloudEvent } from './change-events.js';
import { EventRouteService } from './event-route-service.js';

class MemoryRouteStore implements EventRouteStore {
  routes = new Map<string, StoredRoute>();
  endpoints = new Map<string, StoredEndpoint>();
  listRoutes = async () => Promise.resolve([...this.routes.values()]);
  putRoute = async (r: StoredRoute) => void this.routes.set(r.id, await Promise.resolve(r));
  deleteRoute = async (id: string) => Promise.resolve(this.routes.delete(id));
  listEndpoints = async () => Promise.resolve([...this.endpoints.values()]);
  putEndpoint = async (e: StoredEndpoint) => void this.endpoints.set(e.name, await Promise.resolve(e));
  deleteEndpoint = async (n: string) => Promise.resolve(this.endpoints.delete(n));
}

function twin(id: string, contents: Record<string, unknown> = { rpm: 1 }): TwinRecord {
  return {
    id,
    modelId: 'dtmi:ex:Pump;1',
    workspace: 'default',
    etag: 'W/"1"',
    lastUpdateTime: Date.UTC(2026, 0, 1),
    contents,
    propertyTimes: {},
    telemetry: {},
  };
}

async function setup() {
  const store = new MemoryRouteStore();
  const appended: OutboxRow[] = [];
  let n = 0;
  const svc = new EventRouteService({
    store,
    source: 'twins.example',
    newId: () => `id-${++n}`,
    now: () => Date.UTC(2026, 0, 2),
  });
  await svc.load();
  // What a twin write does with the rows: they go in its commit.
  const record = (change: Parameters<EventRouteService['outboxRowsOf']>[0]): void => {
    appended.push(...svc.outboxRowsOf(change));
  };
  return { svc, store, appended, record };
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (isTwinloopError(e)) return e.code;
    throw e;
  }
  return 'none';
}

describe('EventRouteService', () => {
  it('keeps routes with ADT error codes, and endpoints without ever showing their secret', async () => {
    const { svc, store } = await setup();
    expect(await code(svc.putRoute('r1', { endpointName: 'hook', filter: 'true' }))).toBe(
      'EventRouteEndpointInvalid',
    );
    await svc.putEndpoint('hook', {
      type: 'webhook',
      url: 'http://127.0.0.1:9/x',
      auth: { header: 'Authorization', value: 'Bearer s3cret' },
    });
    expect(JSON.stringify(svc.listEndpoints())).not.toContain('s3cret');
    expect(svc.getEndpoint('hook')).toMatchObject({
      type: 'webhook',
      mode: 'structured',
      auth: { header: 'Authorization', value: '(secret)' },
    });
    expect(store.endpoints.get('hook')!.secret).toBe('Bearer s3cret');
    // A PUT naming the same header without a value keeps the secret.
    await svc.putEndpoint('hook', {
      type: 'webhook',
      url: 'http://127.0.0.1:9/y',
      auth: { header: 'Authorization' },
    });
    expect(svc.endpointFor('hook')!.secret).toBe('Bearer s3cret');

    expect(await code(svc.putRoute('bad id', { endpointName: 'hook', filter: 'true' }))).toBe(
      'EventRouteIdInvalid',
    );
    expect(await code(svc.putRoute('r1', { endpointName: 'hook', filter: 'type = ' }))).toBe(
      'EventRouteFilterInvalid',
    );
    expect(await code(svc.putRoute('r1', { endpointName: 'hook' }))).toBe('EventRouteFilterInvalid');
    expect(await code(svc.putRoute('r1', [1]))).toBe('BadRequest');
    await svc.putRoute('r1', { endpointName: 'hook', filter: "type = 'Microsoft.DigitalTwins.Twin.Create'" });
    expect(svc.getRoute('r1')).toEqual({
      id: 'r1',
      endpointName: 'hook',
      filter: "type = 'Microsoft.DigitalTwins.Twin.Create'",
    });
    expect(await code(svc.deleteEndpoint('hook'))).toBe('EndpointInUse');
    await svc.deleteRoute('r1');
    expect(await code(Promise.resolve().then(() => svc.getRoute('r1')))).toBe('EventRouteNotFound');
    expect(await code(svc.deleteRoute('r1'))).toBe('EventRouteNotFound');
    await svc.deleteEndpoint('hook');
    expect(await code(Promise.resolve().then(() => svc.getEndpoint('hook')))).toBe('EndpointNotFound');
  });

  it('checks endpoint bodies, every problem with its pointer', async () => {
    const { svc } = await setup();
    try {
      await svc.putEndpoint('e', {
        type: 'webhook',
        url: 'ftp://u:p@x',
        mode: 'fast',
        extra: 1,
        auth: { header: 'Host', value: 'a\nb' },
      });
      throw new Error('accepted');
    } catch (e) {
      if (!isTwinloopError(e)) throw e;
      expect(e.code).toBe('InvalidEndpoint');
      expect(e.problems.map((p) => p.pointer).sort()).toEqual([
        '/auth/header',
        '/auth/value',
        '/extra',
        '/mode',
        '/url',
      ]);
    }
    expect(await code(svc.putEndpoint('e', { type: 'webhook', url: 'http://u:p@x' }))).toBe(
      'InvalidEndpoint',
    );
    expect(await code(svc.putEndpoint('e', { type: 'mqtt', topic: 'a/#' }))).toBe('InvalidEndpoint');
    expect(await code(svc.putEndpoint('e', { type: 'nats', subject: 'a.*' }))).toBe('InvalidEndpoint');
    expect(await code(svc.putEndpoint('e', { type: 'smtp' }))).toBe('InvalidEndpoint');
    expect(await code(svc.putEndpoint('../x', { type: 'mqtt', topic: 'a' }))).toBe('InvalidEndpoint');
    expect(
      await code(svc.putEndpoint('e', JSON.parse('{"type":"mqtt","topic":"a","__proto__":{"x":1}}'))),
    ).toBe('InvalidEndpoint');
    await svc.putEndpoint('e', { type: 'nats', subject: 'twins.events', jetstream: true });
    expect(svc.getEndpoint('e')).toMatchObject({ type: 'nats', subject: 'twins.events', jetstream: true });
  });

  it('enforces the route limit with ADT LimitExceeded', async () => {
    const store = new MemoryRouteStore();
    const svc = new EventRouteService({
      store,
      source: 's',
      maxRoutes: 2,
    });
    await svc.load();
    await svc.putEndpoint('m', { type: 'mqtt', topic: 'x' });
    await svc.putRoute('a', { endpointName: 'm', filter: 'true' });
    await svc.putRoute('b', { endpointName: 'm', filter: 'true' });
    await svc.putRoute('b', { endpointName: 'm', filter: 'false' }); // a replace is not a new route
    expect(await code(svc.putRoute('c', { endpointName: 'm', filter: 'true' }))).toBe('LimitExceeded');
  });

  it('journals only what a route wants, once per endpoint, as ADT event bodies', async () => {
    const { svc, appended, record } = await setup();
    record({ kind: 'twinCreated', twin: twin('p1') });
    expect(appended).toHaveLength(0); // no routes: nothing written
    await svc.putEndpoint('a', { type: 'mqtt', topic: 'a' });
    await svc.putEndpoint('b', { type: 'mqtt', topic: 'b' });
    await svc.putRoute('all-a', { endpointName: 'a', filter: 'true' });
    await svc.putRoute('all-a-again', { endpointName: 'a', filter: "subject = 'p1'" });
    await svc.putRoute('updates-b', { endpointName: 'b', filter: `type = '${EVENT_TYPES.twinUpdate}'` });
    record({ kind: 'twinCreated', twin: twin('p1') });
    expect(appended.map((r) => r.endpoint)).toEqual(['a']);
    const created = toCloudEvent(appended[0]!.event);
    expect(created).toMatchObject({
      specversion: '1.0',
      type: 'Microsoft.DigitalTwins.Twin.Create',
      source: 'twins.example',
      subject: 'p1',
      datacontenttype: 'application/json',
      data: { $dtId: 'p1', $etag: 'W/"1"', $metadata: { $model: 'dtmi:ex:Pump;1' }, rpm: 1 },
    });
    appended.length = 0;
    record({
      kind: 'twinUpdated',
      twin: twin('p1', { rpm: 2 }),
      patch: [{ op: 'replace', path: '/rpm', value: 2 }],
    });
    expect(appended.map((r) => r.endpoint).sort()).toEqual(['a', 'b']);
    expect(appended[0]!.event.data).toEqual({
      modelId: 'dtmi:ex:Pump;1',
      patch: [{ op: 'replace', path: '/rpm', value: 2 }],
    });
    expect(appended[0]!.orderKey).toBe('p1');
    appended.length = 0;
    record({
      kind: 'twinReplaced',
      before: twin('p1', { rpm: 2, a: 1 }),
      twin: twin('p1', { rpm: 3, b: 'x' }),
    });
    expect(appended[0]!.event.data).toEqual({
      modelId: 'dtmi:ex:Pump;1',
      patch: [
        { op: 'remove', path: '/a' },
        { op: 'replace', path: '/rpm', value: 3 },
        { op: 'add', path: '/b', value: 'x' },
      ],
    });
    appended.length = 0;
    const rel = {
      id: 'r1',
      sourceId: 'p1',
      targetId: 'p2',
      name: 'feeds',
      workspace: 'default',
      etag: 'W/"2"',
      lastUpdateTime: 5,
      properties: { w: 1 },
    };
    record({ kind: 'relationshipCreated', rel, modelId: 'dtmi:ex:Pump;1' });
    expect(toCloudEvent(appended[0]!.event)).toMatchObject({
      type: 'Microsoft.DigitalTwins.Relationship.Create',
      subject: 'p1/relationships/r1',
      data: { $relationshipId: 'r1', $sourceId: 'p1', $targetId: 'p2', $relationshipName: 'feeds', w: 1 },
    });
    record({
      kind: 'relationshipUpdated',
      rel,
      modelId: 'dtmi:ex:Pump;1',
      patch: [{ op: 'add', path: '/w', value: 2 }],
    });
    expect(appended[1]!.event).toMatchObject({
      type: 'Microsoft.DigitalTwins.Relationship.Update',
      data: { modelId: 'dtmi:ex:Pump;1', patch: [{ op: 'add', path: '/w', value: 2 }] },
    });
    record({ kind: 'twinDeleted', twin: twin('p1') });
    expect(appended.at(-1)!.event).toMatchObject({
      type: 'Microsoft.DigitalTwins.Twin.Delete',
      data: { $dtId: 'p1' },
      time: Date.UTC(2026, 0, 2),
    });
  });

  it('journals telemetry only while a route could want it', async () => {
    const { svc } = await setup();
    await svc.putEndpoint('a', { type: 'mqtt', topic: 'a' });
    await svc.putRoute('twins', {
      endpointName: 'a',
      filter: `STARTS_WITH(type, 'Microsoft.DigitalTwins.')`,
    });
    expect(svc.wantsTelemetry()).toBe(false);
    expect(
      svc.telemetryRows([{ twinId: 'p1', modelId: 'dtmi:ex:Pump;1', values: { flow: 2 }, time: 1 }]),
    ).toEqual([]);
    await svc.putRoute('tel', {
      endpointName: 'a',
      filter: "type = 'microsoft.iot.telemetry' AND $body.flow > 1",
    });
    expect(svc.wantsTelemetry()).toBe(true);
    const staged = svc.telemetryRows([
      {
        twinId: 'p1',
        modelId: 'dtmi:ex:Pump;1',
        values: { flow: 2 },
        time: Date.UTC(2026, 0, 1),
        sourceTime: true,
      },
      { twinId: 'p1', modelId: 'dtmi:ex:Pump;1', values: { flow: 0 }, time: 1 },
    ]);
    expect(staged).toHaveLength(1);
    expect(toCloudEvent(staged[0]!.event)).toMatchObject({
      type: 'microsoft.iot.telemetry',
      source: 'twins.example/digitaltwins/p1',
      dataschema: 'dtmi:ex:Pump;1',
      data: { flow: 2 },
      telemetrysourcetime: '2026-01-01T00:00:00.000Z',
    });
  });

  it('diffContents escapes pointer characters', () => {
    expect(diffContents({}, { 'a/b~c': 1 })).toEqual([{ op: 'add', path: '/a~1b~0c', value: 1 }]);
  });
  it('load() again follows the routes and endpoints another node changed (a cluster), and says when this node changed them', async () => {
    const { svc: a, store } = await setup();
    let told = 0;
    const b = new EventRouteService({
      store,
      source: 'node-b',
      endpoints: [
        { name: 'fixed', spec: { type: 'webhook', url: 'http://127.0.0.1:1/x', mode: 'single' } as never },
      ],
      routes: [{ id: 'cfg', endpointName: 'fixed', filter: `type = '${EVENT_TYPES.twinCreate}'` }],
      onChanged: () => told++,
    });
    await b.load();
    expect(b.wantsTelemetry()).toBe(false);
    await a.putEndpoint('hook', { type: 'webhook', url: 'http://127.0.0.1:9/e' });
    await a.putRoute('tel', { endpointName: 'hook', filter: `type = '${EVENT_TYPES.telemetry}'` });
    await b.load();
    expect(
      b
        .listRoutes()
        .map((r) => r.id)
        .sort(),
    ).toEqual(['cfg', 'tel']);
    expect(b.endpointNames().sort()).toEqual(['fixed', 'hook']);
    expect(b.wantsTelemetry()).toBe(true);
    await a.deleteRoute('tel');
    await a.deleteEndpoint('hook');
    await b.load();
    expect(b.listRoutes().map((r) => r.id)).toEqual(['cfg']); // the configured one stays
    expect(b.endpointNames()).toEqual(['fixed']);
    expect(b.wantsTelemetry()).toBe(false);
    expect(told).toBe(0);
    await b.putEndpoint('own', { type: 'webhook', url: 'http://127.0.0.1:9/o' });
    await b.putRoute('own', { endpointName: 'own', filter: 'true' });
    await b.deleteRoute('own');
    expect(told).toBe(3);
  });

  it("a load that overlaps this node's own write keeps that write", async () => {
    const { svc, store } = await setup();
    // The load reads the store before the write is in it, and gets its answer after the write is done.
    let release: () => void = () => undefined;
    const list = store.listEndpoints;
    store.listEndpoints = async () => {
      const snapshot = await list();
      store.listEndpoints = list;
      await new Promise<void>((r) => (release = r));
      return snapshot;
    };
    const loading = svc.load();
    await new Promise((r) => setTimeout(r, 0));
    await svc.putEndpoint('late', { type: 'webhook', url: 'http://127.0.0.1:9/l' });
    release();
    await loading;
    expect(svc.endpointNames()).toEqual(['late']);
  });
});
