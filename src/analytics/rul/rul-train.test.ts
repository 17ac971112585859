import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { loadRulPredictor } from './rul-predictor.js';
import { DEFAULT_LEARNER, trainRulWith, type RulLearnerOptions } from './rul-train.js';
import { SYN_SENSORS, SYN_SETTINGS, syntheticFleet } from './rul-test-fixture.js';
import type { RulAssetSeries, RulTrainingProgress, RulTrainingSpec } from './rul-types.js';

const spec = (over: Partial<RulTrainingSpec> = {}): RulTrainingSpec => ({
  sensors: [...SYN_SENSORS],
  settings: [...SYN_SETTINGS],
  window: 30,
  cap: 125,
  regimes: 'auto',
  validationFraction: 0.25,
  seed: 1,
  ...over,
});
/** Fewer trees: the tests check behaviour, not the last bit of accuracy. */
const FAST: RulLearnerOptions = {
  ...DEFAULT_LEARNER,
  gbm: { ...DEFAULT_LEARNER.gbm, trees: 30, learningRate: 0.2 },
};

function slice(a: RulAssetSeries, from: number, to: number): RulAssetSeries {
  const columns: Record<string, Float64Array> = {};
  for (const [k, v] of Object.entries(a.columns)) columns[k] = v.slice(from, to);
  return { id: a.id, steps: a.steps.slice(from, to), columns };
}

describe('trainRul', () => {
  const fleet = syntheticFleet({ assets: 24, regimes: 1, seed: 4 });

  it('is deterministic for a seed, reports progress, and learns (validation well below the spread of RUL)', () => {
    const seen: RulTrainingProgress[] = [];
    const a = trainRulWith(fleet, spec(), FAST, (p) => seen.push(p));
    const b = trainRulWith(fleet, spec(), FAST);
    const c = trainRulWith(fleet, spec({ seed: 2 }), FAST);
    expect(JSON.stringify(b.artefact)).toBe(JSON.stringify(a.artefact));
    expect(JSON.stringify(c.artefact)).not.toBe(JSON.stringify(a.artefact));
    expect(a.metrics.trainingAssets).toBe(24);
    expect(a.metrics.trainingRows).toBe(fleet.reduce((n, x) => n + x.steps.length, 0));
    expect(a.metrics.validationMethod).toMatch(/4-fold/);
    expect(a.metrics.notes.join('\n')).toMatch(/sensor flat: \(near\) constant/);
    // RUL at the validation cuts spreads over 0..150 (sd ≈ 45): the learner must do far better
    expect(a.metrics.validationRmse).toBeLessThan(20);
    expect(a.metrics.validationScore).toBeGreaterThan(0);
    expect(seen.length).toBeGreaterThan(3);
    expect(seen.map((p) => p.phase)).toContain('fit');
    const fractions = seen.map((p) => p.fraction);
    expect(fractions.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= fractions[i - 1]!))).toBe(true);
    expect(fractions.at(-1)).toBe(1);
  });

  it('predicts from short histories, ignores rows older than the window, survives NaN, and round-trips through JSON', () => {
    const { artefact } = trainRulWith(fleet, spec(), FAST);
    const p = loadRulPredictor(artefact);
    const q = loadRulPredictor(JSON.parse(JSON.stringify(artefact)));
    const asset = fleet[0]!;
    const n = asset.steps.length;
    for (const rows of [1, 2, 5, 31]) {
      const r = p.predict(slice(asset, 0, rows));
      expect(Number.isFinite(r.rul)).toBe(true);
      expect(r.rul).toBeGreaterThanOrEqual(0);
      expect(r.lower!).toBeLessThanOrEqual(r.rul);
      expect(r.upper!).toBeGreaterThanOrEqual(r.rul);
      expect(q.predict(slice(asset, 0, rows))).toEqual(r);
    }
    // older rows are ignored: the last window alone gives the same answer as the whole history
    expect(p.predict(slice(asset, n - 30, n))).toEqual(p.predict(asset));
    // near failure the prediction is small, early in life it is large
    expect(p.predict(asset).rul).toBeLessThan(30);
    expect(p.predict(slice(asset, 0, 20)).rul).toBeGreaterThan(60);
    // NaN rows and a missing column: handled, never a crash
    const holes = slice(asset, 0, n);
    holes.columns.a!.fill(NaN, n - 10);
    delete holes.columns.b;
    expect(Number.isFinite(p.predict(holes).rul)).toBe(true);
    const allNaN = slice(asset, n - 5, n);
    for (const k of Object.keys(allNaN.columns)) allNaN.columns[k]!.fill(NaN);
    expect(Number.isFinite(p.predict(allNaN).rul)).toBe(true);
    expect(() => p.predict({ id: 'x', steps: new Float64Array(0), columns: {} })).toThrow(TwinloopError);
    expect(p.inputs).toEqual([
      ...(artefact.model as { prep: { sensors: string[] } }).prep.sensors,
      'alt',
      'mach',
    ]);
    // (its cost per call is a figure of bench:rul, not a timed test)
  });

  it('refuses bad input with ValidationFailed and where it is', () => {
    const bad = (assets: RulAssetSeries[], s = spec()) => {
      try {
        trainRulWith(assets, s, FAST);
      } catch (e) {
        expect(e).toBeInstanceOf(TwinloopError);
        expect((e as TwinloopError).code).toBe('ValidationFailed');
        return (e as TwinloopError).message;
      }
      throw new Error('accepted');
    };
    expect(bad(fleet.slice(0, 1))).toMatch(/at least 2 assets/);
    const short = slice(fleet[1]!, 0, 50);
    short.columns.a = new Float64Array(3);
    expect(bad([fleet[0]!, short])).toMatch(/\/assets\/1\/columns\/a/);
    const back = slice(fleet[1]!, 0, 50);
    back.steps[10] = 1;
    expect(bad([fleet[0]!, back])).toMatch(/\/assets\/1\/steps\/10/);
    expect(bad(fleet, spec({ window: 0 }))).toMatch(/\/spec\/window/);
    expect(bad(fleet, spec({ sensors: ['flat'] }))).toMatch(/every sensor column is empty or constant/);
  });
});
