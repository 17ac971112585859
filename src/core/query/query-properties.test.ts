import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { TwinloopError } from '../errors/errors.js';
import { InMemoryTwinGraph } from '../graph/in-memory-twin-graph.js';
import { QueryCursorStore } from './query-cursors.js';
import { executeQuery } from './query-executor.js';
import { parseQuery } from './query-parser.js';
import { buildTestGraph, rel, testIsOfModel, twin } from './query-test-graph.js';

const cursors = new QueryCursorStore();

const VOCAB = [
  'SELECT',
  'select',
  'TOP',
  'COUNT',
  'FROM',
  'DIGITALTWINS',
  'RELATIONSHIPS',
  'JOIN',
  'RELATED',
  'MATCH',
  'WHERE',
  'AND',
  'OR',
  'NOT',
  'IN',
  'NIN',
  'AS',
  'IS_OF_MODEL',
  'IS_DEFINED',
  'STARTSWITH',
  'CONTAINS',
  'IS_NUMBER',
  'exact',
  'true',
  'false',
  'null',
  'T',
  'CT',
  'R',
  'a',
  'b',
  '$dtId',
  '$metadata',
  '$model',
  'name',
  'contains',
  'feeds',
  '*',
  '(',
  ')',
  '[',
  ']',
  ',',
  '.',
  '=',
  '!=',
  '<>',
  '<',
  '<=',
  '>',
  '>=',
  '-',
  '->',
  '<-',
  ':',
  '|',
  '..',
  "'pump-1'",
  '"dtmi:t:Pump;1"',
  '0',
  '1',
  '2',
  '5',
  '-3',
  '1.5',
  '\n',
  '--c\n',
  '#',
  "'",
  '\\',
];

const graph = buildTestGraph();
const onlyTwinloopErrors = (fn: () => unknown): void => {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof TwinloopError)) throw e;
    if (e.code === 'SqlQueryError') {
      const p = e.problems[0];
      expect(p?.line).toBeGreaterThanOrEqual(1);
      expect(p?.column).toBeGreaterThanOrEqual(1);
    }
  }
};

describe('the parser and executor never throw anything but TwinloopError', () => {
  it('on random strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        onlyTwinloopErrors(() => parseQuery(s));
        onlyTwinloopErrors(() => executeQuery(graph, s, { cursors, isOfModel: testIsOfModel }));
      }),
      { numRuns: 500 },
    );
  });

  it('on random token sequences (which also reach the planner and executor)', () => {
    const prefix = fc.constantFrom(
      '',
      'SELECT ',
      'SELECT * FROM DIGITALTWINS ',
      'SELECT T FROM DIGITALTWINS T WHERE ',
      'SELECT a, b FROM DIGITALTWINS MATCH ',
    );
    fc.assert(
      fc.property(prefix, fc.array(fc.constantFrom(...VOCAB), { maxLength: 30 }), (p, toks) => {
        const text = p + toks.join(' ');
        onlyTwinloopErrors(() =>
          executeQuery(graph, text, { cursors, isOfModel: testIsOfModel, maxHops: 6 }),
        );
      }),
      { numRuns: 1500 },
    );
  });
});

// ---- random small graphs ----
const smallGraph = fc
  .record({
    n: fc.integer({ min: 1, max: 7 }),
    edges: fc.array(fc.tuple(fc.nat(6), fc.nat(6), fc.constantFrom('a', 'b')), { maxLength: 18 }),
  })
  .map(({ n, edges }) => {
    const g = new InMemoryTwinGraph();
    for (let i = 0; i < n; i++) g.putTwin(twin(`t${i}`, i % 2 ? 'Odd' : 'Even', { v: i }));
    const list: [string, string, string][] = [];
    edges.forEach(([s, t, name], k) => {
      if (s >= n || t >= n) return;
      g.putRelationship(rel(`t${s}`, name, `t${t}`, {}, `r${k}`));
      list.push([`t${s}`, `t${t}`, name]);
    });
    return { g, n, list };
  });

