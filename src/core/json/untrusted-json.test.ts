import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkUntrustedValue, FORBIDDEN_KEYS, parseUntrustedJson } from './untrusted-json.js';
import { locateJsonError } from './json-syntax.js';

const HOSTILE = [...FORBIDDEN_KEYS];

/** A JSON value with `key` planted at the end of `path` (objects all the way down). */
function plant(path: readonly string[], key: string, leaf: unknown): string {
  let inner = `{${JSON.stringify(key)}:${JSON.stringify(leaf)}}`;
  for (let i = path.length - 1; i >= 0; i--) inner = `{${JSON.stringify(path[i])}:${inner}}`;
  return inner;
}

describe('parseUntrustedJson', () => {
  it('parses ordinary JSON (and ignores a BOM)', () => {
    expect(parseUntrustedJson('{"a":[1,2,{"b":null}]}')).toEqual({
      ok: true,
      value: { a: [1, 2, { b: null }] },
    });
    expect(parseUntrustedJson(Buffer.from('\uFEFF[1]'))).toEqual({ ok: true, value: [1] });
  });

  it('refuses __proto__, constructor and prototype keys at any depth, naming the pointer', () => {
    const r = parseUntrustedJson('{"a":[{"x":1},{"__proto__":{"admin":true}}]}', { source: 'request body' });
    expect(r).toMatchObject({
      ok: false,
      problem: { code: 'json.key.forbidden', pointer: '/a/1/__proto__', source: 'request body' },
    });
    expect(!r.ok && r.problem.message).toMatch(/"__proto__" is not allowed \(at \/a\/1\/__proto__\)/);
    for (const k of HOSTILE) expect(parseUntrustedJson(`{"${k}":1}`).ok).toBe(false);
  });

  it('property: a hostile key planted at any depth and under any names is always found', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 6 }), { maxLength: 20 }),
        fc.constantFrom(...HOSTILE),
        fc.jsonValue(),
        (path, key, leaf) => {
          const r = parseUntrustedJson(plant(path, key, leaf));
          const hostileOnPath = path.some((p) => FORBIDDEN_KEYS.has(p));
          expect(r.ok).toBe(false);
          if (!r.ok && !hostileOnPath) {
            expect(r.problem.code).toBe('json.key.forbidden');
            const tokens = [...path, key].map((t) => t.replace(/~/g, '~0').replace(/\//g, '~1'));
            expect(r.problem.pointer).toBe(`/${tokens.join('/')}`);
          }
        },
      ),
    );
  });

  it('property: JSON without hostile keys, non-finite numbers or deep nesting round-trips', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        const text = JSON.stringify(v);
        const r = parseUntrustedJson(text);
        if (text.includes('"__proto__"') || text.includes('"constructor"') || text.includes('"prototype"'))
          return;
        expect(r).toEqual({ ok: true, value: JSON.parse(text) });
      }),
    );
  });

  it('refuses nesting deeper than the limit without recursion (10k and 1M deep)', () => {
    for (const depth of [129, 10_000, 1_000_000]) {
      const r = parseUntrustedJson('['.repeat(depth) + ']'.repeat(depth));
      expect(r.ok).toBe(false);
      expect(!r.ok && r.problem.code).toBe('json.depth');
      expect(!r.ok && r.problem.message).toMatch(/deeper than 128 levels/);
    }
    expect(parseUntrustedJson('['.repeat(128) + ']'.repeat(128)).ok).toBe(true);
    const obj = '{"a":'.repeat(20_000) + '1' + '}'.repeat(20_000);
    expect(parseUntrustedJson(obj, { maxDepth: 10 })).toMatchObject({
      ok: false,
      problem: { code: 'json.depth' },
    });
  });

  it('reports malformed deep JSON with a position, not a stack overflow', () => {
    const r = parseUntrustedJson('{"a":' + '['.repeat(10_000) + '}');
    expect(r).toMatchObject({ ok: false, problem: { code: 'json.syntax', line: 1 } });
  });

  it('refuses numbers out of range as "number out of range at /x"', () => {
    const r = parseUntrustedJson('{"x":1e999}');
    expect(r).toMatchObject({ ok: false, problem: { code: 'json.number.range', pointer: '/x' } });
    expect(!r.ok && r.problem.message).toMatch(/^Number out of range at \/x/);
    expect(parseUntrustedJson('[1,-1e400]')).toMatchObject({ ok: false, problem: { pointer: '/1' } });
    expect(parseUntrustedJson('1e999')).toMatchObject({ ok: false, problem: { pointer: '' } });
    expect(parseUntrustedJson('{"x":1e-999}')).toEqual({ ok: true, value: { x: 0 } });
  });

  it('refuses bytes that are not UTF-8, naming the offset of the first bad byte', () => {
    const r = parseUntrustedJson(Buffer.from([0x7b, 0x22, 0x61, 0xc3, 0x28, 0x22]), { what: 'The body' });
    expect(r).toMatchObject({ ok: false, problem: { code: 'json.encoding' } });
    expect(!r.ok && r.problem.message).toBe('The body is not valid UTF-8 text (bad byte at offset 3).');
    // an encoded surrogate and an overlong form are not UTF-8 either
    expect(parseUntrustedJson(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])).ok).toBe(false);
    expect(parseUntrustedJson(Buffer.from([0x22, 0xc0, 0xaf, 0x22])).ok).toBe(false);
  });

  it('property: never throws on random bytes; every refusal has a code and a message', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const r = parseUntrustedJson(bytes);
        if (!r.ok) expect(r.problem.code).toMatch(/^json\./);
      }),
    );
  });
});

describe('checkUntrustedValue', () => {
  it('checks in-process values too (own __proto__ keys, Infinity, depth)', () => {
    const own = JSON.parse('{"ok":1,"__proto__":{"x":1}}') as unknown;
    expect(checkUntrustedValue(own)).toMatchObject({ code: 'json.key.forbidden', pointer: '/__proto__' });
    expect(checkUntrustedValue({ a: [Infinity] })).toMatchObject({
      code: 'json.number.range',
      pointer: '/a/0',
    });
    expect(checkUntrustedValue({ a: { b: 1 } }, { maxDepth: 1 })).toMatchObject({ code: 'json.depth' });
    expect(checkUntrustedValue({ a: [1, 'x', null, { b: true }] })).toBeUndefined();
  });
});

describe('locateJsonError', () => {
  it.each([
    ['{"a": }', 1, 7, 'a value was expected'],
    ['{\n  "t": ,\n}', 2, 8, 'a value was expected'],
    ['[1 2]', 1, 4, "',' or ']' was expected"],
    ['{"a" 1}', 1, 6, "':' was expected"],
    ['{"a":1,}', 1, 8, 'a property name (a string in double quotes) was expected'],
    ['"abc', 1, 1, 'unterminated string'],
    ['"\\x"', 1, 2, 'invalid escape sequence'],
    ['1 2', 1, 3, 'unexpected content after the JSON value'],
    ['', 1, 1, 'the text is empty'],
    ['-', 1, 1, 'invalid number'],
    ['[', 1, 2, 'the JSON text ends too early'],
  ])('%j → %i:%i %s', (text, line, column, message) => {
    expect(locateJsonError(text)).toMatchObject({ line, column, message });
  });

  it('property: finds no error in valid JSON, and one in every text JSON.parse refuses', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string({ maxLength: 30 })), (text) => {
        let valid = true;
        try {
          JSON.parse(text);
        } catch {
          valid = false;
        }
        expect(locateJsonError(text) === undefined).toBe(valid);
      }),
    );
  });
});
