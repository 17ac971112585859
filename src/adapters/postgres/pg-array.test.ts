import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { numArrayLiteral, textArrayLiteral } from './pg-array.js';

/** A reference reader of PostgreSQL's array text format (one dimension), to check the writer. */
function readArray(s: string): (string | null)[] {
  expect(s.startsWith('{') && s.endsWith('}')).toBe(true);
  const out: (string | null)[] = [];
  let i = 1;
  if (s === '{}') return out;
  while (i < s.length) {
    if (s[i] === '"') {
      let v = '';
      i++;
      while (s[i] !== '"') {
        if (s[i] === '\\') i++;
        v += s[i]!;
        i++;
      }
      out.push(v);
      i++;
    } else {
      let j = i;
      while (s[j] !== ',' && s[j] !== '}') j++;
      const raw = s.slice(i, j);
      out.push(raw === 'NULL' ? null : raw);
      i = j;
    }
    i++; // the ',' or the closing '}'
  }
  return out;
}

describe('PostgreSQL array literals', () => {
  it('writes numbers exactly, with NULL, NaN and infinities as PostgreSQL spells them', () => {
    expect(numArrayLiteral([])).toBe('{}');
    expect(numArrayLiteral([1, -2.5, null, undefined, NaN, Infinity, -Infinity, 1e21, 5e-324])).toBe(
      '{1,-2.5,NULL,NULL,NaN,Infinity,-Infinity,1e+21,5e-324}',
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.double({ noNaN: true }), fc.integer(), fc.constant(null))), (xs) => {
        const back = readArray(numArrayLiteral(xs)).map((v) => (v === null ? null : Number(v)));
        expect(back).toEqual(xs.map((x) => (x === null ? null : x === 0 ? 0 : x)));
      }),
    );
  });

  it('quotes every text element, so hostile text stays text (quotes, backslashes, braces, "NULL", SQL)', () => {
    const hostile = [
      '',
      'NULL',
      'a,b',
      '{x}',
      '"q"',
      'back\\slash',
      "'; DROP TABLE x; --",
      '__proto__',
      '𝄞 é',
    ];
    expect(readArray(textArrayLiteral([...hostile, null]))).toEqual([...hostile, null]);
    fc.assert(
      fc.property(fc.array(fc.option(fc.string({ unit: 'grapheme' }))), (xs) => {
        expect(readArray(textArrayLiteral(xs))).toEqual(xs);
      }),
    );
  });
});
