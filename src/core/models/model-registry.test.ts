import { describe, it, expect } from 'vitest';
import { ModelRegistry } from './model-registry.js';
import { TwinloopError } from '../errors/errors.js';

const ctx = 'dtmi:dtdl:context;3';
const device = {
  '@context': ctx,
  '@id': 'dtmi:ex:Device;1',
  '@type': 'Interface',
  contents: [{ '@type': 'Property', name: 'serial', schema: 'string' }],
};
const sensor = {
  '@context': ctx,
  '@id': 'dtmi:ex:Sensor;1',
  '@type': 'Interface',
  extends: 'dtmi:ex:Device;1',
  contents: [
    { '@type': 'Telemetry', name: 'temp', schema: 'double' },
    { '@type': 'Component', name: 'battery', schema: 'dtmi:ex:Battery;1' },
    { '@type': 'Relationship', name: 'in', target: 'dtmi:ex:Room;1' },
  ],
};
const battery = {
  '@context': ctx,
  '@id': 'dtmi:ex:Battery;1',
  '@type': 'Interface',
  contents: [{ '@type': 'Property', name: 'level', schema: 'double' }],
};
const room = { '@context': ctx, '@id': 'dtmi:ex:Room;1', '@type': 'Interface' };

function thrown(f: () => unknown): TwinloopError {
  try {
    f();
  } catch (e) {
    if (e instanceof TwinloopError) return e;
    throw e;
  }
  throw new Error('expected a TwinloopError');
}

describe('ModelRegistry', () => {
  it('adds a batch, resolves across batches and answers lookups', () => {
    const reg = new ModelRegistry();
    expect(
      reg
        .add([{ source: 'a', json: [device, battery, room] }])
        .added.map((i) => i.id)
        .sort(),
    ).toEqual(['dtmi:ex:Battery;1', 'dtmi:ex:Device;1', 'dtmi:ex:Room;1']);
    const { added } = reg.add([{ source: 'b', json: sensor }]);
    expect(added.map((i) => i.id)).toEqual(['dtmi:ex:Sensor;1']);
    expect(reg.get('dtmi:ex:Sensor;1')?.contents.get('serial')?.definedIn).toBe('dtmi:ex:Device;1');
    expect(reg.isOfModel('dtmi:ex:Sensor;1', 'dtmi:ex:Device;1')).toBe(true);
    expect(reg.isOfModel('dtmi:ex:Device;1', 'dtmi:ex:Sensor;1')).toBe(false);
    expect(reg.descendantsOf('dtmi:ex:Device;1')).toEqual(['dtmi:ex:Sensor;1']);
    expect(reg.dependenciesOf('dtmi:ex:Sensor;1').sort()).toEqual([
      'dtmi:ex:Battery;1',
      'dtmi:ex:Device;1',
      'dtmi:ex:Room;1',
    ]);
    expect(reg.definition('dtmi:ex:Sensor;1')).toEqual(sensor);
    expect(reg.list()).toHaveLength(4);
  });

  it('is all-or-nothing and reports every problem', () => {
    const reg = new ModelRegistry();
    const bad = {
      ...room,
      '@id': 'dtmi:ex:Bad;1',
      contents: [{ '@type': 'Property', name: 'x y', schema: 'nope' }],
    };
    const e = thrown(() => reg.add([{ source: 'c', json: [device, bad] }]));
    expect(e.code).toBe('DTDLParserError');
    expect(e.problems.map((p) => p.code).sort()).toEqual(['dtdl.name.invalid', 'dtdl.schema.invalid']);
    expect(reg.list()).toHaveLength(0);
    const u = thrown(() => reg.add([{ source: 'd', json: sensor }]));
    expect(u.code).toBe('DTDLParserError');
    expect(u.message).toContain('dtmi:ex:Device;1');
  });

  it('refuses ids that are taken and deletion of models in use', () => {
    const reg = new ModelRegistry();
    reg.add([{ source: 'a', json: [device, battery, room, sensor] }]);
    expect(thrown(() => reg.add([{ source: 'again', json: device }])).code).toBe('ModelAlreadyExists');
    expect(thrown(() => reg.remove('dtmi:ex:Device;1')).code).toBe('ModelReferencesNotDeleted');
    expect(thrown(() => reg.remove('dtmi:ex:Nope;1')).code).toBe('ModelNotFound');
    reg.remove('dtmi:ex:Sensor;1');
    reg.remove('dtmi:ex:Device;1');
    expect(reg.get('dtmi:ex:Device;1')).toBeUndefined();
  });

  it('tracks decommissioning and reloads stored definitions', () => {
    const reg = new ModelRegistry();
    reg.add([{ source: 'a', json: [device, battery, room, sensor] }]);
    reg.setDecommissioned('dtmi:ex:Device;1', true);
    expect(reg.isDecommissioned('dtmi:ex:Device;1')).toBe(true);
    expect(thrown(() => reg.setDecommissioned('dtmi:ex:Nope;1', true)).code).toBe('ModelNotFound');
    const stored = reg.list().map((i) => ({ source: i.id, json: reg.definition(i.id) }));
    const again = ModelRegistry.load(stored);
    expect(again.getInterface('dtmi:ex:Sensor;1')?.ancestors).toEqual(['dtmi:ex:Device;1']);
  });
});
