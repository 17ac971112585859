/**
 * Builds a realistic plant graph for benchmarks: sites contain lines, lines contain machines
 * (pumps, motors, a few compressors), machines have sensors; machines on a line feed the next one,
 * sensors monitor a random machine and sit near a random sensor (cross links). Seeded PRNG, so every
 * run builds the same graph.
 */
import type { RelationshipRecord, TwinRecord } from '../../src/core/graph/graph-types.js';
import { InMemoryTwinGraph } from '../../src/core/graph/in-memory-twin-graph.js';

export const M = {
  Site: 'dtmi:bench:Site;1',
  Line: 'dtmi:bench:Line;1',
  Machine: 'dtmi:bench:Machine;1',
  Pump: 'dtmi:bench:Pump;1',
  Motor: 'dtmi:bench:Motor;1',
  Compressor: 'dtmi:bench:Compressor;1',
  Sensor: 'dtmi:bench:Sensor;1',
} as const;

const MACHINE_KINDS: readonly string[] = [M.Pump, M.Motor, M.Machine];
const DESCENDANTS: Record<string, string[]> = { [M.Machine]: [M.Pump, M.Motor, M.Compressor] };
export const isOfModel = (m: string, base: string): boolean =>
  m === base || (DESCENDANTS[base] ?? []).includes(m);

export interface PlantShape {
  sites: number;
  linesPerSite: number;
  machinesPerLine: number;
  sensorsPerMachine: number;
  /** Total relationships wanted; cross links ("near") top up to it. */
  relationships: number;
}

export interface Plant {
  graph: InMemoryTwinGraph;
  sites: string[];
  lines: string[];
  machines: string[];
  sensors: string[];
}

/** Mulberry32: small, fast, seeded. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const T0 = Date.UTC(2026, 10, 1);
let etagSeq = 0;
const etag = (): string =>
  `W/"${(++etagSeq).toString(16).padStart(8, '0')}-5b1e-4c2a-9f00-${(etagSeq * 7919).toString(16).padStart(12, '0')}"`;

function mkTwin(
  id: string,
  modelId: string,
  contents: Record<string, unknown>,
  telemetry: Record<string, unknown>,
  t: number,
): TwinRecord {
  const propertyTimes: Record<string, number> = {};
  for (const k of Object.keys(contents)) propertyTimes[k] = t;
  const tel: Record<string, { value: unknown; time: number }> = {};
  for (const [k, v] of Object.entries(telemetry)) tel[k] = { value: v, time: t };
  return {
    id,
    modelId,
    workspace: 'default',
    etag: etag(),
    lastUpdateTime: t,
    contents,
    propertyTimes,
    telemetry: tel,
  };
}

function mkRel(sourceId: string, id: string, name: string, targetId: string, t: number): RelationshipRecord {
  return {
    id,
    sourceId,
    targetId,
    name,
    workspace: 'default',
    etag: etag(),
    lastUpdateTime: t,
    properties: {},
  };
}

export function buildPlant(shape: PlantShape, seed = 42): Plant {
  const rnd = prng(seed);
  const graph = new InMemoryTwinGraph({ hierarchy: { matchesModel: isOfModel } });
  const plant: Plant = { graph, sites: [], lines: [], machines: [], sensors: [] };
  let rels = 0;
  const link = (s: string, name: string, t: string): void => {
    graph.putRelationship(mkRel(s, `${name}-${t}`, name, t, T0));
    rels++;
  };
  for (let s = 0; s < shape.sites; s++) {
    const site = `site-${s}`;
    graph.putTwin(mkTwin(site, M.Site, { name: `Site ${s}`, country: 'DE' }, {}, T0));
    plant.sites.push(site);
    for (let l = 0; l < shape.linesPerSite; l++) {
      const line = `line-${s}-${l}`;
      graph.putTwin(mkTwin(line, M.Line, { name: `Line ${l}`, number: l, active: l % 7 !== 0 }, {}, T0));
      plant.lines.push(line);
      link(site, 'contains', line);
      let prev: string | undefined;
      for (let m = 0; m < shape.machinesPerLine; m++) {
        const machine = `machine-${s}-${l}-${m}`;
        const model = rnd() < 0.02 ? M.Compressor : (MACHINE_KINDS[m % MACHINE_KINDS.length] as string);
        graph.putTwin(
          mkTwin(
            machine,
            model,
            { name: `M${m}`, rpm: Math.round(500 + rnd() * 2500), serial: `SN${s}${l}${m}` },
            { vibration: Math.round(rnd() * 1000) / 100, power: rnd() * 50 },
            T0 + m,
          ),
        );
        plant.machines.push(machine);
        link(line, 'contains', machine);
        if (prev) link(prev, 'feeds', machine);
        prev = machine;
        for (let k = 0; k < shape.sensorsPerMachine; k++) {
          const sensor = `sensor-${s}-${l}-${m}-${k}`;
          graph.putTwin(
            mkTwin(
              sensor,
              M.Sensor,
              { name: `S${k}`, unit: 'degC', enabled: true, threshold: 80 },
              { value: Math.round(rnd() * 10000) / 100 },
              T0 + k,
            ),
          );
          plant.sensors.push(sensor);
          link(machine, 'hasSensor', sensor);
        }
      }
    }
  }
  const pick = (xs: string[]): string => xs[Math.floor(rnd() * xs.length)] as string;
  for (const sensor of plant.sensors) {
    if (rels >= shape.relationships) break;
    graph.putRelationship(mkRel(sensor, `monitors-${sensor}`, 'monitors', pick(plant.machines), T0));
    rels++;
  }
  let n = 0;
  while (rels < shape.relationships) {
    const a = pick(plant.sensors);
    graph.putRelationship(mkRel(a, `near-${n++}`, 'near', pick(plant.sensors), T0));
    rels++;
  }
  return plant;
}
