/**
 * The multivariate detector for several streams of one asset (a pump's vibration, temperature,
 * current and flow, sampled together): each stream is standardised robustly (exponentially
 * weighted mean and variance, residuals clipped), the standardised vector's correlation is
 * tracked the same way, and the squared Mahalanobis distance D² = zᵀ(C + λI)⁻¹z scores readings
 * that break the usual relation between the streams even when each one alone looks normal. Each
 * stream also has its own univariate detector (resonance by default); the score is the larger of
 * the two (`perStreamDetectors: 0` leaves the per-stream detectors out: the score is then the relation's
 * alone, for assets whose streams are already scored one by one). A missing or non-finite
 * component counts as "as expected" and teaches nothing.
 *
 * Bounded: O(d²) numbers for d streams; O(d²) per reading plus an O(d³) inversion every
 * `refresh` readings.
 */
import type { Problem } from '../../core/errors/errors.js';
import { createDetector } from './create-detector.js';
import {
  DEFAULT_PROBATION,
  clampValue,
  readConfig,
  snapshotError,
  stateArray,
  stateNumber,
  type AnomalyDetector,
  type DetectorKind,
  type DetectorSnapshot,
} from './detector.js';

export interface MultivariateDetector {
  /** Number of streams, fixed at creation. */
  readonly streams: number;
  /** Scores one reading set (one value per stream, in a fixed order); always in [0, 1]. */
  score(time: number, values: readonly number[]): number;
  snapshot(): MultivariateSnapshot;
}

export interface MultivariateSnapshot {
  kind: 'multivariate';
  version: 1;
  config: Record<string, number>;
  state: Record<string, unknown>;
  perStream: DetectorSnapshot[];
}

export interface MultivariateConfig extends Record<string, number> {
  streams: number;
  probation: number;
  alpha: number;
  clip: number;
  /** Ridge added to the correlation matrix before inversion. */
  ridge: number;
  /** Readings between two inversions. */
  refresh: number;
  /** 1: a resonance detector per stream as well; 0: the EWMA baseline per stream. */
  perStreamResonance: number;
  /** 1: the score is the larger of D²'s and the per-stream detectors'; 0: D²'s alone (no per-stream detectors). */
  perStreamDetectors: number;
}

export const MULTIVARIATE_DEFAULTS: MultivariateConfig = {
  streams: 2,
  probation: DEFAULT_PROBATION,
  alpha: 0.01,
  clip: 4,
  ridge: 0.01,
  refresh: 32,
  perStreamResonance: 1,
  perStreamDetectors: 1,
};
const BOUNDS = {
  streams: [1, 32],
  probation: [0, 1e9],
  alpha: [1e-6, 1],
  clip: [0.5, 1e6],
  ridge: [1e-6, 1e6],
  refresh: [1, 1e6],
  perStreamResonance: [0, 1],
  perStreamDetectors: [0, 1],
} as const;

/** @throws TwinloopError InvalidConfig for a bad configuration, StorageCorrupt for a bad snapshot. */
export function createMultivariateDetector(config?: unknown, snapshot?: unknown): MultivariateDetector {
  return new MahalanobisDetector(config, snapshot);
}

class MahalanobisDetector implements MultivariateDetector {
  readonly streams: number;
  private readonly cfg: MultivariateConfig;
  private n = 0;
  private readonly mean: Float64Array;
  private readonly variance: Float64Array;
  private readonly counts: Float64Array;
  private readonly cov: Float64Array;
  private inv: Float64Array;
  private readonly z: Float64Array;
  /** Which components the current reading has (1) or misses (0). */
  private readonly seen: Uint8Array;
  private readonly per: AnomalyDetector[];

