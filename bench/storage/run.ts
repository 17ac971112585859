/**
 * bench:storage — what the storage bounds cost and save.
 *
 * A. Dead letters listed in parallel: a real `twinloop start` process (the system under test) gets
 *    1,000 bad telemetry messages of 200 KiB over HTTP (all dead-lettered), then this process (the
 *    load generator) sends 4 parallel `GET /deadletters?limit=1000`, 20 rounds, while it probes
 *    `/healthz` every 20 ms. Reported: the server's peak RSS (VmHWM), response sizes, /healthz latency.
 *    Run twice: with the defaults (payloads kept up to 16 KiB) and keeping whole payloads (256 KiB,
 *    as before the cap); pages are bounded at 1 MiB in both.
 * B. The integrity check at start: PRAGMA quick_check on a history database of --points points
 *    (default 20M), with the file in the page cache and, when /proc/sys/vm/drop_caches is writable, cold.
 *
 * Usage: npm run bench:storage [-- --points N --dry]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSqliteDatabase } from '../../src/adapters/sqlite/sqlite-database.js';
import { openSqliteStorage } from '../../src/adapters/sqlite/sqlite-storage.js';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const argv = process.argv.slice(2);
const dry = argv.includes('--dry');
const points = numberFlag(argv, '--points', 20_000_000);
const LETTERS = 1000;
const PAYLOAD = 200 * 1024;
const ROUNDS = 20;

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function startServer(
  dataDir: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(root, 'src/app/cli/main.ts'),
      'start',
      '--data',
      dataDir,
      '--http-port',
      '0',
      '--mqtt-port',
      '0',
      '--no-sim',
      '--no-shadow',
      '--log-level',
      'warn',
    ],
    { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } },
  );
  const file = path.join(dataDir, 'runtime.json');
  for (let i = 0; i < 600; i++) {
    if (fs.existsSync(file)) {
      const info = JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number; httpUrl: string };
      if (info.pid === child.pid) return { child, url: info.httpUrl };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error('the server did not start');
}

interface ListingFigures {
  mode: string;
  stored: number;
  peakBefore: number;
  peakAfter: number;
  responseMiB: number;
  pagesForAll: number;
  idleP50: number;
  idleP99: number;
  healthP50: number;
  healthP99: number;
  healthMax: number;
  healthSamples: number;
  listMs: number;
}

async function deadLetterListing(mode: string, env: Record<string, string>): Promise<ListingFigures> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinloop-bench-storage-'));
  const { child, url } = await startServer(dataDir, env);
  try {
    const body = JSON.stringify({ flow: 'not a number', pad: 'x'.repeat(PAYLOAD - 40) });
    for (let i = 0; i < LETTERS; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, () =>
          fetch(`${url}/digitaltwins/pump-1a/telemetry`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          }).then((r) => r.arrayBuffer()),
        ),
      );
    }
    const first = (await (await fetch(`${url}/deadletters?limit=1`)).json()) as { total: number };
    const peakBefore = peakRssMiB(child.pid!);
    const probe = async (until: () => boolean): Promise<number[]> => {
      const out: number[] = [];
      while (!until()) {
        const t0 = performance.now();
        await (await fetch(`${url}/healthz`)).arrayBuffer();
        out.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 20));
      }
      return out;
    };
    const idleEnd = Date.now() + 2000;
    const idle = (await probe(() => Date.now() > idleEnd)).sort((a, b) => a - b);
    let listing = true;
    const prober = probe(() => !listing);
    let responseBytes = 0;
    const t0 = performance.now();
    for (let round = 0; round < ROUNDS; round++) {
      const sizes = await Promise.all(
        Array.from(
          { length: 4 },
          async () => (await (await fetch(`${url}/deadletters?limit=1000`)).arrayBuffer()).byteLength,
        ),
      );
      responseBytes = Math.max(responseBytes, ...sizes);
    }
    const listMs = (performance.now() - t0) / ROUNDS;
    listing = false;
    const latencies = (await prober).sort((a, b) => a - b);
    const peakAfter = peakRssMiB(child.pid!);
    let pages = 0;
    let next: string | undefined = `${url}/deadletters?limit=1000`;
    while (next) {
      next = ((await (await fetch(next)).json()) as { nextLink?: string }).nextLink;
      pages++;
    }
    return {
      mode,
      stored: first.total,
      peakBefore,
      peakAfter,
      responseMiB: responseBytes / 1024 / 1024,
      pagesForAll: pages,
      idleP50: percentile(idle, 50),
      idleP99: percentile(idle, 99),
      healthP50: percentile(latencies, 50),
      healthP99: percentile(latencies, 99),
      healthMax: latencies[latencies.length - 1] ?? NaN,
      healthSamples: latencies.length,
      listMs,
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function integrityCheckCost(): Promise<{ mb: number; warmMs: number; coldMs: number | undefined }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinloop-bench-qc-'));
  try {
    const s = openSqliteStorage({ dataDir, synchronous: 'NORMAL' });
    const batch = 100_000;
    for (let b = 0; b < points / batch; b++) {
      const pts = [];
      for (let i = 0; i < batch; i++)
        pts.push({
          workspace: 'default',
          twinId: `t${i % 500}`,
          path: 'x',
          kind: 'telemetry' as const,
          ts: 1.7e12 + (b * batch + i) * 7 + (i % 3),
          value: Math.sin(i),
        });
      await s.history.append(pts);
      if (b % 20 === 19) s.history.compactNow();
    }
    await s.close();
    const mb = fs.statSync(path.join(dataDir, 'twinloop.db')).size / 1024 / 1024;
    const time = () => {
      const d = openSqliteDatabase({ dataDir, checkIntegrity: true });
      const ms = d.integrity.ms;
      d.close();
      return ms;
    };
    time(); // warm the page cache
    const warm = [time(), time(), time()].sort((a, b) => a - b)[1]!;
    let cold: number | undefined;
    try {
      fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
      cold = time();
    } catch {
      cold = undefined;
    }
    return { mb, warmMs: warm, coldMs: cold };
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const listings = [
  await deadLetterListing('defaults: payloads kept up to 16 KiB', {}),
  await deadLetterListing('whole payloads kept (256 KiB cap, as before)', {
    TWINLOOP_DEADLETTER_MAX_PAYLOAD_BYTES: '262144',
  }),
];
const qc = await integrityCheckCost();

const f = (n: number, d = 1) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const block = [
  `## Storage bounds (bench/storage/run.ts) — ${new Date().toISOString()}`,
  '',
  `- Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model.split(' ')[0] ?? '?'}), ${f(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}.`,
  `- ${loadNote()}`,
  `- Command: \`npm run bench:storage${argv.length ? ` -- ${argv.join(' ')}` : ''}\`.`,
  `- A: a \`twinloop start\` process gets ${LETTERS} bad telemetry messages of ${PAYLOAD / 1024} KiB over HTTP (all dead-lettered); this process then sends 4 parallel \`GET /deadletters?limit=1000\`, ${ROUNDS} rounds, probing \`/healthz\` every 20 ms (and for 2 s before, idle). Server RSS is its peak (VmHWM).`,
  '',
  '| dead letters | stored | peak RSS before → after lists | largest response | pages for all | one round of 4 lists | /healthz idle p50 / p99 | /healthz during lists p50 / p99 / max (samples) |',
  '|---|---:|---:|---:|---:|---:|---:|---:|',
  ...listings.map(
    (l) =>
      `| ${l.mode} | ${l.stored} | ${f(l.peakBefore, 0)} → ${f(l.peakAfter, 0)} MiB | ${f(l.responseMiB)} MiB | ${l.pagesForAll} | ${f(l.listMs, 0)} ms | ${f(l.idleP50)} / ${f(l.idleP99)} ms | ${f(l.healthP50)} / ${f(l.healthP99)} / ${f(l.healthMax)} ms (${l.healthSamples}) |`,
  ),
  '',
  `- B: \`PRAGMA quick_check\` at start on a history database of ${points.toLocaleString('en-US')} points (${f(qc.mb)} MiB): ${f(qc.warmMs, 0)} ms with the file in the page cache (${f(qc.warmMs / qc.mb, 2)} ms/MiB)${qc.coldMs !== undefined ? `, ${f(qc.coldMs, 0)} ms cold after dropping the page cache (${f(qc.coldMs / qc.mb, 2)} ms/MiB)` : ' (cold not measured: /proc/sys/vm/drop_caches not writable)'}. Default bound \`storage.integrityCheckMaxMB\` = 1024.`,
  '',
].join('\n');
console.log(block);
if (!dry) appendResults(block);
