import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect } from '../../../test/support/collect.js';
import { TwinService } from './twin-service.js';
import {
  ALL_MODELS,
  openTestWorkspace,
  type TestWorkspace,
} from '../../../test/adt-sdk/workspace-fixture.js';
import { caught } from '../../../test/support/caught.js';

const ROOM = 'dtmi:test:Room;1';
const room = (extra: Record<string, unknown> = {}) => ({
  $metadata: { $model: ROOM },
  thermostat: { $metadata: {} },
  ...extra,
});

describe('TwinService', () => {
  let w: TestWorkspace;
  let clock = 1_700_000_000_000;
  beforeEach(async () => {
    clock = 1_700_000_000_000;
    w = await openTestWorkspace({ now: () => clock });
    await w.models.add(ALL_MODELS);
  });
  afterEach(async () => w.close());

  it('creates a twin, persists it, sets etag and times, records history and publishes after the write', async () => {
    const t = await w.twins.createOrReplace(
      'r1',
      room({ temperature: 21.5, thermostat: { $metadata: {}, setPoint: 20 } }),
    );
    expect(t.etag).toMatch(/^W\/"[0-9a-f-]{36}"$/);
    expect(t.contents).toEqual({ temperature: 21.5, thermostat: { setPoint: 20 } });
    expect(t.propertyTimes).toEqual({ temperature: clock, 'thermostat/setPoint': clock });
    expect(w.graph.getTwin('r1')).toBe(t);
    expect((await collect(w.storage.twins.loadTwins('default'))).map((x) => x.id)).toEqual(['r1']);
    const page = await w.storage.history.queryRaw({
      workspace: 'default',
      twinId: 'r1',
      path: 'temperature',
      from: 0,
      to: clock + 1,
      limit: 10,
    });
    expect(page.points).toEqual([{ ts: clock, value: 21.5 }]);
    expect(w.events.map((e) => e.type)).toEqual(['twinCreated']);
  });

  it('reports every problem of a twin at once, each with a pointer', async () => {
    const e = await caught(
      w.twins.createOrReplace('r1', {
        $metadata: { $model: ROOM },
        temperature: 'hot',
        humidity: 3,
        colour: 'red',
        info: { floor: 1.5 },
      }),
    );
    expect(e.code).toBe('ValidationFailed');
    const pointers = e.problems.map((p) => p.pointer).sort();
    expect(pointers).toEqual(['/colour', '/humidity', '/info/floor', '/temperature', '/thermostat']);
    expect(e.problems.find((p) => p.pointer === '/humidity')?.message).toMatch(/Telemetry/);
    expect(e.problems.find((p) => p.pointer === '/thermostat')?.code).toBe('twin.component.missing');
    expect(w.graph.twinCount).toBe(0);
  });

  it('rejects an unknown or missing model, and a decommissioned one', async () => {
    expect(
      (await caught(w.twins.createOrReplace('x', { $metadata: { $model: 'dtmi:test:Nope;1' } }))).problems[0]
        ?.pointer,
    ).toBe('/$metadata/$model');
    expect((await caught(w.twins.createOrReplace('x', { temperature: 1 }))).code).toBe('ValidationFailed');
    await w.models.update('dtmi:test:Sensor;1', [{ op: 'replace', path: '/decommissioned', value: true }]);
    expect(
      (await caught(w.twins.createOrReplace('s', { $metadata: { $model: 'dtmi:test:Sensor;1' } }))).code,
    ).toBe('ModelDecommissioned');
  });

  it('If-None-Match: * refuses to replace an existing twin (412); without it the twin is replaced', async () => {
    await w.twins.createOrReplace('r1', room({ temperature: 1 }));
    const e = await caught(w.twins.createOrReplace('r1', room(), { ifNoneMatch: '*' }));
    expect(e.status).toBe(412);
    const t = await w.twins.createOrReplace('r1', room({ name: 'B' }));
    expect(t.contents).toEqual({ name: 'B', thermostat: {} });
    expect(w.events.map((x) => x.type)).toEqual(['twinCreated', 'twinReplaced']);
  });

  it('applies a JSON Patch atomically with per-property times, a new etag and If-Match', async () => {
    const t0 = await w.twins.createOrReplace('r1', room({ temperature: 1, info: { floor: 1 } }));
    clock += 1000;
    const t1 = await w.twins.update(
      'r1',
      [
        { op: 'replace', path: '/temperature', value: 2 },
        { op: 'add', path: '/info/wing', value: 'east' },
        { op: 'add', path: '/thermostat/mode', value: 'eco' },
      ],
      { ifMatch: t0.etag },
    );
    expect(t1.etag).not.toBe(t0.etag);
    expect(t1.contents).toEqual({
      temperature: 2,
      info: { floor: 1, wing: 'east' },
      thermostat: { mode: 'eco' },
    });
    expect(t1.propertyTimes).toEqual({ temperature: clock, info: clock, 'thermostat/mode': clock });
    expect(t1.lastUpdateTime).toBe(clock);
    const change = w.events.at(-1);
    expect(change?.type).toBe('propertyChange');
    // A stale etag is refused and changes nothing.
    const e = await caught(
      w.twins.update('r1', [{ op: 'replace', path: '/temperature', value: 3 }], { ifMatch: t0.etag }),
    );
    expect(e.status).toBe(412);
    expect(w.twins.get('r1').contents.temperature).toBe(2);
    // '*' matches any etag.
    await w.twins.update('r1', [{ op: 'remove', path: '/temperature' }], { ifMatch: '*' });
    expect(w.twins.get('r1').contents.temperature).toBeUndefined();
    expect(w.twins.get('r1').propertyTimes.temperature).toBeUndefined();
  });

  it('a patch with one bad operation changes nothing and names every bad operation', async () => {
    await w.twins.createOrReplace('r1', room({ temperature: 1 }));
    const e = await caught(
      w.twins.update('r1', [
        { op: 'replace', path: '/temperature', value: 5 },
        { op: 'replace', path: '/name', value: 'x' },
        { op: 'move', path: '/a', from: '/b' },
        { op: 'add', path: '/$etag', value: 'x' },
      ]),
    );
    expect(e.code).toBe('JsonPatchInvalid');
    expect(e.problems.map((p) => p.pointer).sort()).toEqual(['/1/path', '/2/op', '/3/path']);
    expect(w.twins.get('r1').contents.temperature).toBe(1);
    const v = await caught(
      w.twins.update('r1', [
        { op: 'add', path: '/temperature', value: 'warm' },
        { op: 'add', path: '/humidity', value: 1 },
      ]),
    );
    expect(v.code).toBe('ValidationFailed');
    expect(v.problems.map((p) => p.pointer).sort()).toEqual(['/humidity', '/temperature']);
  });

  it('gets and patches components; unknown components are 404', async () => {
    await w.twins.createOrReplace('r1', room({ thermostat: { $metadata: {}, setPoint: 20 } }));
    expect(w.twins.getComponent('r1', 'thermostat').value).toEqual({ setPoint: 20 });
    await w.twins.updateComponent('r1', 'thermostat', [{ op: 'replace', path: '/setPoint', value: 22 }]);
    expect(w.twins.get('r1').contents.thermostat).toEqual({ setPoint: 22 });
    expect((await caught(() => w.twins.getComponent('r1', 'info'))).code).toBe('ComponentNotFound');
    const e = await caught(
      w.twins.updateComponent('r1', 'thermostat', [{ op: 'add', path: '/setPoint', value: 'x' }]),
    );
    expect(e.problems[0]?.pointer).toBe('/thermostat/setPoint');
  });

  it('refuses to delete a twin that still has relationships (RelationshipsNotDeleted, 400)', async () => {
    await w.twins.createOrReplace('r1', room());
    await w.twins.createOrReplace('s1', { $metadata: { $model: 'dtmi:test:Sensor;1' } });
    await w.twins.relationships.createOrReplace('r1', 'c1', {
      $targetId: 's1',
      $relationshipName: 'contains',
    });
    const e = await caught(w.twins.delete('s1'));
    expect(e.code).toBe('RelationshipsNotDeleted');
    expect(e.status).toBe(400);
    await w.twins.relationships.delete('r1', 'c1');
    const stale = await caught(w.twins.delete('s1', { ifMatch: 'W/"nope"' }));
    expect(stale.status).toBe(412);
    await w.twins.delete('s1');
    expect(w.graph.getTwin('s1')).toBeUndefined();
    expect((await collect(w.storage.twins.loadTwins('default'))).map((t) => t.id)).toEqual(['r1']);
    expect((await caught(() => w.twins.get('s1'))).code).toBe('DigitalTwinNotFound');
  });

  it('survives a restart: twins reload from SQLite', async () => {
    const dir = w.dir;
    await w.twins.createOrReplace('r1', room({ temperature: 7 }));
    await w.storage.close();
    const again = await openTestWorkspace({ dir });
    try {
      expect(again.twins.get('r1').contents.temperature).toBe(7);
      expect(again.models.get(ROOM).id).toBe(ROOM);
    } finally {
      await again.storage.close();
    }
  });

  it('a committed write whose history append fails is returned and published as committed, the failure told', async () => {
    await w.twins.createOrReplace('r1', room({ temperature: 7 }));
    const told: [unknown, string][] = [];
    const twins = new TwinService({
      workspace: 'default',
      models: w.models,
      graph: w.graph,
      store: w.storage.twins,
      history: w.storage.history,
      live: w.live,
      onHistoryError: (err, id) => told.push([err, id]),
    });
    // A real failure of the real store: appends are refused once it is closed.
    await w.storage.history.close();
    const t = await twins.update('r1', [{ op: 'replace', path: '/temperature', value: 8 }]);
    expect(t.contents.temperature).toBe(8);
    expect(w.graph.getTwin('r1')).toBe(t);
    expect((await collect(w.storage.twins.loadTwins('default')))[0]?.contents.temperature).toBe(8); // committed
    expect(twins.historyNotRecorded(t)).toMatchObject({ code: 'StorageError' });
    expect(told).toEqual([[expect.objectContaining({ code: 'StorageError' }), 'r1']]);
    expect(w.events.map((e) => e.type)).toEqual(['twinCreated', 'propertyChange']);
    const replaced = await twins.createOrReplace('r1', room({ temperature: 9 }));
    expect(twins.historyNotRecorded(replaced)).toBeDefined();
    expect(w.graph.getTwin('r1')?.contents.temperature).toBe(9);
  });

  it('a twin deleted and created again with the same id starts clean, also after a restart', async () => {
    const dir = w.dir;
    await w.twins.createOrReplace('r1', room({ temperature: 7 }));
    await w.storage.history.append([
      { workspace: 'default', twinId: 'r1', path: 'humidity', kind: 'telemetry', ts: clock, value: 55 },
    ]);
    await w.twins.delete('r1');
    await w.twins.createOrReplace('r1', room({ name: 'new' }));
    expect(w.twins.get('r1').telemetry).toEqual({});
    await w.storage.close();
    const again = await openTestWorkspace({ dir });
    try {
      expect(again.twins.get('r1').telemetry).toEqual({}); // latest telemetry reloads from history
      expect((await again.storage.history.listSeries('default', 'r1')).map((s) => s.path)).toEqual(['name']);
      const old = await again.storage.history.queryRaw({
        workspace: 'default',
        twinId: 'r1',
        path: 'temperature',
        from: 0,
        to: clock + 1,
        limit: 10,
      });
      expect(old.points).toEqual([]);
    } finally {
      await again.storage.close();
    }
  });

  it('serialises concurrent writes to one twin: every patch applies, If-Match checks see the previous write', async () => {
    const t = await w.twins.createOrReplace('r1', room({ temperature: 1 }));
    const patches = Array.from({ length: 10 }, (_, i) =>
      w.twins.update('r1', [{ op: 'add', path: `/name`, value: `n${i}` }]),
    );
    // two writers that both saw the first etag: the first wins, the second is refused
    const a = w.twins.update('r1', [{ op: 'replace', path: '/temperature', value: 2 }], { ifMatch: t.etag });
    const b = w.twins.update('r1', [{ op: 'replace', path: '/temperature', value: 3 }], { ifMatch: t.etag });
    const results = await Promise.allSettled([...patches, a, b]);
    expect(results.slice(0, 10).every((r) => r.status === 'fulfilled')).toBe(true);
    // the ten patches ran first (call order), so both conditional writes are stale
    expect(results.slice(10).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(w.twins.get('r1').contents.name).toBe('n9');
    const stored = (await collect(w.storage.twins.loadTwins('default')))[0]!;
    expect(stored.etag).toBe(w.twins.get('r1').etag);
    const c = w.twins.update('r1', [{ op: 'replace', path: '/temperature', value: 4 }], {
      ifMatch: stored.etag,
    });
    const d = w.twins.update('r1', [{ op: 'replace', path: '/temperature', value: 5 }], {
      ifMatch: stored.etag,
    });
    expect((await Promise.allSettled([c, d])).map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(w.twins.get('r1').contents.temperature).toBe(4);
  });

  it('commits writes to different twins started together in one store commit (group commit)', async () => {
    const before = w.twins.commits.commits;
    await Promise.all(Array.from({ length: 50 }, (_, i) => w.twins.createOrReplace(`g${i}`, room())));
    expect(w.twins.commits.commits - before).toBe(1);
    expect(await collect(w.storage.twins.loadTwins('default'))).toHaveLength(50);
  });

  it('leaves graph and store unchanged when the commit fails, and publishes nothing', async () => {
    await w.twins.createOrReplace('r1', room({ temperature: 1 }));
    const events = w.events.length;
    const commit = w.storage.twins.commit.bind(w.storage.twins);
    w.storage.twins.commit = () => Promise.reject(new Error('disk gone'));
    await expect(w.twins.update('r1', [{ op: 'replace', path: '/temperature', value: 9 }])).rejects.toThrow(
      'disk gone',
    );
    await expect(w.twins.createOrReplace('r2', room())).rejects.toThrow('disk gone');
    await expect(w.twins.delete('r1')).rejects.toThrow('disk gone');
    w.storage.twins.commit = commit;
    expect(w.twins.get('r1').contents.temperature).toBe(1);
    expect(w.graph.getTwin('r2')).toBeUndefined();
    expect(w.events.length).toBe(events);
    expect((await collect(w.storage.twins.loadTwins('default'))).map((t) => t.contents)).toEqual([
      { temperature: 1, thermostat: {} },
    ]);
  });

  it('refuses a write from a stale graph (another node changed the twin) with PreconditionFailed', async () => {
    const t = await w.twins.createOrReplace('r1', room({ temperature: 1 }));
    // another node replaces the twin behind this node's graph
    await w.storage.twins.commit([
      { ops: [{ op: 'putTwin', twin: { ...t, etag: 'W/"other-node"' }, expectEtag: t.etag }] },
    ]);
    const e = await caught(w.twins.update('r1', [{ op: 'replace', path: '/temperature', value: 2 }]));
    expect(e.code).toBe('PreconditionFailed');
    expect(w.twins.get('r1').etag).toBe(t.etag); // unchanged until it reloads
  });
});