  constructor(config?: unknown, snapshot?: unknown) {
    const snap = snapshot === undefined ? undefined : (snapshot as Partial<MultivariateSnapshot> | null);
    if (snap !== undefined && (typeof snap !== 'object' || snap === null || snap.kind !== 'multivariate'))
      throw snapshotError([
        { code: 'anomaly.snapshot.kind', message: 'Not a multivariate snapshot.', pointer: '' },
      ]);
    this.cfg = readConfig(MULTIVARIATE_DEFAULTS, BOUNDS, snap ? snap.config : config);
    const d = (this.streams = Math.round(this.cfg.streams));
    const kind: DetectorKind = this.cfg.perStreamResonance >= 0.5 ? 'resonance' : 'ewma';
    const perCount = this.cfg.perStreamDetectors >= 0.5 ? d : 0;
    if (snap) {
      const problems: Problem[] = [];
      const state = typeof snap.state === 'object' && snap.state !== null ? snap.state : {};
      this.n = stateNumber(state, 'n', problems);
      this.mean = stateArray(state, 'mean', d, problems);
      this.variance = stateArray(state, 'variance', d, problems);
      this.counts = stateArray(state, 'counts', d, problems);
      this.cov = stateArray(state, 'cov', d * d, problems);
      this.inv = stateArray(state, 'inv', d * d, problems);
      if (!Array.isArray(snap.perStream) || snap.perStream.length !== perCount)
        problems.push({
          code: 'anomaly.snapshot.field',
          message: `perStream has ${perCount} entries.`,
          pointer: '/perStream',
        });
      if (problems.length) throw snapshotError(problems);
      this.per = (snap.perStream as unknown[]).map((s) => createDetector(kind, undefined, s));
    } else {
      this.mean = new Float64Array(d);
      this.variance = new Float64Array(d);
      this.counts = new Float64Array(d);
      this.cov = new Float64Array(d * d);
      for (let i = 0; i < d; i++) this.cov[i * d + i] = 1;
      this.inv = invert(this.cov, d, this.cfg.ridge);
      const probation = this.cfg.probation;
      this.per = Array.from({ length: perCount }, () => createDetector(kind, { probation }));
    }
    this.z = new Float64Array(d);
    this.seen = new Uint8Array(d);
  }

  score(time: number, values: readonly number[]): number {
    const d = this.streams;
    const { alpha, clip, probation, refresh } = this.cfg;
    let perMax = 0;
    let seen = 0;
    for (let i = 0; i < d; i++) {
      const raw = Array.isArray(values) ? (values[i] as unknown) : undefined;
      const det = this.per[i];
      if (typeof raw !== 'number' || !Number.isFinite(raw)) {
        this.z[i] = 0;
        this.seen[i] = 0;
        continue;
      }
      seen++;
      this.seen[i] = 1;
      const x = clampValue(raw);
      if (det !== undefined) perMax = Math.max(perMax, det.score(time, x));
      const c = ++this.counts[i]!;
      const m = this.mean[i] as number;
      const v = this.variance[i] as number;
      const sd = Math.max(Math.sqrt(v), 1e-9 * (Math.abs(m) + 1));
      const resid = x - m;
      this.z[i] = c > 1 ? Math.max(-1e6, Math.min(1e6, resid / sd)) : 0;
      const a = Math.max(alpha, 1 / c);
      const r = c > 30 ? Math.max(-clip * sd, Math.min(clip * sd, resid)) : resid;
      this.mean[i] = m + a * r;
      this.variance[i] = Math.min(1e300, (1 - a) * (v + a * r * r));
    }
    if (seen === 0) return 0;
    this.n++;
    // D² with the current inverse, then learn the correlation of the clipped standardised vector.
    let d2 = 0;
    for (let i = 0; i < d; i++) {
      let row = 0;
      for (let j = 0; j < d; j++) row += (this.inv[i * d + j] as number) * (this.z[j] as number);
      d2 += (this.z[i] as number) * row;
    }
    if (seen < d) d2 = this.marginal(d2);
    const a = Math.max(alpha, 1 / this.n);
    for (let i = 0; i < d; i++) {
      if (!this.seen[i]) continue;
      const zi = Math.max(-clip, Math.min(clip, this.z[i] as number));
      for (let j = 0; j < d; j++) {
        if (!this.seen[j]) continue;
        const zj = Math.max(-clip, Math.min(clip, this.z[j] as number));
        const k = i * d + j;
        this.cov[k] = (1 - a) * (this.cov[k] as number) + a * zi * zj;
      }
    }
    if (this.n % Math.round(refresh) === 0 || this.n <= 2) this.inv = invert(this.cov, d, this.cfg.ridge);
    if (this.n <= probation) return 0;
    return Math.max(perMax, relationScore(Math.max(0, Math.min(d2, 1e300)) / seen));
  }

