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

export class PrototypeLayer {
  // Counters as fields of the layer (not a record of their own): one object less to reach per reading.
  private bucketSum = 0;
  private bucketFill = 0;
  private ringPos = 0;
  private ringFill = 0;
  private protoCount = 0;
  private steps = 0;
  private typical = 0;
  /** The layer's arrays are views of one buffer, side by side: one allocation per layer, read together. */
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
    const span = window * block;
    const buffer = new Float64Array(window + span + 3 * prototypes + window * prototypes);
    let at = 0;
    const take = (n: number): Float64Array => buffer.subarray(at, (at += n));
    this.vec = take(window);
    this.ring = take(span);
    this.used = take(prototypes);
    this.own = take(prototypes);
    this.born = take(prototypes);
    this.protos = take(window * prototypes);
    if (state) {
      this.bucketSum = stateNumber(state, 'bucketSum', problems);
      this.bucketFill = stateNumber(state, 'bucketFill', problems);
      this.ringPos = stateNumber(state, 'ringPos', problems);
      this.ringFill = stateNumber(state, 'ringFill', problems);
      this.protoCount = stateNumber(state, 'protoCount', problems);
      this.steps = stateNumber(state, 'steps', problems);
      this.typical = stateNumber(state, 'typical', problems);
      this.ring.set(stateArray(state, 'ring', span, problems));
      this.protos.set(stateArray(state, 'protos', window * prototypes, problems));
      this.used.set(stateArray(state, 'used', prototypes, problems));
      this.own.set(stateArray(state, 'own', prototypes, problems));
      this.born.set(stateArray(state, 'born', prototypes, problems));
      const ints = [this.bucketFill, this.ringPos, this.ringFill, this.protoCount].every(
        (v) => Number.isInteger(v) && v >= 0,
      );
      if (
        !ints ||
        this.ringPos >= span ||
        this.ringFill > span ||
        this.protoCount > prototypes ||
        this.typical < 0
      )
        problems.push({
          code: 'anomaly.snapshot.field',
          message: 'Inconsistent layer counters.',
          pointer: '/state',
        });
    }
  }

  /** Readings still to come before the open bucket closes (0 when the last reading closed one). */
  pending(): number {
    return this.bucketFill === 0 ? 0 : this.bucket - this.bucketFill;
  }

  /** Adds a reading; answers the evidence (≥ 0) when it closes a bucket, else 0. */
  push(x: number, range: number, set: LayerSettings): number {
    this.bucketSum += x;
    this.bucketFill++;
    if (this.bucketFill < this.bucket) return 0;
    const mean = this.bucketSum / this.bucketFill;
    this.bucketSum = 0;
    this.bucketFill = 0;
    const span = this.ring.length;
    this.ring[this.ringPos] = mean;
    this.ringPos = (this.ringPos + 1) % span;
    if (this.ringFill < span) {
      this.ringFill++;
      if (this.ringFill < span) return 0;
    }
    return this.match(range, set);
  }

  private match(range: number, set: LayerSettings): number {
    const w = this.window;
    this.steps++;
    const vec = this.vec;
    const b = this.block;
    const span = this.ring.length;
    for (let i = 0, k = this.ringPos; i < w; i++) {
      let sum = 0;
      for (let j = 0; j < b; j++, k = k + 1 === span ? 0 : k + 1) sum += this.ring[k] as number;
      vec[i] = sum / b;
    }
    const scale = range > 0 ? 1 / (range * w) : 0;
    const shared = Math.max(set.radius, set.spread * this.typical);
    // Nearest prototype in units of its own radius, overall and among the mature ones.
    const young = this.steps - Math.round(set.mature * this.block);
    let best = -1;
    let bestRatio = Number.POSITIVE_INFINITY;
    let bestD = 0;
    let matureRatio = Number.POSITIVE_INFINITY;
    const protos = this.protos;
    for (let j = 0; j < this.protoCount; j++) {
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
      const a = Math.max(set.typicalAlpha, 1 / this.steps);
      this.typical += a * (Math.min(bestD, 2 * shared) - this.typical);
    }
    if (best >= 0 && bestRatio <= 1) {
      const o = best * w;
      const a = set.learn;
      for (let i = 0; i < w; i++)
        protos[o + i] = (protos[o + i] as number) + a * ((vec[i] as number) - (protos[o + i] as number));
      this.used[best] = this.steps;
      this.own[best] = (this.own[best] as number) + set.ownAlpha * (bestD - (this.own[best] as number));
      return evidence;
    }
    let slot = this.protoCount;
    if (slot >= this.used.length) {
      slot = 0;
      for (let j = 1; j < this.used.length; j++)
        if ((this.used[j] as number) < (this.used[slot] as number)) slot = j;
    } else this.protoCount++;
    protos.set(vec, slot * w);
    this.used[slot] = this.steps;
    this.own[slot] = this.typical;
    this.born[slot] = this.steps;
    return best < 0 ? 0 : Math.max(bestRatio - 1, evidence);
  }

  state(): Record<string, unknown> {
    return {
      bucketSum: this.bucketSum,
      bucketFill: this.bucketFill,
      ringPos: this.ringPos,
      ringFill: this.ringFill,
      protoCount: this.protoCount,
      steps: this.steps,
      typical: this.typical,
      ring: Array.from(this.ring),
      protos: Array.from(this.protos),
      used: Array.from(this.used),
      own: Array.from(this.own),
      born: Array.from(this.born),
    };
  }
}
