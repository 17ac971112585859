/**
 * A small hand-built plant for the query tests: one site, three lines, pumps and a fan (both
 * machines), a feeds cycle between two pumps, and an 11-twin `next` chain for long paths.
 */
import type { RelationshipRecord, TwinRecord } from '../graph/graph-types.js';
import { InMemoryTwinGraph } from '../graph/in-memory-twin-graph.js';

const BASES: Record<string, string[]> = {
  'dtmi:t:Pump;1': ['dtmi:t:Machine;1'],
  'dtmi:t:Fan;1': ['dtmi:t:Machine;1'],
};

export const testIsOfModel = (modelId: string, base: string): boolean =>
  modelId === base || (BASES[modelId] ?? []).includes(base);

export function twin(
  id: string,
  model: string,
  contents: Record<string, unknown> = {},
  telemetry: Record<string, unknown> = {},
): TwinRecord {
  const propertyTimes: Record<string, number> = {};
  for (const [k, v] of Object.entries(contents)) {
    if (k === 'motor' && typeof v === 'object' && v)
      for (const p of Object.keys(v)) propertyTimes[`motor/${p}`] = 1000;
    else propertyTimes[k] = 1000;
  }
  return {
    id,
    modelId: `dtmi:t:${model};1`,
    workspace: 'w',
    etag: `W/"${id}"`,
    lastUpdateTime: 1000,
    contents,
    propertyTimes,
    telemetry: Object.fromEntries(Object.entries(telemetry).map(([k, value]) => [k, { value, time: 2000 }])),
  };
}

export function rel(
  sourceId: string,
  name: string,
  targetId: string,
  properties: Record<string, unknown> = {},
  id = `${sourceId}-${name}-${targetId}`,
): RelationshipRecord {
  return { id, sourceId, targetId, name, workspace: 'w', etag: 'W/"r"', lastUpdateTime: 1000, properties };
}

export function buildTestGraph(): InMemoryTwinGraph {
  const g = new InMemoryTwinGraph({ hierarchy: { matchesModel: testIsOfModel } });
  g.putTwin(twin('site-1', 'Site', { name: 'North' }));
  for (const l of ['line-1', 'line-2', 'line-3']) {
    g.putTwin(twin(l, 'Line', { name: l.toUpperCase(), number: Number(l.slice(5)) }));
    g.putRelationship(rel('site-1', 'contains', l));
  }
  g.putTwin(
    twin(
      'pump-1',
      'Pump',
      { name: 'P1', rpm: 1200, flag: true, nothing: null, location: { x: 1, y: 2 }, motor: { temp: 70 } },
      { vibration: 8, 'motor/current': 3 },
    ),
  );
  g.putTwin(
    twin('pump-2', 'Pump', { name: 'P2', rpm: 900, flag: false, motor: { temp: 40 } }, { vibration: 5 }),
  );
  g.putTwin(twin('pump-3', 'Pump', { name: 'P3', rpm: '1000' }, { vibration: 9 }));
  g.putTwin(twin('pump-4', 'Pump', { name: 'P4' }));
  g.putTwin(twin('fan-1', 'Fan', { name: 'F1', rpm: 3000 }));
  g.putRelationship(rel('line-3', 'contains', 'pump-1'));
  g.putRelationship(rel('line-3', 'contains', 'pump-2'));
  g.putRelationship(rel('line-3', 'contains', 'fan-1'));
  g.putRelationship(rel('line-1', 'contains', 'pump-3'));
  g.putRelationship(rel('line-2', 'contains', 'pump-4'));
  g.putRelationship(rel('pump-1', 'feeds', 'pump-2', { flow: 10 }));
  g.putRelationship(rel('pump-2', 'feeds', 'pump-1', { flow: 4 }));
  for (let i = 0; i <= 10; i++) {
    g.putTwin(twin(`c${i}`, 'Node', { index: i }));
    if (i > 0) g.putRelationship(rel(`c${i - 1}`, 'next', `c${i}`));
  }
  return g;
}
