// The explorer's query text against the platform's real query parser (src/core/query): what a user
// types lands in the query as one string literal, whatever it holds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseQuery } from '../../../src/core/query/query-parser.js';
import { caretAt, EXAMPLE_QUERIES, quoteLiteral, relationshipsQuery, searchQuery } from './query-text.js';

/** Every string the parsed query holds as a value (literals, IS_OF_MODEL's model, IN lists), in order. */
function literals(ast: unknown): unknown[] {
  const out: unknown[] = [];
  const walk = (v: unknown) => {
    if (!v || typeof v !== 'object') return;
    const o = v as { kind?: unknown; value?: unknown; model?: unknown; list?: unknown };
    if (o.kind === 'literal' && typeof o.value === 'string') out.push(o.value);
    if (o.kind === 'isOfModel') out.push(o.model);
    if (o.kind === 'in' && Array.isArray(o.list)) out.push(...(o.list as unknown[]));
    for (const x of Object.values(v)) walk(x);
  };
  walk(ast);
  return out;
}

describe('query text from user input', () => {
  it('quotes any text as one literal the parser reads back exactly (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (id, model) => {
        fc.pre(id.trim() !== '' && model.trim() !== '');
        const ast = parseQuery(searchQuery(id, model));
        expect(literals(ast)).toEqual([id.trim(), model.trim()]);
      }),
      { numRuns: 300 },
    );
  });

  it('survives hostile inputs', () => {
    for (const s of ["' OR 1=1 --", "\\'", 'a\nb', "x') OR (T.$dtId = '"]) {
      expect(literals(parseQuery(searchQuery(s, '')))).toEqual([s.trim()]);
    }
    expect(quoteLiteral("D'Souza")).toBe("'D\\'Souza'");
    expect(searchQuery('', '')).toBe('SELECT * FROM DIGITALTWINS T');
  });

  it('builds a relationships query the parser takes', () => {
    const ast = parseQuery(relationshipsQuery(['a', "b'c"]));
    expect(literals(ast)).toEqual(['a', "b'c", 'a', "b'c"]);
  });

  it('offers examples that parse', () => {
    for (const e of EXAMPLE_QUERIES) expect(() => parseQuery(e.query), e.label).not.toThrow();
  });

  it('puts a caret under the column of an error', () => {
    expect(caretAt('SELECT *\nFROM X', 2, 6)).toEqual({ line: 'FROM X', caret: '     ^' });
    expect(caretAt('x', 3, 1)).toBeUndefined();
    expect(caretAt('abc', 1, 99)).toEqual({ line: 'abc', caret: '   ^' });
  });
});
