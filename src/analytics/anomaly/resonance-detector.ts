/**
 * The strong detector, in the family of NAB's leader ARTime (adaptive resonance on windowed
 * features), written from the idea, not the code: readings are averaged into buckets, the last
 * `window` bucket means form a feature vector, and the vector is matched against a bounded set of
 * prototypes (the categories of an ART network). A vector that resonates with a prototype (mean
 * absolute difference within the vigilance radius, in units of the stream's observed range) moves
 * it a little; one that resonates with none is novel, becomes a new prototype (the least recently
 * used one is recycled when the set is full), and its distance is the anomaly evidence. A reading
 * outside the range seen so far is evidence at once, before its bucket closes. After an alert the
 * output is masked for a while, as ARTime does, so one event gives one detection.
 *
 * Bounded: `prototypes × window` numbers. O(prototypes × window / bucket) per reading.
 */
import {
  DEFAULT_PROBATION,
  clampValue,
  readConfig,
  readSnapshot,
  snapshotError,
  stateArray,
  stateNumber,
  type AnomalyDetector,
  type DetectorSnapshot,
} from './detector.js';
import type { Problem } from '../../core/errors/errors.js';

export interface ResonanceConfig extends Record<string, number> {
  /** Readings learnt before scoring (NAB: min(0.15·n, 750)). */
  probation: number;
  /** Buckets per probation: the bucket size is max(1, round(probation / bucketsPerProbation)). */
  bucketsPerProbation: number;
  /** Bucket means in a feature vector. */
  window: number;
  /** Most prototypes kept. */
  prototypes: number;
  /** Vigilance radius: mean absolute difference, as a fraction of the observed range. */
  radius: number;
  /** How far a resonating prototype moves towards the vector. */
  learn: number;
  /** Weight of a reading's excursion beyond the observed range (fraction of the range). */
  rangeWeight: number;
  /** Output level that starts the mask. */
  alert: number;
  /** Mask length after an alert, as a fraction of probation. */
  mask: number;
}

export const RESONANCE_DEFAULTS: ResonanceConfig = {
  probation: DEFAULT_PROBATION,
  bucketsPerProbation: 150,
  window: 8,
  prototypes: 48,
  radius: 0.06,
  learn: 0.1,
  rangeWeight: 4,
  alert: 0.5,
  mask: 0.5,
};

const BOUNDS = {
  probation: [0, 1e9],
  bucketsPerProbation: [1, 1e6],
  window: [1, 64],
  prototypes: [1, 1024],
  radius: [1e-6, 10],
  learn: [0, 1],
  rangeWeight: [0, 1e6],
  alert: [0, 1],
  mask: [0, 100],
} as const;

const STATE_NUMBERS = [
  'n',
  'lo',
  'hi',
  'bucketSum',
  'bucketFill',
  'ringPos',
  'ringFill',
  'protoCount',
  'steps',
  'evidence',
  'maskLeft',
] as const;

export class ResonanceDetector implements AnomalyDetector {
  readonly kind = 'resonance' as const;
  private readonly cfg: ResonanceConfig;
  private readonly bucket: number;
  private readonly maskRows: number;
  private readonly s: Record<(typeof STATE_NUMBERS)[number], number>;
  private readonly ring: Float64Array;
  private readonly protos: Float64Array;
  private readonly used: Float64Array;
  private readonly vec: Float64Array;

  constructor(config?: unknown, snapshot?: unknown) {
    const snap = snapshot === undefined ? undefined : readSnapshot('resonance', snapshot);
    this.cfg = readConfig(RESONANCE_DEFAULTS, BOUNDS, snap ? snap.config : config);
    const { window, prototypes, probation, bucketsPerProbation, mask } = this.cfg;
    const w = Math.round(window);
    const p = Math.round(prototypes);
    this.bucket = Math.max(1, Math.round(probation / bucketsPerProbation));
    this.maskRows = Math.round(mask * probation);
    this.vec = new Float64Array(w);
    if (snap) {
      const problems: Problem[] = [];
      this.s = Object.fromEntries(
        STATE_NUMBERS.map((k) => [k, stateNumber(snap.state, k, problems)]),
      ) as Record<(typeof STATE_NUMBERS)[number], number>;
      this.ring = stateArray(snap.state, 'ring', w, problems);
      this.protos = stateArray(snap.state, 'protos', w * p, problems);
      this.used = stateArray(snap.state, 'used', p, problems);
      const s = this.s;
      if (
        !(
          s.n >= 0 &&
          s.hi >= s.lo &&
          s.ringPos >= 0 &&
          s.ringPos < w &&
          s.ringFill >= 0 &&
          s.ringFill <= w
        ) ||
        !(
          s.protoCount >= 0 &&
          s.protoCount <= p &&
          Number.isInteger(s.protoCount) &&
          Number.isInteger(s.ringPos)
        )
      )
        problems.push({
          code: 'anomaly.snapshot.field',
          message: 'Inconsistent counters.',
          pointer: '/state',
        });
      if (problems.length) throw snapshotError(problems);
    } else {
      this.s = Object.fromEntries(STATE_NUMBERS.map((k) => [k, 0])) as Record<
        (typeof STATE_NUMBERS)[number],
        number
      >;
      this.ring = new Float64Array(w);
      this.protos = new Float64Array(w * p);
      this.used = new Float64Array(p);
    }
  }

