import { describe, it, expect } from 'vitest';
import { TwinloopError } from '../errors/errors.js';
import type { GraphView } from '../graph/graph-types.js';
import { QueryCursorStore } from './query-cursors.js';
import { executeQuery, type QueryOptions } from './query-executor.js';
import { parseQuery } from './query-parser.js';
import { planQuery } from './query-planner.js';
import { buildTestGraph, rel, testIsOfModel, twin } from './query-test-graph.js';

const g = buildTestGraph();
const opts: QueryOptions = { isOfModel: testIsOfModel, pageSize: 1000, cursors: new QueryCursorStore() };
const q = (text: string, o: Partial<QueryOptions> = {}, graph: GraphView = g): unknown[] =>
  executeQuery(graph, text, { ...opts, ...o }).value;
/** Sorted $dtIds of `key` in each row (or of the row itself when key is undefined). */
const ids = (rows: unknown[], key?: string): string[] =>
  rows
    .map((r) => ((key ? (r as Record<string, { $dtId: string }>)[key] : r) as { $dtId: string }).$dtId)
    .sort();
const errorOf = (fn: () => unknown): TwinloopError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TwinloopError);
    return e as TwinloopError;
  }
  throw new Error('expected an error');
};

describe('SELECT shapes', () => {
  it('SELECT * returns twin documents, SELECT T wraps them as ADT does', () => {
    const all = q('SELECT * FROM DIGITALTWINS');
    expect(all).toHaveLength(g.twinCount);
    const p1 = q("SELECT * FROM DIGITALTWINS WHERE $dtId = 'pump-1'");
    expect(p1).toEqual([
      expect.objectContaining({
        $dtId: 'pump-1',
        $etag: 'W/"pump-1"',
        rpm: 1200,
        $metadata: expect.objectContaining({ $model: 'dtmi:t:Pump;1' }),
      }),
    ]);
    expect(q("SELECT T FROM DIGITALTWINS T WHERE T.$dtId = 'pump-1'")).toEqual([{ T: p1[0] }]);
  });

  it('projects properties with AS and leaves undefined ones out', () => {
    const rows = q(
      "SELECT T.name, T.rpm AS speed, T.motor.temp FROM DIGITALTWINS T WHERE T.$dtId IN ['pump-1', 'pump-4']",
    );
    expect(rows).toEqual([{ name: 'P1', speed: 1200, temp: 70 }, { name: 'P4' }]);
  });

  it('SELECT T, CT returns both collections per row', () => {
    const rows = q("SELECT L, P FROM DIGITALTWINS L JOIN P RELATED L.contains WHERE L.$dtId = 'line-1'") as {
      L: { $dtId: string };
      P: { $dtId: string };
    }[];
    expect(rows.map((r) => [r.L.$dtId, r.P.$dtId])).toEqual([['line-1', 'pump-3']]);
  });

  it("uses the caller's component test for returned twins", () => {
    const text = "SELECT * FROM DIGITALTWINS WHERE $dtId = 'pump-1'";
    const byDefault = q(text)[0] as { motor: Record<string, unknown> };
    expect(byDefault.motor.$metadata).toEqual({
      $lastUpdateTime: '1970-01-01T00:00:01.000Z',
      temp: { lastUpdateTime: '1970-01-01T00:00:01.000Z' },
    });
    const plain = q(text, { isComponent: () => false })[0] as { motor: Record<string, unknown> };
    expect(plain.motor).toEqual({ temp: 70 });
  });

  it('COUNT and TOP', () => {
    expect(q('SELECT COUNT() FROM DIGITALTWINS')).toEqual([{ COUNT: g.twinCount }]);
    expect(q("SELECT COUNT() FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:t:Machine;1')")).toEqual([
      { COUNT: 5 },
    ]);
    expect(q('SELECT TOP(3) T FROM DIGITALTWINS T')).toHaveLength(3);
    expect(q('SELECT TOP(3) COUNT() FROM DIGITALTWINS T')).toEqual([{ COUNT: 3 }]);
  });

  it('rejects two columns with one name', () => {
    expect(errorOf(() => q('SELECT A.name, B.name FROM DIGITALTWINS A JOIN B RELATED A.contains')).code).toBe(
      'SqlQueryError',
    );
  });
});

