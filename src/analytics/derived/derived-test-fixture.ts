/**
 * Test support for derived values: a small pump line (DTDL parsed by the real parser), an in-memory
 * TwinContext over it, a sink that records writes, and a helper that reads and checks definitions.
 */
import type { Problem } from '../../core/errors/errors.js';
import { parseDtdl } from '../../core/models/dtdl/parse-dtdl.js';
import type { ModelLookup } from '../../core/models/model-types.js';
import type {
  DerivedPropertySink,
  DerivedSink,
  PropertyWritePolicy,
  TwinContext,
} from '../analytics-types.js';
import { checkDerived } from './check-derived.js';
import type { DerivedFileSpec, DerivedSet } from './derived-types.js';
import { readDerived } from './read-derived.js';

export const PUMP = 'dtmi:test:Pump;1';
export const BIG_PUMP = 'dtmi:test:BigPump;1';
export const LINE = 'dtmi:test:Line;1';

const MODELS = [
  {
    '@context': 'dtmi:dtdl:context;3',
    '@id': PUMP,
    '@type': 'Interface',
    contents: [
      { '@type': 'Telemetry', name: 'flow', schema: 'double' },
      { '@type': 'Telemetry', name: 'head', schema: 'double' },
      { '@type': 'Telemetry', name: 'vibration', schema: 'double' },
      { '@type': 'Telemetry', name: 'running', schema: 'boolean' },
      { '@type': 'Telemetry', name: 'status', schema: 'string' },
      { '@type': 'Property', name: 'vibrationLimit', schema: 'double' },
      { '@type': 'Property', name: 'serial', schema: 'string' },
      // Written by derived values with `target: property`.
      { '@type': 'Property', name: 'healthIndex', schema: 'double', writable: true },
      { '@type': 'Property', name: 'runHours', schema: 'long', writable: true },
      { '@type': 'Property', name: 'label', schema: 'string', writable: true },
      { '@type': 'Relationship', name: 'feeds', target: PUMP },
      { '@type': 'Component', name: 'motor', schema: 'dtmi:test:Motor;1' },
    ],
  },
  {
    '@context': 'dtmi:dtdl:context;3',
    '@id': 'dtmi:test:Motor;1',
    '@type': 'Interface',
    contents: [
      { '@type': 'Telemetry', name: 'current', schema: 'double' },
      { '@type': 'Property', name: 'load', schema: 'float', writable: true },
    ],
  },
  {
    '@context': 'dtmi:dtdl:context;3',
    '@id': BIG_PUMP,
    '@type': 'Interface',
    extends: PUMP,
    contents: [{ '@type': 'Telemetry', name: 'speed', schema: 'double' }],
  },
  {
    '@context': 'dtmi:dtdl:context;3',
    '@id': LINE,
    '@type': 'Interface',
    contents: [
      { '@type': 'Property', name: 'name', schema: 'string' },
      { '@type': 'Relationship', name: 'hasPump', target: PUMP },
    ],
  },
];

const parsed = parseDtdl(MODELS.map((m, i) => ({ source: `m${i}.json`, json: m })));
if (parsed.problems.some((p) => p.severity !== 'warning')) throw new Error(JSON.stringify(parsed.problems));

export const models: ModelLookup = {
  getInterface: (id) => parsed.interfaces.get(id),
  isOfModel: (m, b) => m === b || (parsed.interfaces.get(m)?.ancestors.includes(b) ?? false),
};

/** A small graph: line-1 has pumps p1, p2, p3 (p3 a BigPump); p1 feeds p2. */
export function testGraph(): TwinContext & {
  twins: Map<string, { model: string; props: Record<string, unknown> }>;
  rels: { source: string; name: string; target: string }[];
} {
  const twins = new Map<string, { model: string; props: Record<string, unknown> }>([
    ['line-1', { model: LINE, props: { name: 'L1' } }],
    ['p1', { model: PUMP, props: { vibrationLimit: 7 } }],
    ['p2', { model: PUMP, props: { vibrationLimit: 5 } }],
    ['p3', { model: BIG_PUMP, props: { vibrationLimit: 9 } }],
  ]);
  const rels = [
    { source: 'line-1', name: 'hasPump', target: 'p1' },
    { source: 'line-1', name: 'hasPump', target: 'p2' },
    { source: 'line-1', name: 'hasPump', target: 'p3' },
    { source: 'p1', name: 'feeds', target: 'p2' },
  ];
  return {
    twins,
    rels,
    modelOf: (_ws, id) => twins.get(id)?.model,
    isOfModel: (_ws, m, b) => models.isOfModel(m, b),
    property: (_ws, id, name) => twins.get(id)?.props[name],
    related: (_ws, id, name) => rels.filter((r) => r.source === id && r.name === name).map((r) => r.target),
  };
}

export const twinModel = (id: string): string | undefined => testGraph().twins.get(id)?.model;

/** Reads and checks definition texts; every problem of both steps. */
export function compile(...texts: string[]): { sets: DerivedSet[]; problems: Problem[] } {
  const specs: DerivedFileSpec[] = [];
  const problems: Problem[] = [];
  texts.forEach((t, i) => {
    const r = readDerived(t, `f${i}.yaml`);
    problems.push(...r.problems);
    if (r.spec) specs.push(r.spec);
  });
  const c = checkDerived(specs, { models, twinModel, modelIds: () => parsed.interfaces.keys() });
  return { sets: c.sets, problems: [...problems, ...c.problems] };
}

/** Checked sets, or an Error listing the problems. */
export function sets(...texts: string[]): DerivedSet[] {
  const r = compile(...texts);
  if (r.problems.length)
    throw new Error(r.problems.map((p) => `${p.code} ${p.line}:${p.column} ${p.message}`).join('\n'));
  return r.sets;
}

export interface Write {
  twin: string;
  time: number;
  values: Record<string, number>;
}

export function recordingSink(): DerivedSink & { writes: Write[] } {
  const writes: Write[] = [];
  return { writes, write: (_ws, twin, time, values) => writes.push({ twin, time, values: { ...values } }) };
}

/** The values one derived name took, in order. */
export const series = (writes: readonly Write[], name: string, twin?: string): [number, number][] =>
  writes
    .filter((w) => (twin === undefined || w.twin === twin) && name in w.values)
    .map((w) => [w.time, w.values[name] as number]);

export interface PropertyWrite {
  twin: string;
  time: number;
  name: string;
  value: number;
  policy: PropertyWritePolicy;
}

export function recordingPropertySink(): DerivedPropertySink & { writes: PropertyWrite[] } {
  const writes: PropertyWrite[] = [];
  return {
    writes,
    write: (_ws, twin, time, name, value, policy) => writes.push({ twin, time, name, value, policy }),
  };
}