  /**
   * D² of the observed components alone, from the full one (missing z = 0): with P the inverse and
   * m the missing components, D²ₒ = zᵀPz − wᵀ(P_mm)⁻¹w where w = P_m· z (the Schur complement):
   * each missing component taken at its expectation given the others, so it neither raises nor
   * lowers the score.
   */
  private marginal(full: number): number {
    const d = this.streams;
    const missing: number[] = [];
    for (let i = 0; i < d; i++) if (!this.seen[i]) missing.push(i);
    const m = missing.length;
    const pmm = new Float64Array(m * m);
    const w = new Float64Array(m);
    missing.forEach((i, a) => {
      missing.forEach((j, b) => (pmm[a * m + b] = this.inv[i * d + j] as number));
      let row = 0;
      for (let j = 0; j < d; j++) row += (this.inv[i * d + j] as number) * (this.z[j] as number);
      w[a] = row;
    });
    const pinv = invert(pmm, m, 0);
    let correction = 0;
    for (let a = 0; a < m; a++)
      for (let b = 0; b < m; b++)
        correction += (w[a] as number) * (pinv[a * m + b] as number) * (w[b] as number);
    return Math.max(0, full - correction);
  }

  snapshot(): MultivariateSnapshot {
    return {
      kind: 'multivariate',
      version: 1,
      config: { ...this.cfg },
      state: {
        n: this.n,
        mean: Array.from(this.mean),
        variance: Array.from(this.variance),
        counts: Array.from(this.counts),
        cov: Array.from(this.cov),
        inv: Array.from(this.inv),
      },
      perStream: this.per.map((p) => p.snapshot()),
    };
  }
}

/** (A + ridge·I)⁻¹ by Gauss–Jordan with partial pivoting; the identity when it is singular. */
function invert(a: Float64Array, d: number, ridge: number): Float64Array {
  const m = Float64Array.from(a);
  for (let i = 0; i < d; i++) m[i * d + i] = (m[i * d + i] as number) + ridge;
  const inv = new Float64Array(d * d);
  for (let i = 0; i < d; i++) inv[i * d + i] = 1;
  for (let c = 0; c < d; c++) {
    let p = c;
    for (let r = c + 1; r < d; r++)
      if (Math.abs(m[r * d + c] as number) > Math.abs(m[p * d + c] as number)) p = r;
    const pivot = m[p * d + c] as number;
    if (!(Math.abs(pivot) > 1e-12) || !Number.isFinite(pivot)) {
      const id = new Float64Array(d * d);
      for (let i = 0; i < d; i++) id[i * d + i] = 1;
      return id;
    }
    if (p !== c)
      for (let k = 0; k < d; k++) {
        swap(m, p * d + k, c * d + k);
        swap(inv, p * d + k, c * d + k);
      }
    for (let k = 0; k < d; k++) {
      m[c * d + k] = (m[c * d + k] as number) / pivot;
      inv[c * d + k] = (inv[c * d + k] as number) / pivot;
    }
    for (let r = 0; r < d; r++) {
      if (r === c) continue;
      const f = m[r * d + c] as number;
      if (f === 0) continue;
      for (let k = 0; k < d; k++) {
        m[r * d + k] = (m[r * d + k] as number) - f * (m[c * d + k] as number);
        inv[r * d + k] = (inv[r * d + k] as number) - f * (inv[c * d + k] as number);
      }
    }
  }
  return inv;
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i] as number;
  a[i] = a[j] as number;
  a[j] = t;
}

/**
 * The score of q = D²/k (k components present). A healthy vector's q is about 1 (D² of k standard
 * normal components has mean k) and above 3 for fewer than 2 % of them: those score 0, so a
 * healthy asset's score rests at 0 instead of jittering around 0.1 (with a 0.05 deadband it was
 * stored for every other reading). Above, (q − 3)/(q − 3 + 8.25): 0.5 at q = 11.25 and 0.8 at
 * q = 36, where the earlier q/(q + 9) crossed 0.8 too, so alarms at 0.8 (the pump-line pilot's
 * threshold) come exactly when they did.
 */
export function relationScore(q: number): number {
  const e = q - 3;
  return e > 0 ? e / (e + 8.25) : 0;
}
