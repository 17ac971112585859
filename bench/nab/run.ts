/**
 * NAB benchmark (npm run bench:nab -- --data DIR --results OUT): runs every detector over every
 * series of a Numenta Anomaly Benchmark folder online, row by row (each detector is told NAB's
 * probationary length, min(floor(0.15·n), 750), as NAB tells its detectors), scores them with the
 * re-implemented NAB scorer in the three profiles beside the published scoreboard, computes
 * a leave-one-category-out held-out estimate (bench/nab/held-out.ts), measures
 * throughput (points/s on one core: the scoring loop only, median of --reps runs), writes every
 * file's scores in NAB's results layout under OUT, and appends a block to bench/RESULTS.md
 * (--dry: print only). Options: --detectors ewma,resonance; --config '{"radius":0.05}' overrides
 * the resonance configuration (for experiments; the reported figures use the defaults);
 * --score-results DIR scores results already written in NAB's layout (every detector folder in DIR,
 * e.g. NAB's own results/numenta, to check this scorer against NAB's published numbers).
 * Not a timed test: it reports, it does not assert.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DetectorKind } from '../../src/analytics/anomaly/detector.js';
import {
  NAB_PROFILES,
  layoutFile,
  scoreCorpus,
  type NabScoredFile,
} from '../../src/analytics/anomaly/nab-scorer.js';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag, stringFlag } from '../results-file.js';
import { heldOutScores } from './held-out.js';
import { readNabCorpus, readNabResult, scoreNabSeries, writeNabResult } from './nab-corpus.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => stringFlag(argv, name);
const dataDir = path.resolve(flag('--data') ?? path.join(here, '../../../shared/data/nab'));
const resultsDir = path.resolve(flag('--results') ?? path.join(os.tmpdir(), 'twinloop-nab-results'));
const detectors = (flag('--detectors') ?? 'ewma,resonance').split(',') as DetectorKind[];
/** --score-results DIR: also score the results other detectors wrote there (NAB's layout), e.g. NAB's own numenta/. */
const scoreDir = flag('--score-results');
const override = flag('--config') ? (JSON.parse(flag('--config') as string) as Record<string, number>) : {};
const reps = numberFlag(argv, '--reps', 3);
const dry = argv.includes('--dry');
const quiet = argv.includes('--quiet');

/** Published NAB scoreboard on all 58 files (standard / low FP / low FN). */
const PUBLISHED: [string, number, number, number][] = [
  ['ARTime', 74.9, 65.1, 80.4],
  ['Numenta HTM', 70.1, 63.1, 74.3],
  ['CAD OSE', 69.9, 67.0, 73.2],
  ['earthgecko Skyline', 58.2, 46.2, 63.9],
  ['Relative Entropy', 54.6, 47.6, 58.8],
  ['Windowed Gaussian', 39.6, 20.9, 47.4],
];

const corpus = readNabCorpus(dataDir);
const layouts = corpus.map((s) => layoutFile(s.timestamps, s.windows));
const points = corpus.reduce((a, s) => a + s.values.length, 0);
const windowCount = layouts.reduce((a, l) => a + l.scoredWindows, 0);
const startedAt = new Date();

interface DetectorRun {
  kind: string;
  scores: number[];
  heldOut: number[];
  raws: number[];
  pps: number;
  threshold: number;
}

function runOnce(kind: DetectorKind): { files: Float64Array[]; seconds: number } {
  let seconds = 0;
  const files = corpus.map((s) => {
    const r = scoreNabSeries(kind, kind === 'resonance' ? override : {}, s);
    seconds += r.seconds;
    return r.scores;
  });
  return { files, seconds };
}

const runs: DetectorRun[] = [];

function report(name: string, files: Float64Array[], pps: number, write: boolean): void {
  const scored: NabScoredFile[] = corpus.map((s, i) => ({
    name: s.key,
    layout: layouts[i]!,
    scores: files[i]!,
  }));
  const results = NAB_PROFILES.map((p) => scoreCorpus(scored, p));
  if (write) corpus.forEach((s, i) => writeNabResult(resultsDir, name, s, files[i]!, layouts[i]!.window));
  if (!quiet)
    for (const f of results[0]!.files)
      console.log(`  ${name} ${f.name}: raw ${f.raw.toFixed(3)} tp ${f.tp} fp ${f.fp} fn ${f.fn}`);
  runs.push({
    kind: name,
    scores: results.map((r) => r.normalized),
    heldOut: heldOutScores(scored),
    raws: results.map((r) => r.raw),
    pps,
    threshold: results[0]!.threshold,
  });
  console.log(
    `${name}: ${results.map((r) => `${r.profile} ${r.normalized.toFixed(2)} (raw ${r.raw.toFixed(3)}, threshold ${r.threshold.toFixed(4)})`).join('; ')}; ${Number.isNaN(pps) ? '' : `${Math.round(pps).toLocaleString('en-US')} points/s`}`,
  );
}

for (const kind of detectors) {
  let files: Float64Array[] = [];
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const once = runOnce(kind);
    files = once.files;
    times.push(once.seconds);
  }
  times.sort((a, b) => a - b);
  report(kind, files, points / (times[Math.floor(times.length / 2)] as number), true);
}
if (scoreDir)
  for (const name of fs.readdirSync(scoreDir).sort()) {
    if (!fs.statSync(path.join(scoreDir, name)).isDirectory()) continue;
    report(
      `${name} (read from ${scoreDir})`,
      corpus.map((s) => readNabResult(scoreDir, name, s)),
      Number.NaN,
      false,
    );
  }

const cmd = `npm run bench:nab -- ${argv.join(' ')}`.trim();
const lines = [
  `### NAB (bench/nab) — ${startedAt.toISOString()}`,
  '',
  `- Machine: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; Node ${process.version}`,
  `- Command: \`${cmd}\``,
  `- Data: ${path.basename(dataDir)}, ${corpus.length} files, ${points.toLocaleString('en-US')} points, ${windowCount} scored windows; results written to ${resultsDir}`,
  `- Online, row by row; one configuration for every file; each detector is told NAB's probationary length. Throughput: the scoring loop only, one core, median of ${reps} runs.`,
  `- ${loadNote()}`,
  '',
  `- Held-out: leave one category out — each profile's threshold chosen on the other categories, the category scored with it, pooled over ${[...new Set(corpus.filter((_, i) => layouts[i]!.scoredWindows > 0).map((s) => s.category))].length} categories with windows (std / lowFP / lowFN).`,
  '',
  '| detector | standard | reward_low_FP | reward_low_FN | held-out (std / lowFP / lowFN) | raw (std / lowFP / lowFN) | points/s per core |',
  '|---|---:|---:|---:|---|---|---:|',
  ...runs.map(
    (r) =>
      `| ${r.kind} (this run) | ${r.scores.map((x) => x.toFixed(1)).join(' | ')} | ${r.heldOut.map((x) => x.toFixed(1)).join(' / ')} | ${r.raws.map((x) => x.toFixed(2)).join(' / ')} | ${Number.isNaN(r.pps) ? '–' : Math.round(r.pps).toLocaleString('en-US')} |`,
  ),
  ...PUBLISHED.map(([n, a, b, c]) => `| ${n} (published, all 58 files) | ${a} | ${b} | ${c} | | | |`),
  '',
  corpus.length < 58
    ? `The published figures are on NAB's full corpus (58 files); this run used ${corpus.length}, so the comparison is indicative only.`
    : 'Same corpus as the published figures.',
  '',
];
const block = lines.join('\n');
console.log(`\n${block}`);
if (!dry) appendResults(block);