const sortRows = (rows: unknown[]): string[] => rows.map((r) => JSON.stringify(r)).sort();

describe('random graphs', () => {
  it('a one-hop MATCH returns exactly the rows of the equivalent JOIN', () => {
    fc.assert(
      fc.property(smallGraph, fc.constantFrom('a', 'b'), fc.boolean(), ({ g }, name, filtered) => {
        const where = filtered ? " WHERE IS_OF_MODEL(X, 'dtmi:t:Even;1') AND Y.v > 1" : '';
        const cols = 'SELECT X.$dtId AS x, Y.$dtId AS y, R.$relationshipId AS r FROM DIGITALTWINS';
        const m = executeQuery(g, `${cols} MATCH (X)-[R:${name}]->(Y)${where}`, {
          isOfModel: testIsOfModel,
          pageSize: 10_000,
          cursors,
        });
        const j = executeQuery(g, `${cols} X JOIN Y RELATED X.${name} R${where}`, {
          isOfModel: testIsOfModel,
          pageSize: 10_000,
          cursors,
        });
        expect(sortRows(m.value)).toEqual(sortRows(j.value));
        // reversing the arrow gives the same pairs
        const rev = executeQuery(g, `${cols} MATCH (Y)<-[R:${name}]-(X)${where}`, {
          isOfModel: testIsOfModel,
          pageSize: 10_000,
          cursors,
        });
        expect(sortRows(rev.value)).toEqual(sortRows(j.value));
      }),
      { numRuns: 200 },
    );
  });

  it("variable hops return the twins at the end of some trail in ADT's hop range (brute-force reference)", () => {
    // ADT: `*n` exactly n hops, `*n..m` more than n and at most m, `*..m` 1 to m; a trail uses no
    // relationship twice ("a relationship is traversed only once").
    const form = fc.oneof(
      fc.integer({ min: 0, max: 4 }).map((n) => ({ text: `*${n}`, min: n, max: n })),
      fc
        .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 3 }))
        .map(([n, k]) => ({ text: `*${n}..${n + k}`, min: n + 1, max: n + k })),
      fc.integer({ min: 1, max: 4 }).map((m) => ({ text: `*..${m}`, min: 1, max: m })),
      // extensions: no upper bound (trails are finite, so the reference ends too)
      fc.constant({ text: '*', min: 1, max: Infinity }),
      fc.integer({ min: 0, max: 3 }).map((n) => ({ text: `*${n}..`, min: n + 1, max: Infinity })),
    );
    fc.assert(
      fc.property(smallGraph, form, fc.boolean(), ({ g, list }, hops, directed) => {
        const want = new Set<string>(hops.min === 0 ? ['t0'] : []);
        const used = new Set<number>();
        const walk = (at: string, len: number): void => {
          if (len === hops.max) return;
          list.forEach(([s, t, name], k) => {
            if (name !== 'a' || used.has(k)) return;
            const next = s === at ? t : !directed && t === at ? s : undefined;
            if (next === undefined) return;
            if (len + 1 >= hops.min) want.add(next);
            used.add(k);
            walk(next, len + 1);
            used.delete(k);
          });
        };
        walk('t0', 0);
        const arrow = directed ? '->' : '-';
        const rows = executeQuery(
          g,
          `SELECT y.$dtId AS y FROM DIGITALTWINS MATCH (x)-[:a${hops.text}]${arrow}(y) WHERE x.$dtId = 't0'`,
          { isOfModel: testIsOfModel, pageSize: 10_000, cursors },
        ).value as { y: string }[];
        expect(rows.map((r) => r.y).sort()).toEqual([...want].sort());
        expect(new Set(rows.map((r) => r.y)).size).toBe(rows.length);
      }),
      { numRuns: 600 },
    );
  });
});
