import { describe, expect, it } from 'vitest';
import { fitGbm, gbmPredict } from './rul-gbm.js';
import { rmse } from './rul-metrics.js';
import { createRng } from './rul-random.js';

describe('gradient-boosted trees', () => {
  it('fits a known nonlinear function (held-out RMSE close to the noise)', () => {
    const rng = createRng(11);
    const F = 5;
    const make = (n: number) => {
      const X = new Float64Array(n * F);
      const y = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        for (let f = 0; f < F; f++) X[i * F + f] = rng.next() * 4 - 2;
        const x0 = X[i * F]!;
        const x1 = X[i * F + 1]!;
        const x2 = X[i * F + 2]!;
        y[i] = 3 * Math.sin(x0) + x1 * x1 - 2 * (x2 > 0.5 ? 1 : 0) + 0.1 * (rng.next() - 0.5);
      }
      return { X, y };
    };
    const train = make(4000);
    const test = make(1000);
    const opts = {
      trees: 300,
      learningRate: 0.1,
      maxDepth: 4,
      minLeaf: 10,
      lambda: 1,
      rowSample: 0.8,
      featureSample: 0.8,
      bins: 64,
    };
    const model = fitGbm(train.X, train.y, F, opts, createRng(1));
    const pred = Array.from({ length: 1000 }, (_, i) => gbmPredict(model, test.X, i * F));
    const mean = test.y.reduce((a, b) => a + b, 0) / 1000;
    const sd = Math.sqrt(test.y.reduce((a, b) => a + (b - mean) ** 2, 0) / 1000);
    const err = rmse(pred, test.y);
    expect(sd).toBeGreaterThan(2);
    expect(err).toBeLessThan(0.3);
    // the same seed gives the same trees
    const again = fitGbm(train.X, train.y, F, opts, createRng(1));
    expect(JSON.stringify(again)).toBe(JSON.stringify(model));
  });
});
