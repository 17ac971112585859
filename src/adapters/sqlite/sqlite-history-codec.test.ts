import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  concatColumns,
  decodeChunk,
  decodeLog,
  decodeTs,
  encodeChunk,
  encodeLog,
  encodeTs,
} from './sqlite-history-codec.js';

describe('history codec', () => {
  it('round-trips sorted timestamps exactly, whatever their spacing (property)', () => {
    const sortedTs = fc.oneof(
      // integer ms, small or huge steps
      fc.array(fc.integer({ min: -1e13, max: 1e13 }), { minLength: 1, maxLength: 300 }),
      // fractional ms
      fc.array(fc.double({ min: -1e12, max: 1e12, noNaN: true }), { minLength: 1, maxLength: 300 }),
      // regular steps
      fc
        .tuple(
          fc.integer({ min: 0, max: 2e12 }),
          fc.integer({ min: 0, max: 100_000 }),
          fc.integer({ min: 1, max: 300 }),
        )
        .map(([t0, step, n]) => Array.from({ length: n }, (_, i) => t0 + step * i)),
    );
    fc.assert(
      fc.property(sortedTs, (arr) => {
        const ts = Float64Array.from([...arr].sort((a, b) => a - b));
        const back = decodeTs(encodeTs(ts), ts.length);
        // -0 is the instant 0: it comes back as 0 (see encodeTs); every other value exactly.
        expect(Array.from(back)).toEqual(Array.from(ts, (t) => t + 0));
      }),
      { numRuns: 300 },
    );
  });

  it('stores a -0 timestamp as the instant 0, whichever format is chosen', () => {
    for (const arr of [[-0], [-0, 0], [-0, -0, -0], [-0, 1, 2], [-0, 1.5], [-5, -0, 0, 7.25]]) {
      const back = decodeTs(encodeTs(Float64Array.from(arr)), arr.length);
      expect(Array.from(back)).toEqual(arr.map((t) => t + 0));
      for (const t of back) expect(Object.is(t, -0)).toBe(false);
    }
  });

  it('stores regular and integer timestamps compactly', () => {
    const regular = Float64Array.from({ length: 4096 }, (_, i) => 1.7e12 + i * 1000);
    expect(encodeTs(regular).byteLength).toBe(24);
    const jitter = Float64Array.from({ length: 4096 }, (_, i) => 1.7e12 + i * 1000 + (i % 7));
    expect(encodeTs(jitter).byteLength).toBe(16 + 4 * 4095);
    const fractional = Float64Array.from({ length: 10 }, (_, i) => i * i + 0.5);
    expect(encodeTs(fractional).byteLength).toBe(8 + 8 * 10);
  });

  it('round-trips a log batch with numeric and JSON values', () => {
    const enc = encodeLog({
      n: 2,
      sids: Uint32Array.from([7, 4_000_000_000]),
      ts: Float64Array.from([1, 2.5]),
      vals: Float64Array.from([-0.5, 1e300]),
      extra: [
        [3, 9, { a: [1, 'x'] }],
        [3, 10, null],
      ],
    });
    const dec = decodeLog(enc.nums, enc.extra);
    expect(dec.n).toBe(2);
    expect(Array.from(dec.sids)).toEqual([7, 4_000_000_000]);
    expect(Array.from(dec.ts)).toEqual([1, 2.5]);
    expect(Array.from(dec.vals)).toEqual([-0.5, 1e300]);
    expect(dec.extra).toEqual([
      [3, 9, { a: [1, 'x'] }],
      [3, 10, null],
    ]);
  });

  it('encodes chunks with summaries over numeric values and keeps equal timestamps in arrival order', () => {
    const c = concatColumns([
      { ts: Float64Array.from([5, 1]), vals: Float64Array.from([50, 10]), json: null },
      { ts: Float64Array.from([5, 3]), vals: Float64Array.from([NaN, 30]), json: new Map([[0, 'late']]) },
    ]);
    expect(Array.from(c.ts)).toEqual([1, 3, 5, 5]);
    const row = encodeChunk(c);
    expect(row).toMatchObject({ count: 4, num_count: 3, sum: 90, min: 10, max: 50, first_ts: 1, last_ts: 5 });
    expect(JSON.parse(row.last_value)).toBe('late');
    const back = decodeChunk(row.ts, row.vals, row.json);
    expect(Array.from(back.ts)).toEqual([1, 3, 5, 5]);
    expect(back.json?.get(3)).toBe('late');
    expect(back.vals[2]).toBe(50);
  });
});
