import { describe, expect, it } from 'vitest';
import type { ForecastJson } from '../api/types.js';
import { forecastHorizon, overlay } from './forecast-overlay.js';

const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe('forecast overlay', () => {
  it('asks a quarter of what the chart shows ahead, only when the chart ends now', () => {
    const now = 1_000_000_000_000;
    expect(forecastHorizon({ kind: 'live' }, now, 15 * MIN)).toBe(4 * MIN);
    expect(forecastHorizon({ kind: 'range', from: now - 60 * MIN, to: now }, now, 15 * MIN)).toBe(15 * MIN);
    expect(forecastHorizon({ kind: 'range', from: now - 30 * 1440 * MIN, to: now }, now, 15 * MIN)).toBe(
      7 * 1440 * MIN,
    );
    expect(forecastHorizon({ kind: 'range', from: now - 2 * MIN, to: now }, now, 15 * MIN)).toBe(MIN);
    // A range in the past: a forecast (which starts now) would not be on it.
    expect(forecastHorizon({ kind: 'range', from: now - 120 * MIN, to: now - 60 * MIN }, now, 15 * MIN)).toBe(
      undefined,
    );
  });

  it('puts the series, its prediction and the forecast with its interval on one time axis', () => {
    const series = { path: 'level', xs: [1000, 2000, 3000], ys: [1, 2, 3] };
    const predicted = { path: 'levelPredicted', xs: [2000, 3000], ys: [2.1, 2.9] };
    const forecast: ForecastJson = {
      twinId: 't',
      path: 'level',
      step: 1000,
      history: { from: iso(0), to: iso(3000), buckets: 3 },
      points: [
        { time: iso(4000), value: 4, lower80: 3.5, upper80: 4.5, lower95: 3, upper95: 5 },
        { time: iso(5000), value: 5, lower80: 4.2, upper80: 5.8, lower95: 3.8, upper95: 6.2 },
      ],
    };
    const o = overlay(series, predicted, forecast);
    expect(o.xs).toEqual([1000, 2000, 3000, 4000, 5000]);
    expect(o.ys).toEqual([1, 2, 3, null, null]);
    expect(o.overlays.map((x) => x.kind)).toEqual(['predicted', 'forecast', 'lower', 'upper']);
    expect(o.overlays[0]!.ys).toEqual([null, 2.1, 2.9, null, null]);
    expect(o.overlays[1]!.ys).toEqual([null, null, null, 4, 5]);
    expect(o.overlays[2]!.ys).toEqual([null, null, null, 3, 3.8]);
    expect(o.overlays[3]!.ys).toEqual([null, null, null, 5, 6.2]);
    // Without either: the series alone.
    expect(overlay(series, undefined, undefined)).toEqual({
      xs: [1000, 2000, 3000],
      ys: [1, 2, 3],
      overlays: [],
    });
  });
});
