/**
 * History storage benchmark (npm run bench:history):
 *  (a) append throughput with group commits as the ingest path makes them (1,000 series, 5 readings
 *      per message, many messages per tick), with synchronous FULL and NORMAL, plus CPU per point;
 *  (b) one series of 30 days at 1 Hz (2.6M points) read as 1,000 buckets (avg, min/max), p50/p99,
 *      and a raw page.
 * Prints a markdown block and appends it to bench/RESULTS.md.
 *
 * Options: --seconds N (duration of each throughput run, default 5), --runs N (query runs, default 30),
 * --twins N (twins for the start-up load, default 1,000,000), --dry (print only, no RESULTS.md).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HistoryPoint } from '../../src/core/ports/storage-ports.js';
import { openSqliteStorage } from '../../src/adapters/sqlite/sqlite-storage.js';
import type { SqliteSynchronous } from '../../src/adapters/sqlite/sqlite-database.js';
import { loadNote } from '../machine-note.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const SECONDS = arg('seconds', 5);
const RUNS = arg('runs', 30);
const here = path.dirname(fileURLToPath(import.meta.url));

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'twinloop-bench-history-'));
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface ThroughputResult {
  sync: SqliteSynchronous;
  messagesPerTick: number;
  pointsPerSec: number;
  cpuUsPerPoint: number;
  commitsPerSec: number;
}

async function throughput(sync: SqliteSynchronous, messagesPerTick: number): Promise<ThroughputResult> {
  const dir = tmp();
  const storage = openSqliteStorage({
    dataDir: dir,
    synchronous: sync,
    history: { compactIntervalMs: 5000 },
  });
  const SERIES = 1000;
  const READINGS = 5;
  let t = Date.UTC(2025, 0, 1);
  let points = 0;
  let commits = 0;
  let msg = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + SECONDS * 1000;
  while (performance.now() < end) {
    const pending: Promise<void>[] = [];
    for (let m = 0; m < messagesPerTick; m++) {
      const twin = `twin-${msg % SERIES}`;
      const batch: HistoryPoint[] = [];
      for (let r = 0; r < READINGS; r++) {
        batch.push({
          workspace: 'default',
          twinId: twin,
          path: `sensor/r${r}`,
          kind: 'telemetry',
          ts: t,
          value: Math.sin(msg + r) * 100,
        });
      }
      if (msg % SERIES === SERIES - 1) t += 1000;
      msg++;
      pending.push(storage.history.append(batch));
      points += READINGS;
    }
    await Promise.all(pending);
    commits++;
  }
  const secs = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await storage.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return {
    sync,
    messagesPerTick,
    pointsPerSec: points / secs,
    cpuUsPerPoint: (cpu.user + cpu.system) / points,
    commitsPerSec: commits / secs,
  };
}

interface OfferedResult {
  sync: SqliteSynchronous;
  offered: number;
  acked: number;
  p50: number;
  p99: number;
  cpuPct: number;
  /** Longest gap between two generator ticks: how long the event loop was blocked (commit or compaction). */
  maxStallMs: number;
  /** Points sent but not yet acknowledged when the window closed. */
  backlog: number;
}