describe('WHERE', () => {
  const where = (cond: string): string[] => ids(q(`SELECT T FROM DIGITALTWINS T WHERE ${cond}`), 'T');

  it('compares with every operator, and type mismatches are never true', () => {
    expect(where('T.rpm = 1200')).toEqual(['pump-1']);
    expect(where('T.rpm != 1200')).toEqual(['fan-1', 'pump-2']); // pump-3's rpm is a string: not comparable
    expect(where('T.rpm <> 1200')).toEqual(['fan-1', 'pump-2']);
    expect(where('T.rpm < 1200')).toEqual(['pump-2']);
    expect(where('T.rpm <= 1200')).toEqual(['pump-1', 'pump-2']);
    expect(where('T.rpm > 1200')).toEqual(['fan-1']);
    expect(where('T.rpm >= 1200')).toEqual(['fan-1', 'pump-1']);
    expect(where("T.rpm = '1000'")).toEqual(['pump-3']);
    expect(where("T.name >= 'P3' AND T.name < 'P9'")).toEqual(['pump-3', 'pump-4']);
  });

  it('combines AND, OR, NOT with parentheses; NOT of undefined stays undefined', () => {
    expect(where("T.rpm > 1000 AND (T.name = 'P1' OR T.name = 'F1')")).toEqual(['fan-1', 'pump-1']);
    expect(where("T.name = 'P4' OR T.rpm = 900")).toEqual(['pump-2', 'pump-4']);
    expect(where('NOT T.rpm > 1000')).toEqual(['pump-2']);
    expect(where('NOT (T.flag = true)')).toEqual(['pump-2']);
  });

  it('IN and NIN', () => {
    expect(where("T.name IN ['P1', 'P3', 'nope']")).toEqual(['pump-1', 'pump-3']);
    expect(where("T.name NIN ['P1', 'P2', 'P3', 'P4', 'F1', 'South'] AND IS_DEFINED(T.name)")).toEqual([
      'line-1',
      'line-2',
      'line-3',
      'site-1',
    ]);
  });

  it('every function', () => {
    expect(where("IS_OF_MODEL(T, 'dtmi:t:Machine;1')")).toEqual([
      'fan-1',
      'pump-1',
      'pump-2',
      'pump-3',
      'pump-4',
    ]);
    expect(where("IS_OF_MODEL(T, 'dtmi:t:Machine;1', exact)")).toEqual([]);
    expect(where("IS_OF_MODEL(T, 'dtmi:t:Fan;1', exact)")).toEqual(['fan-1']);
    expect(ids(q("SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:t:Fan;1')"))).toEqual(['fan-1']);
    expect(where('IS_DEFINED(T.flag)')).toEqual(['pump-1', 'pump-2']);
    expect(where('IS_NULL(T.nothing)')).toEqual(['pump-1']);
    expect(where('IS_BOOL(T.flag) AND T.flag = false')).toEqual(['pump-2']);
    expect(where('IS_NUMBER(T.rpm)')).toEqual(['fan-1', 'pump-1', 'pump-2']);
    expect(where('IS_STRING(T.rpm)')).toEqual(['pump-3']);
    expect(where('IS_PRIMITIVE(T.nothing)')).toEqual(['pump-1']);
    expect(where('IS_OBJECT(T.location)')).toEqual(['pump-1']);
    expect(where('IS_OBJECT(T.rpm)')).toEqual([]);
    expect(where("STARTSWITH(T.$dtId, 'line-')")).toEqual(['line-1', 'line-2', 'line-3']);
    expect(where("ENDSWITH(T.name, '3')")).toEqual(['line-3', 'pump-3']);
    expect(where("CONTAINS(T.name, 'ort')")).toEqual(['site-1']);
  });

  it('reads components, objects, $metadata and latest telemetry', () => {
    expect(where('T.motor.temp > 50')).toEqual(['pump-1']);
    expect(where('T.location.y = 2')).toEqual(['pump-1']);
    expect(where("T.$metadata.$model = 'dtmi:t:Fan;1'")).toEqual(['fan-1']);
    expect(where("T.$metadata.rpm.lastUpdateTime = '1970-01-01T00:00:01.000Z' AND T.rpm > 2000")).toEqual([
      'fan-1',
    ]);
    expect(where('T.$telemetry.vibration > 7')).toEqual(['pump-1', 'pump-3']);
    expect(where('T.$telemetry.vibration < 7')).toEqual(['pump-2']);
    expect(where('T.$telemetry.motor.current = 3')).toEqual(['pump-1']);
  });

  it('"the pumps on line 3 whose last vibration reading is above 7"', () => {
    const rows = q(
      "SELECT P FROM DIGITALTWINS MATCH (L)-[:contains]->(P) WHERE L.$dtId = 'line-3' AND IS_OF_MODEL(P, 'dtmi:t:Pump;1') AND P.$telemetry.vibration > 7",
    );
    expect(ids(rows, 'P')).toEqual(['pump-1']);
  });

  it('reports an unknown collection with its position', () => {
    const e = errorOf(() => q('SELECT T FROM DIGITALTWINS T\nJOIN C RELATED X.contains'));
    expect(e.code).toBe('SqlQueryError');
    expect(e.problems[0]).toMatchObject({ line: 2, column: 1 });
  });
});

