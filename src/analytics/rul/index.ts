/** Remaining useful life: training, the artefact's predictor and the PHM08 metrics. */
export type * from './rul-types.js';
export {
  trainRul,
  trainRulWith,
  DEFAULT_LEARNER,
  DEFAULT_CNN,
  MAX_CNN_WINDOW,
  type RulLearnerOptions,
  type RulModel,
} from './rul-train.js';
export { loadRulPredictor } from './rul-predictor.js';
export { rmse, phm08Score } from './rul-metrics.js';