/** Open loop: offers `rate` readings/s as 5-reading messages, never waiting for acks; measures what is acknowledged. */
async function offered(sync: SqliteSynchronous, rate: number): Promise<OfferedResult> {
  const dir = tmp();
  const storage = openSqliteStorage({
    dataDir: dir,
    synchronous: sync,
    history: { compactIntervalMs: 5000 },
  });
  const SERIES = 1000;
  let sent = 0;
  let acked = 0;
  let msg = 0;
  let failed = 0;
  const lat: number[] = [];
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const t0 = Date.UTC(2025, 0, 1);
  let lastTick = start;
  let maxStall = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      maxStall = Math.max(maxStall, now - lastTick);
      lastTick = now;
      if (now - start >= SECONDS * 1000) return resolve();
      const due = Math.floor((rate * (now - start)) / 1000) - sent;
      const msgs = Math.min(Math.ceil(due / 5), 50_000);
      for (let m = 0; m < msgs; m++, msg++) {
        const twin = `twin-${msg % SERIES}`;
        const ts = t0 + Math.floor(msg / SERIES) * 1000;
        const batch: HistoryPoint[] = [];
        for (let r = 0; r < 5; r++) {
          batch.push({
            workspace: 'default',
            twinId: twin,
            path: `sensor/r${r}`,
            kind: 'telemetry',
            ts,
            value: (msg % 997) + r,
          });
        }
        const sentAt = performance.now();
        storage.history.append(batch).then(
          () => {
            acked += 5;
            if (msg % 16 === 0) lat.push(performance.now() - sentAt);
          },
          () => failed++,
        );
        sent += 5;
      }
      setImmediate(tick);
    };
    tick();
  });
  const secs = (performance.now() - start) / 1000;
  const ackedIn = acked;
  const backlog = sent - acked;
  const cpu = process.cpuUsage(cpu0);
  await storage.close();
  fs.rmSync(dir, { recursive: true, force: true });
  if (failed) throw new Error(`${failed} appends failed`);
  lat.sort((a, b) => a - b);
  return {
    sync,
    offered: rate,
    acked: ackedIn / secs,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
    cpuPct: ((cpu.user + cpu.system) / 1000 / (secs * 1000)) * 100,
    maxStallMs: maxStall,
    backlog,
  };
}

interface QueryResult {
  name: string;
  p50: number;
  p99: number;
  /** CPU time of the process during the query (less sensitive to other processes than wall time). */
  cpuP50: number;
  result: string;
}

async function queries(): Promise<{
  loadSecs: number;
  chunks: number;
  fileMb: number;
  results: QueryResult[];
}> {
  const dir = tmp();
  const storage = openSqliteStorage({
    dataDir: dir,
    synchronous: 'NORMAL',
    history: { compactMaxPoints: 5_000_000 },
  });
  const N = 30 * 24 * 3600;
  const t0 = Date.UTC(2025, 0, 1);
  const loadStart = performance.now();
  const BATCH = 100_000;
  for (let i = 0; i < N; i += BATCH) {
    const batch: HistoryPoint[] = [];
    for (let j = i; j < Math.min(N, i + BATCH); j++) {
      batch.push({
        workspace: 'default',
        twinId: 'pump-1',
        path: 'flow',
        kind: 'telemetry',
        ts: t0 + j * 1000,
        value: 50 + 10 * Math.sin(j / 3600),
      });
    }
    await storage.history.append(batch);
  }
  storage.history.compactNow();
  const loadSecs = (performance.now() - loadStart) / 1000;
  const chunks = (storage.db.prepare('SELECT count(*) AS n FROM history_chunks').get() as { n: number }).n;
  const from = t0;
  const to = t0 + N * 1000;
  const interval = (to - from) / 1000;
  const results: QueryResult[] = [];
  const time = async (name: string, fn: () => Promise<string>): Promise<void> => {
    await fn(); // warm-up
    const ms: number[] = [];
    const cpuMs: number[] = [];
    let result = '';
    for (let r = 0; r < RUNS; r++) {
      const c = process.cpuUsage();
      const s = performance.now();
      result = await fn();
      ms.push(performance.now() - s);
      const d = process.cpuUsage(c);
      cpuMs.push((d.user + d.system) / 1000);
    }
    ms.sort((a, b) => a - b);
    cpuMs.sort((a, b) => a - b);
    results.push({ name, p50: pct(ms, 50), p99: pct(ms, 99), cpuP50: pct(cpuMs, 50), result });
  };
  const q = { workspace: 'default', twinId: 'pump-1', path: 'flow', from, to, interval };
  await time('1,000 buckets avg', async () => {
    const b = await storage.history.queryAggregate({ ...q, fns: ['avg'] });
    return `${b.length} buckets, ${b.reduce((a, x) => a + x.count, 0)} points`;
  });
  await time('1,000 buckets min+max', async () => {
    const b = await storage.history.queryAggregate({ ...q, fns: ['min', 'max'] });
    return `${b.length} buckets`;
  });
  await time('1,000 buckets avg+first+last', async () => {
    const b = await storage.history.queryAggregate({ ...q, fns: ['avg', 'first', 'last'] });
    return `${b.length} buckets`;
  });
  await time('raw page of 1,000 (mid-range, asc)', async () => {
    const p = await storage.history.queryRaw({
      workspace: 'default',
      twinId: 'pump-1',
      path: 'flow',
      from: from + (to - from) / 2,
      to,
      limit: 1000,
    });
    return `${p.points.length} points`;
  });
  await time('raw page of 1,000 (newest, desc)', async () => {
    const p = await storage.history.queryRaw({
      workspace: 'default',
      twinId: 'pump-1',
      path: 'flow',
      from,
      to,
      limit: 1000,
      order: 'desc',
    });
    return `${p.points.length} points`;
  });
  await storage.close();
  const fileMb = fs.statSync(path.join(dir, 'twinloop.db')).size / 1e6;
  fs.rmSync(dir, { recursive: true, force: true });
  return { loadSecs, chunks, fileMb, results };
}

