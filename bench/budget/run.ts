/**
 * Query budget benchmark (npm run bench:budget): does a stream of budget-exhausting queries stall
 * ingest or liveness? Three processes on one machine: the real platform (server.ts), an MQTT QoS 1
 * publisher offering 10,000 msg/s and recording acknowledgement latency (publisher.ts), and this
 * one, which probes GET /healthz every 10 ms (latency in an HDR histogram) and, in the second
 * phase, sends an unanchored MATCH over 320 densely linked twins in a loop (each answered with
 * 422 QueryBudgetExceeded after its work budget). Phase 1 runs without the queries: the baseline
 * of the same run. Prints a markdown block and appends it to bench/RESULTS.md.
 *
 * Options: --rate N (msg/s offered, default 10000), --seconds N (per phase, default 10),
 * --warmup N (seconds excluded, default 2), --twins N (default 1000), --dry (do not append).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as hdr from 'hdr-histogram-js';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';
import { serverNodeFlags } from '../server-flags.js';

const args = process.argv.slice(2);
const RATE = numberFlag(args, '--rate', 10_000);
const SECONDS = numberFlag(args, '--seconds', 10);
const WARMUP = numberFlag(args, '--warmup', 2);
const TWINS = numberFlag(args, '--twins', 1000);
const DRY = args.includes('--dry');
const here = path.dirname(fileURLToPath(import.meta.url));
const HEAVY = 'SELECT COUNT() FROM DIGITALTWINS MATCH (a)-[*]-(b)-[*]-(c)';

function child(
  script: string,
  childArgs: string[],
  env: Record<string, string> = {},
): ChildProcessWithoutNullStreams {
  const flags = script === 'server.ts' ? serverNodeFlags() : [];
  const p = spawn(process.execPath, [...flags, '--import', 'tsx', path.join(here, script), ...childArgs], {
    env: { ...process.env, ...env },
    stdio: 'pipe',
  });
  p.stderr.on('data', (d: Buffer) => process.stderr.write(`[${script}] ${d.toString()}`));
  return p;
}
function jsonLine<T>(p: ChildProcessWithoutNullStreams, key: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: p.stdout });
    const timer = setTimeout(() => reject(new Error(`no '${key}' line within ${timeoutMs} ms`)), timeoutMs);
    rl.on('line', (line) => {
      try {
        const v = JSON.parse(line) as Record<string, unknown>;
        if (key in v) {
          clearTimeout(timer);
          rl.close();
          resolve(v as T);
        }
      } catch {
        // not one of ours
      }
    });
    p.once('exit', (code) => reject(new Error(`child exited (${code}) before printing '${key}'`)));
  });
}
const histogram = (): hdr.Histogram =>
  hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface PublisherResult {
  sent: number;
  acked: number;
  failed: number;
  seconds: number;
  ackUs: { p50: number; p99: number; p999: number; max: number; count: number };
}
interface ServerPhase {
  loopDelayP50Ms: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  gcMs: number;
  gcMaxMs: number;
  cpuShare: number;
}
interface Phase {
  name: string;
  server?: ServerPhase;
  pub: PublisherResult;
  healthz: hdr.Histogram;
  healthzFailed: number;
  queries: number;
  queryStatuses: Record<string, number>;
  queryMs: hdr.Histogram;
}

const server = child('server.ts', [], { BENCH_TWINS: String(TWINS) });
const ready = await jsonLine<{ httpUrl: string; mqttPort: number; twins: number; relationships: number }>(
  server,
  'ready',
  180_000,
);

async function phase(name: string, withQueries: boolean, seconds = SECONDS): Promise<Phase> {
  server.stdin.write('phase\n'); // starts the server's measurements of this phase
  await jsonLine<{ phase: ServerPhase }>(server, 'phase', 10_000);
  const healthz = histogram();
  const queryMs = histogram();
  let healthzFailed = 0;
  let queries = 0;
  const queryStatuses: Record<string, number> = {};
  let running = true;
  const t0 = performance.now();
  const measuring = (): boolean => performance.now() - t0 >= WARMUP * 1000;

  const probe = (async () => {
    while (running) {
      const next = performance.now() + 10;
      const s = performance.now();
      try {
        const r = await fetch(`${ready.httpUrl}/healthz`);
        await r.arrayBuffer();
        if (r.status !== 200) healthzFailed++;
        else if (measuring()) healthz.recordValue(Math.max(1, Math.round((performance.now() - s) * 1000)));
      } catch {
        healthzFailed++;
      }
      await sleep(Math.max(0, next - performance.now()));
    }
  })();
  const queryLoop = (async () => {
    if (!withQueries) return;
    while (running) {
      const s = performance.now();
      const r = await fetch(`${ready.httpUrl}/query?api-version=2023-10-31`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: HEAVY }),
      });
      const body = (await r.json()) as { error?: { code?: string } };
      queries++;
      const k = `${r.status} ${body.error?.code ?? ''}`.trim();
      queryStatuses[k] = (queryStatuses[k] ?? 0) + 1;
      queryMs.recordValue(Math.max(1, Math.round(performance.now() - s)));
    }
  })();
  const publisher = child('publisher.ts', [
    '--port',
    String(ready.mqttPort),
    '--rate',
    String(RATE),
    '--seconds',
    String(seconds),
    '--warmup',
    String(WARMUP),
    '--twins',
    String(TWINS),
  ]);
  const pub = await jsonLine<PublisherResult>(publisher, 'sent', (seconds + 60) * 1000);
  running = false;
  const { phase: serverPhase } = await (async () => {
    const p = jsonLine<{ phase: ServerPhase }>(server, 'phase', 30_000);
    server.stdin.write('phase\n');
    return p;
  })();
  await Promise.all([probe, queryLoop]);
  return { name, server: serverPhase, pub, healthz, healthzFailed, queries, queryStatuses, queryMs };
}

// An unreported warm-up first (JIT, SQLite file growth), so that the baseline is not the cold phase.
const sent0 = (await phase('warm-up', false, WARMUP + 3)).pub.sent;
const phases = [
  await phase('no queries (baseline)', false),
  await phase('budget-exhausting queries in a loop', true),
];
server.stdin.write('stop\n');
const sentTotal = sent0 + phases.reduce((n, p) => n + p.pub.sent, 0);
const { stats } = await jsonLine<{ stats: { ingest: Record<string, number> } }>(server, 'stats', 60_000);

const ms = (us: number): string => (us / 1000).toFixed(1);
const cpu = os.cpus();
const rows = phases.map((p) => {
  const h = p.healthz;
  return `| ${p.name} | ${p.pub.sent} | ${p.pub.acked} | ${ms(p.pub.ackUs.p50)} | ${ms(p.pub.ackUs.p99)} | ${ms(p.pub.ackUs.max)} | ${h.totalCount} | ${ms(h.getValueAtPercentile(50))} | ${ms(h.getValueAtPercentile(99))} | ${ms(h.maxValue)} | ${
    p.queries
      ? `${p.queries} (${Object.entries(p.queryStatuses)
          .map(([k, v]) => `${v}× ${k}`)
          .join(', ')}), p50 ${p.queryMs.getValueAtPercentile(50)} ms`
      : '–'
  } |`;
});
const loaded = phases[1] as Phase;
const meets = loaded.pub.ackUs.p99 < 50_000 && loaded.healthz.getValueAtPercentile(99) < 50_000;
const block = [
  `### Query budget: /healthz and MQTT acknowledgements under budget-exhausting queries — ${new Date().toISOString()}`,
  '',
  `- Machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; Node ${process.version}`,
  `- Command: \`npm run bench:budget${args.length ? ` -- ${args.join(' ')}` : ''}\``,
  `- Real platform (embedded broker, SQLite FULL, default query budget), ${ready.twins} twins and ${ready.relationships} relationships; MQTT QoS 1 offered at ${RATE} msg/s for ${SECONDS} s per phase from another process (ack latency = publish → PUBACK, HDR); \`GET /healthz\` every 10 ms from this process (HDR); first ${WARMUP} s of each phase excluded, after an unreported ${WARMUP + 3} s warm-up`,
  `- Query loop (phase 2): \`${HEAVY}\` over 320 twins each linked to the next 16, one after the other`,
  `- ${loadNote()}`,
  '',
  '| phase | sent | acked | ack p50 ms | ack p99 ms | ack max ms | /healthz probes | /healthz p50 ms | /healthz p99 ms | /healthz max ms | queries (status) |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ...rows,
  '',
  'Where the time goes in the server process (same phases): event-loop delay, GC pauses, CPU used per wall second.',
  '',
  '| phase | loop delay p50 ms | p99 ms | max ms | GC total ms | GC max ms | CPU share |',
  '|---|---:|---:|---:|---:|---:|---:|',
  ...phases.map(
    (p) =>
      `| ${p.name} | ${p.server?.loopDelayP50Ms.toFixed(1)} | ${p.server?.loopDelayP99Ms.toFixed(1)} | ${p.server?.loopDelayMaxMs.toFixed(1)} | ${p.server?.gcMs.toFixed(0)} | ${p.server?.gcMaxMs.toFixed(1)} | ${p.server?.cpuShare.toFixed(2)} |`,
  ),
  '',
  `Messages accepted by ingest over the run (warm-up included): ${stats.ingest['acceptedMessages']} of ${sentTotal} sent (${stats.ingest['deadLetters']} dead letters, ${stats.ingest['storageFailures']} storage failures); /healthz failures: ${phases.map((p) => p.healthzFailed).join(' / ')}. Target p99 < 50 ms for both under the query loop: ${meets ? 'meets' : 'misses'} it on this run.`,
  '',
].join('\n');
process.stdout.write(`\n${block}\n`);
if (!DRY) appendResults(block);
