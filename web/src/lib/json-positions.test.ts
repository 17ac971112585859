import { describe, expect, it } from 'vitest';
import { lineColumnAt, parseUpload, placeProblems } from './json-positions.js';

const single = `{
  "@id": "dtmi:x:Pump;1",
  "@type": "Interface",
  "@context": "dtmi:dtdl:context;3",
  "contents": [
    { "@type": "Telemetry", "name": "vibration", "schema": "double" },
    { "@type": "Telemetry", "name": "bad name!", "schema": "double" }
  ]
}`;

describe('problems placed in the uploaded text', () => {
  it('maps a batch pointer to the line and column of the value in a single interface', () => {
    const parsed = parseUpload(single);
    expect(parsed).toMatchObject({ ok: true, single: true });
    const [p] = placeProblems(single, [{ message: 'invalid name', pointer: '/0/contents/1/name' }], true);
    expect(p).toMatchObject({ line: 7, column: 37 });
    expect(single.split('\n')[6]!.slice(36)).toMatch(/^"bad name!"/);
  });

  it('keeps array pointers as they are, and falls back to the nearest parent that exists', () => {
    const text = `[\n  {"@id": "a"},\n  {"@id": "b", "contents": []}\n]`;
    const placed = placeProblems(
      text,
      [
        { message: 'b', pointer: '/1/@id' },
        { message: 'missing', pointer: '/1/contents/4/name' },
        { message: 'whole', pointer: '' },
        { message: 'already', pointer: '/0', line: 9, column: 9 },
        { message: 'none' },
      ],
      false,
    );
    expect(placed.map((p) => [p.line, p.column])).toEqual([
      [3, 11],
      [3, 28],
      [1, 1],
      [9, 9],
      [undefined, undefined],
    ]);
  });

  it('reads the model a problem is in from its source, as the server reports DTDL problems', () => {
    const [p] = placeProblems(
      single,
      [{ message: 'invalid name', source: 'request body[0]', pointer: '/contents/1/name' }],
      true,
    );
    expect(p).toMatchObject({ line: 7, column: 37 });
    const text = `[\n  {"@id": "a"},\n  {"@id": "b", "contents": [{"name": "x y"}]}\n]`;
    const [q] = placeProblems(
      text,
      [{ message: 'm', source: 'request body[1]', pointer: '/contents/0/name' }],
      false,
    );
    expect(q).toMatchObject({ line: 3, column: 38 });
  });

  it('leaves pointers of another member of the batch alone for a single interface', () => {
    expect(placeProblems(single, [{ message: 'x', pointer: '/3/@id' }], true)[0]!.line).toBeUndefined();
  });

  it('finds JSON syntax errors with their place, and refuses what is not an interface', () => {
    expect(parseUpload('{\n  "@id": "x",\n  "contents": [,]\n}')).toMatchObject({
      ok: false,
      line: 3,
      column: 16,
    });
    expect(parseUpload('42')).toMatchObject({ ok: false, message: /interface/ });
    expect(parseUpload('')).toMatchObject({ ok: false });
    expect(parseUpload('\ufeff[{"@id":"a"}]')).toMatchObject({
      ok: true,
      single: false,
      batch: [{ '@id': 'a' }],
    });
  });

  it('survives hostile text: deep nesting, __proto__ keys, huge arrays', () => {
    const deep = '['.repeat(20000) + ']'.repeat(20000);
    expect(() => placeProblems(deep, [{ message: 'x', pointer: '/0/0/0' }], false)).not.toThrow();
    const proto = '{"__proto__": {"polluted": 1}, "@id": 5}';
    const parsed = parseUpload(proto);
    expect(parsed.ok).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(placeProblems(proto, [{ message: 'x', pointer: '/0/__proto__/polluted' }], true)[0]).toMatchObject(
      {
        line: 1,
        column: 28,
      },
    );
    const big = `[${Array.from({ length: 50000 }, (_, i) => `{"n":${i}}`).join(',')}]`;
    expect(placeProblems(big, [{ message: 'x', pointer: '/49999/n' }], false)[0]!.column).toBeGreaterThan(1);
    expect(lineColumnAt('a\nb', 99)).toEqual({ line: 2, column: 2 });
  });
});
