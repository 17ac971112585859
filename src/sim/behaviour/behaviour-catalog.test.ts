/** Which behaviour simulates a twin: its own model's, else the nearest base model's. */
import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { BehaviourCatalog, type CatalogEntry } from './behaviour-catalog.js';
import type { CompiledBehaviour } from './compile-behaviour.js';

// Model hierarchy: Pump extends Equipment; BoosterPump extends Pump; Valve extends Equipment.
const bases: Record<string, string[]> = {
  Equipment: [],
  Pump: ['Equipment'],
  BoosterPump: ['Pump', 'Equipment'],
  Valve: ['Equipment'],
};
const models = { isOfModel: (m: string, b: string) => m === b || (bases[m]?.includes(b) ?? false) };
const entry = (name: string, iface: string): CatalogEntry => ({
  source: `${name}.yaml`,
  interfaceId: iface,
  // Only the name is read by the catalog; a compiled model is not needed to test the lookup.
  model: { spec: { behaviour: name } } as unknown as CompiledBehaviour,
});

describe('BehaviourCatalog', () => {
  const catalog = new BehaviourCatalog([entry('equipment', 'Equipment'), entry('pump', 'Pump')], models);

  it('gives a twin the behaviour of its own model first', () => {
    expect(catalog.forModel('Pump')?.source).toBe('pump.yaml');
    expect(catalog.forModel('Equipment')?.source).toBe('equipment.yaml');
  });

  it('else the most specific base model that has one', () => {
    expect(catalog.forModel('BoosterPump')?.source).toBe('pump.yaml');
    expect(catalog.forModel('Valve')?.source).toBe('equipment.yaml');
    expect(catalog.forModel('Unknown')).toBeUndefined();
  });

  it('finds by behaviour name and lists in order', () => {
    expect(catalog.byBehaviourName('pump')?.interfaceId).toBe('Pump');
    expect(catalog.list().map((e) => e.source)).toEqual(['equipment.yaml', 'pump.yaml']);
    expect(catalog.size).toBe(2);
  });

  it('refuses two behaviours for one model, or two with one name, naming both files', () => {
    const twice = () => new BehaviourCatalog([entry('a', 'Pump'), entry('b', 'Pump')], models);
    expect(twice).toThrow(TwinloopError);
    expect(twice).toThrow(/a\.yaml and b\.yaml/);
    expect(() => new BehaviourCatalog([entry('a', 'Pump'), entry('a', 'Valve')], models)).toThrow(
      /named 'a'/,
    );
  });
});
