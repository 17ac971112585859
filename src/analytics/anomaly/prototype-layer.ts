/**
 * One scale of the resonance detector: readings averaged into buckets, the last `window` bucket
 * means form a feature vector, matched against at most `prototypes` prototypes (the categories of
 * an adaptive-resonance network). Vigilance adapts to the stream: the radius is the larger of a
 * floor and a multiple of the typical distance to the nearest prototype, so a noisy stream needs a
 * larger surprise than a smooth one. A prototype whose own members lie farther apart than that (a
 * noisier part of the pattern) has its own larger radius: the mean distance of the vectors that
 * resonated with it. A resonating vector moves its prototype a little; a novel one becomes a
 * prototype (recycling the least recently used) and its excess distance is the evidence.
 *
 * Evidence is measured against consolidated memory only: a prototype younger than `mature` of the
 * layer's blocks does not count as familiar. Otherwise a slow change (a daily peak that does not
 * come) creeps past vigilance, each vector a little novel and learnt at once, so that the next is
 * near it; measured against the older prototypes, the change adds up. Resonance with a young
 * prototype still teaches it.
 */
import type { Problem } from '../../core/errors/errors.js';
import { stateArray, stateNumber } from './detector.js';

export interface LayerSettings {
  /** Floor of the vigilance radius (mean absolute difference / observed range). */
  radius: number;
  /** Radius as a multiple of the typical nearest distance. */
  spread: number;
  /** Weight of a new distance in the typical one. */
  typicalAlpha: number;
  learn: number;
  /** A prototype's radius is at least this multiple of the mean distance of its members (0: off). */
  ownRadius: number;
  /** Weight of a new member's distance in that mean. */
  ownAlpha: number;
  /** Prototypes younger than this many blocks are not memory for the evidence (0: off). */
  mature: number;
}

const NUMBERS = ['bucketSum', 'bucketFill', 'ringPos', 'ringFill', 'protoCount', 'steps', 'typical'] as const;
type Numbers = Record<(typeof NUMBERS)[number], number>;

export class PrototypeLayer {
  private readonly s: Numbers;
  private readonly ring: Float64Array;
  private readonly protos: Float64Array;
  private readonly used: Float64Array;
  /** Per prototype: the mean distance of the vectors that resonated with it. */
  private readonly own: Float64Array;
  /** Per prototype: the step it was created at. */
  private readonly born: Float64Array;
  private readonly vec: Float64Array;

  constructor(
    readonly bucket: number,
    private readonly window: number,
    prototypes: number,
    /** Buckets averaged into one element of the vector; the vector slides by one bucket. */
    private readonly block = 1,
    state?: Record<string, unknown>,
    problems: Problem[] = [],
  ) {
    this.vec = new Float64Array(window);
    const span = window * block;
    if (state) {
      this.s = Object.fromEntries(NUMBERS.map((k) => [k, stateNumber(state, k, problems)])) as Numbers;
      this.ring = stateArray(state, 'ring', span, problems);
      this.protos = stateArray(state, 'protos', window * prototypes, problems);
      this.used = stateArray(state, 'used', prototypes, problems);
      this.own = stateArray(state, 'own', prototypes, problems);
      this.born = stateArray(state, 'born', prototypes, problems);
      const s = this.s;
      const ints = [s.bucketFill, s.ringPos, s.ringFill, s.protoCount].every(
        (v) => Number.isInteger(v) && v >= 0,
      );
      if (!ints || s.ringPos >= span || s.ringFill > span || s.protoCount > prototypes || s.typical < 0)
        problems.push({
          code: 'anomaly.snapshot.field',
          message: 'Inconsistent layer counters.',
          pointer: '/state',
        });
    } else {
      this.s = Object.fromEntries(NUMBERS.map((k) => [k, 0])) as Numbers;
      this.ring = new Float64Array(span);
      this.protos = new Float64Array(window * prototypes);
      this.used = new Float64Array(prototypes);
      this.own = new Float64Array(prototypes);
      this.born = new Float64Array(prototypes);
    }
  }

  /** Readings still to come before the open bucket closes (0 when the last reading closed one). */
  pending(): number {
    return this.s.bucketFill === 0 ? 0 : this.bucket - this.s.bucketFill;
  }

