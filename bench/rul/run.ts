/**
 * bench:rul — remaining useful life on NASA C-MAPSS, through the path a user takes:
 *   npm run bench:rul -- --data DIR --subset FD001 --predictions OUT.csv [--dry]
 * Starts Twinloop (built: dist/) on a fresh data folder, adds examples/cmapss/turbofan.json, imports
 * DIR/train_FD00x.txt and DIR/test_FD00x.txt with `twinloop import` (examples/cmapss/mapping.yaml),
 * trains with POST /ml/training (the defaults; validation on held-out training engines only),
 * predicts each test engine at its last row with GET /digitaltwins/{id}/rul, writes OUT.csv
 * (`unit,rul`) and scores against DIR/RUL_FD00x.txt: RMSE and PHM08 score against the true RUL as
 * given (the official figure), and, labelled, against the true RUL capped at the training cap.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../../src/app/cli/api-client.js';
import { phm08Score, rmse } from '../../src/analytics/rul/rul-metrics.js';
import { appendResults } from '../results-file.js';
import { loadNote } from '../machine-note.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.join(here, '../..');
const argv = process.argv.slice(2);
const flag = (name: string, fallback?: string): string | undefined => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const dataDir = path.resolve(flag('--data', path.join(root, '../shared/data/cmapss'))!);
const subset = flag('--subset', 'FD001')!;
const out = path.resolve(flag('--predictions', path.join(os.tmpdir(), `rul-${subset}.csv`))!);
const dry = argv.includes('--dry');
const cli = path.join(root, 'dist/app/cli/main.js');
if (!fs.existsSync(cli)) throw new Error('Build first (npm run build): bench:rul runs the built platform.');
for (const f of [`train_${subset}.txt`, `test_${subset}.txt`, `RUL_${subset}.txt`])
  if (!fs.existsSync(path.join(dataDir, f))) throw new Error(`${path.join(dataDir, f)} is missing.`);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'twinloop-bench-rul-'));
const server = spawn(process.execPath, [cli, 'start', '--data', work], {
  stdio: ['ignore', 'ignore', 'inherit'],
});
const twinloop = (...args: string[]): string =>
  execFileSync(process.execPath, [cli, ...args, '--data', work], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
try {
  for (let i = 0; i < 120 && !fs.existsSync(path.join(work, 'runtime.json')); i++)
    await new Promise((r) => setTimeout(r, 500));
  await new Promise((r) => setTimeout(r, 1000));
  const client = new ApiClient({ data: work });
  twinloop('models', 'add', path.join(root, 'examples/cmapss/turbofan.json'));
  const prefix = subset.toLowerCase();
  const t0 = performance.now();
  twinloop(
    'import',
    path.join(dataDir, `train_${subset}.txt`),
    '--mapping',
    path.join(root, 'examples/cmapss/mapping.yaml'),
    '--twin-prefix',
    `${prefix}-train-`,
  );
  const importMs = performance.now() - t0;
  const t1 = performance.now();
  const started = (
    await client.request('POST', '/ml/training', {
      body: {
        target: 'dtmi:twinloop:example:cmapss:Turbofan;1',
        settings: ['setting1', 'setting2', 'setting3'],
        twinIdPrefix: `${prefix}-train-`,
        stepSeconds: 3600,
        promote: true,
      },
    })
  ).body as { id: string };
  let job: {
    status: string;
    error?: { message: string };
    result?: { modelId: string; metrics: Record<string, unknown> };
    request: { spec: { cap: number } };
  };
  for (;;) {
    job = (await client.request('GET', `/ml/training/${started.id}`)).body as typeof job;
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const trainMs = performance.now() - t1;
  if (job.status !== 'succeeded') throw new Error(`training ${job.status}: ${job.error?.message ?? ''}`);
  twinloop(
    'import',
    path.join(dataDir, `test_${subset}.txt`),
    '--mapping',
    path.join(root, 'examples/cmapss/mapping.yaml'),
    '--twin-prefix',
    `${prefix}-test-`,
  );
  const truth = fs
    .readFileSync(path.join(dataDir, `RUL_${subset}.txt`), 'utf8')
    .split(/\s+/)
    .filter((s) => s !== '')
    .map(Number);
  const predicted: number[] = [];
  const t2 = performance.now();
  for (let unit = 1; unit <= truth.length; unit++) {
    const p = (await client.request('GET', `/digitaltwins/${prefix}-test-${unit}/rul`)).body as {
      rul: number;
    };
    predicted.push(p.rul);
  }
  const perTwinMs = (performance.now() - t2) / truth.length;
  fs.writeFileSync(out, 'unit,rul\n' + predicted.map((r, i) => `${i + 1},${r}`).join('\n') + '\n');
  const cap = job.request.spec.cap;
  const capped = truth.map((t) => Math.min(t, cap));
  const m = job.result!.metrics;
  const lines = [
    `## RUL on C-MAPSS ${subset} (bench/rul/run.ts) — ${new Date().toISOString()}`,
    '',
    `- ${os.cpus().length} cores, Node ${process.version}. ${loadNote()}`,
    `- Path: twinloop import (examples/cmapss/mapping.yaml) → POST /ml/training (defaults: window 150, cap ${cap}, regimes auto, every sensor; learner: per-regime normalisation, health index, GBM ensemble by 5-fold cross-fitting) → GET /digitaltwins/{id}/rul at each test engine's last row.`,
    `- Validation (held-out training engines only): RMSE ${Number(m.validationRmse).toFixed(2)}, PHM08 ${Number(m.validationScore).toFixed(1)} (${String(m.validationMethod)}).`,
    '',
    '| subset | test RMSE (official, true RUL as given) | PHM08 score | RMSE vs truth capped at ' +
      cap +
      ' (not official) | PHM08 capped | import train s | training s | inference ms/twin |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    `| ${subset} | ${rmse(predicted, truth).toFixed(2)} | ${phm08Score(predicted, truth).toFixed(1)} | ${rmse(predicted, capped).toFixed(2)} | ${phm08Score(predicted, capped).toFixed(1)} | ${(importMs / 1000).toFixed(1)} | ${(trainMs / 1000).toFixed(1)} | ${perTwinMs.toFixed(1)} |`,
    '',
    `Targets on FD001: RMSE ≤ 12.0, score ≤ 250, training < 5 min. Predictions: ${out}.`,
  ];
  const block = lines.join('\n') + '\n';
  console.log(block);
  if (!dry) appendResults(block);
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  fs.rmSync(work, { recursive: true, force: true });
}
