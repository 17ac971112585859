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

export class StuckRun {
  // Fields of the channel itself (not a record of their own): one object less to reach per reading.
  private runValue = 0;
  private runLength = 0;
  private longestRun = 0;
  private runFired = 0;
  private seen = 0;

  /**
   * @param minLength a run shorter than this never fires (readings; a few identical readings in a
   * row are chance on quantised streams).
   */
  constructor(
    private readonly minLength: number,
    state?: Record<string, unknown>,
    problems: Problem[] = [],
  ) {
    if (!state) return;
    this.runValue = stateNumber(state, 'runValue', problems);
    this.runLength = stateNumber(state, 'runLength', problems);
    this.longestRun = stateNumber(state, 'longestRun', problems);
    this.runFired = stateNumber(state, 'runFired', problems);
    this.seen = stateNumber(state, 'seen', problems);
    const ok =
      [this.runLength, this.longestRun].every((v) => Number.isInteger(v) && v >= 0) &&
      (this.runFired === 0 || this.runFired === 1) &&
      (this.seen === 0 || this.seen === 1);
    if (!ok)
      problems.push({
        code: 'anomaly.snapshot.field',
        message: 'Inconsistent stuck-run counters.',
        pointer: '/state/stuck',
      });
  }

  /**
   * Adds a finite reading; answers true once per run, at the reading that makes it longer than
   * both every completed run and `minLength`.
   */
  push(x: number): boolean {
    if (this.seen === 1 && x === this.runValue) {
      // Counts saturate: a run of 2^53 readings is far beyond any stream's life.
      if (this.runLength < Number.MAX_SAFE_INTEGER) this.runLength++;
    } else {
      if (this.runLength > this.longestRun) this.longestRun = this.runLength;
      this.runValue = x;
      this.runLength = 1;
      this.runFired = 0;
      this.seen = 1;
    }
    if (this.runFired === 1 || this.longestRun === 0) return false;
    if (this.runLength > this.longestRun && this.runLength >= this.minLength) {
      this.runFired = 1;
      return true;
    }
    return false;
  }

  state(): Record<string, unknown> {
    return {
      runValue: this.runValue,
      runLength: this.runLength,
      longestRun: this.longestRun,
      runFired: this.runFired,
      seen: this.seen,
    };
  }
}
