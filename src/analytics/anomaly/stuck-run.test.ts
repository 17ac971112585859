/**
 * The stuck-run channel alone (stuck-run.ts) and inside the resonance detector: it fires once, at
 * the reading that makes a run of identical readings longer than every completed run (and than its
 * minimum), never on a constant stream, restores exactly, and rejects a corrupt state.
 */
import { describe, expect, it } from 'vitest';
import type { Problem } from '../../core/errors/errors.js';
import { TwinloopError } from '../../core/errors/errors.js';
import { createDetector } from './create-detector.js';
import { StuckRun } from './stuck-run.js';

/** Indexes (into the readings) at which the channel fires. */
function fires(readings: readonly number[], minLength: number): number[] {
  const s = new StuckRun(minLength);
  return readings.flatMap((x, i) => (s.push(x) ? [i] : []));
}

/** `runs` as [value, length] pairs, written out. */
const runs = (...rs: [number, number][]): number[] => rs.flatMap(([v, n]) => Array<number>(n).fill(v));

describe('stuck-run channel', () => {
  it('fires once per run, at the reading that makes it longer than every completed run', () => {
    const readings = runs([1, 3], [2, 5], [1, 4], [3, 9], [1, 2], [3, 9], [4, 10]);
    // The first run (3 long) completes: the run of 2s fires at its 4th reading (index 6), once.
    // Longest 5: the run of 1s (4) does not; the run of 3s does at its 6th reading (12 + 5).
    // Longest 9: the second run of 9 only equals it; the run of 10 fires at its 10th (32 + 9).
    expect(fires(readings, 2)).toEqual([6, 17, 41]);
  });

  it('needs at least minLength identical readings, whatever the longest completed run', () => {
    const readings = runs([1, 1], [2, 1], [1, 1], [5, 30]);
    expect(fires(readings, 2)).toEqual([4]);
    expect(fires(readings, 20)).toEqual([3 + 19]);
    expect(fires(readings, 31)).toEqual([]);
  });

  it('never fires on a constant stream (no completed run: constant, not stuck)', () => {
    expect(fires(Array<number>(100_000).fill(7), 2)).toEqual([]);
    expect(fires(Array<number>(1000).fill(0), 0)).toEqual([]);
  });

  it('treats 0 and -0 as one value and huge values like any other', () => {
    expect(fires([...runs([1, 2]), 0, -0, 0], 2)).toEqual([4]);
    expect(fires([...runs([1e150, 2], [-1e150, 3])], 2)).toEqual([4]);
  });

  it('restores from its state and continues exactly', () => {
    const readings = runs([1, 3], [2, 5], [1, 4], [3, 9], [1, 2], [3, 9], [4, 10]);
    const a = new StuckRun(2);
    readings.slice(0, 15).forEach((x) => a.push(x));
    const problems: Problem[] = [];
    const b = new StuckRun(2, JSON.parse(JSON.stringify(a.state())) as Record<string, unknown>, problems);
    expect(problems).toEqual([]);
    for (const x of readings.slice(15)) expect(b.push(x)).toBe(a.push(x));
  });

  it('reports every problem of a corrupt state', () => {
    for (const bad of [
      { runValue: 'x', runLength: 1, longestRun: 1, runFired: 0, seen: 1 },
      { runValue: 1, runLength: -1, longestRun: 1, runFired: 0, seen: 1 },
      { runValue: 1, runLength: 1.5, longestRun: 1, runFired: 0, seen: 1 },
      { runValue: 1, runLength: 1, longestRun: 1, runFired: 2, seen: 1 },
      { runValue: 1, runLength: 1, longestRun: Number.NaN, runFired: 0, seen: 1 },
      { runValue: Infinity, runLength: 1, longestRun: 1, runFired: 0, seen: 1 },
      {},
    ]) {
      const problems: Problem[] = [];
      new StuckRun(2, bad, problems);
      expect(problems.length).toBeGreaterThan(0);
    }
  });
});

describe('resonance detector with the stuck-run channel', () => {
  /**
   * A busy stream (no value twice in a row) with an idle spell of zeros in every 100 readings,
   * 20 + k long in the k-th hundred; from reading 2500 it stays at zero.
   */
  function idleStream(i: number): number {
    if (i >= 2500) return 0;
    const cycle = i % 100;
    const idle = 20 + (((i / 100) | 0) % 40);
    return cycle < idle ? 0 : 10 + ((i * 7919) % 13);
  }

  function scores(config: Record<string, number>, hostileAt?: Set<number>): number[] {
    const d = createDetector('resonance', { probation: 600, ...config });
    const out: number[] = [];
    for (let i = 0; i < 3000; i++) out.push(d.score(i, hostileAt?.has(i) ? Number.NaN : idleStream(i)));
    return out;
  }

  it('reports a stuck value inside the usual range, once, when the run outgrows every earlier one', () => {
    const on = scores({});
    const off = scores({ stuck: 0 });
    // Each idle spell is a record (20, 21, ..., 44 long) but shorter than the minimum, 0.1 of
    // probation = 60 readings: the run from 2500 fires at its 60th reading.
    const at = on.findIndex((s, i) => i >= 2500 && s >= 0.5);
    expect(at).toBe(2559);
    expect(on[at]).toBe(0.5);
    expect(off[at]).toBeLessThan(0.5);
    expect(on.filter((s, i) => i > at && s >= 0.5)).toEqual([]);
  });

  it('ignores NaN inside a run (it neither breaks nor extends it), and is silent on a constant stream', () => {
    const hostile = scores({}, new Set([2510, 2520, 2530]));
    // Three NaN inside the run: its 60th reading comes three readings later.
    expect(hostile.findIndex((s, i) => i >= 2500 && s >= 0.5)).toBe(2562);
    const d = createDetector('resonance', { probation: 600 });
    for (let i = 0; i < 5000; i++) expect(d.score(i, 42)).toBe(0);
  });

  it('restores a snapshot taken in the middle of a run, and one taken before the channel existed', () => {
    const a = createDetector('resonance', { probation: 600 });
    for (let i = 0; i < 2530; i++) a.score(i, idleStream(i));
    const snap = JSON.parse(JSON.stringify(a.snapshot())) as { state: Record<string, unknown> };
    const b = createDetector('resonance', undefined, snap);
    for (let i = 2530; i < 3000; i++) expect(b.score(i, idleStream(i))).toBe(a.score(i, idleStream(i)));
    const { stuck: _, ...older } = snap.state;
    expect(() => createDetector('resonance', undefined, { ...snap, state: older })).not.toThrow();
    for (const bad of [42, [], null, { ...(snap.state.stuck as object), runFired: 3 }]) {
      try {
        createDetector('resonance', undefined, { ...snap, state: { ...snap.state, stuck: bad } });
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(TwinloopError);
        expect((e as TwinloopError).code).toBe('StorageCorrupt');
      }
    }
  });
});
