/**
 * Property tests of the parser: a random syntax tree printed as text parses back to the same tree
 * (keywords in any case, names escaped as [[...]] when they must be), every reserved word works as
 * a name once escaped and never unescaped, and hostile texts end in a SqlQueryError with a line
 * and column, quickly.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TwinloopError } from '../errors/errors.js';
import type { Expr, Literal, MatchEdge, QueryAst, SelectItem } from './query-ast.js';
import { parseQuery } from './query-parser.js';
import { RESERVED_WORDS } from './query-vocabulary.js';

// ---- printing a tree as query text ----

const plainName = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const printName = (n: string): string =>
  plainName.test(n) && !RESERVED_WORDS.has(n.toUpperCase()) ? n : `[[${n}]]`;
const printString = (s: string): string =>
  `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t')}'`;
const printLiteral = (v: Literal): string =>
  v === null ? 'null' : typeof v === 'string' ? printString(v) : String(v);
const printPath = (segments: string[]): string => segments.map(printName).join('.');

function printExpr(e: Expr, kw: (w: string) => string): string {
  switch (e.kind) {
    case 'literal':
      return printLiteral(e.value);
    case 'array':
      return `[${e.items.map(printLiteral).join(', ')}]`;
    case 'path':
      return printPath(e.segments);
    case 'compare':
      return `${printExpr(e.left, kw)} ${e.op} ${printExpr(e.right, kw)}`;
    case 'and':
    case 'or':
      return `(${printExpr(e.left, kw)}) ${kw(e.kind.toUpperCase())} (${printExpr(e.right, kw)})`;
    case 'not':
      return `${kw('NOT')} (${printExpr(e.operand, kw)})`;
    case 'in':
      return `${printExpr(e.operand, kw)} ${kw(e.negated ? 'NIN' : 'IN')} [${e.list.map(printLiteral).join(', ')}]`;
    case 'call':
      return `${kw(e.name)}(${e.args.map((a) => printExpr(a, kw)).join(', ')})`;
    case 'isOfModel':
      return `${kw('IS_OF_MODEL')}(${e.alias !== undefined ? `${printName(e.alias)}, ` : ''}${printString(e.model)}${e.exact ? `, ${kw('exact')}` : ''})`;
  }
}

function printHops(e: MatchEdge): string {
  if (!e.variable) return '';
  if (e.maxHops === undefined) return e.minHops === 1 ? '*' : `*${e.minHops - 1}..`;
  if (e.minHops === e.maxHops) return `*${e.minHops}`;
  return `*${e.minHops - 1}..${e.maxHops}`;
}

function printQuery(q: QueryAst, kw: (w: string) => string): string {
  const parts = [kw('SELECT')];
  if (q.top !== undefined) parts.push(`${kw('TOP')}(${q.top})`);
  if (q.select.kind === 'star') parts.push('*');
  else if (q.select.kind === 'count') parts.push(`${kw('COUNT')}()`);
  else
    parts.push(
      q.select.items
        .map((i) => {
          const last = i.expr.segments[i.expr.segments.length - 1];
          return printPath(i.expr.segments) + (i.key !== last ? ` ${kw('AS')} ${printName(i.key)}` : '');
        })
        .join(', '),
    );
  parts.push(kw('FROM'), kw(q.from.kind === 'twins' ? 'DIGITALTWINS' : 'RELATIONSHIPS'));
  if (q.from.alias !== undefined) parts.push(printName(q.from.alias));
  if (q.match) {
    let text = '';
    q.match.nodes.forEach((n, i) => {
      text += n.anonymous ? '()' : `(${printName(n.name)})`;
      const e = q.match?.edges[i];
      if (!e) return;
      const names = e.names.length ? `:${e.names.map(printName).join('|')}` : '';
      const spec = `[${e.relAlias !== undefined ? printName(e.relAlias) : ''}${names}${printHops(e)}]`;
      text += e.direction === 'out' ? `-${spec}->` : e.direction === 'in' ? `<-${spec}-` : `-${spec}-`;
    });
    parts.push(kw('MATCH'), text);
  }
  for (const j of q.joins) {
    parts.push(kw('JOIN'), printName(j.alias), kw('RELATED'), `${printName(j.from)}.${printName(j.relName)}`);
    if (j.relAlias !== undefined) parts.push(printName(j.relAlias));
  }
  if (q.where) parts.push(kw('WHERE'), printExpr(q.where, kw));
  return parts.join(' ');
}

/** The tree without positions, anonymous nodes compared by being anonymous. */
function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(strip);
  if (typeof v !== 'object' || v === null) return v;
  const o = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) {
    if (k === 'pos') continue;
    if (k === 'name' && o.anonymous === true) continue;
    out[k] = strip(x);
  }
  return out;
}

// ---- random trees ----

