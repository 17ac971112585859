import { describe, it, expect } from 'vitest';
import { TwinloopError } from '../errors/errors.js';
import type { RelationshipRecord, TwinRecord } from './graph-types.js';
import { InMemoryTwinGraph } from './in-memory-twin-graph.js';

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
const ids = (it: Iterable<{ id: string }>): string[] => [...it].map((x) => x.id).sort();

describe('InMemoryTwinGraph', () => {
  it('stores, replaces and deletes twins with the model index kept in step', () => {
    const g = new InMemoryTwinGraph();
    g.putTwin(twin('a', 'm:A;1'));
    g.putTwin(twin('b', 'm:A;1'));
    expect(g.twinCount).toBe(2);
    g.putTwin(twin('a', 'm:B;1'));
    expect(g.twinCount).toBe(2);
    expect(ids(g.twinsOfModel('m:A;1', true))).toEqual(['b']);
    expect(ids(g.twinsOfModel('m:B;1', true))).toEqual(['a']);
    expect(g.deleteTwin('a')).toBe(true);
    expect(g.deleteTwin('a')).toBe(false);
    expect(g.getTwin('a')).toBeUndefined();
    expect(ids(g.twinsOfModel('m:B;1', true))).toEqual([]);
    expect(g.modelCount('m:A;1', true)).toBe(1);
  });

  it('finds twins of derived models through the hierarchy when exact is false', () => {
    const bases: Record<string, string[]> = { 'm:Pump;1': ['m:Base;1'], 'm:Fan;1': ['m:Base;1'] };
    const g = new InMemoryTwinGraph({
      hierarchy: { matchesModel: (m, q) => m === q || (bases[m] ?? []).includes(q) },
    });
    g.putTwin(twin('p', 'm:Pump;1'));
    g.putTwin(twin('f', 'm:Fan;1'));
    g.putTwin(twin('b', 'm:Base;1'));
    g.putTwin(twin('x', 'm:Other;1'));
    expect(ids(g.twinsOfModel('m:Base;1', false))).toEqual(['b', 'f', 'p']);
    expect(ids(g.twinsOfModel('m:Base;1', true))).toEqual(['b']);
    expect(g.modelCount('m:Base;1', false)).toBe(3);
  });

  it('keeps outgoing and incoming adjacency, by name too', () => {
    const g = new InMemoryTwinGraph();
    for (const id of ['a', 'b', 'c']) g.putTwin(twin(id, 'm'));
    g.putRelationship(rel('a', 'r1', 'b', 'contains'));
    g.putRelationship(rel('a', 'r2', 'c', 'feeds'));
    g.putRelationship(rel('b', 'r1', 'c', 'contains'));
    expect(g.relationshipCount).toBe(3);
    expect(ids(g.outgoing('a'))).toEqual(['r1', 'r2']);
    expect(ids(g.outgoing('a', 'feeds'))).toEqual(['r2']);
    expect([...g.incoming('c')].map((r) => r.sourceId).sort()).toEqual(['a', 'b']);
    expect([...g.incoming('c', 'contains')].map((r) => r.sourceId)).toEqual(['b']);
    expect(g.getRelationship('b', 'r1')?.targetId).toBe('c');
    // replacing a relationship with a new target moves it in the incoming index
    g.putRelationship(rel('a', 'r1', 'c', 'contains'));
    expect(g.relationshipCount).toBe(3);
    expect(ids(g.incoming('b'))).toEqual([]);
    expect([...g.incoming('c')].length).toBe(3);
    expect(g.deleteRelationship('a', 'r1')).toBe(true);
    expect(g.deleteRelationship('a', 'r1')).toBe(false);
    expect(g.relationshipCount).toBe(2);
    expect(ids(g.allRelationships())).toEqual(['r1', 'r2']);
  });

  it('rejects a relationship whose source or target twin is absent', () => {
    const g = new InMemoryTwinGraph();
    g.putTwin(twin('a', 'm'));
    expect(() => g.putRelationship(rel('nope', 'r', 'a', 'x'))).toThrow(TwinloopError);
    try {
      g.putRelationship(rel('a', 'r', 'nope', 'x'));
      expect.unreachable();
    } catch (e) {
      expect((e as TwinloopError).code).toBe('InvalidRelationship');
    }
    expect(g.relationshipCount).toBe(0);
  });

  it('indexes hub twins by relationship id and stays correct across hub deletes', () => {
    const g = new InMemoryTwinGraph({ hubThreshold: 4 });
    g.putTwin(twin('hub', 'm'));
    for (let i = 0; i < 20; i++) {
      g.putTwin(twin(`t${i}`, 'm'));
      g.putRelationship(rel('hub', `r${i}`, `t${i}`, 'has'));
    }
    expect(g.getRelationship('hub', 'r17')?.targetId).toBe('t17');
    g.putRelationship(rel('hub', 'r17', 't3', 'has'));
    expect(g.relationshipCount).toBe(20);
    expect(g.getRelationship('hub', 'r17')?.targetId).toBe('t3');
    for (let i = 0; i < 19; i++) expect(g.deleteRelationship('hub', `r${i}`)).toBe(true);
    expect(ids(g.outgoing('hub'))).toEqual(['r19']);
    expect(g.getRelationship('hub', 'r19')?.targetId).toBe('t19');
    expect(g.getRelationship('hub', 'r5')).toBeUndefined();
  });
});
