import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alignSeries, bucketValue, LiveSeries, numericReadings, pickInterval } from './series.js';

describe('live series', () => {
  it('keeps points in time order within the window and the count', () => {
    const s = new LiveSeries(10_000, 4);
    s.add(1000, 1);
    s.add(3000, 3);
    s.add(2000, 2); // late: goes to its place
    s.add(3000, 30); // same time: replaces
    expect(s.xs).toEqual([1000, 2000, 3000]);
    expect(s.ys).toEqual([1, 2, 30]);
    s.add(20_000, 4); // older than the window go
    expect(s.xs).toEqual([20_000]);
    for (let i = 1; i <= 6; i++) s.add(20_000 + i, i);
    expect(s.xs).toHaveLength(4);
    s.add(Number.NaN, 1);
    expect(s.xs).toHaveLength(4);
  });

  it('stays sorted and bounded whatever order points come in (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 100_000 }), fc.double())), (pts) => {
        const s = new LiveSeries(50_000, 100);
        for (const [t, v] of pts) s.add(t, v);
        for (let i = 1; i < s.xs.length; i++) expect(s.xs[i]!).toBeGreaterThan(s.xs[i - 1]!);
        expect(s.xs.length).toBeLessThanOrEqual(100);
        expect(s.ys.length).toBe(s.xs.length);
      }),
    );
  });

  it('at a high rate keeps the whole window in bounded points: older points thinned, not dropped', () => {
    const window = 15 * 60_000;
    const s = new LiveSeries(window, 1000);
    const versions = new Set<number>();
    for (let t = 0; t <= 40 * 60_000; t += 100) {
      s.add(t, Math.sin(t / 1000));
      versions.add(s.version);
      expect(s.xs.length).toBeLessThanOrEqual(1000);
    }
    const span = s.xs[s.xs.length - 1]! - s.xs[0]!;
    expect(span).toBeGreaterThanOrEqual(window * 0.97); // the window, not its last 100 s
    expect(span).toBeLessThanOrEqual(window * 1.04); // old points leave in steps of at most 1/32
    expect(s.xs.at(-1)).toBe(40 * 60_000);
    // The newest points keep full resolution.
    expect(s.xs.at(-1)! - s.xs.at(-2)!).toBe(100);
    expect(versions.size).toBe(24_001); // every change is a new version
  });

  it('seeds from history and keeps live points newer than it', () => {
    const s = new LiveSeries(60_000);
    s.add(5000, 5);
    s.add(9000, 9);
    s.seed([1000, 2000, 6000], [1, 2, 6]);
    expect(s.xs).toEqual([1000, 2000, 6000, 9000]);
    expect(s.ys).toEqual([1, 2, 6, 9]);
  });

  it('draws a bucket as its average, or an on/off series as its last state (1 or 0)', () => {
    expect(bucketValue({ count: 3, avg: 2.5 }, false)).toBe(2.5);
    expect(bucketValue({ count: 0, avg: 2.5 }, false)).toBe(null);
    expect(bucketValue({ count: 2, avg: null }, false)).toBe(null);
    expect(bucketValue({ count: 2, last: true }, true)).toBe(1);
    expect(bucketValue({ count: 2, last: false }, true)).toBe(0);
    expect(bucketValue({ count: 2, last: 'on' }, true)).toBe(null); // not a boolean: not drawn
    expect(bucketValue({ count: 0, last: true }, true)).toBe(null);
  });

  it('picks round bucket widths that keep a range to a few hundred points', () => {
    expect(pickInterval(60_000)).toBe(1000);
    expect(pickInterval(3_600_000)).toBe(10_000);
    const month = 30 * 86_400_000;
    expect(month / pickInterval(month)).toBeLessThanOrEqual(600);
    expect(pickInterval(365 * 86_400_000)).toBe(86_400_000);
    expect(pickInterval(10 * 365 * 86_400_000) % 86_400_000).toBe(0);
    expect(pickInterval(0)).toBe(1000);
  });

  it('takes the numeric readings of an event', () => {
    expect(numericReadings({ a: 1, b: 'x', c: true, d: Number.NaN, e: { f: 1 } })).toEqual([
      ['a', 1],
      ['c', 1],
    ]);
  });
});

describe('aligning series for export', () => {
  it('puts every time of any series on one axis, null where a series has no point', () => {
    expect(
      alignSeries([
        { xs: [1, 3], ys: [10, 30] },
        { xs: [2, 3], ys: [20, null] },
      ]),
    ).toEqual({
      xs: [1, 2, 3],
      columns: [
        [10, null, 30],
        [null, 20, null],
      ],
    });
    expect(alignSeries([])).toEqual({ xs: [], columns: [] });
  });
});