  /** Adds a reading; answers the evidence (≥ 0) when it closes a bucket, else 0. */
  push(x: number, range: number, set: LayerSettings): number {
    const s = this.s;
    s.bucketSum += x;
    s.bucketFill++;
    if (s.bucketFill < this.bucket) return 0;
    const mean = s.bucketSum / s.bucketFill;
    s.bucketSum = 0;
    s.bucketFill = 0;
    const span = this.ring.length;
    this.ring[s.ringPos] = mean;
    s.ringPos = (s.ringPos + 1) % span;
    if (s.ringFill < span) {
      s.ringFill++;
      if (s.ringFill < span) return 0;
    }
    return this.match(range, set);
  }

  private match(range: number, set: LayerSettings): number {
    const s = this.s;
    const w = this.window;
    s.steps++;
    const vec = this.vec;
    const b = this.block;
    const span = this.ring.length;
    for (let i = 0, k = s.ringPos; i < w; i++) {
      let sum = 0;
      for (let j = 0; j < b; j++, k = k + 1 === span ? 0 : k + 1) sum += this.ring[k] as number;
      vec[i] = sum / b;
    }
    const scale = range > 0 ? 1 / (range * w) : 0;
    const shared = Math.max(set.radius, set.spread * s.typical);
    // Nearest prototype in units of its own radius, overall and among the mature ones.
    const young = s.steps - Math.round(set.mature * this.block);
    let best = -1;
    let bestRatio = Number.POSITIVE_INFINITY;
    let bestD = 0;
    let matureRatio = Number.POSITIVE_INFINITY;
    const protos = this.protos;
    for (let j = 0; j < s.protoCount; j++) {
      const radius = Math.max(shared, set.ownRadius * (this.own[j] as number));
      const mature = (this.born[j] as number) <= young;
      // Partial distance: stop as soon as this prototype can be neither nearest.
      const bound = mature ? Math.max(bestRatio, matureRatio) : bestRatio;
      const stop = scale > 0 ? bound * (radius / scale) : Number.POSITIVE_INFINITY;
      let d = 0;
      const o = j * w;
      for (let i = 0; i < w && d < stop; i++) d += Math.abs((vec[i] as number) - (protos[o + i] as number));
      const ratio = (d * scale) / radius;
      if (mature && ratio < matureRatio) matureRatio = ratio;
      if (ratio < bestRatio) {
        bestRatio = ratio;
        best = j;
        bestD = d * scale;
      }
    }
    // Excess distance to the nearest mature prototype (none yet: no evidence).
    const evidence = matureRatio > 1 && matureRatio < Number.POSITIVE_INFINITY ? matureRatio - 1 : 0;
    if (best >= 0) {
      const a = Math.max(set.typicalAlpha, 1 / s.steps);
      s.typical += a * (Math.min(bestD, 2 * shared) - s.typical);
    }
    if (best >= 0 && bestRatio <= 1) {
      const o = best * w;
      const a = set.learn;
      for (let i = 0; i < w; i++)
        protos[o + i] = (protos[o + i] as number) + a * ((vec[i] as number) - (protos[o + i] as number));
      this.used[best] = s.steps;
      this.own[best] = (this.own[best] as number) + set.ownAlpha * (bestD - (this.own[best] as number));
      return evidence;
    }
    let slot = s.protoCount;
    if (slot >= this.used.length) {
      slot = 0;
      for (let j = 1; j < this.used.length; j++)
        if ((this.used[j] as number) < (this.used[slot] as number)) slot = j;
    } else s.protoCount++;
    protos.set(vec, slot * w);
    this.used[slot] = s.steps;
    this.own[slot] = s.typical;
    this.born[slot] = s.steps;
    return best < 0 ? 0 : Math.max(bestRatio - 1, evidence);
  }

  state(): Record<string, unknown> {
    return {
      ...this.s,
      ring: Array.from(this.ring),
      protos: Array.from(this.protos),
      used: Array.from(this.used),
      own: Array.from(this.own),
      born: Array.from(this.born),
    };
  }
}
