/**
 * Forecast benchmark (npm run bench:forecast): the ETS forecaster (src/analytics/forecast) on the
 * NAB series without labelled anomalies and on simulated pump-line series, scored by MASE against
 * the seasonal naive forecast over three rolling origins (bench/forecast/evaluate.ts). Prints per
 * series and aggregate figures and appends a markdown block to bench/RESULTS.md.
 * Flags: --data DIR (a NAB folder, default ../shared/data/nab), --days N (simulated, default 4),
 * --dry (print only). Not a timed test: it reports, it does not assert.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';
import { evaluate, type SeriesScore } from './evaluate.js';
import { nabUnlabelled, simulatedPumps } from './series.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const dry = argv.includes('--dry');
const dataIdx = argv.indexOf('--data');
const dataDir =
  dataIdx >= 0 ? path.resolve(argv[dataIdx + 1] ?? '') : path.join(here, '../../../shared/data/nab');
const days = numberFlag(argv, '--days', 4);
const startedAt = new Date();

const groups: [string, SeriesScore[]][] = [
  ['NAB, no labelled anomalies', nabUnlabelled(dataDir).map((s) => evaluate(s))],
  [`pump-line pump behaviour, simulated ${days} d`, simulatedPumps(days).map((s) => evaluate(s))],
];

const f = (v: number | undefined, d = 3): string => (v === undefined ? 'n/a' : v.toFixed(d));
const geo = (a: number[]): number | undefined =>
  a.length ? Math.exp(a.reduce((x, v) => x + Math.log(Math.max(v, 1e-12)), 0) / a.length) : undefined;
const mean = (a: number[]): number | undefined =>
  a.length ? a.reduce((x, v) => x + v, 0) / a.length : undefined;

const lines: string[] = [];
lines.push(`## Forecast accuracy (bench/forecast/run.ts) — ${startedAt.toISOString()}`, '');
lines.push(
  `- Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}.`,
);
lines.push(`- ${loadNote()} Fit times are indicative.`);
lines.push(
  `- Command: \`npm run bench:forecast${argv.length ? ' -- ' + argv.join(' ') : ''}\`; data: ${path.relative(process.cwd(), dataDir) || dataDir}.`,
);
lines.push(
  '- Method: automatic ETS (season from the ACF, models by AICc), three rolling origins (n − 3H, n − 2H, n − H), H = min(288, n/8) steps. MASE = out-of-sample MAE / in-sample MAE of the seasonal naive forecast (season = one day of steps when the training part holds two days, else 1). "naive" is the MASE of the seasonal naive forecast itself on the same origins: the model beats it where MASE < naive. n/a: the naive in-sample error is 0 (a constant or perfectly periodic series: both forecasts are exact there).',
  '',
);
for (const [title, scores] of groups) {
  lines.push(`### ${title}`, '');
  lines.push(
    '| series | n | step | H | naive m | models chosen | MASE | naive | 80 % cover | 95 % cover | fit ms |',
  );
  lines.push('|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|');
  for (const s of scores)
    lines.push(
      `| ${s.name} | ${s.n} | ${s.stepMin} min | ${s.horizon} | ${s.naiveSeason} | ${[...new Set(s.models)].join(', ')} | ${f(s.mase)} | ${f(s.naiveMase)} | ${f(s.cover80, 2)} | ${f(s.cover95, 2)} | ${s.fitMs.toFixed(0)} |`,
    );
  const scored = scores.filter((s) => s.mase !== undefined && s.naiveMase !== undefined);
  const wins = scored.filter((s) => s.mase! < s.naiveMase!).length;
  lines.push(
    '',
    `Aggregate over ${scored.length} scored series (of ${scores.length}): MASE geometric mean ${f(geo(scored.map((s) => s.mase!)))} (arithmetic ${f(mean(scored.map((s) => s.mase!)))}), seasonal naive ${f(geo(scored.map((s) => s.naiveMase!)))} (${f(mean(scored.map((s) => s.naiveMase!)))}); the model beats the seasonal naive forecast on ${wins} of ${scored.length}. Interval coverage (all series): 80 % → ${f(mean(scores.map((s) => s.cover80)), 2)}, 95 % → ${f(mean(scores.map((s) => s.cover95)), 2)}.`,
    '',
  );
}
const block = lines.join('\n') + '\n';
console.log(block);
if (!dry) appendResults(block);
