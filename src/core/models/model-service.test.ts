import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ALL_MODELS,
  MODELS,
  openTestWorkspace,
  type TestWorkspace,
} from '../../../test/adt-sdk/workspace-fixture.js';
import { caught, caughtSync } from '../../../test/support/caught.js';
import { ModelRegistry } from './model-registry.js';
import { ModelService } from './model-service.js';

describe('ModelService', () => {
  let w: TestWorkspace;
  const T0 = Date.UTC(2024, 0, 2, 3, 4, 5);
  beforeEach(async () => {
    w = await openTestWorkspace({ now: () => T0 });
  });
  afterEach(async () => w.close());

  it('adds a batch and answers ADT model data (language maps, ISO upload time)', async () => {
    const added = await w.models.add(ALL_MODELS);
    expect(added.map((m) => m.id)).toEqual(ALL_MODELS.map((m) => m['@id']));
    const room = w.models.get('dtmi:test:Room;1', true);
    expect(room).toEqual({
      id: 'dtmi:test:Room;1',
      displayName: { en: 'Room', de: 'Raum' },
      description: {},
      uploadTime: '2024-01-02T03:04:05.000Z',
      decommissioned: false,
      model: MODELS.room,
    });
    expect(w.models.get('dtmi:test:Space;1').displayName).toEqual({ en: 'Space' });
    expect(w.models.get('dtmi:test:Space;1').model).toBeUndefined();
    expect((await w.storage.models.list('default')).map((m) => m.id)).toHaveLength(4);
  });

  it('is all or nothing: one invalid model keeps the whole batch out', async () => {
    const bad = {
      '@id': 'dtmi:test:Bad;1',
      '@type': 'Interface',
      '@context': 'dtmi:dtdl:context;3',
      contents: [{ '@type': 'Property', name: 'x', schema: 'nope' }],
    };
    const e = await caught(() => w.models.add([MODELS.sensor, bad]));
    expect(e.code).toBe('DTDLParserError');
    expect(e.problems.length).toBeGreaterThan(0);
    expect(w.models.list()).toEqual([]);
    expect(await w.storage.models.list('default')).toEqual([]);
  });

  it('409 when a model id already exists; 400 for a body that is not an array', async () => {
    await w.models.add([MODELS.sensor]);
    expect((await caught(() => w.models.add([MODELS.sensor]))).status).toBe(409);
    expect((await caught(() => w.models.add({}))).code).toBe('DTDLParserError');
    expect(
      (await caught(() => w.models.add([MODELS.thermostat, MODELS.thermostat]))).problems[0]?.pointer,
    ).toBe('/1/@id');
  });

  it('lists with dependenciesFor (the models and what they depend on) and 404s unknown ids', async () => {
    await w.models.add(ALL_MODELS);
    expect(
      w.models
        .list({ dependenciesFor: ['dtmi:test:Room;1'] })
        .map((m) => m.id)
        .sort(),
    ).toEqual(
      ['dtmi:test:Room;1', 'dtmi:test:Sensor;1', 'dtmi:test:Space;1', 'dtmi:test:Thermostat;1'].sort(),
    );
    expect(w.models.list({ dependenciesFor: ['dtmi:test:Sensor;1'] }).map((m) => m.id)).toEqual([
      'dtmi:test:Sensor;1',
    ]);
    expect(caughtSync(() => w.models.list({ dependenciesFor: ['dtmi:test:Nope;1'] })).code).toBe(
      'ModelNotFound',
    );
  });

  it('decommissions with ADT patch only; the flag survives a reload', async () => {
    await w.models.add(ALL_MODELS);
    expect(
      (
        await caught(() =>
          w.models.update('dtmi:test:Sensor;1', [{ op: 'replace', path: '/decommissioned', value: false }]),
        )
      ).code,
    ).toBe('JsonPatchInvalid');
    await w.models.update('dtmi:test:Sensor;1', [{ op: 'replace', path: '/decommissioned', value: true }]);
    expect(w.models.get('dtmi:test:Sensor;1').decommissioned).toBe(true);
    const dir = w.dir;
    await w.storage.close();
    const again = await openTestWorkspace({ dir });
    try {
      expect(again.models.get('dtmi:test:Sensor;1').decommissioned).toBe(true);
      expect(again.models.isDecommissioned('dtmi:test:Sensor;1')).toBe(true);
    } finally {
      await again.storage.close();
    }
  });

  it('deletes a model unless another extends it or uses it as a component (409 ModelReferencesNotDeleted)', async () => {
    await w.models.add(ALL_MODELS);
    const e = await caught(() => w.models.delete('dtmi:test:Space;1'));
    expect(e.code).toBe('ModelReferencesNotDeleted');
    expect(e.status).toBe(409);
    expect((await caught(() => w.models.delete('dtmi:test:Thermostat;1'))).code).toBe(
      'ModelReferencesNotDeleted',
    );
    // Sensor is only the target of Room's relationship: ADT does not block on that.
    await w.models.delete('dtmi:test:Sensor;1');
    await w.models.delete('dtmi:test:Room;1');
    await w.models.delete('dtmi:test:Space;1');
    expect(
      w.models
        .list()
        .map((m) => m.id)
        .sort(),
    ).toEqual(['dtmi:test:Thermostat;1']);
    expect(await w.storage.models.list('default')).toHaveLength(1);
    expect((await caught(() => w.models.delete('dtmi:test:Room;1'))).code).toBe('ModelNotFound');
  });

  it('answers a DTDL v2 model with its language maps, whatever form the document used', async () => {
    const v2 = {
      '@context': 'dtmi:dtdl:context;2',
      '@id': 'dtmi:test:v2:Lamp;1',
      '@type': 'Interface',
      displayName: ['Lamp', { '@value': 'Lampe', '@language': 'fr' }],
      description: { en: 'A lamp', sv: 'En lampa' },
      contents: [{ '@type': ['Property', 'Illuminance'], name: 'lux', schema: 'double', unit: 'lux' }],
    };
    await w.models.add([v2]);
    const m = w.models.get('dtmi:test:v2:Lamp;1', true);
    expect(m.displayName).toEqual({ en: 'Lamp', fr: 'Lampe' });
    expect(m.description).toEqual({ en: 'A lamp', sv: 'En lampa' });
    expect(m.model).toEqual(v2);
    expect(w.models.getInterface('dtmi:test:v2:Lamp;1')?.contents.get('lux')?.unit).toBe('lux');
  });

  it('two models whose relationships target each other can both be deleted, and a model whose target is gone reloads', async () => {
    const a = {
      '@context': 'dtmi:dtdl:context;3',
      '@id': 'dtmi:test:A;1',
      '@type': 'Interface',
      contents: [{ '@type': 'Relationship', name: 'toB', target: 'dtmi:test:B;1' }],
    };
    const b = {
      '@context': 'dtmi:dtdl:context;3',
      '@id': 'dtmi:test:B;1',
      '@type': 'Interface',
      contents: [{ '@type': 'Relationship', name: 'toA', target: 'dtmi:test:A;1' }],
    };
    await w.models.add([a, b]);
    await w.models.delete('dtmi:test:B;1');
    expect(w.models.has('dtmi:test:A;1')).toBe(true);
    // A still names B as its target: the stored models load again after a restart.
    const dir = w.dir;
    await w.storage.close();
    const again = await openTestWorkspace({ dir });
    try {
      expect(again.models.list().map((m) => m.id)).toEqual(['dtmi:test:A;1']);
      await again.models.delete('dtmi:test:A;1');
      expect(again.models.count).toBe(0);
    } finally {
      await again.storage.close();
    }
  });
  it("load() again follows another node's uploads, decommissions and deletes on the same store (a cluster)", async () => {
    // Node B: its own registry and service over the store node A (w.models) writes.
    const registry = new ModelRegistry();
    const other = new ModelService({ workspace: 'default', registry, store: w.storage.models });
    await other.load();
    await w.models.add([MODELS.space, MODELS.thermostat]);
    await other.load();
    expect(other.list().map((m) => m.id)).toEqual(['dtmi:test:Space;1', 'dtmi:test:Thermostat;1']);
    await w.models.add([MODELS.sensor, MODELS.room]);
    await w.models.update('dtmi:test:Sensor;1', [{ op: 'replace', path: '/decommissioned', value: true }]);
    await other.load();
    expect(other.count).toBe(4);
    expect(other.isDecommissioned('dtmi:test:Sensor;1')).toBe(true);
    expect(registry.isDecommissioned('dtmi:test:Sensor;1')).toBe(true);
    expect(other.isOfModel('dtmi:test:Room;1', 'dtmi:test:Space;1')).toBe(true);
    // Room extends Space: deleted in dependency order on A, both go on B in one load.
    await w.models.delete('dtmi:test:Room;1');
    await w.models.delete('dtmi:test:Space;1');
    await other.load();
    expect(other.list().map((m) => m.id)).toEqual(['dtmi:test:Thermostat;1', 'dtmi:test:Sensor;1']);
    expect(other.getInterface('dtmi:test:Room;1')).toBeUndefined();
    expect(other.getInterface('dtmi:test:Space;1')).toBeUndefined();
    expect((await caught(() => other.delete('dtmi:test:Room;1'))).code).toBe('ModelNotFound');
    // Deleted everywhere, then uploaded again through B: A follows too.
    await w.models.delete('dtmi:test:Sensor;1');
    await w.models.delete('dtmi:test:Thermostat;1');
    await other.load();
    expect(other.count).toBe(0);
    await other.add([MODELS.space]);
    await w.models.load();
    expect(w.models.list().map((m) => m.id)).toEqual(['dtmi:test:Space;1']);
    expect(w.models.isDecommissioned('dtmi:test:Space;1')).toBe(false);
    // Deleted and uploaded again with another definition elsewhere: replaced (a new upload time).
    const third = new ModelService({
      workspace: 'default',
      registry: new ModelRegistry(),
      store: w.storage.models,
      now: () => T0 + 1000,
    });
    await third.load();
    await third.delete('dtmi:test:Space;1');
    await third.add([{ ...MODELS.space, displayName: 'Zone' }]);
    await w.models.load();
    expect(w.models.get('dtmi:test:Space;1').displayName).toEqual({ en: 'Zone' });
    expect(w.models.count).toBe(1);
  });
});
