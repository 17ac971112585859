/**
 * `npm run bench:whatif-memory`: RSS of the server process after N kept what-if runs (default 50),
 * each as large as the request limits allow (250,000 samples: pumps 3a–3d of the pump-line pilot for
 * 62,499 s, one sample a second). The platform runs in this process (sim and shadow off) and the runs
 * are created through its WhatIfService; RSS is read after a forced GC, before the first run and
 * after the last. Runs with --expose-gc (the npm script does). Options: --runs N, --dry (no append).
 * Works on older trees too (where the service has no memory() report), to compare before and after.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { cliLayer, resolveConfig } from '../../src/app/config.js';
import { startPlatform } from '../../src/app/platform.js';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';

const argv = process.argv.slice(2);
const RUNS = numberFlag(argv, '--runs', 50);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error('Run with --expose-gc (npm run bench:whatif-memory does).');
  process.exit(2);
}
const rssMiB = (): number => {
  gc();
  gc();
  return process.memoryUsage().rss / 2 ** 20;
};

const dir = mkdtempSync(join(tmpdir(), 'twinloop-bench-whatif-'));
const config = resolveConfig([
  cliLayer({ data: dir, httpPort: '0', mqttPort: '0', logLevel: 'silent', sim: 'off', shadow: 'off' }),
]);
const p = await startPlatform(config, { logger: pino({ level: 'silent' }), banner: false });
const request = {
  twins: ['pump-3a', 'pump-3b', 'pump-3c', 'pump-3d'],
  horizon: 62_499,
  sampleInterval: 1,
};
const before = rssMiB();
let peak = before;
const t0 = performance.now();
for (let i = 0; i < RUNS; i++) {
  const job = p.whatIf.create(request);
  const done = await p.whatIf.wait(job.id, 120_000);
  if (done.status !== 'succeeded') throw new Error(`run ${i}: ${done.status} ${done.error?.message ?? ''}`);
  if (i % 10 === 9) {
    peak = Math.max(peak, process.memoryUsage().rss / 2 ** 20);
    console.error(`${i + 1} runs, RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`);
  }
}
const seconds = (performance.now() - t0) / 1000;
const after = rssMiB();
peak = Math.max(peak, after);
const svc = p.whatIf as unknown as {
  memory?: () => { keptBytes: number; kept: number; limit: number };
  list: () => { status: string }[];
};
const mem = svc.memory?.();
const kept = mem?.kept ?? svc.list().filter((j) => j.status === 'succeeded').length;
await p.stop();
rmSync(dir, { recursive: true, force: true });

const lines = [
  `### What-if memory (bench/whatif/memory.ts) — ${new Date().toISOString()}`,
  '',
  `- Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Node ${process.version}`,
  `- Command: \`npm run bench:whatif-memory${argv.length ? ` -- ${argv.join(' ')}` : ''}\`; tree: ${process.env.BENCH_TREE ?? 'this branch'}`,
  `- ${RUNS} runs of the pump-line pilot's pumps 3a–3d, 62,499 s at one sample a second (250,000 samples a run, the request limit), each finished before the next; platform in this process, sim and shadow off; RSS after forced GC.`,
  `- ${loadNote()}`,
  '',
  '| runs | kept | accounted trajectories | RSS before | RSS after (GC) | peak RSS seen | time |',
  '|---:|---:|---:|---:|---:|---:|---:|',
  `| ${RUNS} | ${kept} | ${mem ? `${(mem.keptBytes / 2 ** 20).toFixed(1)} MiB (bound ${(mem.limit / 2 ** 20).toFixed(0)} MiB)` : 'not accounted'} | ${before.toFixed(0)} MiB | ${after.toFixed(0)} MiB | ${peak.toFixed(0)} MiB | ${seconds.toFixed(1)} s |`,
  '',
];
const block = lines.join('\n');
console.log(block);
if (!argv.includes('--dry')) appendResults(block);
