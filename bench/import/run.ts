/**
 * `npm run bench:import`: one ADT import job of 100,000 twins and 300,000 relationships with a few
 * bad lines, through the REST API of an in-process Twinloop (SQLite, history FULL, simulator off).
 * Prints twins/s and relationships/s (from the job's own log: section start to section end), the
 * peak RSS of the process, and the longest event-loop stall while the job ran (perf_hooks'
 * monitorEventLoopDelay, 10 ms resolution; the loop that acknowledges MQTT devices and HTTP).
 * jobs.sliceMs (10 ms) bounds the writes of one transaction; the stall figure is shown beside the
 * same measure taken over 3 s before the job (on a busy machine, descheduling is a stall too).
 * Options: --twins N (100000) --relationships N (300000) --batch N (jobs.batchSize, 200) --dry.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { cliLayer, resolveConfig } from '../../src/app/config.js';
import { startPlatform } from '../../src/app/platform.js';
import { writeImportFile } from '../../test/support/import-file.js';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';

const argv = process.argv.slice(2);
const TWINS = numberFlag(argv, '--twins', 100_000);
const RELS = numberFlag(argv, '--relationships', 300_000);
const BATCH = numberFlag(argv, '--batch', 200);
const DRY = argv.includes('--dry');
const API = 'api-version=2023-10-31';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinloop-bench-import-'));
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
    { jobs: { batchSize: BATCH } },
  ]);
  const platform = await startPlatform(config, { logger: pino({ level: 'silent' }), banner: false });
  const file = path.join(platform.importIo.folder, 'bench.ndjson');
  const facts = await writeImportFile(file, {
    twins: TWINS,
    relationships: RELS,
    bad: ['malformedJson', 'unknownModel', 'duplicateTwin', 'missingTarget'],
  });
  console.log(`input: ${facts.lines} lines, ${(facts.bytes / 1048576).toFixed(1)} MiB, 4 bad lines`);

  let peakRss = process.memoryUsage.rss();
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
  // The same measure with nothing running first: on a shared machine, descheduling shows up as stalls too.
  const idle = monitorEventLoopDelay({ resolution: 10 });
  idle.enable();
  await new Promise((r) => setTimeout(r, 3000));
  idle.disable();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  // The job's own blocking work: each store commit (a group of writes in one transaction), timed.
  const store = platform.storage.twins;
  const commit = store.commit.bind(store);
  let sliceMax = 0;
  let sliceSum = 0;
  let slices = 0;
  store.commit = async (writes) => {
    const a = performance.now();
    try {
      await commit(writes);
    } finally {
      const d = performance.now() - a;
      sliceMax = Math.max(sliceMax, d);
      sliceSum += d;
      slices++;
    }
  };
  const t0 = performance.now();
  const res = await fetch(`${platform.runtime.httpUrl}/jobs/imports/bench?${API}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      inputBlobUri: pathToFileURL(file).href,
      outputBlobUri: 'https://example/bench.log',
    }),
  });
  if (res.status !== 201) throw new Error(`create: ${res.status} ${await res.text()}`);
  let job: { status: string; progress: Record<string, number> };
  for (;;) {
    await new Promise((r) => setTimeout(r, 250));
    job = (await (await fetch(`${platform.runtime.httpUrl}/jobs/imports/bench?${API}`)).json()) as typeof job;
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) break;
  }
  const wallS = (performance.now() - t0) / 1000;
  loop.disable();
  clearInterval(rssTimer);
  peakRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);

  const log = (await (await fetch(`${platform.runtime.httpUrl}/jobs/imports/bench/output?${API}`)).text())
    .split('\n')
    .filter(Boolean)
    .map(
      (l) =>
        JSON.parse(l) as {
          timestamp: string;
          logType: string;
          details: { section?: string; status?: string };
        },
    );
  const at = (section: string | undefined, status: string) =>
    Date.parse(
      log.find((l) => l.details.section === section && l.details.status === status)?.timestamp ?? 'x',
    );
  const twinsS = (at('Relationships', 'Started') - at('Twins', 'Started')) / 1000;
  const relsS = (at(undefined, 'Succeeded') - at('Relationships', 'Started')) / 1000;
  const p = job.progress;
  const lines = [
    `## Import job (${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length})`,
    '',
    loadNote(),
    '',
    `${TWINS.toLocaleString('en')} twins, ${RELS.toLocaleString('en')} relationships, 4 bad lines; jobs.batchSize ${BATCH}; SQLite history FULL; one process.`,
    '',
    '| figure | value |',
    '|---|---|',
    `| status | ${job.status} (${p.errors} lines refused, each in the log) |`,
    `| twins/s | ${Math.round(p.twins! / twinsS).toLocaleString('en')} (${p.twins} in ${twinsS.toFixed(1)} s) |`,
    `| relationships/s | ${Math.round(p.relationships! / relsS).toLocaleString('en')} (${p.relationships} in ${relsS.toFixed(1)} s) |`,
    `| whole job | ${wallS.toFixed(1)} s |`,
    `| peak RSS | ${(peakRss / 1048576).toFixed(0)} MiB (input ${(facts.bytes / 1048576).toFixed(0)} MiB) |`,
    `| write slices (transaction + commit) | ${slices}, mean ${(sliceSum / slices).toFixed(1)} ms, longest ${sliceMax.toFixed(1)} ms (jobs.sliceMs 10) |`,
    `| longest event-loop stall | ${(loop.max / 1e6).toFixed(1)} ms (p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms); idle, before the job: ${(idle.max / 1e6).toFixed(1)} ms (p99 ${(idle.percentile(99) / 1e6).toFixed(1)} ms) |`,
    '',
  ];
  console.log(lines.join('\n'));
  if (!DRY) appendResults(lines.join('\n'));
  await platform.stop();
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true });
}