  score(_time: number, value: number): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) return 0;
    const x = clampValue(value);
    const s = this.s;
    const cfg = this.cfg;
    // Excursion beyond the range seen so far, in units of that range.
    let excursion = 0;
    if (s.n === 0) {
      s.lo = x;
      s.hi = x;
    } else {
      const range = s.hi - s.lo;
      if (x > s.hi) {
        excursion = range > 0 ? (x - s.hi) / range : 1;
        s.hi = x;
      } else if (x < s.lo) {
        excursion = range > 0 ? (s.lo - x) / range : 1;
        s.lo = x;
      }
    }
    s.n++;
    s.bucketSum += x;
    s.bucketFill++;
    s.evidence = 0;
    if (s.bucketFill >= this.bucket) {
      s.evidence = this.closeBucket(s.bucketSum / s.bucketFill);
      s.bucketSum = 0;
      s.bucketFill = 0;
    }
    if (s.n <= cfg.probation) return 0;
    const raw = Math.max(s.evidence / cfg.radius - 1, 0) + cfg.rangeWeight * Math.min(excursion, 1e6);
    let out = raw / (raw + 1);
    if (s.maskLeft > 0) {
      s.maskLeft--;
      out *= 0.1;
    } else if (out >= cfg.alert) s.maskLeft = this.maskRows;
    return out;
  }

  /** Pushes a bucket mean, matches the feature vector; answers its distance to the nearest prototype. */
  private closeBucket(mean: number): number {
    const s = this.s;
    const w = this.ring.length;
    this.ring[s.ringPos] = mean;
    s.ringPos = (s.ringPos + 1) % w;
    if (s.ringFill < w) {
      s.ringFill++;
      if (s.ringFill < w) return 0;
    }
    s.steps++;
    const vec = this.vec;
    for (let i = 0; i < w; i++) vec[i] = this.ring[(s.ringPos + i) % w] as number;
    const range = s.hi - s.lo;
    const scale = range > 0 ? 1 / (range * w) : 0;
    let best = -1;
    let bestD = Number.POSITIVE_INFINITY;
    const protos = this.protos;
    for (let j = 0; j < s.protoCount; j++) {
      let d = 0;
      const o = j * w;
      for (let i = 0; i < w; i++) d += Math.abs((vec[i] as number) - (protos[o + i] as number));
      d *= scale;
      if (d < bestD) {
        bestD = d;
        best = j;
      }
    }
    if (best >= 0 && bestD <= this.cfg.radius) {
      const o = best * w;
      const a = this.cfg.learn;
      for (let i = 0; i < w; i++)
        protos[o + i] = (protos[o + i] as number) + a * ((vec[i] as number) - (protos[o + i] as number));
      this.used[best] = s.steps;
      return bestD;
    }
    // Novel: a new prototype, or recycle the least recently used one.
    let slot = s.protoCount;
    if (slot >= this.used.length) {
      slot = 0;
      for (let j = 1; j < this.used.length; j++)
        if ((this.used[j] as number) < (this.used[slot] as number)) slot = j;
    } else s.protoCount++;
    protos.set(vec, slot * w);
    this.used[slot] = s.steps;
    return best < 0 ? 0 : bestD;
  }

  snapshot(): DetectorSnapshot {
    return {
      kind: 'resonance',
      version: 1,
      config: { ...this.cfg },
      state: {
        ...this.s,
        ring: Array.from(this.ring),
        protos: Array.from(this.protos),
        used: Array.from(this.used),
      },
    };
  }
}
