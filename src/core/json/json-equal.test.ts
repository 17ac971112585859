import { describe, expect, it } from 'vitest';
import { jsonEqual } from './json-equal.js';

describe('jsonEqual', () => {
  it('compares JSON values deeply, ignoring key order', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 'x' }] }, { b: [1, { c: 'x' }], a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual([], {})).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
    expect(jsonEqual(undefined, null)).toBe(false);
    expect(jsonEqual(60, 60)).toBe(true);
    expect(jsonEqual('60', 60)).toBe(false);
  });

  it('handles a value nested 100,000 deep without overflowing', () => {
    const deep = (): unknown => {
      let v: unknown = 1;
      for (let i = 0; i < 100_000; i++) v = [v];
      return v;
    };
    expect(jsonEqual(deep(), deep())).toBe(true);
  });
});