/** (c) Start-up load: N twins with 2 telemetry series each, read back by loadTwins (telemetry filled). */
async function twinLoad(
  n: number,
): Promise<{ n: number; writeSecs: number; loadSecs: number; withTelemetry: number }> {
  const dir = tmp();
  let storage = openSqliteStorage({ dataDir: dir, synchronous: 'NORMAL' });
  const w0 = performance.now();
  await storage.twins.commit([
    {
      ops: Array.from({ length: n }, (_, i) => ({
        op: 'putTwin' as const,
        twin: {
          id: `twin-${i}`,
          modelId: 'dtmi:example:Pump;1',
          workspace: 'default',
          etag: 'W/"1"',
          lastUpdateTime: 1,
          contents: { name: `pump ${i}`, rated: { flow: 10, head: 20 } },
          propertyTimes: { name: 1 },
          telemetry: {},
        },
      })),
    },
  ]);
  for (let i = 0; i < n; i += 50_000) {
    const pts: HistoryPoint[] = [];
    for (let j = i; j < Math.min(n, i + 50_000); j++) {
      pts.push({
        workspace: 'default',
        twinId: `twin-${j}`,
        path: 'flow',
        kind: 'telemetry',
        ts: 1000,
        value: j,
      });
      pts.push({
        workspace: 'default',
        twinId: `twin-${j}`,
        path: 'motor/state',
        kind: 'telemetry',
        ts: 1000,
        value: 'on',
      });
    }
    await storage.history.append(pts);
  }
  await storage.close();
  const writeSecs = (performance.now() - w0) / 1000;
  storage = openSqliteStorage({ dataDir: dir, synchronous: 'NORMAL' });
  const l0 = performance.now();
  let count = 0;
  let withTelemetry = 0;
  for await (const t of storage.twins.loadTwins('default')) {
    count++;
    if (t.telemetry['flow'] && t.telemetry['motor/state']) withTelemetry++;
  }
  const loadSecs = (performance.now() - l0) / 1000;
  await storage.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { n: count, writeSecs, loadSecs, withTelemetry };
}

