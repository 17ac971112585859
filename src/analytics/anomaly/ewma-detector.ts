/**
 * The simple robust baseline: an exponentially weighted mean and variance of the stream, updated
 * with residuals clipped at a few standard deviations (so one outlier does not drag the model), and
 * the score of a reading from its z-score, z²/(z² + 9) (0.5 at three standard deviations). Silent
 * during a warm-up of `probation` readings; after an alert its output is damped for a while. O(1) time and a handful of numbers per stream.
 */
import {
  DEFAULT_PROBATION,
  clampValue,
  readConfig,
  readSnapshot,
  snapshotError,
  stateNumber,
  type AnomalyDetector,
  type DetectorSnapshot,
} from './detector.js';
import type { Problem } from '../../core/errors/errors.js';

export interface EwmaConfig extends Record<string, number> {
  /** Readings learnt before scoring. */
  probation: number;
  /** Weight of a new reading in the mean and variance (≈ 1 / memory in readings). */
  alpha: number;
  /** Residuals are clipped at this many standard deviations before they update the model. */
  clip: number;
  /** Output level that starts a mask (as in the resonance detector), so one event is one detection. */
  alert: number;
  /** Mask length after an alert, as a fraction of probation (0: no mask). */
  mask: number;
}

export const EWMA_DEFAULTS: EwmaConfig = {
  probation: DEFAULT_PROBATION,
  alpha: 0.01,
  clip: 4,
  alert: 0.9,
  mask: 0.5,
};
const BOUNDS = {
  probation: [0, 1e9],
  alpha: [1e-6, 1],
  clip: [0.5, 1e6],
  alert: [0, 1],
  mask: [0, 100],
} as const;

export class EwmaDetector implements AnomalyDetector {
  readonly kind = 'ewma' as const;
  private readonly cfg: EwmaConfig;
  private n = 0;
  private mean = 0;
  private variance = 0;
  private maskLeft = 0;

  constructor(config?: unknown, snapshot?: unknown) {
    if (snapshot !== undefined) {
      const s = readSnapshot('ewma', snapshot);
      this.cfg = readConfig(EWMA_DEFAULTS, BOUNDS, s.config);
      const problems: Problem[] = [];
      this.n = stateNumber(s.state, 'n', problems);
      this.mean = stateNumber(s.state, 'mean', problems);
      this.variance = stateNumber(s.state, 'variance', problems);
      this.maskLeft = stateNumber(s.state, 'maskLeft', problems);
      if (this.n < 0 || this.variance < 0 || this.maskLeft < 0)
        problems.push({
          code: 'anomaly.snapshot.field',
          message: 'n and variance are not negative.',
          pointer: '/state',
        });
      if (problems.length) throw snapshotError(problems);
    } else this.cfg = readConfig(EWMA_DEFAULTS, BOUNDS, config);
  }

  score(_time: number, value: number): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) return 0;
    const x = clampValue(value);
    const { alpha, clip, probation } = this.cfg;
    this.n++;
    const resid = x - this.mean;
    const sd = Math.sqrt(this.variance);
    // A floor on the spread relative to the level, so a flat stream's first wiggle is not infinite.
    const spread = Math.max(sd, 1e-9 * (Math.abs(this.mean) + 1));
    const z = this.n > 1 ? Math.abs(resid) / spread : 0;
    const a = Math.max(alpha, 1 / this.n);
    const r = this.n > 30 && sd > 0 ? Math.max(-clip * sd, Math.min(clip * sd, resid)) : resid;
    this.mean += a * r;
    this.variance = Math.min(1e300, (1 - a) * (this.variance + a * r * r));
    if (this.n <= probation) return 0;
    const z2 = Math.min(z * z, 1e300);
    let out = z2 / (z2 + 9);
    if (this.maskLeft > 0) {
      this.maskLeft--;
      out *= 0.1;
    } else if (out >= this.cfg.alert) this.maskLeft = Math.round(this.cfg.mask * probation);
    return out;
  }

  snapshot(): DetectorSnapshot {
    return {
      kind: 'ewma',
      version: 1,
      config: { ...this.cfg },
      state: { n: this.n, mean: this.mean, variance: this.variance, maskLeft: this.maskLeft },
    };
  }
}