const P = { line: 1, column: 1 };
const name = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,6}$/) },
  { weight: 2, arbitrary: fc.constantFrom(...RESERVED_WORDS, 'exact', 'group', 'Order', 'true') },
  {
    weight: 1,
    arbitrary: fc
      .string({ minLength: 1, maxLength: 8 })
      .filter(
        (s) =>
          s.trim() !== '' &&
          !s.includes(']]') &&
          !s.includes('\n') &&
          !s.endsWith(']') &&
          !s.startsWith('[') &&
          s !== '__proto__',
      ),
  },
);
const literal: fc.Arbitrary<Literal> = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.integer({ min: -1e6, max: 1e6 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
  fc.boolean(),
  fc.constant(null),
);
const path = fc
  .array(name, { minLength: 1, maxLength: 3 })
  .map((segments) => ({ kind: 'path' as const, segments, pos: P }));
const operand: fc.Arbitrary<Expr> = fc.oneof(
  path,
  literal.map((value) => ({ kind: 'literal' as const, value, pos: P })),
);
const leaf: fc.Arbitrary<Expr> = fc.oneof(
  fc
    .tuple(operand, fc.constantFrom('=', '!=', '<', '<=', '>', '>=' as const), operand)
    .map(([left, op, right]) => ({ kind: 'compare' as const, op, left, right, pos: P })),
  fc
    .tuple(path, fc.array(literal, { maxLength: 4 }), fc.boolean())
    .map(([operand, list, negated]) => ({ kind: 'in' as const, operand, list, negated, pos: P })),
  fc
    .tuple(
      fc.constantFrom(
        'IS_DEFINED',
        'IS_NULL',
        'IS_BOOL',
        'IS_NUMBER',
        'IS_STRING',
        'IS_PRIMITIVE',
        'IS_OBJECT',
      ),
      path,
    )
    .map(([n, a]) => ({ kind: 'call' as const, name: n, args: [a], pos: P })),
  fc
    .tuple(fc.constantFrom('STARTSWITH', 'ENDSWITH', 'CONTAINS', 'ARRAY_CONTAINS'), path, operand)
    .map(([n, a, b]) => ({ kind: 'call' as const, name: n, args: [a, b], pos: P })),
  fc
    .tuple(fc.option(name, { nil: undefined }), fc.string({ maxLength: 12 }), fc.boolean())
    .map(([alias, model, exact]) => ({
      kind: 'isOfModel' as const,
      model,
      exact,
      pos: P,
      ...(alias !== undefined && { alias }),
    })),
);
const expr: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc
      .tuple(fc.constantFrom('and', 'or' as const), tie('e'), tie('e'))
      .map(([kind, left, right]) => ({ kind, left, right, pos: P })),
    tie('e').map((operand) => ({ kind: 'not' as const, operand, pos: P })),
  ),
})).e;
const selectItem: fc.Arbitrary<SelectItem> = fc
  .tuple(path, fc.option(name, { nil: undefined }))
  .map(([expr, as]) => ({ expr, key: as ?? (expr.segments[expr.segments.length - 1] as string), pos: P }));
const hops = fc.oneof(
  fc.constant({ variable: false, minHops: 1, maxHops: 1 as number | undefined }),
  fc
    .integer({ min: 0, max: 9 })
    .map((n) => ({ variable: true, minHops: n, maxHops: n as number | undefined })),
  fc
    .tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 1, max: 5 }))
    .map(([n, k]) => ({ variable: true, minHops: n + 1, maxHops: (n + k) as number | undefined })),
  fc.constant({ variable: true, minHops: 1, maxHops: undefined }),
  fc.integer({ min: 1, max: 5 }).map((n) => ({ variable: true, minHops: n + 1, maxHops: undefined })),
);
const edge: fc.Arbitrary<MatchEdge> = fc
  .tuple(
    fc.option(name, { nil: undefined }),
    fc.array(name, { maxLength: 3 }),
    fc.constantFrom('out', 'in', 'both' as const),
    hops,
  )
  .map(([relAlias, names, direction, h]) => ({
    names,
    direction,
    ...h,
    pos: P,
    ...(relAlias !== undefined && { relAlias }),
  }));
const query: fc.Arbitrary<QueryAst> = fc
  .record({
    select: fc.oneof(
      fc.constant({ kind: 'star' as const, pos: P }),
      fc.constant({ kind: 'count' as const, pos: P }),
      fc
        .array(selectItem, { minLength: 1, maxLength: 3 })
        .map((items) => ({ kind: 'items' as const, items, pos: P })),
    ),
    top: fc.option(fc.integer({ min: 0, max: 10_000 }), { nil: undefined }),
    kind: fc.constantFrom('twins', 'relationships', 'match', 'joins'),
    alias: fc.option(name, { nil: undefined }),
    nodes: fc.array(fc.option(name, { nil: undefined }), { minLength: 1, maxLength: 4 }),
    edges: fc.array(edge, { minLength: 3, maxLength: 3 }),
    joins: fc.array(fc.tuple(name, name, name, fc.option(name, { nil: undefined })), {
      minLength: 1,
      maxLength: 3,
    }),
    where: fc.option(expr, { nil: undefined }),
  })
  .map((r) => {
    const q: QueryAst = {
      select: r.select,
      from: { kind: r.kind === 'relationships' ? 'relationships' : 'twins', pos: P },
      joins: [],
    };
    if (r.top !== undefined) q.top = r.top;
    if (r.kind !== 'match' && r.alias !== undefined) q.from.alias = r.alias;
    if (r.kind === 'match') {
      q.match = {
        nodes: r.nodes.map((n) => ({ name: n ?? '#', anonymous: n === undefined, pos: P })),
        edges: r.edges.slice(0, r.nodes.length - 1),
        pos: P,
      };
    }
    if (r.kind === 'joins')
      q.joins = r.joins.map(([alias, from, relName, relAlias]) => ({
        alias,
        from,
        relName,
        pos: P,
        ...(relAlias !== undefined && { relAlias }),
      }));
    if (r.where !== undefined) q.where = r.where;
    return q;
  });
