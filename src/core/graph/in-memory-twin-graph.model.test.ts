import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { RelationshipRecord, TwinRecord } from './graph-types.js';
import { InMemoryTwinGraph } from './in-memory-twin-graph.js';

// Model-based test: random sequences of writes against the graph and against a naive reference
// (plain maps and arrays); every read must agree, including order.
const twin = (id: string, v: number): TwinRecord => ({
  id,
  modelId: `m${v % 2}`,
  workspace: 'w',
  etag: `e${v}`,
  lastUpdateTime: v,
  contents: { v },
  propertyTimes: {},
  telemetry: {},
});

type Op =
  | { op: 'putTwin'; t: number; v: number }
  | { op: 'deleteTwin'; t: number }
  | { op: 'putRel'; s: number; r: number; t: number; name: string; v: number }
  | { op: 'deleteRel'; s: number; r: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('putTwin' as const), t: fc.nat(5), v: fc.nat(9) }), weight: 2 },
  { arbitrary: fc.record({ op: fc.constant('deleteTwin' as const), t: fc.nat(5) }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant('putRel' as const),
      s: fc.nat(3),
      r: fc.nat(4),
      t: fc.nat(3),
      name: fc.constantFrom('a', 'b'),
      v: fc.nat(9),
    }),
    weight: 6,
  },
  { arbitrary: fc.record({ op: fc.constant('deleteRel' as const), s: fc.nat(3), r: fc.nat(4) }), weight: 4 },
);
/** Every run starts with all six twins present, so most relationship writes are valid. */
const opsArb = fc
  .array(opArb, { maxLength: 80 })
  .map((ops): Op[] => [...[0, 1, 2, 3, 4, 5].map((t): Op => ({ op: 'putTwin', t, v: t })), ...ops]);

describe('InMemoryTwinGraph against a naive reference', () => {
  it('agrees on every read after random writes (hub index on and off)', () => {
    fc.assert(
      fc.property(opsArb, fc.constantFrom(2, 16), (ops, hubThreshold) => {
        const g = new InMemoryTwinGraph({ hubThreshold });
        const twins = new Map<string, TwinRecord>();
        let rels: RelationshipRecord[] = []; // insertion order of (source, id)
        for (const o of ops) {
          if (o.op === 'putTwin') {
            const t = twin(`t${o.t}`, o.v);
            g.putTwin(t);
            twins.set(t.id, t);
          } else if (o.op === 'deleteTwin') {
            const id = `t${o.t}`;
            expect(g.deleteTwin(id)).toBe(twins.delete(id));
            rels = rels.filter((r) => r.sourceId !== id && r.targetId !== id);
          } else if (o.op === 'putRel') {
            const r: RelationshipRecord = {
              id: `r${o.r}`,
              sourceId: `t${o.s}`,
              targetId: `t${o.t}`,
              name: o.name,
              workspace: 'w',
              etag: `e${o.v}`,
              lastUpdateTime: o.v,
              properties: o.v % 3 ? { v: o.v } : {},
            };
            const ok = twins.has(r.sourceId) && twins.has(r.targetId);
            if (!ok) {
              expect(() => g.putRelationship(r)).toThrow();
              continue;
            }
            g.putRelationship(r);
            const i = rels.findIndex((x) => x.sourceId === r.sourceId && x.id === r.id);
            if (i >= 0) rels[i] = r;
            else rels.push(r);
          } else {
            const i = rels.findIndex((x) => x.sourceId === `t${o.s}` && x.id === `r${o.r}`);
            expect(g.deleteRelationship(`t${o.s}`, `r${o.r}`)).toBe(i >= 0);
            if (i >= 0) rels.splice(i, 1);
          }
        }
        expect(g.twinCount).toBe(twins.size);
        expect(g.relationshipCount).toBe(rels.length);
        const key = (r: RelationshipRecord): string =>
          JSON.stringify([r.sourceId, r.id, r.targetId, r.name, r.etag, r.lastUpdateTime, r.properties]);
        expect([...g.allRelationships()].map(key).sort()).toEqual(rels.map(key).sort());
        for (const id of twins.keys()) {
          expect(g.getTwin(id)).toBe(twins.get(id));
          expect([...g.outgoing(id)].map(key)).toEqual(rels.filter((r) => r.sourceId === id).map(key));
          expect([...g.outgoing(id, 'a')].map(key)).toEqual(
            rels.filter((r) => r.sourceId === id && r.name === 'a').map(key),
          );
          expect([...g.incoming(id)].map(key).sort()).toEqual(
            rels
              .filter((r) => r.targetId === id)
              .map(key)
              .sort(),
          );
          expect([...g.incoming(id, 'b')].map(key).sort()).toEqual(
            rels
              .filter((r) => r.targetId === id && r.name === 'b')
              .map(key)
              .sort(),
          );
          for (let r = 0; r < 7; r++) {
            const want = rels.find((x) => x.sourceId === id && x.id === `r${r}`);
            const got = g.getRelationship(id, `r${r}`);
            expect(got && key(got)).toEqual(want && key(want));
          }
        }
        for (const m of ['m0', 'm1']) {
          expect([...g.twinsOfModel(m, true)].map((t) => t.id).sort()).toEqual(
            [...twins.values()]
              .filter((t) => t.modelId === m)
              .map((t) => t.id)
              .sort(),
          );
        }
      }),
      { numRuns: 500 },
    );
  });

  it('hands out copies: mutating a read record does not change the graph', () => {
    const g = new InMemoryTwinGraph();
    g.putTwin(twin('a', 1));
    g.putTwin(twin('b', 2));
    const props = { flow: 1 };
    g.putRelationship({
      id: 'r',
      sourceId: 'a',
      targetId: 'b',
      name: 'x',
      workspace: 'w',
      etag: 'e',
      lastUpdateTime: 5,
      properties: props,
    });
    props.flow = 99;
    const r = g.getRelationship('a', 'r');
    expect(r?.properties).toEqual({ flow: 1 });
    if (r) r.properties.flow = 42;
    expect(g.getRelationship('a', 'r')?.properties).toEqual({ flow: 1 });
    expect(r?.workspace).toBe('w');
  });
});
