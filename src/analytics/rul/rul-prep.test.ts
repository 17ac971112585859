import { describe, expect, it } from 'vitest';
import { filledColumn, fitPrep, normalise } from './rul-prep.js';
import { SYN_SENSORS, SYN_SETTINGS, syntheticFleet } from './rul-test-fixture.js';
import type { RulTrainingSpec } from './rul-types.js';

const spec = (over: Partial<RulTrainingSpec> = {}): RulTrainingSpec => ({
  sensors: [...SYN_SENSORS],
  settings: [...SYN_SETTINGS],
  window: 30,
  cap: 125,
  regimes: 'auto',
  validationFraction: 0.2,
  seed: 1,
  ...over,
});

function corr(a: number[], b: number[]): number {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

describe('RUL preprocessing', () => {
  it('finds six regimes and per-regime normalisation recovers the signals of one regime (FD002-like)', () => {
    const one = syntheticFleet({ assets: 30, regimes: 1, seed: 9 });
    const six = syntheticFleet({ assets: 30, regimes: 6, seed: 9 });
    const notes1: string[] = [];
    const notes6: string[] = [];
    const p1 = fitPrep(one, spec(), notes1);
    const p6 = fitPrep(six, spec(), notes6);
    expect(p1.regimes).toBe(1);
    expect(p6.regimes).toBe(6);
    expect(notes6.join('\n')).toMatch(/regimes: 6/);
    // the flat sensor is dropped in both; in the six-regime fleet it is constant only *within* regimes
    expect(p1.sensors).not.toContain('flat');
    expect(p6.sensors).not.toContain('flat');
    expect(p6.sensors).toEqual(p1.sensors);
    // tra is constant in the one-regime fleet: not used, and said so
    expect(notes1.some((n) => /setting tra: constant/.test(n))).toBe(true);
    const S = p1.sensors.length;
    for (let s = 0; s < S; s++) {
      const z1: number[] = [];
      const z6: number[] = [];
      for (let a = 0; a < 30; a++) {
        const n1 = normalise(p1, one[a]!);
        const n6 = normalise(p6, six[a]!);
        for (let i = 0; i < n1.rows; i++) {
          z1.push(n1.z[i * S + s]!);
          z6.push(n6.z[i * S + s]!);
        }
      }
      expect(corr(z1, z6)).toBeGreaterThan(0.97);
      // raw values across regimes are not comparable: without the regimes they would be dominated by the offsets
      const rawCorr = corr(
        six.flatMap((a) => Array.from(a.columns[p1.sensors[s]!]!)),
        z1,
      );
      expect(Math.abs(rawCorr)).toBeLessThan(0.5);
    }
  });

  it('carries NaN forward (and back-fills leading NaN); an all-NaN column is dropped with a note', () => {
    const steps = Float64Array.from([1, 2, 3, 4, 5]);
    const series = { id: 'x', steps, columns: { a: Float64Array.from([NaN, 2, NaN, NaN, 5]) } };
    expect(Array.from(filledColumn(series, 'a'))).toEqual([2, 2, 2, 2, 5]);
    // from a later row: carried from before the window
    expect(Array.from(filledColumn(series, 'a', 2))).toEqual([2, 2, 5]);
    expect(Array.from(filledColumn(series, 'missing'))).toEqual([NaN, NaN, NaN, NaN, NaN]);
    // a column called __proto__ is just a missing column
    expect(Array.from(filledColumn(series, '__proto__')).every(Number.isNaN)).toBe(true);
    const fleet = syntheticFleet({ assets: 6, regimes: 1, seed: 2, nanRate: 0.1 });
    for (const a of fleet) a.columns.dead = new Float64Array(a.steps.length).fill(NaN);
    const notes: string[] = [];
    const prep = fitPrep(fleet, spec({ sensors: [...SYN_SENSORS, 'dead', 'absent'] }), notes);
    expect(prep.sensors).not.toContain('dead');
    expect(notes).toContain('sensor dead: no value in any training asset, dropped');
    expect(notes).toContain('sensor absent: no value in any training asset, dropped');
    const n = normalise(prep, fleet[0]!);
    expect(n.z.every(Number.isFinite)).toBe(true);
  });
});