const casing = fc.constantFrom(
  (w: string) => w,
  (w: string) => w.toLowerCase(),
  (w: string) => w.charAt(0) + w.slice(1).toLowerCase(),
);

describe('parseQuery properties', () => {
  it('round-trips: a tree printed as text (keywords in any case) parses back to the same tree', () => {
    fc.assert(
      fc.property(query, casing, (q, kw) => {
        const text = printQuery(q, kw);
        expect(strip(parseQuery(text))).toEqual(strip(q));
      }),
      { numRuns: 1500 },
    );
  });

  it('every reserved word is a name once escaped as [[word]], and is refused unescaped', () => {
    fc.assert(
      fc.property(fc.constantFrom(...RESERVED_WORDS), casing, (w, kw) => {
        const word = kw(w);
        const ast = parseQuery(
          `SELECT T.[[${word}]] AS [[${word}]] FROM DIGITALTWINS [[${word}]] WHERE [[${word}]] = 1`,
        );
        expect(ast.select).toMatchObject({ items: [{ key: word, expr: { segments: ['T', word] } }] });
        expect(ast.from.alias).toBe(word);
        expect(ast.where).toMatchObject({ kind: 'compare', left: { kind: 'path', segments: [word] } });
        // After a '.', any word is a property name (an extension: ADT asks for [[...]] there too)
        expect(parseQuery(`SELECT * FROM DIGITALTWINS T WHERE T.${word} = 1`).where).toMatchObject({
          left: { segments: ['T', word] },
        });
        for (const text of [`SELECT * FROM DIGITALTWINS ${word}`, `SELECT ${word}.x FROM DIGITALTWINS`]) {
          let error: unknown;
          try {
            parseQuery(text);
          } catch (e) {
            error = e;
          }
          expect(error).toBeInstanceOf(TwinloopError);
          expect((error as TwinloopError).code).toBe('SqlQueryError');
        }
      }),
    );
  });
});

describe('hostile query texts', () => {
  const refused = (text: string): TwinloopError => {
    const started = performance.now();
    let error: unknown;
    try {
      parseQuery(text);
    } catch (e) {
      error = e;
    }
    expect(performance.now() - started).toBeLessThan(1000);
    expect(error).toBeInstanceOf(TwinloopError);
    const e = error as TwinloopError;
    expect(e.code).toBe('SqlQueryError');
    expect(e.problems[0]).toMatchObject({ line: expect.any(Number), column: expect.any(Number) });
    return e;
  };

  it('deep nesting, of parentheses and of NOT', () => {
    expect(refused(`SELECT * FROM DIGITALTWINS WHERE ${'('.repeat(100_000)}`).message).toContain(
      'nested too deeply',
    );
    expect(refused(`SELECT * FROM DIGITALTWINS WHERE ${'NOT '.repeat(100_000)}x`).message).toContain(
      'nested too deeply',
    );
  });

  it('huge literals: a number out of range, an unterminated string or [[ name', () => {
    expect(refused(`SELECT * FROM DIGITALTWINS WHERE x = ${'9'.repeat(400)}`).message).toContain(
      'out of range',
    );
    expect(refused('SELECT * FROM DIGITALTWINS WHERE x = 1e999').message).toContain('out of range');
    expect(refused(`SELECT * FROM DIGITALTWINS WHERE x = '${'a'.repeat(100_000)}`).message).toContain(
      'Unterminated',
    );
    expect(refused(`SELECT * FROM DIGITALTWINS WHERE [[${'a'.repeat(100_000)}`).message).toContain("'[['");
    expect(refused('SELECT * FROM DIGITALTWINS WHERE [[ ]] = 1').message).toContain('Empty');
  });

  it('__proto__ cannot be a name, escaped or not; constructor can (and reads nothing inherited)', () => {
    for (const text of [
      'SELECT * FROM DIGITALTWINS T WHERE T.__proto__ = 1',
      'SELECT T.name AS [[__proto__]] FROM DIGITALTWINS T',
      'SELECT * FROM DIGITALTWINS __proto__',
      'SELECT a FROM DIGITALTWINS MATCH (a)-[:__proto__]->(b)',
    ])
      expect(refused(text).message).toContain('__proto__');
    expect(parseQuery('SELECT T.constructor FROM DIGITALTWINS T WHERE T.prototype = 1').select.kind).toBe(
      'items',
    );
  });
});
