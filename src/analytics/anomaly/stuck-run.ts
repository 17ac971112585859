/**
 * A stuck-value channel for the resonance detector: a run of identical readings longer than any
 * run the stream has completed before (a sensor or a counter that stopped). Prototype matching does
 * not see it when the stuck value is an ordinary level of the stream (a flat stretch of zeros in a
 * stream that is often zero): each window of the run resembles the stream's usual quiet spells; only
 * its length is new. Judged against the stream's own history, so a stream that often sits still
 * (quantised or idle) needs a longer run than it has ever shown, and a stream that never changed has
 * no completed run and never fires (it is constant, not stuck).
 *
 * Bounded: five numbers. O(1) per reading.
 */
import type { Problem } from '../../core/errors/errors.js';
import { stateNumber } from './detector.js';

const FIELDS = ['runValue', 'runLength', 'longestRun', 'runFired', 'seen'] as const;
type Fields = Record<(typeof FIELDS)[number], number>;

export class StuckRun {
  private readonly s: Fields;

  /**
   * @param minLength a run shorter than this never fires (readings; a few identical readings in a
   * row are chance on quantised streams).
   */
  constructor(
    private readonly minLength: number,
    state?: Record<string, unknown>,
    problems: Problem[] = [],
  ) {
    if (state) {
      this.s = Object.fromEntries(FIELDS.map((k) => [k, stateNumber(state, k, problems)])) as Fields;
      const s = this.s;
      const ok =
        [s.runLength, s.longestRun].every((v) => Number.isInteger(v) && v >= 0) &&
        (s.runFired === 0 || s.runFired === 1) &&
        (s.seen === 0 || s.seen === 1);
      if (!ok)
        problems.push({
          code: 'anomaly.snapshot.field',
          message: 'Inconsistent stuck-run counters.',
          pointer: '/state/stuck',
        });
    } else this.s = { runValue: 0, runLength: 0, longestRun: 0, runFired: 0, seen: 0 };
  }

  /**
   * Adds a finite reading; answers true once per run, at the reading that makes it longer than
   * both every completed run and `minLength`.
   */
  push(x: number): boolean {
    const s = this.s;
    if (s.seen === 1 && x === s.runValue) {
      // Counts saturate: a run of 2^53 readings is far beyond any stream's life.
      if (s.runLength < Number.MAX_SAFE_INTEGER) s.runLength++;
    } else {
      if (s.runLength > s.longestRun) s.longestRun = s.runLength;
      s.runValue = x;
      s.runLength = 1;
      s.runFired = 0;
      s.seen = 1;
    }
    if (s.runFired === 1 || s.longestRun === 0) return false;
    if (s.runLength > s.longestRun && s.runLength >= this.minLength) {
      s.runFired = 1;
      return true;
    }
    return false;
  }

  state(): Record<string, unknown> {
    return { ...this.s };
  }
}
