import { describe, it, expect } from 'vitest';
import { TwinloopError } from '../errors/errors.js';
import { parseQuery } from './query-parser.js';

function syntaxErrorOf(text: string): { line: number; column: number; message: string } {
  try {
    parseQuery(text);
  } catch (e) {
    expect(e).toBeInstanceOf(TwinloopError);
    const err = e as TwinloopError;
    expect(err.code).toBe('SqlQueryError');
    const p = err.problems[0];
    expect(p).toBeDefined();
    return { line: p?.line ?? -1, column: p?.column ?? -1, message: err.message };
  }
  throw new Error(`expected a syntax error for: ${text}`);
}

describe('parseQuery: SELECT and FROM', () => {
  it('parses SELECT * FROM DIGITALTWINS, keywords in any case', () => {
    const a = parseQuery('select * from digitaltwins');
    expect(a.select.kind).toBe('star');
    expect(a.from).toMatchObject({ kind: 'twins' });
    expect(a.from.alias).toBeUndefined();
    expect(parseQuery('SeLeCt * FrOm DigitalTwins T').from.alias).toBe('T');
    expect(parseQuery('SELECT * FROM DIGITALTWINS AS T').from.alias).toBe('T');
  });

  it('parses TOP, COUNT and projections with AS', () => {
    const a = parseQuery(
      'SELECT TOP(5) T.name, R.flow AS f, CT FROM DIGITALTWINS T JOIN CT RELATED T.feeds R',
    );
    expect(a.top).toBe(5);
    expect(a.select.kind).toBe('items');
    if (a.select.kind !== 'items') return;
    expect(a.select.items.map((i) => [i.expr.segments, i.key])).toEqual([
      [['T', 'name'], 'name'],
      [['R', 'flow'], 'f'],
      [['CT'], 'CT'],
    ]);
    expect(parseQuery('SELECT COUNT() FROM DIGITALTWINS').select.kind).toBe('count');
    expect(parseQuery('SELECT TOP (3) * FROM RELATIONSHIPS R').from).toMatchObject({
      kind: 'relationships',
      alias: 'R',
    });
  });

  it('parses any number of JOINs, with and without relationship names', () => {
    const a = parseQuery(
      'SELECT A, B, C, D, E, F, G FROM DIGITALTWINS A JOIN B RELATED A.r JOIN C RELATED B.r RC JOIN D RELATED C.r JOIN E RELATED D.r JOIN F RELATED E.r JOIN G RELATED F.r',
    );
    expect(a.joins).toHaveLength(6);
    expect(a.joins[1]).toMatchObject({ alias: 'C', from: 'B', relName: 'r', relAlias: 'RC' });
    expect(a.joins[0]?.relAlias).toBeUndefined();
  });
});

describe('parseQuery: MATCH', () => {
  it('parses hops, names, directions and chains', () => {
    const a = parseQuery(
      "SELECT a, b, c FROM DIGITALTWINS MATCH (a)-[r:contains]->(b)<-[:feeds|supplies*2..5]-(c)-[*]-()-[:x*3]->(d)-[*..4]->(e)-[]-(f) WHERE a.$dtId = 'x'",
    );
    const m = a.match;
    expect(m?.nodes.map((n) => n.anonymous)).toEqual([false, false, false, true, false, false, false]);
    expect(m?.edges.map((e) => [e.direction, e.names, e.minHops, e.maxHops, e.variable, e.relAlias])).toEqual(
      [
        ['out', ['contains'], 1, 1, false, 'r'],
        // ADT: the starting limit is not in the range, the ending limit is (*2..5 is 3, 4 or 5 hops)
        ['in', ['feeds', 'supplies'], 3, 5, true, undefined],
        ['both', [], 1, undefined, true, undefined],
        ['out', ['x'], 3, 3, true, undefined],
        ['out', [], 1, 4, true, undefined],
        ['both', [], 1, 1, false, undefined],
      ],
    );
  });

  it('reports bad patterns with positions', () => {
    expect(syntaxErrorOf('SELECT a FROM DIGITALTWINS MATCH (a)<-[:x]->(b)')).toMatchObject({
      line: 1,
      column: 43,
    });
    expect(syntaxErrorOf('SELECT a FROM DIGITALTWINS MATCH (a)-[:x*5..2]->(b)')).toMatchObject({
      line: 1,
      column: 41,
    });
    // *2..2 is empty: more than 2 and at most 2
    expect(syntaxErrorOf('SELECT a FROM DIGITALTWINS MATCH (a)-[:x*2..2]->(b)')).toMatchObject({
      column: 41,
      message: expect.stringContaining('empty'),
    });
    expect(syntaxErrorOf('SELECT a FROM DIGITALTWINS MATCH (a)-[:x]->')).toMatchObject({ column: 44 });
  });
});

