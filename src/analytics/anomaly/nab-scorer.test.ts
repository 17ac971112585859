/** The NAB scorer: null scores 0, perfect 100, a small case computed by hand, NAB's edge rules. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  NAB_PROFILES,
  layoutFile,
  probationLength,
  scaledSigmoid,
  scoreCorpus,
  scoreFile,
  type NabScoredFile,
} from './nab-scorer.js';

const standard = NAB_PROFILES[0]!;

function stamps(n: number): string[] {
  const t0 = Date.UTC(2014, 3, 1);
  return Array.from({ length: n }, (_, i) =>
    new Date(t0 + i * 300_000).toISOString().replace('T', ' ').slice(0, 19),
  );
}

/** A file of n rows with windows given as row ranges, and scores. */
function file(name: string, n: number, ranges: [number, number][], scores: number[]): NabScoredFile {
  const ts = stamps(n);
  const windows = ranges.map(([a, b]) => [`${ts[a]}.000000`, `${ts[b]}.000000`] as const);
  return { name, layout: layoutFile(ts, windows), scores };
}

describe('NAB scorer', () => {
  it('follows NAB probation and sigmoid rules', () => {
    expect(probationLength(20)).toBe(3);
    expect(probationLength(100_000)).toBe(750);
    expect(scaledSigmoid(3)).toBe(-1);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(-1)).toBeCloseTo(0.986614, 6);
  });

  it('scores the null detector 0 and the perfect detector 100 in every profile', () => {
    const n = 2000;
    const a = [
      [600, 700],
      [1500, 1600],
    ] as [number, number][];
    const b = [[900, 1100]] as [number, number][];
    const zero = new Array<number>(n).fill(0);
    const perfect = (r: [number, number][]) => {
      const s = new Array<number>(n).fill(0);
      for (const [l] of r) s[l] = 1;
      return s;
    };
    for (const profile of NAB_PROFILES) {
      const nul = scoreCorpus([file('a', n, a, zero), file('b', n, b, zero)], profile);
      expect(nul.windows).toBe(3);
      expect(nul.normalized).toBe(0);
      const per = scoreCorpus([file('a', n, a, perfect(a)), file('b', n, b, perfect(b))], profile);
      expect(per.normalized).toBeCloseTo(100, 10);
      expect(per.threshold).toBe(1);
    }
  });

  it('matches a case computed by hand', () => {
    // 20 rows, probation 3, one window on rows 10..13 (width 4).
    const s = new Array<number>(20).fill(0);
    s[1] = 1; // in probation: ignored
    s[5] = 0.6; // before any window: −A_FP
    s[11] = 0.9; // in the window: scaledSigmoid(−3/4)/scaledSigmoid(−1)
    s[16] = 0.7; // after it: A_FP·scaledSigmoid(|13−16|/3)
    const f = file('x', 20, [[10, 13]], s);
    const inWin = 0.9669890878000605;
    const after = -0.10852757279665734;
    expect(scoreFile(f, standard, 0.6).raw).toBeCloseTo(inWin + after - 0.11, 12);
    expect(scoreFile(f, standard, 0.7)).toMatchObject({ tp: 1, fp: 1, fn: 0 });
    expect(scoreFile(f, standard, 0.95)).toMatchObject({ raw: -1, tp: 0, fn: 1 });
    const c = scoreCorpus([f], standard);
    expect(c.threshold).toBe(0.9);
    expect(c.raw).toBeCloseTo(inWin, 12);
    expect(c.normalized).toBeCloseTo(98.34945439000302, 10);
    // Only the best detection counts inside a window.
    const twice = s.slice();
    twice[12] = 0.95;
    expect(scoreFile(file('y', 20, [[10, 13]], twice), standard, 0.9).raw).toBeCloseTo(inWin, 12);
  });

  it('does not count windows that lie wholly in the probationary period, nor NaN scores', () => {
    const s = new Array<number>(40).fill(Number.NaN);
    const f = file('p', 40, [[1, 3]], s);
    expect(f.layout.scoredWindows).toBe(0);
    const c = scoreCorpus([f], standard);
    expect(c.windows).toBe(0);
    expect(c.raw).toBe(0);
  });

  it('picks the threshold a brute-force search over every score value picks (property)', () => {
    const fileArb = fc
      .record({
        n: fc.integer({ min: 10, max: 120 }),
        cuts: fc.array(fc.integer({ min: 0, max: 119 }), { maxLength: 6 }),
        scores: fc.array(fc.constantFrom(0, 0.1, 0.25, 0.5, 0.75, 0.9, 1, Number.NaN), {
          minLength: 120,
          maxLength: 120,
        }),
      })
      .map(({ n, cuts, scores }) => {
        // Disjoint, sorted windows from the cut points.
        const c = [...new Set(cuts.filter((x) => x < n))].sort((a, b) => a - b);
        const ranges: [number, number][] = [];
        for (let i = 0; i + 1 < c.length; i += 2) ranges.push([c[i]!, c[i + 1]!]);
        return file(`f${n}`, n, ranges, scores.slice(0, n));
      });
    fc.assert(
      fc.property(
        fc.array(fileArb, { minLength: 1, maxLength: 4 }),
        fc.constantFrom(...NAB_PROFILES),
        (files, profile) => {
          const c = scoreCorpus(files, profile);
          const candidates = [Number.POSITIVE_INFINITY, 0, 0.1, 0.25, 0.5, 0.75, 0.9, 1];
          const brute = Math.max(
            ...candidates.map((t) => files.reduce((a, f) => a + scoreFile(f, profile, t).raw, 0)),
          );
          expect(c.raw).toBeCloseTo(brute, 9);
          expect(c.normalized).toBeLessThanOrEqual(100 + 1e-9);
          expect(c.normalized).toBeGreaterThanOrEqual(0 - 1e-9);
        },
      ),
      { numRuns: 300 },
    );
  });
});
