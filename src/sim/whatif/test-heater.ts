/**
 * Test support for the what-if tests (not a test): a first-order heater whose answer is known in
 * closed form, against a tiny DTDL interface parsed by the real parser, and a world of heaters in a
 * real InMemoryTwinGraph.
 *
 *   temp' = (ambient + offset + gain·power + 0.1·upstream − temp) / tau
 *   temp(t) = T∞ + (T0 − T∞)·e^(−t/tau),  T∞ = ambient + offset + gain·power + 0.1·upstream
 */
import { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { TwinRecord } from '../../core/graph/graph-types.js';
import { isValidResult, parseDtdl } from '../../core/models/dtdl/parse-dtdl.js';
import type { InterfaceInfo, ModelLookup } from '../../core/models/model-types.js';
import { BehaviourCatalog } from '../behaviour/behaviour-catalog.js';
import { compileBehaviour, type CompiledBehaviour } from '../behaviour/compile-behaviour.js';
import { graphWorld } from './graph-world.js';
import type { TwinSimSnapshot, WhatIfWorld } from './what-if-types.js';

export const HEATER = 'dtmi:test:Heater;1';
export const ROOM = 'dtmi:test:Room;1';
export const LAMP = 'dtmi:test:Lamp;1';

/** The DTDL interfaces of the heater world (heater, room, lamp). */
export const HEATER_MODELS = [
  {
    '@context': ['dtmi:dtdl:context;3', 'dtmi:dtdl:extension:quantitativeTypes;1'],
    '@id': HEATER,
    '@type': 'Interface',
    contents: [
      { '@type': ['Telemetry', 'Temperature'], name: 'temperature', schema: 'double', unit: 'degreeCelsius' },
      { '@type': 'Telemetry', name: 'loss', schema: 'double' },
      { '@type': 'Property', name: 'reportedPower', schema: 'double' },
      { '@type': 'Property', name: 'offset', schema: 'double', writable: true },
      { '@type': 'Relationship', name: 'feeds' },
      { '@type': 'Command', name: 'setPower', request: { name: 'kw', schema: 'double' } },
      { '@type': 'Command', name: 'injectStuck' },
    ],
  },
  {
    '@context': 'dtmi:dtdl:context;3',
    '@id': ROOM,
    '@type': 'Interface',
    contents: [
      { '@type': 'Relationship', name: 'contains' },
      { '@type': 'Telemetry', name: 'temperature', schema: 'double' },
    ],
  },
  {
    '@context': 'dtmi:dtdl:context;3',
    '@id': LAMP,
    '@type': 'Interface',
    contents: [
      { '@type': 'Telemetry', name: 'brightness', schema: 'double' },
      { '@type': 'Property', name: 'level', schema: 'double', writable: true },
    ],
  },
];

export const HEATER_BEHAVIOUR = `
behaviour: heater
interface: ${HEATER}
parameters:
  tau: { value: 100, unit: second }
  gain: { value: 2 }
  ambient: { value: 20, unit: degreeCelsius }
inputs:
  power: { command: setPower, default: 10, unit: kilowatt }
  offset: { property: offset, default: 0 }
  upstream: { relationship: feeds, direction: incoming, source: temperature, default: 0, aggregate: sum }
  wave: { schedule: [[0, 0], [10, 1]], interpolation: step }
states:
  temp: { initial: ambient, derivative: '(ambient + offset + gain*power + 0.1*upstream - temp)/tau', unit: degreeCelsius }
outputs:
  heatLoss: { expr: 'temp - ambient', unit: kelvin }
  lossPerOffset: 'heatLoss/offset' # not a number while offset is 0 (0/0, x/0)
telemetry:
  temperature: { from: temp, noise: { std: 0.5 } }
  loss: { from: heatLoss, noise: { std: 0.1 } }
properties:
  reportedPower: { from: power }
faults:
  stuckHeater: { kind: bias, target: power, magnitude: 5, command: injectStuck }
  drifting: { kind: degradation, target: temp, rate: 0.01, at: 3600 }
  noisyProbe: { kind: bias, target: telemetry.temperature, magnitude: 100, at: 0 }
`;

/** A behaviour without states: brightness follows the level property at once. */
export const LAMP_BEHAVIOUR = `
behaviour: lamp
interface: ${LAMP}
parameters:
  lumens: { value: 800 }
inputs:
  level: { property: level, default: 0.5 }
outputs:
  light: { expr: 'lumens*level' }
telemetry:
  brightness: { from: light }
`;

export interface HeaterWorld {
  graph: InMemoryTwinGraph;
  world: WhatIfWorld;
  catalog: BehaviourCatalog;
  heater: CompiledBehaviour;
  lookup: ModelLookup;
  /** Live snapshots the world reports, by twin id. */
  snapshots: Map<string, { source: 'simulator' | 'shadow'; snapshot: TwinSimSnapshot }>;
  /** Calibrated parameters the world reports, by twin id. */
  calibrated: Map<string, Record<string, number>>;
}

/** Parses the interfaces and compiles the behaviours. */
export function heaterModels(): { lookup: ModelLookup; heater: CompiledBehaviour; lamp: CompiledBehaviour } {
  const r = parseDtdl(HEATER_MODELS.map((i, k) => ({ source: `m${k}.json`, text: JSON.stringify(i) })));
  if (!isValidResult(r)) throw new Error(`bad test models: ${JSON.stringify(r.problems)}`);
  const lookup: ModelLookup = {
    getInterface: (id): InterfaceInfo | undefined => r.interfaces.get(id),
    isOfModel: (m, b) => m === b,
  };
  const heater = compileBehaviour(HEATER_BEHAVIOUR, lookup.getInterface(HEATER) as InterfaceInfo, { lookup });
  const lamp = compileBehaviour(LAMP_BEHAVIOUR, lookup.getInterface(LAMP) as InterfaceInfo, { lookup });
  return { lookup, heater, lamp };
}

let etag = 0;
/** A twin record as the twin service would store it. */
export function twin(
  id: string,
  modelId: string,
  contents: Record<string, unknown> = {},
  telemetry: Record<string, number> = {},
): TwinRecord {
  return {
    id,
    modelId,
    workspace: 'default',
    etag: `W/"${++etag}"`,
    lastUpdateTime: 1_000,
    contents,
    propertyTimes: Object.fromEntries(Object.keys(contents).map((k) => [k, 1_000])),
    telemetry: Object.fromEntries(Object.entries(telemetry).map(([k, v]) => [k, { value: v, time: 1_000 }])),
  };
}

/**
 * Heaters h1 → h2 ← h3 (feeds), h2 → h4, a room containing h1 and a lamp; `now` is 5000 s.
 * Extra twins and relationships can be added to `graph` before planning.
 */
export function heaterWorld(): HeaterWorld {
  const { lookup, heater, lamp } = heaterModels();
  const catalog = new BehaviourCatalog(
    [
      { source: 'heater.yaml', interfaceId: HEATER, model: heater },
      { source: 'lamp.yaml', interfaceId: LAMP, model: lamp },
    ],
    lookup,
  );
  const graph = new InMemoryTwinGraph();
  for (const id of ['h1', 'h2', 'h3', 'h4']) graph.putTwin(twin(id, HEATER));
  graph.putTwin(twin('room', ROOM, {}, { temperature: 18 }));
  graph.putTwin(twin('lamp', LAMP, { level: 0.25 }));
  const rel = (sourceId: string, name: string, targetId: string): void =>
    graph.putRelationship({
      id: `${sourceId}-${name}-${targetId}`,
      sourceId,
      targetId,
      name,
      workspace: 'default',
      etag: 'W/"r"',
      lastUpdateTime: 1_000,
      properties: {},
    });
  rel('h1', 'feeds', 'h2');
  rel('h3', 'feeds', 'h2');
  rel('h2', 'feeds', 'h4');
  rel('room', 'contains', 'h1');
  rel('room', 'contains', 'lamp');
  const snapshots = new Map<string, { source: 'simulator' | 'shadow'; snapshot: TwinSimSnapshot }>();
  const calibrated = new Map<string, Record<string, number>>();
  const world = graphWorld(graph, {
    now: () => 5000,
    snapshot: (id) => snapshots.get(id),
    parameters: (id) => calibrated.get(id),
  });
  return { graph, world, catalog, heater, lookup, snapshots, calibrated };
}

/** temp(t) of a first-order lag from T0 towards T∞ with time constant tau. */
export const lag = (t: number, T0: number, Tinf: number, tau = 100): number =>
  Tinf + (T0 - Tinf) * Math.exp(-t / tau);

/** Every twin and relationship of a graph, as JSON (to compare before and after a run). */
export function graphJson(graph: InMemoryTwinGraph): string {
  return JSON.stringify({
    twins: [...graph.allTwins()].sort((a, b) => a.id.localeCompare(b.id)),
    relationships: [...graph.allRelationships()].sort((a, b) => a.id.localeCompare(b.id)),
  });
}
