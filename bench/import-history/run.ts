/**
 * `npm run bench:import-history`: history import jobs through the REST API of an in-process
 * Twinloop (SQLite, history FULL, simulator off), with the shipped C-MAPSS example (model, mapping):
 * 1. NASA's train_FD001.txt (20,631 rows × 24 values; from ../shared/data/cmapss or --fd001 <file>;
 *    skipped when absent);
 * 2. a generated C-MAPSS-like file of --mb MiB (default 1024), written to a temp folder, never
 *    to the repository.
 * For each: rows/s and points/s (the job's own clock), the peak RSS of the process (sampled every
 * 100 ms), and the longest event-loop stall while the job ran (monitorEventLoopDelay, 10 ms
 * resolution), beside the same measure over 3 s before (on a busy machine descheduling is a stall).
 * Options: --mb N, --fd001 <file>, --engines N (200), --dry (print, do not append to RESULTS.md).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { cliLayer, resolveConfig } from '../../src/app/config.js';
import { startPlatform, type Platform } from '../../src/app/platform.js';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag, stringFlag } from '../results-file.js';

const argv = process.argv.slice(2);
const MB = numberFlag(argv, '--mb', 1024);
const ENGINES = numberFlag(argv, '--engines', 200);
const DRY = argv.includes('--dry');
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const FD001 = stringFlag(argv, '--fd001') ?? path.resolve(repo, '../shared/data/cmapss/train_FD001.txt');
const EXAMPLE = path.join(repo, 'examples/cmapss');
const API = 'api-version=2023-10-31';

interface Figures {
  what: string;
  status: string;
  rows: number;
  points: number;
  badRows: number;
  seconds: number;
  bytes: number;
  peakRss: number;
  loopMax: number;
  loopP99: number;
  error?: string;
}

/** Writes a C-MAPSS-like file of about `bytes` bytes, engine after engine, in 1 MiB writes. */
async function writeCmapssLike(file: string, bytes: number, engines: number): Promise<number> {
  const fd = await fs.promises.open(file, 'w');
  let written = 0;
  const perEngine = bytes / engines;
  let buf: string[] = [];
  let size = 0;
  for (let unit = 1; unit <= engines; unit++) {
    let engineBytes = 0;
    for (let cycle = 1; engineBytes < perEngine; cycle++) {
      const sensors: string[] = [];
      for (let k = 1; k <= 21; k++) sensors.push((500 + k * 37 + Math.sin(cycle / 50 + k) * 3).toFixed(2));
      const line = `${unit} ${cycle} ${(Math.sin(cycle) * 0.002).toFixed(4)} -0.0003 100.0 ${sensors.join(' ')}  \n`;
      buf.push(line);
      size += line.length;
      engineBytes += line.length;
      if (size >= 1 << 20) {
        await fd.write(buf.join(''));
        written += size;
        buf = [];
        size = 0;
      }
    }
  }
  await fd.write(buf.join(''));
  written += size;
  await fd.close();
  return written;
}