describe('JOIN and FROM RELATIONSHIPS', () => {
  it('follows JOIN chains and filters on relationship properties', () => {
    const rows = q(
      "SELECT S, L, P FROM DIGITALTWINS S JOIN L RELATED S.contains JOIN P RELATED L.contains WHERE S.$dtId = 'site-1' AND P.rpm > 1000",
    ) as Record<string, { $dtId: string }>[];
    expect(rows.map((r) => `${r.L?.$dtId}/${r.P?.$dtId}`).sort()).toEqual(['line-3/fan-1', 'line-3/pump-1']);
    const flows = q(
      'SELECT A.name AS a, B.name AS b, R.flow FROM DIGITALTWINS A JOIN B RELATED A.feeds R WHERE R.flow > 5',
    );
    expect(flows).toEqual([{ a: 'P1', b: 'P2', flow: 10 }]);
  });

  it('runs JOINs anchored on a joined twin by walking backwards', () => {
    const text =
      "SELECT S, P FROM DIGITALTWINS S JOIN L RELATED S.contains JOIN P RELATED L.contains WHERE P.$dtId = 'pump-4'";
    const plan = planQuery(parseQuery(text), g, { maxHops: 100, isOfModel: testIsOfModel });
    expect(plan.start).toMatchObject({ kind: 'ids', ids: ['pump-4'] });
    expect(ids(q(text), 'S')).toEqual(['site-1']);
  });

  it('FROM RELATIONSHIPS', () => {
    const rows = q("SELECT * FROM RELATIONSHIPS R WHERE R.$sourceId = 'pump-1'");
    expect(rows).toEqual([
      {
        $relationshipId: 'pump-1-feeds-pump-2',
        $etag: 'W/"r"',
        $sourceId: 'pump-1',
        $relationshipName: 'feeds',
        $targetId: 'pump-2',
        flow: 10,
      },
    ]);
    expect(q("SELECT COUNT() FROM RELATIONSHIPS R WHERE R.$relationshipName = 'next'")).toEqual([
      { COUNT: 10 },
    ]);
    expect(q("SELECT R.$sourceId FROM RELATIONSHIPS R WHERE R.$targetId = 'pump-1'")).toEqual([
      { $sourceId: 'line-3' },
      { $sourceId: 'pump-2' },
    ]);
  });
});

