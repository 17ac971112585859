import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { applyPatch, parsePatch, parsePointer, toPointer } from './json-patch.js';

describe('json-patch', () => {
  it('pointers round-trip, ~ and / escaped', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 5 }), (segs) => {
        expect(parsePointer(toPointer(segs))).toEqual(segs);
      }),
    );
    expect(parsePointer('/a~1b/c~0d')).toEqual(['a/b', 'c~d']);
    expect(parsePointer('nope')).toBeUndefined();
  });

  it('applies add/replace/remove on nested objects and arrays', () => {
    const doc: Record<string, unknown> = { a: 1, o: { x: 1 }, arr: [1, 2] };
    const { ops, problems } = parsePatch([
      { op: 'replace', path: '/a', value: 2 },
      { op: 'add', path: '/o/y', value: 2 },
      { op: 'remove', path: '/o/x' },
      { op: 'add', path: '/arr/-', value: 3 },
      { op: 'replace', path: '/arr/0', value: 0 },
    ]);
    expect(problems).toEqual([]);
    expect(applyPatch(doc, ops)).toEqual([]);
    expect(doc).toEqual({ a: 2, o: { y: 2 }, arr: [0, 2, 3] });
  });

  it('reports replace/remove of absent values and missing parents with the operation index', () => {
    const { ops } = parsePatch([
      { op: 'replace', path: '/missing', value: 1 },
      { op: 'remove', path: '/missing' },
      { op: 'add', path: '/no/parent', value: 1 },
    ]);
    expect(applyPatch({}, ops).map((p) => p.pointer)).toEqual(['/0/path', '/1/path', '/2/path']);
  });

  it('rejects malformed documents with a pointer per problem', () => {
    expect(parsePatch({}).problems[0]?.pointer).toBe('');
    const { problems } = parsePatch([
      1,
      { op: 'copy', path: '/a' },
      { op: 'add', path: 'a' },
      { op: 'replace', path: '/a' },
    ]);
    expect(problems.map((p) => p.pointer)).toEqual(['/0', '/1/op', '/2/path', '/2/value', '/3/value']);
  });
});
