import { describe, expect, it } from 'vitest';
import {
  cnnInit,
  cnnInput,
  cnnLayout,
  cnnLoss,
  cnnRunner,
  fitCnn,
  type CnnData,
  type CnnOptions,
} from './rul-cnn.js';
import { rmse } from './rul-metrics.js';
import { createRng } from './rul-random.js';

const OPTS: CnnOptions = {
  conv: [
    { filters: 4, kernel: 3 },
    { filters: 3, kernel: 2 },
  ],
  hidden: 8,
  epochs: 30,
  patience: 30,
  plateau: 4,
  samplesPerEpoch: 1500,
  batch: 16,
  learningRate: 3e-3,
  decay: 0,
  dropout: 0,
  innerShare: 0.2,
  clip: 6,
  age: false,
  pool: 1,
};

/** Windows (W × C) whose target depends on the trend of channel 0 and the level of channel 1. */
function synthetic(n: number, W: number, C: number, seed: number): CnnData & { truth: number[] } {
  const rng = createRng(seed);
  const X = new Float32Array(n * W * C);
  const y = new Float64Array(n);
  const truth: number[] = [];
  for (let i = 0; i < n; i++) {
    const slope = rng.next() * 2 - 1;
    const level = rng.next() * 2 - 1;
    for (let t = 0; t < W; t++)
      for (let c = 0; c < C; c++) {
        const base = c === 0 ? (slope * (t - W / 2)) / W : c === 1 ? level : 0;
        X[(i * W + t) * C + c] = base + 0.05 * (rng.next() - 0.5);
      }
    // a known nonlinear relation, in RUL units (scale 100)
    const v = 50 + 30 * slope + 20 * Math.abs(level);
    y[i] = v;
    truth.push(v);
  }
  return { X, y, truth };
}

describe('convolutional network of RUL', () => {
  it('computes the gradient of its loss as finite differences do (every layer)', () => {
    const W = 7;
    const C = 3;
    const L = cnnLayout(W, C, OPTS.conv, 5);
    const rng = createRng(5);
    // positive biases keep most units active, so the check crosses few ReLU kinks
    const p = cnnInit(L, rng, 0.3);
    for (const l of L.layers) for (let i = l.b; i < l.b + l.filters; i++) p[i] = 0.2;
    for (let i = L.db; i < L.ow; i++) p[i] = 0.2;
    const x = Float64Array.from({ length: W * C }, () => rng.next() * 2 - 1);
    const y = 0.7;
    const grad = new Float64Array(L.size);
    cnnLoss(L, p, x, y, grad);
    const h = 1e-6;
    let worst = 0;
    let checked = 0;
    for (let i = 0; i < L.size; i++) {
      const keep = p[i]!;
      p[i] = keep + h;
      const up = cnnLoss(L, p, x, y);
      p[i] = keep - h;
      const down = cnnLoss(L, p, x, y);
      p[i] = keep;
      const numeric = (up - down) / (2 * h);
      const g = grad[i]!;
      worst = Math.max(worst, Math.abs(numeric - g) / Math.max(1e-4, Math.abs(numeric) + Math.abs(g)));
      if (g !== 0) checked++;
    }
    expect(worst).toBeLessThan(1e-4);
    // the check saw live gradients in the convolutions, the dense layer and the output
    expect(checked).toBeGreaterThan(L.size / 2);
    expect(grad[L.layers[0]!.w]).not.toBe(0);
    // and a wrong gradient would be seen: the loss moves along −grad
    const step = Float64Array.from(p, (v, i) => v - 1e-3 * grad[i]!);
    expect(cnnLoss(L, step, x, y)).toBeLessThan(cnnLoss(L, p, x, y));
  });

  it('learns a known relation of trend and level (held-out RMSE a fraction of the spread)', () => {
    const W = 12;
    const C = 3;
    const train = synthetic(3000, W, C, 1);
    const inner = synthetic(400, W, C, 2);
    const test = synthetic(500, W, C, 3);
    const { model } = fitCnn(train, inner, W, 1, C, 100, 0, OPTS, createRng(9));
    const run = cnnRunner(model);
    const pred = test.truth.map((_, i) => run(test.X, i * W * C));
    const mean = test.truth.reduce((a, b) => a + b, 0) / test.truth.length;
    const spread = Math.sqrt(test.truth.reduce((a, b) => a + (b - mean) ** 2, 0) / test.truth.length);
    expect(spread).toBeGreaterThan(15);
    expect(rmse(pred, test.truth)).toBeLessThan(0.2 * spread);
  });

  it('is deterministic for a seed (same seed, same network; another seed, another one)', () => {
    const W = 6;
    const C = 2;
    const train = synthetic(300, W, C, 4);
    const inner = synthetic(60, W, C, 5);
    const o = { ...OPTS, epochs: 3 };
    const a = fitCnn(train, inner, W, 1, C, 100, 0, o, createRng(1));
    const b = fitCnn(train, inner, W, 1, C, 100, 0, o, createRng(1));
    const c = fitCnn(train, inner, W, 1, C, 100, 0, o, createRng(2));
    expect(JSON.stringify(b.model)).toBe(JSON.stringify(a.model));
    expect(JSON.stringify(c.model)).not.toBe(JSON.stringify(a.model));
    expect(a.model.params).toHaveLength(cnnLayout(W, C, o.conv, o.hidden).size);
  });

  it('stops early when the inner set stops improving and keeps the best epoch', () => {
    const W = 6;
    const C = 2;
    const train = synthetic(300, W, C, 6);
    // an inner set whose targets have nothing to do with the inputs: no epoch helps for long
    const inner = synthetic(60, W, C, 7);
    inner.y.reverse();
    const r = fitCnn(train, inner, W, 1, C, 100, 0, { ...OPTS, epochs: 40, patience: 3 }, createRng(3));
    expect(r.epochs).toBeLessThan(40);
    const run = cnnRunner(r.model);
    const err = rmse(
      Array.from(inner.y, (_, i) => Math.max(0, run(inner.X, i * W * C))),
      Array.from(inner.y),
    );
    expect(err).toBeCloseTo(r.best, 3);
  });

  it('pads a short history with its first row, clips inputs, and adds the age channel', () => {
    const S = 2;
    const z = Float64Array.from([1, 2, 3, 100, -100, 5]); // three rows
    const steps = [4, 5, 6];
    const out = new Float64Array(4 * (S + 1));
    cnnInput(z, S, steps, 1, 4, 1, 6, 10, out, 0);
    expect(Array.from(out)).toEqual([1, 2, 0.4, 1, 2, 0.4, 1, 2, 0.4, 3, 6, 0.5]);
    const plain = new Float64Array(2 * S);
    cnnInput(z, S, steps, 2, 2, 1, 6, 0, plain, 0);
    expect(Array.from(plain)).toEqual([3, 6, -6, 5]);
    // pooled: two positions of two rows each, ending at row 2 (rows 0,0 padded | rows 1,2 clipped: (3 − 6) / 2, (6 + 5) / 2)
    const pooled = new Float64Array(2 * (S + 1));
    cnnInput(z, S, steps, 2, 2, 2, 6, 10, pooled, 0);
    expect(Array.from(pooled)).toEqual([1, 2, 0.4, -1.5, 5.5, 0.6]);
  });
});
