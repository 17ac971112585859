import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { validateValue } from './validate-value.js';
import type { PrimitiveSchemaName, Schema } from './model-types.js';

const prim = (name: PrimitiveSchemaName): Schema => ({ kind: 'primitive', name });
const codes = (s: Schema, v: unknown): string[] => validateValue(s, v, '/x').map((p) => p.code);

describe('validateValue', () => {
  it('checks integer ranges per integral schema', () => {
    expect(codes(prim('integer'), 2147483647)).toEqual([]);
    expect(codes(prim('integer'), 2147483648)).toEqual(['value.range']);
    expect(codes(prim('integer'), 1.5)).toEqual(['value.type']);
    expect(codes(prim('byte'), -129)).toEqual(['value.range']);
    expect(codes(prim('unsignedShort'), -1)).toEqual(['value.range']);
    expect(codes(prim('long'), Number.MAX_SAFE_INTEGER)).toEqual([]);
    expect(codes(prim('long'), 2 ** 64)).toEqual(['value.range']);
  });

  it('checks numbers, strings, temporal formats, uuid and bytes', () => {
    expect(codes(prim('double'), 1e300)).toEqual([]);
    expect(codes(prim('double'), '1')).toEqual(['value.type']);
    expect(codes(prim('float'), 1e39)).toEqual(['value.range']);
    expect(codes(prim('boolean'), 0)).toEqual(['value.type']);
    expect(codes(prim('date'), '2024-02-29')).toEqual([]);
    expect(codes(prim('date'), '2023-02-29')).toEqual(['value.format']);
    expect(codes(prim('dateTime'), '2024-05-01T10:00:00.5Z')).toEqual([]);
    expect(codes(prim('dateTime'), '2024-05-01 10:00')).toEqual(['value.format']);
    expect(codes(prim('time'), '23:59:59')).toEqual([]);
    expect(codes(prim('duration'), 'PT5M')).toEqual([]);
    expect(codes(prim('duration'), 'P')).toEqual(['value.format']);
    expect(codes(prim('uuid'), '123e4567-e89b-12d3-a456-426614174000')).toEqual([]);
    expect(codes(prim('bytes'), 'aGVsbG8=')).toEqual([]);
    expect(codes(prim('bytes'), 'not base64!')).toEqual(['value.format']);
  });

  it('checks enums, objects, maps and arrays with pointers', () => {
    const e: Schema = { kind: 'enum', valueSchema: 'integer', values: [{ name: 'a', value: 1 }] };
    expect(codes(e, 1)).toEqual([]);
    expect(codes(e, 2)).toEqual(['value.enum']);
    const o: Schema = {
      kind: 'object',
      fields: [
        { name: 'a', schema: prim('integer') },
        { name: 'b', schema: prim('string') },
      ],
    };
    expect(codes(o, { a: 1 })).toEqual([]); // missing fields are allowed
    const probs = validateValue(o, { a: 'x', c: 1 }, '/o');
    expect(probs.map((p) => [p.code, p.pointer])).toEqual([
      ['value.type', '/o/a'],
      ['value.field.unknown', '/o/c'],
    ]);
    const m: Schema = {
      kind: 'map',
      key: { name: 'k' },
      value: { name: 'v', schema: { kind: 'array', elementSchema: prim('double') } },
    };
    expect(validateValue(m, { 'a/b': [1, 'x'] }, '').map((p) => p.pointer)).toEqual(['/a~1b/1']);
  });

  it('checks GeoJSON shapes', () => {
    expect(codes(prim('point'), { type: 'Point', coordinates: [1, 2] })).toEqual([]);
    expect(codes(prim('point'), { type: 'Point', coordinates: [1] })).toEqual(['value.geo']);
    expect(
      codes(prim('polygon'), {
        type: 'Polygon',
        coordinates: [
          [
            [0, 0],
            [1, 0],
            [1, 1],
            [0, 0],
          ],
        ],
      }),
    ).toEqual([]);
    expect(
      codes(prim('polygon'), {
        type: 'Polygon',
        coordinates: [
          [
            [0, 0],
            [1, 0],
            [1, 1],
            [0, 1],
          ],
        ],
      }),
    ).toEqual(['value.geo']);
    expect(
      codes(prim('lineString'), {
        type: 'Point',
        coordinates: [
          [0, 0],
          [1, 1],
        ],
      }),
    ).toEqual(['value.geo']);
  });

  it('never throws on random values and schemas', () => {
    const names: PrimitiveSchemaName[] = [
      'boolean',
      'integer',
      'long',
      'double',
      'float',
      'string',
      'date',
      'dateTime',
      'time',
      'duration',
      'uuid',
      'bytes',
      'point',
      'polygon',
      'unsignedLong',
      'decimal',
    ];
    const schema: fc.Arbitrary<Schema> = fc.letrec<{ s: Schema }>((tie) => ({
      s: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.constantFrom(...names).map((name) => ({ kind: 'primitive', name }) as Schema),
        tie('s').map((elementSchema) => ({ kind: 'array', elementSchema }) as Schema),
        tie('s').map(
          (schema) => ({ kind: 'map', key: { name: 'k' }, value: { name: 'v', schema } }) as Schema,
        ),
        fc
          .array(fc.tuple(fc.string(), tie('s')), { maxLength: 3 })
          .map((f) => ({ kind: 'object', fields: f.map(([name, schema]) => ({ name, schema })) }) as Schema),
      ),
    })).s;
    fc.assert(
      fc.property(schema, fc.anything(), (s, v) => {
        const out = validateValue(s, v, '');
        expect(Array.isArray(out)).toBe(true);
        for (const p of out) expect(typeof p.code).toBe('string');
      }),
      { numRuns: 500 },
    );
  });
});
