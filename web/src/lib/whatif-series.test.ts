import { describe, expect, it } from 'vitest';
import { joinHistoryAndRun } from './whatif-series.js';

describe('a what-if run after its history', () => {
  it('puts the history before the fork and the run after it, each in its own series', () => {
    const j = joinHistoryAndRun(
      { xs: [1000, 2000, 9000], ys: [1, null, 7] },
      5000,
      [0, 1, 2],
      [2, Number.NaN, null],
    );
    expect(j.xs).toEqual([1000, 2000, 5000, 6000, 7000]);
    expect(j.ys).toEqual([1, null, null, null, null]);
    expect(j.overlay).toEqual([null, null, 2, null, null]);
  });

  it('draws a run without history, and history without a run', () => {
    expect(
      joinHistoryAndRun({ xs: [], ys: [] }, 0, Float64Array.from([0, 60]), Float64Array.from([1, 2])),
    ).toEqual({
      xs: [0, 60000],
      ys: [null, null],
      overlay: [1, 2],
    });
    expect(joinHistoryAndRun({ xs: [1], ys: [3] }, 10, [], []).overlay).toEqual([null]);
  });
});