async function runJob(
  platform: Platform,
  id: string,
  file: string,
  prefix: string,
  what: string,
): Promise<Figures> {
  const mapping = parseYaml(fs.readFileSync(path.join(EXAMPLE, 'mapping.yaml'), 'utf8')) as Record<
    string,
    unknown
  >;
  mapping.twin = { column: 'unit', prefix };
  const idle = monitorEventLoopDelay({ resolution: 10 });
  idle.enable();
  await new Promise((r) => setTimeout(r, 3000));
  idle.disable();
  let peakRss = process.memoryUsage.rss();
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const res = await fetch(`${platform.runtime.httpUrl}/jobs/history-imports/${id}?${API}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputBlobUri: pathToFileURL(file).href, mapping, fileName: path.basename(file) }),
  });
  if (res.status !== 201) throw new Error(`create: ${res.status} ${await res.text()}`);
  let job: { status: string; error?: { message: string }; progress: Record<string, number> };
  let lastPrint = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    job = (await (
      await fetch(`${platform.runtime.httpUrl}/jobs/history-imports/${id}?${API}`)
    ).json()) as typeof job;
    if (Date.now() - lastPrint > 10_000) {
      lastPrint = Date.now();
      const p = job.progress;
      console.log(
        `  ${what}: ${((p.bytesRead! / (p.totalBytes ?? 1)) * 100).toFixed(1)}%, ${p.rows} rows, ${p.rowsPerSecond} rows/s, RSS ${(process.memoryUsage.rss() / 1048576).toFixed(0)} MiB, heap ${(process.memoryUsage().heapUsed / 1048576).toFixed(0)} MiB`,
      );
    }
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) break;
  }
  loop.disable();
  clearInterval(rssTimer);
  const p = job.progress;
  const f: Figures = {
    what,
    status: job.status,
    rows: p.rows!,
    points: p.points!,
    badRows: p.badRows!,
    seconds: p.elapsedMs! / 1000,
    bytes: p.totalBytes ?? p.bytesRead!,
    peakRss,
    loopMax: loop.max / 1e6,
    loopP99: loop.percentile(99) / 1e6,
  };
  if (job.error) f.error = job.error.message;
  console.log(
    `  ${what}: idle loop before: max ${(idle.max / 1e6).toFixed(1)} ms, p99 ${(idle.percentile(99) / 1e6).toFixed(1)} ms`,
  );
  return f;
}

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinloop-bench-import-history-'));
try {
  const config = resolveConfig([
    cliLayer({
      data: dataDir,
      httpPort: '0',
      mqttPort: '0',
      logLevel: 'silent',
      sim: 'off',
      shadow: 'off',
      pilot: 'none',
    }),
  ]);
  const platform = await startPlatform(config, { logger: pino({ level: 'silent' }), banner: false });
  await platform.models.add([
    JSON.parse(fs.readFileSync(path.join(EXAMPLE, 'turbofan.json'), 'utf8')) as Record<string, unknown>,
  ]);
  const results: Figures[] = [];
  if (fs.existsSync(FD001)) {
    const copy = path.join(platform.importIo.folder, 'train_FD001.txt');
    fs.copyFileSync(FD001, copy);
    results.push(await runJob(platform, 'fd001', copy, 'fd001-train-', 'train_FD001.txt'));
  } else console.log(`(no ${FD001}: the FD001 run is skipped)`);
  const big = path.join(platform.importIo.folder, 'generated.txt');
  console.log(`writing ${MB} MiB of C-MAPSS-like rows (${ENGINES} engines)…`);
  const bytes = await writeCmapssLike(big, MB * 1048576, ENGINES);
  results.push(
    await runJob(platform, 'generated', big, 'gen-', `generated ${(bytes / 1048576).toFixed(0)} MiB`),
  );
  fs.rmSync(big, { force: true });
  await platform.stop();

  const n = (x: number) => Math.round(x).toLocaleString('en');
  const lines = [
    `## History import (${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length})`,
    '',
    loadNote(),
    '',
    'C-MAPSS example mapping (24 values a row, cycle → hour), SQLite history FULL, 5,000 points per append, one process with a 256 MiB heap (--max-old-space-size=256); job figures from its own clock.',
    '',
    '| input | status | rows | points | bad rows | seconds | rows/s | points/s | MiB/s | peak RSS | longest event-loop stall (p99) |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.what} | ${r.status}${r.error ? ` (${r.error})` : ''} | ${n(r.rows)} | ${n(r.points)} | ${r.badRows} | ${r.seconds.toFixed(1)} | ${n(r.rows / r.seconds)} | ${n(r.points / r.seconds)} | ${(r.bytes / 1048576 / r.seconds).toFixed(2)} | ${(r.peakRss / 1048576).toFixed(0)} MiB | ${r.loopMax.toFixed(1)} ms (${r.loopP99.toFixed(1)} ms) |`,
    ),
    '',
  ];
  console.log(lines.join('\n'));
  if (!DRY) appendResults(lines.join('\n'));
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true });
}
