/**
 * A forecast drawn over a chart: how far ahead to ask for (from what the chart shows), and the
 * chart's series, the shadow model's prediction and the forecast with its 95 % interval on one
 * time axis.
 */
import type { ForecastJson } from '../api/types.js';
import { alignSeries } from './series.js';

const MINUTE = 60_000;

/**
 * The horizon (ms) of a forecast for a chart: a quarter of the range it shows (the live window:
 * 15 minutes), from 1 minute to 7 days; undefined when the range ends in the past (a forecast starts
 * now, and would not be on the chart).
 */
export function forecastHorizon(
  mode: { kind: 'live' } | { kind: 'range'; from: number; to: number },
  now: number,
  liveWindowMs: number,
): number | undefined {
  if (mode.kind === 'live') return Math.max(MINUTE, Math.round(liveWindowMs / 4 / MINUTE) * MINUTE);
  if (mode.to < now - 2 * MINUTE) return undefined;
  return Math.min(
    7 * 1440 * MINUTE,
    Math.max(MINUTE, Math.round((mode.to - mode.from) / 4 / MINUTE) * MINUTE),
  );
}

export interface OverlaidSeries {
  xs: number[];
  ys: (number | null)[];
  overlays: { label: string; ys: (number | null)[]; kind: 'predicted' | 'forecast' | 'lower' | 'upper' }[];
}

/** The series with its prediction and forecast (each optional) on the union of their times. */
export function overlay(
  series: { path: string; xs: readonly number[]; ys: readonly (number | null)[] },
  predicted: { path: string; xs: readonly number[]; ys: readonly (number | null)[] } | undefined,
  forecast: ForecastJson | undefined,
): OverlaidSeries {
  const parts: { xs: readonly number[]; ys: readonly (number | null)[] }[] = [series];
  const labels: OverlaidSeries['overlays'] = [];
  if (predicted) {
    parts.push(predicted);
    labels.push({ label: predicted.path, ys: [], kind: 'predicted' });
  }
  if (forecast && forecast.points.length) {
    const xs = forecast.points.map((p) => Date.parse(p.time));
    parts.push({ xs, ys: forecast.points.map((p) => p.value) });
    parts.push({ xs, ys: forecast.points.map((p) => p.lower95) });
    parts.push({ xs, ys: forecast.points.map((p) => p.upper95) });
    labels.push({ label: `${series.path} forecast`, ys: [], kind: 'forecast' });
    labels.push({ label: `${series.path} forecast, 95 % low`, ys: [], kind: 'lower' });
    labels.push({ label: `${series.path} forecast, 95 % high`, ys: [], kind: 'upper' });
  }
  const { xs, columns } = alignSeries(parts);
  labels.forEach((l, i) => (l.ys = columns[i + 1]!));
  return { xs, ys: columns[0]!, overlays: labels };
}
