/**
 * Generated assets: ids from patterns, property values in turn, relationships both ways, and
 * `--assets N` sizing one group or sharing N among several.
 */
import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { assetTwinId, fillValue } from './asset-pattern.js';
import { assetCounts, expandScenarioAssets, expandScenarioFleet } from './expand-assets.js';
import { readScenario } from './read-scenario.js';
import type { ScenarioSpec } from './scenario-types.js';

function spec(text: string): ScenarioSpec {
  const { scenario, problems } = readScenario(text, 's.yaml');
  expect(problems.filter((p) => p.severity !== 'warning')).toEqual([]);
  if (!scenario) throw new Error('no scenario');
  return scenario;
}

const CARS = spec(`scenario: cars
assets:
  - model: dtmi:test:Car;1
    count: 3
    id: car-{index:03}
    properties:
      vin: 'VF1{index:6}'
      year: { each: [2023, 2024] }
      tags: ['fleet', 'car-{index}']
      limits: { charge: 90 }
    relationships:
      - { name: chargesAt, target: [hub-a, hub-b] }
      - { name: pairedWith, target: 'wallbox-{index:03}', properties: { since: 2024 } }
    incoming:
      - { source: fleet-1, name: hasCar }
  - model: dtmi:test:Wallbox;1
    count: 3
    id: wallbox-{index:03}
    properties: { maxPower: { each: [11, 7.4] } }
`);

describe('patterns', () => {
  it('fills {index}, padded {index:03} / {index:3}, and the older {n} / {n:3}', () => {
    expect(assetTwinId('ev-{index}', 7)).toBe('ev-7');
    expect(assetTwinId('ev-{index:03}', 7)).toBe('ev-007');
    expect(assetTwinId('ev-{index:3}', 1234)).toBe('ev-1234');
    expect(assetTwinId('ev-{n:3}-{n}', 5)).toBe('ev-005-5');
    expect(fillValue({ each: ['a', 'b', 'c'] }, 5)).toBe('b');
    expect(fillValue({ each: [1], other: 2 }, 1)).toEqual({ each: [1], other: 2 }); // not a choice
  });
});

describe('expandScenarioAssets', () => {
  it('generates the twins with their properties and relationships, as ADT JSON', () => {
    const { twins, relationships } = expandScenarioAssets(CARS);
    expect(twins.map((t) => t.$dtId)).toEqual([
      'car-001',
      'car-002',
      'car-003',
      'wallbox-001',
      'wallbox-002',
      'wallbox-003',
    ]);
    expect(twins[1]).toEqual({
      $dtId: 'car-002',
      $metadata: { $model: 'dtmi:test:Car;1' },
      vin: 'VF1000002',
      year: 2024,
      tags: ['fleet', 'car-2'],
      limits: { charge: 90 },
    });
    expect(twins.slice(3).map((t) => t.maxPower)).toEqual([11, 7.4, 11]);
    const of = (id: string) => relationships.filter((r) => r.$sourceId === id || r.$targetId === id);
    expect(of('car-003')).toEqual([
      {
        $sourceId: 'car-003',
        $relationshipId: 'chargesAt-hub-a',
        $relationshipName: 'chargesAt',
        $targetId: 'hub-a',
      },
      {
        $sourceId: 'car-003',
        $relationshipId: 'pairedWith-wallbox-003',
        $relationshipName: 'pairedWith',
        $targetId: 'wallbox-003',
        since: 2024,
      },
      {
        $sourceId: 'fleet-1',
        $relationshipId: 'hasCar-car-003',
        $relationshipName: 'hasCar',
        $targetId: 'car-003',
      },
    ]);
    expect(relationships.filter((r) => r.$relationshipName === 'chargesAt').map((r) => r.$targetId)).toEqual([
      'hub-a',
      'hub-b',
      'hub-a',
    ]);
  });

  it('sizes one group to --assets N, and shares N among several in proportion', () => {
    const one = spec('scenario: s\nassets: [{ model: "dtmi:a:B;1", count: 8, id: "b-{index}" }]\n');
    expect(expandScenarioAssets(one, 1000).twins).toHaveLength(1000);
    expect(expandScenarioAssets(one, 0).twins).toEqual([]);
    expect(assetCounts([{ count: 8 }, { count: 2 }], 100)).toEqual([80, 20]);
    expect(assetCounts([{ count: 3 }, { count: 3 }], 101)).toEqual([51, 50]); // ties to the first
    expect(assetCounts([{ count: 2 }, { count: 1 }], 4)).toEqual([3, 1]);
    expect(assetCounts([{ count: 0 }, { count: 0 }], 3)).toEqual([2, 1]);
    const { twins } = expandScenarioAssets(CARS, 10);
    expect(twins.filter((t) => String(t.$dtId).startsWith('car-'))).toHaveLength(5);
    expect(twins).toHaveLength(10);
    // property check: the shares always add up to N
    for (let n = 0; n < 60; n++)
      expect(assetCounts([{ count: 7 }, { count: 2 }, { count: 5 }], n).reduce((a, b) => a + b)).toBe(n);
  });

  it('refuses a bad count, a count for a scenario without assets, and ids generated twice', () => {
    const none = spec('scenario: s\n');
    expect(expandScenarioAssets(none)).toEqual({ twins: [], relationships: [] });
    expect(() => expandScenarioAssets(none, 3)).toThrow(/generates no assets/);
    expect(() => expandScenarioAssets(CARS, -1)).toThrow(TwinloopError);
    expect(() => expandScenarioAssets(CARS, 2.5)).toThrow(/whole number/);
    const clash = spec(`scenario: s
assets:
  - { model: 'dtmi:a:B;1', count: 12, id: 'b{index}' }
  - { model: 'dtmi:a:C;1', count: 2, id: 'b1{index}' }
`);
    const e = (() => {
      try {
        expandScenarioAssets(clash);
      } catch (err) {
        return err as TwinloopError;
      }
      throw new Error('no error');
    })();
    expect(e.code).toBe('ValidationFailed');
    expect(e.problems).toEqual([
      expect.objectContaining({
        code: 'sim.scenario.duplicateId',
        line: 4,
        pointer: '/assets/1',
        source: 's.yaml',
      }),
    ]);
    expect(e.message).toMatch(/'b11' is generated twice/);
  });

  it('keeps relationship ids unique per source twin', () => {
    const twice = spec(`scenario: s
assets:
  - model: dtmi:a:B;1
    count: 1
    id: b{index}
    relationships: [{ name: r, target: x }, { name: r, target: x }]
`);
    expect(expandScenarioAssets(twice).relationships.map((r) => r.$relationshipId)).toEqual(['r-x', 'r-x-2']);
  });

  it('keeps the older single-group expansion working', () => {
    const g = CARS.assets[0]!;
    expect(expandScenarioFleet(g, 2).twins.map((t) => t.$dtId)).toEqual(['car-001', 'car-002']);
    expect(expandScenarioFleet(g)).toEqual({
      twins: expandScenarioAssets(CARS).twins.slice(0, 3),
      relationships: expandScenarioAssets(CARS).relationships,
    });
  });
});
