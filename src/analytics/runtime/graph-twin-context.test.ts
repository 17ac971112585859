import { describe, expect, it } from 'vitest';
import { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { RelationshipRecord, TwinRecord } from '../../core/graph/graph-types.js';
import { graphTwinContext } from './graph-twin-context.js';

const twin = (id: string, modelId: string, contents: Record<string, unknown> = {}): TwinRecord => ({
  id,
  modelId,
  workspace: 'w',
  etag: 'W/"1"',
  lastUpdateTime: 0,
  contents,
  propertyTimes: {},
  telemetry: {},
});
const rel = (sourceId: string, id: string, targetId: string, name: string): RelationshipRecord => ({
  id,
  sourceId,
  targetId,
  name,
  workspace: 'w',
  etag: 'W/"1"',
  lastUpdateTime: 0,
  properties: {},
});

describe('graphTwinContext', () => {
  const g = new InMemoryTwinGraph();
  g.putTwin(twin('line', 'dtmi:x:Line;1'));
  g.putTwin(twin('p1', 'dtmi:x:Pump;1', { vibrationLimit: 7.1, motor: { ratedPower: 15 } }));
  g.putTwin(twin('p2', 'dtmi:x:Pump;1'));
  g.putRelationship(rel('line', 'r1', 'p1', 'contains'));
  g.putRelationship(rel('line', 'r2', 'p2', 'contains'));
  g.putRelationship(rel('line', 'r3', 'p1', 'feeds'));
  const ctx = graphTwinContext({
    graphOf: (ws) => (ws === 'w' ? g : undefined),
    isOfModel: (_ws, m, b) => m === b,
  });

  it('reads models, properties (component ones too) and relationship targets of live twins', () => {
    expect(ctx.modelOf('w', 'p1')).toBe('dtmi:x:Pump;1');
    expect(ctx.modelOf('w', 'nope')).toBeUndefined();
    expect(ctx.modelOf('other', 'p1')).toBeUndefined();
    expect(ctx.property('w', 'p1', 'vibrationLimit')).toBe(7.1);
    expect(ctx.property('w', 'p1', 'motor/ratedPower')).toBe(15);
    expect(ctx.property('w', 'p2', 'vibrationLimit')).toBeUndefined();
    expect([...ctx.related('w', 'line', 'contains')].sort()).toEqual(['p1', 'p2']);
    expect(ctx.related('w', 'line', 'feeds')).toEqual(['p1']);
    expect(ctx.related('w', 'p1', 'contains')).toEqual([]);
  });

  it('never reads inherited members for hostile property names', () => {
    for (const name of [
      '__proto__',
      'constructor',
      'toString',
      'motor/constructor',
      '__proto__/x',
      'hasOwnProperty',
    ])
      expect(ctx.property('w', 'p1', name)).toBeUndefined();
  });
});