describe('MATCH', () => {
  it('one hop with a named relationship, same rows as the JOIN', () => {
    const m = q('SELECT A.$dtId AS a, B.$dtId AS b, R.flow FROM DIGITALTWINS MATCH (A)-[R:feeds]->(B)');
    const j = q('SELECT A.$dtId AS a, B.$dtId AS b, R.flow FROM DIGITALTWINS A JOIN B RELATED A.feeds R');
    expect(m).toEqual(j);
    expect(m).toHaveLength(2);
  });

  it('variable hops, directions and cycles', () => {
    const from = (pattern: string, anchor: string): string[] =>
      ids(q(`SELECT b FROM DIGITALTWINS MATCH ${pattern} WHERE a.$dtId = '${anchor}'`), 'b');
    expect(from('(a)-[:contains*0..2]->(b)', 'site-1')).toEqual([
      'fan-1',
      'line-1',
      'line-2',
      'line-3',
      'pump-1',
      'pump-2',
      'pump-3',
      'pump-4',
    ]);
    // ADT: *1..2 excludes its starting limit: 2 hops only
    expect(from('(a)-[:contains*1..2]->(b)', 'site-1')).toEqual(from('(a)-[:contains*2]->(b)', 'site-1'));
    expect(from('(a)-[:contains*2]->(b)', 'site-1')).toEqual([
      'fan-1',
      'pump-1',
      'pump-2',
      'pump-3',
      'pump-4',
    ]);
    expect(from('(a)<-[:contains*]-(b)', 'pump-3')).toEqual(['line-1', 'site-1']);
    expect(from('(a)-[:contains]-(b)', 'line-1')).toEqual(['pump-3', 'site-1']);
    // the feeds cycle: walks of any length terminate; pump-1 reaches itself in 2 hops
    expect(from('(a)-[:feeds*]->(b)', 'pump-1')).toEqual(['pump-1', 'pump-2']);
    expect(from('(a)-[:feeds*0]->(b)', 'pump-1')).toEqual(['pump-1']);
    expect(from('(a)-[:feeds|contains*1..3]-(b)', 'pump-1')).toContain('site-1');
    expect(from('(a)-[*..2]->(b)', 'line-3')).toEqual(['fan-1', 'pump-1', 'pump-2']);
  });

  it("a 10-hop path, and more than ADT's 5 hops with a range", () => {
    expect(ids(q("SELECT b FROM DIGITALTWINS MATCH (a)-[:next*10]->(b) WHERE a.$dtId = 'c0'"), 'b')).toEqual([
      'c10',
    ]);
    // more than 5 hops, at most 100: c6..c10
    expect(q("SELECT COUNT() FROM DIGITALTWINS MATCH (a)-[:next*5..100]->(b) WHERE a.$dtId = 'c0'")).toEqual([
      { COUNT: 5 },
    ]);
    expect(q("SELECT COUNT() FROM DIGITALTWINS MATCH (a)-[:next*11]->(b) WHERE a.$dtId = 'c0'")).toEqual([
      { COUNT: 0 },
    ]);
  });

  it('chains of conditions and anchors at the far end', () => {
    const text =
      "SELECT s.$dtId AS s, l.$dtId AS l FROM DIGITALTWINS MATCH (s)-[:contains]->(l)-[:contains]->(p) WHERE p.$dtId = 'pump-2'";
    const plan = planQuery(parseQuery(text), g, { maxHops: 100, isOfModel: testIsOfModel });
    expect(plan.start).toMatchObject({ kind: 'ids', ids: ['pump-2'] });
    expect(plan.steps.map((s) => s.direction)).toEqual(['in', 'in']);
    expect(q(text)).toEqual([{ s: 'site-1', l: 'line-3' }]);
  });

  it('unanchored MATCH over the whole graph, started from the model index when it can', () => {
    const rows = q(
      "SELECT a.$dtId AS a, b.$dtId AS b FROM DIGITALTWINS MATCH (a)-[:contains]->(b) WHERE IS_OF_MODEL(b, 'dtmi:t:Fan;1')",
    );
    expect(rows).toEqual([{ a: 'line-3', b: 'fan-1' }]);
    const plan = planQuery(
      parseQuery(
        "SELECT a FROM DIGITALTWINS MATCH (a)-[:contains]->(b) WHERE IS_OF_MODEL(b, 'dtmi:t:Fan;1')",
      ),
      g,
      { maxHops: 100, isOfModel: testIsOfModel },
    );
    expect(plan.start).toMatchObject({ kind: 'model', model: 'dtmi:t:Fan;1' });
    expect(q('SELECT COUNT() FROM DIGITALTWINS MATCH (a)-[:next*2]->(b)')).toEqual([{ COUNT: 9 }]);
    expect(q('SELECT COUNT() FROM DIGITALTWINS MATCH (a)-[]->(b)')).toEqual([{ COUNT: g.relationshipCount }]);
  });

  it('a chain of single-hop conditions binds each relationship once: no walking back the way it came', () => {
    const rows = q(
      "SELECT b.$dtId AS b, c.$dtId AS c FROM DIGITALTWINS MATCH (a)-[]-(b)-[]-(c) WHERE a.$dtId = 'line-1'",
    ) as { b: string; c: string }[];
    expect(rows.map((r) => `${r.b}>${r.c}`).sort()).toEqual(['site-1>line-2', 'site-1>line-3']);
    // JOINs are joins: two JOINs over one self-loop may bind it twice
    const loop = buildTestGraph();
    loop.putRelationship(rel('c0', 'self', 'c0'));
    expect(
      q(
        "SELECT C FROM DIGITALTWINS A JOIN B RELATED A.self JOIN C RELATED B.self WHERE A.$dtId = 'c0'",
        {},
        loop,
      ),
    ).toHaveLength(1);
    expect(
      q("SELECT c FROM DIGITALTWINS MATCH (a)-[:self]->(b)-[:self]->(c) WHERE a.$dtId = 'c0'", {}, loop),
    ).toHaveLength(0);
  });

  it('a repeated name closes a cycle', () => {
    const rows = q('SELECT a.$dtId AS a FROM DIGITALTWINS MATCH (a)-[:feeds]->(b)-[:feeds]->(a)');
    expect(rows).toEqual([{ a: 'pump-1' }, { a: 'pump-2' }]);
  });

  it('a configured hop cap that would cut a walk short is an error, never a silent cut', () => {
    const e = errorOf(() =>
      q("SELECT b FROM DIGITALTWINS MATCH (a)-[:next*1..8]->(b) WHERE a.$dtId = 'c0'", { maxHops: 5 }),
    );
    expect(e.code).toBe('QueryNotSupported');
    const cut = errorOf(() =>
      q("SELECT b FROM DIGITALTWINS MATCH (a)-[:next*]->(b) WHERE a.$dtId = 'c0'", { maxHops: 3 }),
    );
    expect(cut.code).toBe('QueryBudgetExceeded');
    expect(cut.details).toMatchObject({ limit: 'maxHops', value: 3 });
    expect(cut.message).toContain('query.maxHops');
    // A cap the walk never reaches changes nothing; an explicit bound under the cap is the query's own.
    expect(
      ids(q("SELECT b FROM DIGITALTWINS MATCH (a)-[:next*]->(b) WHERE a.$dtId = 'c0'", { maxHops: 10 }), 'b'),
    ).toHaveLength(10);
    expect(
      ids(
        q("SELECT b FROM DIGITALTWINS MATCH (a)-[:next*..3]->(b) WHERE a.$dtId = 'c0'", { maxHops: 3 }),
        'b',
      ),
    ).toEqual(['c1', 'c2', 'c3']);
    expect(errorOf(() => q('SELECT b FROM DIGITALTWINS MATCH (a)-[r:next*2]->(b)')).code).toBe(
      'QueryNotSupported',
    );
  });

  it('SELECT * with several collections returns every named one', () => {
    const rows = q("SELECT * FROM DIGITALTWINS MATCH (a)-[r:feeds]->(b) WHERE a.$dtId = 'pump-1'") as Record<
      string,
      Record<string, unknown>
    >[];
    expect(Object.keys(rows[0] ?? {}).sort()).toEqual(['a', 'b', 'r']);
    expect(rows[0]?.r?.flow).toBe(10);
  });
});

