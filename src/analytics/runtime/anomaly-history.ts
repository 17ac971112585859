/**
 * The anomaly detectors' warm-up reads of history: a stream's last points before a time (over the
 * HistoryStore port), and a multivariate group's streams aligned into vectors by timestamp (the
 * readings of one device message share one).
 */
import type { HistoryStore } from '../../core/ports/storage-ports.js';

/** A reading of a stream's history (for the warm-up). */
export interface HistoryReading {
  time: number;
  value: number;
}

/** A multivariate group's reading set: one value per telemetry of the group, NaN where missing. */
export interface GroupVector {
  time: number;
  values: number[];
}

/**
 * The last `limit` numeric points of one telemetry of a twin before `before`, oldest first.
 * @throws StorageError (rejects) when the store cannot answer.
 */
export async function recentPoints(
  history: HistoryStore,
  workspace: string,
  twinId: string,
  path: string,
  before: number,
  limit: number,
): Promise<HistoryReading[]> {
  const page = await history.queryRaw({ workspace, twinId, path, from: 0, to: before, limit, order: 'desc' });
  const out: HistoryReading[] = [];
  for (let i = page.points.length - 1; i >= 0; i--) {
    const p = page.points[i] as { ts: number; value: unknown };
    if (typeof p.value === 'number') out.push({ time: p.ts, value: p.value });
  }
  return out;
}

/**
 * A group's history as vectors, oldest first: the streams' points (each oldest first) aligned by
 * timestamp, NaN where a stream has no point at that time, the last `limit` of them. A stream that
 * filled its `limit` is cut off at its oldest point; vectors before the latest such cut are left
 * out, since their missing components would only mean "not read".
 */
export function alignByTime(series: readonly (readonly HistoryReading[])[], limit: number): GroupVector[] {
  let cut = -Infinity;
  for (const s of series)
    if (s.length >= limit && s.length > 0) cut = Math.max(cut, (s[0] as HistoryReading).time);
  const byTime = new Map<number, number[]>();
  series.forEach((s, i) => {
    for (const p of s) {
      if (p.time < cut || !Number.isFinite(p.value)) continue;
      let v = byTime.get(p.time);
      if (v === undefined) byTime.set(p.time, (v = new Array<number>(series.length).fill(Number.NaN)));
      v[i] = p.value;
    }
  });
  const times = [...byTime.keys()].sort((a, b) => a - b).slice(-limit);
  return times.map((time) => ({ time, values: byTime.get(time) as number[] }));
}
