import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { numArrayLiteral, textArrayLiteral } from './pg-array.js';
import { pgTestDatabase } from './pg-test-fixture.js';

describe('PostgreSQL array literals, read by PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof pgTestDatabase>>;
  beforeAll(async () => {
    db = await pgTestDatabase([]);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('float8[], bigint[] and text[] come back as written (hostile text, NaN, infinities, NULL)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.option(fc.double()), { maxLength: 30 }),
        fc.array(fc.option(fc.integer()), { maxLength: 30 }),
        // no NUL: PostgreSQL text cannot hold it (the history store stores JSON text, which escapes it)
        fc.array(fc.option(fc.string({ unit: 'grapheme' }).filter((s) => !s.includes('\u0000'))), {
          maxLength: 30,
        }),
        async (floats, ints, texts) => {
          const r = await db.query<{ f: (number | null)[]; i: (number | null)[]; t: (string | null)[] }>(
            'SELECT $1::float8[] AS f, $2::bigint[] AS i, $3::text[] AS t',
            [numArrayLiteral(floats), numArrayLiteral(ints), textArrayLiteral(texts)],
          );
          const row = r.rows[0]!;
          // -0 is written as 0, as node-pg writes it
          expect(row.f.map((x) => (x === null ? null : x + 0))).toEqual(
            floats.map((x) => (x === null ? null : x + 0)),
          );
          expect(row.i.map((x) => (x === null ? null : Number(x)))).toEqual(ints);
          expect(row.t).toEqual(texts);
        },
      ),
      { numRuns: 50 },
    );
    const hostile = ['', 'NULL', 'a,b', '{x}', '"q"', 'back\\slash', "'; DROP TABLE x; --", '__proto__'];
    const r = await db.query<{ t: string[] }>('SELECT $1::text[] AS t', [textArrayLiteral(hostile)]);
    expect(r.rows[0]!.t).toEqual(hostile);
  });
});
