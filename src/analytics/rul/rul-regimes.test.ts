import { describe, expect, it } from 'vitest';
import { DEFAULT_LEARNER, trainRulWith, type RulLearnerOptions } from './rul-train.js';
import { SYN_SENSORS, SYN_SETTINGS, syntheticFleet } from './rul-test-fixture.js';
import type { RulTrainingSpec } from './rul-types.js';

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

describe('trainRul with operating regimes', () => {
  const fleet = syntheticFleet({ assets: 24, regimes: 1, seed: 4 });

  it('trains on six operating regimes (FD002-like) about as well as on one', () => {
    const six = syntheticFleet({ assets: 24, regimes: 6, seed: 4 });
    const one = trainRulWith(fleet, spec(), FAST);
    const multi = trainRulWith(six, spec(), FAST);
    expect(multi.metrics.notes.join('\n')).toMatch(/regimes: 6/);
    expect(multi.metrics.validationRmse).toBeLessThan(one.metrics.validationRmse * 1.15);
    const noRegimes = trainRulWith(six, spec({ regimes: 1 }), FAST);
    console.log(
      `synthetic validation RMSE: one regime ${one.metrics.validationRmse.toFixed(2)}, six ${multi.metrics.validationRmse.toFixed(2)}, six read as one ${noRegimes.metrics.validationRmse.toFixed(2)}`,
    );
    expect(multi.metrics.validationRmse).toBeLessThan(noRegimes.metrics.validationRmse * 0.95);
  });
});