describe('parseQuery: WHERE', () => {
  it('parses comparisons, logic with precedence, IN/NIN, functions and literals', () => {
    const a = parseQuery(
      `SELECT T FROM DIGITALTWINS T WHERE NOT T.a = 1 AND (T.b <> "x" OR T.c >= -2.5) OR T.d IN ['p', 2, true, null] AND T.e NIN [] AND IS_OF_MODEL(T, 'dtmi:x:A;1', exact) AND STARTSWITH(T.$dtId, 'p') AND T.f NOT IN [1]`,
    );
    const w = a.where;
    expect(w?.kind).toBe('or');
    if (w?.kind !== 'or') return;
    expect(w.left.kind).toBe('and');
    if (w.left.kind !== 'and') return;
    expect(w.left.left.kind).toBe('not');
    expect(w.left.right).toMatchObject({ kind: 'or' });
    const json = JSON.stringify(w.right);
    expect(json).toContain('"kind":"isOfModel","model":"dtmi:x:A;1","exact":true');
    expect(json).toContain('"list":["p",2,true,null],"negated":false');
    expect(json).toContain('"list":[],"negated":true');
    expect(json).toContain('"name":"STARTSWITH"');
  });

  it('parses IS_OF_MODEL without a collection, and every type-test function', () => {
    const a = parseQuery(
      "SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:x:A;1') AND IS_DEFINED(x) AND IS_NULL(x) AND IS_BOOL(x) AND IS_NUMBER(x) AND IS_STRING(x) AND IS_PRIMITIVE(x) AND IS_OBJECT(x) AND ENDSWITH(x, 'a') AND CONTAINS(x, 'b')",
    );
    const json = JSON.stringify(a.where);
    for (const f of [
      'IS_DEFINED',
      'IS_NULL',
      'IS_BOOL',
      'IS_NUMBER',
      'IS_STRING',
      'IS_PRIMITIVE',
      'IS_OBJECT',
      'ENDSWITH',
      'CONTAINS',
    ]) {
      expect(json).toContain(`"name":"${f}"`);
    }
    expect(json).toContain('"kind":"isOfModel","model":"dtmi:x:A;1","exact":false');
  });

  it('reads paths into components, $metadata and escapes in strings; ignores -- comments', () => {
    const a = parseQuery(
      "SELECT T.$metadata.$model FROM DIGITALTWINS T -- all of them\nWHERE T.comp.prop = 'it\\'s'",
    );
    expect(JSON.stringify(a)).toContain('"segments":["T","comp","prop"]');
    expect(JSON.stringify(a)).toContain(`"value":"it's"`);
    expect(a.select.kind === 'items' && a.select.items[0]?.expr.segments).toEqual([
      'T',
      '$metadata',
      '$model',
    ]);
  });

  it('reads x<-5 as x < -5', () => {
    const a = parseQuery('SELECT * FROM DIGITALTWINS T WHERE T.x<-5');
    expect(a.where).toMatchObject({ kind: 'compare', op: '<', right: { value: -5 } });
  });
});

describe('parseQuery: errors carry line and column', () => {
  it.each([
    ['SELECT', 1, 7, 'Expected'],
    ['SELECT * FROM TWINS', 1, 15, 'DIGITALTWINS'],
    ['SELECT *\nFROM DIGITALTWINS T\nWHERE T.x = ', 3, 13, 'value'],
    ["SELECT * FROM DIGITALTWINS T WHERE T.x = 'abc", 1, 42, 'Unterminated'],
    ['SELECT * FROM DIGITALTWINS T WHERE T.x # 1', 1, 40, "Unexpected character '#'"],
    ['SELECT * FROM DIGITALTWINS T WHERE FOO(T.x)', 1, 36, "Unknown function 'FOO'"],
    ['SELECT * FROM DIGITALTWINS T WHERE STARTSWITH(T.x)', 1, 36, 'takes 2'],
    ['SELECT * FROM DIGITALTWINS T WHERE T.x IN [T.y]', 1, 44, 'literal'],
    ['SELECT * FROM DIGITALTWINS T\n  JOIN RELATED T.x', 2, 8, 'joined collection'],
    ['SELECT TOP(x) * FROM DIGITALTWINS', 1, 12, 'whole number'],
    ['SELECT * FROM DIGITALTWINS T WHERE T.a = 1 T.b', 1, 44, 'AND, OR'],
    ["SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'm', sloppy)", 1, 56, "'exact'"],
  ])('%j -> %i:%i', (text, line, column, fragment) => {
    const e = syntaxErrorOf(text);
    expect({ line: e.line, column: e.column }).toEqual({ line, column });
    expect(e.message).toContain(fragment);
  });

  it('refuses absurd nesting instead of overflowing the stack', () => {
    const e = syntaxErrorOf(
      `SELECT * FROM DIGITALTWINS T WHERE ${'('.repeat(5000)}T.a = 1${')'.repeat(5000)}`,
    );
    expect(e.message).toContain('nested too deeply');
  });
});
