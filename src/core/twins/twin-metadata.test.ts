import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect } from '../../../test/support/collect.js';
import { twinToJson } from '../graph/twin-json.js';
import {
  ALL_MODELS,
  openTestWorkspace,
  type TestWorkspace,
} from '../../../test/adt-sdk/workspace-fixture.js';
import { caught } from '../../../test/support/caught.js';

const ROOM = 'dtmi:test:Room;1';
const SPACE = 'dtmi:test:Space;1';
const NS = '2022-05-31T12:00:01.000125009Z';

describe('twin $metadata: sourceTime and $model', () => {
  let w: TestWorkspace;
  let clock = 1_700_000_000_000;
  beforeEach(async () => {
    clock = 1_700_000_000_000;
    w = await openTestWorkspace({ now: () => clock });
    await w.models.add(ALL_MODELS);
  });
  afterEach(async () => w.close());

  interface Meta {
    [prop: string]: { lastUpdateTime: string; sourceTime?: string };
  }
  const json = (id: string) =>
    twinToJson(w.twins.get(id), (t, n) => w.twins.isComponent(t, n)) as {
      $metadata: Meta;
      thermostat: { $metadata: Meta };
    };

  it('a PUT sets sourceTime on properties and component properties, kept exactly as written; read-only members sent back are ignored', async () => {
    await w.twins.createOrReplace('r1', {
      $metadata: {
        $model: ROOM,
        $lastUpdateTime: '2020-01-01T00:00:00Z',
        temperature: { sourceTime: NS, lastUpdateTime: '2020-01-01T00:00:00Z' },
      },
      temperature: 21,
      thermostat: { $metadata: { setPoint: { sourceTime: '2024-01-01T00:00:00+02:00' } }, setPoint: 20 },
    });
    const j = json('r1');
    expect(j.$metadata.temperature).toEqual({
      lastUpdateTime: new Date(clock).toISOString(),
      sourceTime: NS,
    });
    expect(j.thermostat.$metadata.setPoint?.sourceTime).toBe('2024-01-01T00:00:00+02:00');
    // it survives a restart
    await w.storage.close();
    const again = await openTestWorkspace({ dir: w.dir });
    try {
      expect(again.twins.get('r1').sourceTimes).toEqual({
        temperature: NS,
        'thermostat/setPoint': '2024-01-01T00:00:00+02:00',
      });
    } finally {
      await again.storage.close();
    }
  });

  it('refuses a bad sourceTime, one for a property that is not set, and other $metadata members, all at once', async () => {
    const e = await caught(
      w.twins.createOrReplace('r1', {
        $metadata: {
          $model: ROOM,
          temperature: { sourceTime: 'yesterday' },
          name: { sourceTime: NS },
          thermostat: { sourceTime: NS },
          $etc: 1,
        },
        temperature: 21,
        thermostat: { $metadata: {} },
      }),
    );
    expect(e.code).toBe('ValidationFailed');
    expect(e.problems.map((p) => `${p.pointer} ${p.code}`).sort()).toEqual([
      '/$metadata/$etc twin.metadata.member',
      '/$metadata/name/sourceTime twin.metadata.noProperty',
      '/$metadata/temperature/sourceTime twin.metadata.sourceTime',
      '/$metadata/thermostat/sourceTime twin.metadata.member',
    ]);
  });

  it('JSON Patch sets, replaces and removes sourceTime (twin and component); removing the property drops it', async () => {
    await w.twins.createOrReplace('r1', { $metadata: { $model: ROOM }, thermostat: { $metadata: {} } });
    await w.twins.update('r1', [
      { op: 'add', path: '/temperature', value: 22 },
      { op: 'replace', path: '/$metadata/temperature/sourceTime', value: NS },
    ]);
    await w.twins.updateComponent('r1', 'thermostat', [
      { op: 'add', path: '/setPoint', value: 19 },
      { op: 'add', path: '/$metadata/setPoint/sourceTime', value: '2024-03-01T10:00:00Z' },
    ]);
    expect(json('r1').$metadata.temperature?.sourceTime).toBe(NS);
    expect(json('r1').thermostat.$metadata.setPoint?.sourceTime).toBe('2024-03-01T10:00:00Z');
    await w.twins.update('r1', [{ op: 'remove', path: '/$metadata/temperature/sourceTime' }]);
    expect(json('r1').$metadata.temperature?.sourceTime).toBeUndefined();
    await w.twins.update('r1', [{ op: 'remove', path: '/thermostat/setPoint' }]);
    expect(w.twins.get('r1').sourceTimes).toBeUndefined();
    const bad = await caught(
      w.twins.update('r1', [
        { op: 'replace', path: '/$metadata/temperature/sourceTime', value: 12 },
        { op: 'replace', path: '/$metadata/temperature/lastUpdateTime', value: NS },
        { op: 'replace', path: '/$dtId', value: 'x' },
      ]),
    );
    expect(bad.code).toBe('JsonPatchInvalid');
    expect(bad.problems.map((p) => `${p.pointer} ${p.code}`).sort()).toEqual([
      '/0/value twin.metadata.sourceTime',
      '/1/path patch.path.system',
      '/2/path patch.path.system',
    ]);
    const unset = await caught(
      w.twins.update('r1', [{ op: 'add', path: '/$metadata/name/sourceTime', value: NS }]),
    );
    expect(unset.code).toBe('ValidationFailed');
    expect(unset.problems[0]?.code).toBe('twin.metadata.noProperty');
  });

  it('hostile metadata patches: __proto__ paths, non-string and huge $model, huge sourceTime are refused and not echoed', async () => {
    await w.twins.createOrReplace('r1', {
      $metadata: { $model: ROOM },
      temperature: 1,
      thermostat: { $metadata: {} },
    });
    const proto = await caught(
      w.twins.update('r1', [{ op: 'add', path: '/$metadata/__proto__/sourceTime', value: NS }]),
    );
    expect(proto.code).toBe('JsonPatchInvalid');
    expect(proto.problems[0]?.code).toBe('patch.path.forbidden');
    const obj = await caught(w.twins.update('r1', [{ op: 'replace', path: '/$metadata/$model', value: {} }]));
    expect(obj.code).toBe('ValidationFailed');
    const huge = 'dtmi:x:' + 'a'.repeat(100_000) + ';1';
    const big = await caught(
      w.twins.update('r1', [{ op: 'replace', path: '/$metadata/$model', value: huge }]),
    );
    expect(big.code).toBe('ValidationFailed');
    expect(big.message.length).toBeLessThan(1000);
    const t0 = performance.now();
    const longTime = await caught(
      w.twins.update('r1', [
        {
          op: 'replace',
          path: '/$metadata/temperature/sourceTime',
          value: '2024-01-01T00:00:00' + '0'.repeat(100_000),
        },
      ]),
    );
    expect(longTime.problems[0]?.code).toBe('twin.metadata.sourceTime');
    expect(performance.now() - t0).toBeLessThan(500);
    expect(w.twins.get('r1').modelId).toBe(ROOM);
  });

  it('PATCH /$metadata/$model moves a twin to another model, checked whole against the new one', async () => {
    await w.twins.createOrReplace('r1', {
      $metadata: { $model: ROOM },
      area: 30,
      temperature: 21,
      thermostat: { $metadata: {} },
    });
    const invalid = await caught(
      w.twins.update('r1', [{ op: 'replace', path: '/$metadata/$model', value: SPACE }]),
    );
    expect(invalid.code).toBe('ValidationFailed');
    expect(invalid.problems.map((p) => p.pointer).sort()).toEqual(['/temperature', '/thermostat']);
    const unknown = await caught(
      w.twins.update('r1', [{ op: 'replace', path: '/$metadata/$model', value: 'dtmi:test:Nope;1' }]),
    );
    expect(unknown.code).toBe('ValidationFailed');
    clock += 1000;
    await w.twins.update('r1', [
      { op: 'replace', path: '/$metadata/$model', value: SPACE },
      { op: 'remove', path: '/temperature' },
      { op: 'remove', path: '/thermostat' },
    ]);
    const t = w.twins.get('r1');
    expect(t.modelId).toBe(SPACE);
    expect(t.contents).toEqual({ area: 30 });
    expect(t.propertyTimes).toEqual({ area: 1_700_000_000_000 });
    expect([...w.graph.twinsOfModel(SPACE, true)].map((x) => x.id)).toEqual(['r1']);
    expect([...w.graph.twinsOfModel(ROOM, true)]).toEqual([]);
    expect((await collect(w.storage.twins.loadTwins('default'))).find((x) => x.id === 'r1')?.modelId).toBe(
      SPACE,
    );
    await w.models.update(ROOM, [{ op: 'replace', path: '/decommissioned', value: true }]);
    const decommissioned = await caught(
      w.twins.update('r1', [{ op: 'replace', path: '/$metadata/$model', value: ROOM }]),
    );
    expect(decommissioned.code).toBe('ModelDecommissioned');
  });

  it('twins of a deleted model stay readable and can be moved to another model; other patches fail until then', async () => {
    await w.models.add([
      {
        '@context': 'dtmi:dtdl:context;3',
        '@id': 'dtmi:test:Lamp;1',
        '@type': 'Interface',
        contents: [
          { '@type': 'Property', name: 'area', schema: 'double' },
          { '@type': 'Component', name: 'thermostat', schema: 'dtmi:test:Thermostat;1' },
        ],
      },
    ]);
    await w.twins.createOrReplace('l1', {
      $metadata: { $model: 'dtmi:test:Lamp;1' },
      area: 2,
      thermostat: { $metadata: { mode: { sourceTime: NS } }, mode: 'eco' },
    });
    await w.models.delete('dtmi:test:Lamp;1');
    expect(w.twins.get('l1').modelId).toBe('dtmi:test:Lamp;1');
    // Still read as written: the component keeps its own $metadata.
    expect(json('l1').thermostat.$metadata.mode?.sourceTime).toBe(NS);
    const e = await caught(w.twins.update('l1', [{ op: 'replace', path: '/area', value: 3 }]));
    expect(e.code).toBe('ValidationFailed');
    expect(e.message).toContain('no longer uploaded');
    await w.twins.update('l1', [
      { op: 'replace', path: '/$metadata/$model', value: SPACE },
      { op: 'remove', path: '/thermostat' },
    ]);
    expect(w.twins.get('l1').modelId).toBe(SPACE);
    expect(w.twins.get('l1').sourceTimes).toBeUndefined();
  });
});
