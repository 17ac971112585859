/**
 * Reads a Numenta Anomaly Benchmark folder (`data/<category>/<file>.csv` with header
 * `timestamp,value`, `labels/combined_windows.json`) and writes results in NAB's layout
 * (`<out>/<detector>/<category>/<detector>_<file>.csv`, header `timestamp,value,anomaly_score,label`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createDetector } from '../../src/analytics/anomaly/create-detector.js';
import type { DetectorKind } from '../../src/analytics/anomaly/detector.js';
import { probationLength } from '../../src/analytics/anomaly/nab-scorer.js';

export interface NabSeries {
  /** `<category>/<file>.csv`, the key of the labels file. */
  key: string;
  category: string;
  file: string;
  timestamps: string[];
  /** ms since epoch (UTC), per row. */
  times: Float64Array;
  values: Float64Array;
  windows: [string, string][];
}

/**
 * A detector's score for every row of a series, the detector made fresh for it with `config` and
 * NAB's probation for the series' length; `seconds`: the time spent scoring (not making).
 */
export function scoreNabSeries(
  kind: DetectorKind,
  config: Record<string, number>,
  s: NabSeries,
): { scores: Float64Array; seconds: number } {
  const d = createDetector(kind, { ...config, probation: probationLength(s.values.length) });
  const scores = new Float64Array(s.values.length);
  const { times, values } = s;
  const t0 = performance.now();
  for (let i = 0; i < values.length; i++) scores[i] = d.score(times[i] as number, values[i] as number);
  return { scores, seconds: (performance.now() - t0) / 1000 };
}

/** Every series of the folder, sorted by key. @throws Error naming the file and line of a bad row. */
export function readNabCorpus(dir: string): NabSeries[] {
  const labelsPath = path.join(dir, 'labels', 'combined_windows.json');
  const labels = JSON.parse(fs.readFileSync(labelsPath, 'utf8')) as Record<string, [string, string][]>;
  const dataDir = path.join(dir, 'data');
  const out: NabSeries[] = [];
  for (const category of fs.readdirSync(dataDir).sort()) {
    const catDir = path.join(dataDir, category);
    if (!fs.statSync(catDir).isDirectory()) continue;
    for (const file of fs.readdirSync(catDir).sort()) {
      if (!file.endsWith('.csv')) continue;
      const key = `${category}/${file}`;
      const lines = fs.readFileSync(path.join(catDir, file), 'utf8').split(/\r?\n/);
      const timestamps: string[] = [];
      const values: number[] = [];
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i] as string;
        if (line.trim() === '') continue;
        const comma = line.indexOf(',');
        const v = Number(line.slice(comma + 1));
        if (comma < 0 || !Number.isFinite(v))
          throw new Error(`${key}:${i + 1}: not "timestamp,value": ${line.slice(0, 80)}`);
        timestamps.push(line.slice(0, comma));
        values.push(v);
      }
      const times = Float64Array.from(timestamps, (t) => Date.parse(`${t.slice(0, 19).replace(' ', 'T')}Z`));
      const windows = (labels[key] ?? []).map(([a, b]) => [a, b] as [string, string]);
      out.push({ key, category, file, timestamps, times, values: Float64Array.from(values), windows });
    }
  }
  return out;
}

/** Writes one detector's scores for one series in NAB's results layout. */
export function writeNabResult(
  outDir: string,
  detector: string,
  series: NabSeries,
  scores: ArrayLike<number>,
  inWindow: Int32Array,
): void {
  const dir = path.join(outDir, detector, series.category);
  fs.mkdirSync(dir, { recursive: true });
  const rows = ['timestamp,value,anomaly_score,label'];
  for (let i = 0; i < series.values.length; i++)
    rows.push(
      `${series.timestamps[i]},${series.values[i]},${scores[i]},${(inWindow[i] as number) >= 0 ? 1 : 0}`,
    );
  fs.writeFileSync(path.join(dir, `${detector}_${series.file}`), `${rows.join('\n')}\n`);
}

/**
 * Reads the anomaly scores a detector wrote in NAB's results layout (any detector, NAB's own
 * included: the `anomaly_score` column, found by its header). @throws Error when the file is
 * missing or its row count differs from the series'.
 */
export function readNabResult(resultsDir: string, detector: string, series: NabSeries): Float64Array {
  const file = path.join(resultsDir, detector, series.category, `${detector}_${series.file}`);
  const lines = fs
    .readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  const col = (lines[0] ?? '').split(',').indexOf('anomaly_score');
  if (col < 0) throw new Error(`${file}: no anomaly_score column`);
  if (lines.length - 1 !== series.values.length)
    throw new Error(`${file}: ${lines.length - 1} rows, the series has ${series.values.length}`);
  return Float64Array.from(lines.slice(1), (l) => Number(l.split(',')[col]));
}
