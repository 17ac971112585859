/**
 * Rolling-origin evaluation of one series for bench:forecast: forecasts H steps from three origins
 * (n − 3H, n − 2H, n − H), and scores them with MASE (out-of-sample MAE over the in-sample MAE of
 * the seasonal naive forecast, Hyndman & Koehler 2006), the same for the seasonal naive forecast
 * itself, and the coverage of the 80 % / 95 % intervals. The naive season is one day of steps
 * when the training part holds two days, else one step (the random walk).
 */
import { performance } from 'node:perf_hooks';
import { forecast } from '../../src/analytics/forecast/forecast.js';
import { toRegularGrid } from '../../src/analytics/forecast/forecast-grid.js';
import type { BenchSeries } from './series.js';

export interface SeriesScore {
  name: string;
  n: number;
  stepMin: number;
  horizon: number;
  naiveSeason: number;
  models: string[];
  /** Mean over origins; undefined when the naive in-sample error is 0 (constant, perfectly periodic). */
  mase?: number;
  naiveMase?: number;
  cover80: number;
  cover95: number;
  fitMs: number;
}

const DAY = 86_400_000;

export function evaluate(s: BenchSeries, origins = 3): SeriesScore {
  const grid = toRegularGrid(s.times, s.values);
  const y = grid.values;
  const n = y.length;
  const H = Math.min(288, Math.floor(n / 8));
  const day = Math.round(DAY / grid.step);
  const models: string[] = [];
  const mases: number[] = [];
  const naives: number[] = [];
  let in80 = 0;
  let in95 = 0;
  let fitMs = 0;
  const m0 = n - origins * H >= 2 * day ? day : 1;
  for (let k = origins; k >= 1; k--) {
    const cut = n - k * H;
    const times = Array.from({ length: cut }, (_, i) => grid.start + i * grid.step);
    const train = Array.from(y.subarray(0, cut));
    const t0 = performance.now();
    const f = forecast({ times, values: train }, { horizon: H, step: grid.step });
    fitMs += performance.now() - t0;
    models.push(f.fitted.model + (f.fitted.season ? `/${f.fitted.season}` : ''));
    let scale = 0;
    for (let i = m0; i < cut; i++) scale += Math.abs(train[i]! - train[i - m0]!);
    scale /= cut - m0;
    let mae = 0;
    let naive = 0;
    for (let h = 0; h < H; h++) {
      const truth = y[cut + h]!;
      const p = f.points[h]!;
      mae += Math.abs(truth - p.value) / H;
      // Seasonal naive: the value one season before, repeated over the horizon.
      naive += Math.abs(truth - train[cut - m0 + (h % m0)]!) / H;
      if (truth >= p.lower80 && truth <= p.upper80) in80++;
      if (truth >= p.lower95 && truth <= p.upper95) in95++;
    }
    if (scale > 1e-12 * (Math.abs(train[cut - 1]!) + 1e-300)) {
      mases.push(mae / scale);
      naives.push(naive / scale);
    }
  }
  const mean = (a: number[]): number | undefined =>
    a.length ? a.reduce((x, v) => x + v, 0) / a.length : undefined;
  const out: SeriesScore = {
    name: s.name,
    n,
    stepMin: grid.step / 60_000,
    horizon: H,
    naiveSeason: m0,
    models,
    cover80: in80 / (origins * H),
    cover95: in95 / (origins * H),
    fitMs: fitMs / origins,
  };
  const mase = mean(mases);
  const naiveMase = mean(naives);
  if (mase !== undefined) out.mase = mase;
  if (naiveMase !== undefined) out.naiveMase = naiveMase;
  return out;
}