async function main(): Promise<void> {
  const tp: ThroughputResult[] = [];
  for (const sync of args.includes('--queries-only') || args.includes('--offered-only')
    ? []
    : (['FULL', 'NORMAL'] as const)) {
    for (const mpt of [20, 200, 1000]) {
      const r = await throughput(sync, mpt);
      tp.push(r);
      console.error(`append ${sync} ${mpt} msg/commit: ${Math.round(r.pointsPerSec)} points/s`);
    }
  }
  const off: OfferedResult[] = [];
  for (const sync of args.includes('--queries-only') || args.includes('--no-offered')
    ? []
    : (['FULL', 'NORMAL'] as const)) {
    const r = await offered(sync, 150_000);
    off.push(r);
    console.error(
      `offered 150k ${sync}: acked ${Math.round(r.acked)}/s backlog ${r.backlog} p99 ${r.p99.toFixed(1)} ms stall ${r.maxStallMs.toFixed(0)} ms cpu ${r.cpuPct.toFixed(0)}%`,
    );
  }
  if (args.includes('--offered-only')) return;
  const q = await queries();
  const tl = await twinLoad(arg('twins', 1_000_000));
  const lines: string[] = [];
  lines.push(`## History storage (SQLite) — ${new Date().toISOString()}`);
  lines.push('');
  lines.push(
    `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}.`,
  );
  lines.push(`Command: \`npm run bench:history -- ${args.filter((a) => a !== '--dry').join(' ')}\``);
  lines.push('');
  lines.push(loadNote());
  lines.push('');
  lines.push('### (a) Append throughput (1,000 series, 5 readings per message, one group commit per tick)');
  lines.push('');
  lines.push('| synchronous | messages per commit | points/s | commits/s | CPU µs per point |');
  lines.push('| --- | ---: | ---: | ---: | ---: |');
  for (const r of tp) {
    lines.push(
      `| ${r.sync} | ${r.messagesPerTick} | ${Math.round(r.pointsPerSec).toLocaleString('en-US')} | ${Math.round(r.commitsPerSec)} | ${r.cpuUsPerPoint.toFixed(2)} |`,
    );
  }
  lines.push('');
  lines.push(
    '### (a2) Offered load 150,000 readings/s (open loop: 5-reading messages, appends not awaited; the benchmark itself builds the messages)',
  );
  lines.push('');
  lines.push(
    '| synchronous | offered/s | acknowledged/s | backlog at end | ack latency p50 ms | p99 ms | longest event-loop stall ms | process CPU (% of one core) |',
  );
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of off) {
    lines.push(
      `| ${r.sync} | ${r.offered.toLocaleString('en-US')} | ${Math.round(r.acked).toLocaleString('en-US')} | ${r.backlog.toLocaleString('en-US')} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.maxStallMs.toFixed(0)} | ${r.cpuPct.toFixed(0)} |`,
    );
  }
  lines.push('');
  lines.push(`### (b) One series, 30 days at 1 Hz (2,592,000 points), ${RUNS} runs each`);
  lines.push('');
  lines.push(
    `Load: ${q.loadSecs.toFixed(1)} s (appends of 100,000 + compaction), ${q.chunks} chunks, file ${q.fileMb.toFixed(0)} MB.`,
  );
  lines.push('');
  lines.push('| query | wall p50 ms | wall p99 ms | CPU p50 ms | result |');
  lines.push('| --- | ---: | ---: | ---: | --- |');
  for (const r of q.results) {
    lines.push(
      `| ${r.name} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.cpuP50.toFixed(1)} | ${r.result} |`,
    );
  }
  lines.push('');
  lines.push(
    `### (c) Start-up: loadTwins of ${tl.n.toLocaleString('en-US')} twins with 2 telemetry series each`,
  );
  lines.push('');
  lines.push(
    `Load (open + iterate, telemetry filled from the series' last values): **${tl.loadSecs.toFixed(1)} s**; ${tl.withTelemetry.toLocaleString('en-US')} twins had both telemetry values. (Writing them: ${tl.writeSecs.toFixed(1)} s.)`,
  );
  lines.push('');
  const block = lines.join('\n');
  console.log(block);
  if (args.includes('--dry')) return;
  const file = path.join(here, '..', 'RESULTS.md');
  const prefix = fs.existsSync(file) ? '\n' : '# Benchmark results\n\n';
  fs.appendFileSync(file, prefix + block);
}

await main();