describe('paging, limits and freshness', () => {
  it('pages through every row once, without gaps or duplicates', () => {
    const text = 'SELECT T.$dtId AS id FROM DIGITALTWINS T';
    const all = (q(text) as { id: string }[]).map((r) => r.id);
    const seen: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const page = executeQuery(g, text, { ...opts, pageSize: 4, continuationToken: token });
      seen.push(...(page.value as { id: string }[]).map((r) => r.id));
      token = page.continuationToken;
      pages++;
      expect(page.value.length).toBeLessThanOrEqual(4);
    } while (token);
    expect(seen).toEqual(all);
    expect(pages).toBe(Math.ceil(all.length / 4));
    expect(new Set(seen).size).toBe(g.twinCount);
  });

  it('pages within TOP and reports no next page after it', () => {
    const p1 = executeQuery(g, 'SELECT TOP(5) T FROM DIGITALTWINS T', { ...opts, pageSize: 3 });
    expect(p1.value).toHaveLength(3);
    const p2 = executeQuery(g, 'SELECT TOP(5) T FROM DIGITALTWINS T', {
      ...opts,
      pageSize: 3,
      continuationToken: p1.continuationToken,
    });
    expect(p2.value).toHaveLength(2);
    expect(p2.continuationToken).toBeNull();
    const exact = executeQuery(g, 'SELECT TOP(3) T FROM DIGITALTWINS T', { ...opts, pageSize: 3 });
    expect(exact.continuationToken).toBeNull();
  });

  it('rejects tampered tokens; a genuine token stands for its query, whatever text comes with it', () => {
    const p1 = executeQuery(g, 'SELECT * FROM DIGITALTWINS', { ...opts, pageSize: 2 });
    const token = p1.continuationToken as string;
    const [payload, sig] = token.split('.') as [string, string];
    const forged = Buffer.from(
      JSON.stringify([1, JSON.parse(Buffer.from(payload, 'base64url').toString())[1], 0]),
    ).toString('base64url');
    for (const bad of [`${forged}.${sig}`, `${payload}.${sig.slice(1)}x`, 'garbage', '']) {
      if (bad === '') continue; // empty means "first page"
      expect(
        errorOf(() => executeQuery(g, 'SELECT * FROM DIGITALTWINS', { ...opts, continuationToken: bad }))
          .code,
      ).toBe('InvalidContinuationToken');
    }
    // ADT: "the query is ignored if a continuation token is provided"
    const p2 = executeQuery(g, 'SELECT T FROM DIGITALTWINS T', {
      ...opts,
      pageSize: 2,
      continuationToken: token,
    });
    expect(p2.value).toHaveLength(2);
    expect(p2.value[0]).toHaveProperty('$dtId');
  });

  it('a next page needs only the token, and keeps the first page size (what the .NET SDK sends)', () => {
    const text = 'SELECT T.$dtId AS id FROM DIGITALTWINS T';
    const all = (executeQuery(g, text, opts).value as { id: string }[]).map((r) => r.id);
    const seen: string[] = [];
    let page = executeQuery(g, text, { ...opts, pageSize: 7 });
    seen.push(...(page.value as { id: string }[]).map((r) => r.id));
    while (page.continuationToken) {
      const { pageSize: _ignored, ...noSize } = opts;
      page = executeQuery(g, undefined, { ...noSize, continuationToken: page.continuationToken });
      expect(page.value.length).toBeLessThanOrEqual(7);
      if (page.continuationToken) expect(page.value).toHaveLength(7);
      seen.push(...(page.value as { id: string }[]).map((r) => r.id));
    }
    expect(seen).toEqual(all);
    // a page size given with the token wins
    const first = executeQuery(g, text, { ...opts, pageSize: 3 });
    expect(
      executeQuery(g, '', { ...opts, pageSize: 5, continuationToken: first.continuationToken }).value,
    ).toHaveLength(5);
    expect(errorOf(() => executeQuery(g, undefined, opts)).code).toBe('BadRequest');
  });

  it('enforces query length and page size limits', () => {
    expect(errorOf(() => q(`SELECT * FROM DIGITALTWINS T WHERE T.a = '${'x'.repeat(9000)}'`)).code).toBe(
      'QueryTooLarge',
    );
    expect(errorOf(() => q('SELECT * FROM DIGITALTWINS', { pageSize: 0 })).code).toBe('BadRequest');
    expect(errorOf(() => q('SELECT * FROM DIGITALTWINS', { pageSize: 10_001 })).code).toBe('BadRequest');
  });

  it('sees a write in the very next query', () => {
    const fresh = buildTestGraph();
    const text = "SELECT COUNT() FROM DIGITALTWINS MATCH (l)-[:contains]->(p) WHERE l.$dtId = 'line-2'";
    expect(q(text, {}, fresh)).toEqual([{ COUNT: 1 }]);
    fresh.putTwin(twin('pump-9', 'Pump', { name: 'P9' }));
    fresh.putRelationship(rel('line-2', 'contains', 'pump-9'));
    expect(q(text, {}, fresh)).toEqual([{ COUNT: 2 }]);
    fresh.deleteRelationship('line-2', 'line-2-contains-pump-9');
    expect(q(text, {}, fresh)).toEqual([{ COUNT: 1 }]);
  });
});
