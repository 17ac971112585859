/**
 * A small multilayer perceptron (two ReLU hidden layers, Adam, mini-batches, seeded) on the same
 * window features as the trees, inputs standardised, target divided by the cap. A second learner
 * of a different kind: averaged with the trees it lowers the variance of the prediction.
 */
import type { Rng } from './rul-random.js';

export interface MlpOptions {
  hidden: [number, number];
  epochs: number;
  batch: number;
  learningRate: number;
  /** L2 penalty on the weights. */
  decay: number;
}

/** A fitted network (plain arrays, JSON). Weights row-major: w1 is h1 × F, w2 h2 × h1, w3 h2. */
export interface MlpModel {
  mean: number[];
  std: number[];
  scale: number;
  w1: number[];
  b1: number[];
  w2: number[];
  b2: number[];
  w3: number[];
  b3: number;
}

const r6 = (v: number): number => Math.round(v * 1e6) / 1e6;

/** Prediction for one feature vector (x from offset, F values). */
export function mlpPredict(m: MlpModel, x: ArrayLike<number>, offset = 0): number {
  const F = m.mean.length;
  const h1 = m.b1.length;
  const h2 = m.b2.length;
  const a1 = new Float64Array(h1);
  for (let j = 0; j < h1; j++) {
    let s = m.b1[j] as number;
    for (let f = 0; f < F; f++)
      s +=
        (m.w1[j * F + f] as number) *
        (((x[offset + f] as number) - (m.mean[f] as number)) / (m.std[f] as number));
    a1[j] = s > 0 ? s : 0;
  }
  let out = m.b3;
  for (let k = 0; k < h2; k++) {
    let s = m.b2[k] as number;
    for (let j = 0; j < h1; j++) s += (m.w2[k * h1 + j] as number) * (a1[j] as number);
    if (s > 0) out += (m.w3[k] as number) * s;
  }
  return out * m.scale;
}

/** Fits the network to rows X (n × F) and targets y; `tick(epoch)` after each epoch. */
export function fitMlp(
  X: Float64Array,
  y: Float64Array,
  F: number,
  scale: number,
  o: MlpOptions,
  rng: Rng,
  tick?: (epoch: number) => void,
): MlpModel {
  const n = y.length;
  const [h1, h2] = o.hidden;
  const mean = new Float64Array(F);
  const std = new Float64Array(F);
  for (let i = 0; i < n; i++) for (let f = 0; f < F; f++) mean[f]! += X[i * F + f] as number;
  for (let f = 0; f < F; f++) mean[f]! /= n;
  for (let i = 0; i < n; i++)
    for (let f = 0; f < F; f++) std[f]! += ((X[i * F + f] as number) - (mean[f] as number)) ** 2;
  for (let f = 0; f < F; f++) std[f] = Math.sqrt((std[f] as number) / n) || 1;
  const Z = new Float64Array(n * F);
  for (let i = 0; i < n; i++)
    for (let f = 0; f < F; f++)
      Z[i * F + f] = ((X[i * F + f] as number) - (mean[f] as number)) / (std[f] as number);
  const gauss = () =>
    Math.sqrt(-2 * Math.log(Math.max(1e-12, rng.next()))) * Math.cos(2 * Math.PI * rng.next());
  // parameters in one array: w1, b1, w2, b2, w3, b3
  const o1 = 0;
  const ob1 = o1 + h1 * F;
  const o2 = ob1 + h1;
  const ob2 = o2 + h2 * h1;
  const o3 = ob2 + h2;
  const ob3 = o3 + h2;
  const P = ob3 + 1;
  const w = new Float64Array(P);
  for (let i = 0; i < h1 * F; i++) w[o1 + i] = gauss() * Math.sqrt(2 / F);
  for (let i = 0; i < h2 * h1; i++) w[o2 + i] = gauss() * Math.sqrt(2 / h1);
  for (let i = 0; i < h2; i++) w[o3 + i] = gauss() * Math.sqrt(1 / h2);
  const g = new Float64Array(P);
  const m1 = new Float64Array(P);
  const v1 = new Float64Array(P);
  const a1 = new Float64Array(h1);
  const a2 = new Float64Array(h2);
  const d1 = new Float64Array(h1);
  const d2 = new Float64Array(h2);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let step = 0;
  const b1 = 0.9;
  const b2 = 0.999;
  for (let e = 0; e < o.epochs; e++) {
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = order[i] as number;
      order[i] = order[j] as number;
      order[j] = t;
    }
    const lr = o.learningRate * (e < o.epochs / 2 ? 1 : 0.3); // a step down half way
    for (let start = 0; start < n; start += o.batch) {
      const end = Math.min(n, start + o.batch);
      g.fill(0);
      for (let k = start; k < end; k++) {
        const i = order[k] as number;
        const zo = i * F;
        for (let j = 0; j < h1; j++) {
          let s = w[ob1 + j] as number;
          const wo = o1 + j * F;
          for (let f = 0; f < F; f++) s += (w[wo + f] as number) * (Z[zo + f] as number);
          a1[j] = s > 0 ? s : 0;
        }
        let out = w[ob3] as number;
        for (let q = 0; q < h2; q++) {
          let s = w[ob2 + q] as number;
          const wo = o2 + q * h1;
          for (let j = 0; j < h1; j++) s += (w[wo + j] as number) * (a1[j] as number);
          a2[q] = s > 0 ? s : 0;
          out += (w[o3 + q] as number) * (a2[q] as number);
        }
        const err = out - (y[i] as number) / scale; // d(½ err²)/d out
        g[ob3]! += err;
        for (let q = 0; q < h2; q++) {
          g[o3 + q]! += err * (a2[q] as number);
          d2[q] = (a2[q] as number) > 0 ? err * (w[o3 + q] as number) : 0;
        }
        d1.fill(0);
        for (let q = 0; q < h2; q++) {
          const dq = d2[q] as number;
          if (dq === 0) continue;
          g[ob2 + q]! += dq;
          const wo = o2 + q * h1;
          for (let j = 0; j < h1; j++) {
            g[wo + j]! += dq * (a1[j] as number);
            d1[j]! += dq * (w[wo + j] as number);
          }
        }
        for (let j = 0; j < h1; j++) {
          if (!((a1[j] as number) > 0)) continue;
          const dj = d1[j] as number;
          g[ob1 + j]! += dj;
          const wo = o1 + j * F;
          for (let f = 0; f < F; f++) g[wo + f]! += dj * (Z[zo + f] as number);
        }
      }
      step++;
      const bs = end - start;
      const c1 = 1 - b1 ** step;
      const c2 = 1 - b2 ** step;
      for (let p = 0; p < P; p++) {
        const gp = (g[p] as number) / bs + o.decay * (w[p] as number);
        m1[p] = b1 * (m1[p] as number) + (1 - b1) * gp;
        v1[p] = b2 * (v1[p] as number) + (1 - b2) * gp * gp;
        w[p]! -= (lr * ((m1[p] as number) / c1)) / (Math.sqrt((v1[p] as number) / c2) + 1e-8);
      }
    }
    tick?.(e + 1);
  }
  const arr = (from: number, len: number) => Array.from(w.subarray(from, from + len), r6);
  return {
    mean: Array.from(mean),
    std: Array.from(std),
    scale,
    w1: arr(o1, h1 * F),
    b1: arr(ob1, h1),
    w2: arr(o2, h2 * h1),
    b2: arr(ob2, h2),
    w3: arr(o3, h2),
    b3: r6(w[ob3] as number),
  };
}
