/**
 * End-to-end live latency benchmark (npm run bench:latency): device publish over MQTT QoS 1 →
 * embedded broker → ingest (validated, durable in SQLite) → LiveEventBus → LiveHub → WebSocket
 * subscriber. Three processes on one machine: the system under test (server.ts), the publisher
 * (publisher.ts, 10,000 msg/s offered by default) and this one, a real `ws` client subscribed to the
 * pump model, which records publish→receive latency on the shared monotonic clock in an HDR
 * histogram. Prints a markdown block and appends it to bench/RESULTS.md.
 *
 * Options: --rate N (msg/s offered, default 10000), --seconds N (default 10), --warmup N (seconds
 * excluded from the histogram, default 2), --twins N (default 1000), --normal (SQLite synchronous
 * NORMAL instead of FULL), --dry (do not append).
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import { loadNote } from '../machine-note.js';
import { serverNodeFlags } from '../server-flags.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const RATE = arg('rate', 10_000);
const SECONDS = arg('seconds', 10);
const WARMUP = arg('warmup', 2);
const TWINS = arg('twins', 1000);
const DRY = args.includes('--dry');
const SYNC = args.includes('--normal') ? 'NORMAL' : 'FULL';
const here = path.dirname(fileURLToPath(import.meta.url));
const monoMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Starts a tsx child and resolves with the first JSON line it prints that has `key`. */
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

const server = child('server.ts', [], { BENCH_TWINS: String(TWINS), BENCH_SYNC: SYNC });
const ready = await jsonLine<{ mqttPort: number; httpPort: number }>(server, 'ready', 60_000);

// The subscriber: every telemetry event of every pump.
const histogram = hdr.build({
  lowestDiscernibleValue: 1,
  highestTrackableValue: 120_000_000,
  numberOfSignificantValueDigits: 3,
});
let received = 0;
let measured = 0;
let droppedNotices = 0;
let droppedCount = 0;
let measureFrom = Infinity;
const ws = new WebSocket(`ws://127.0.0.1:${ready.httpPort}/live`);
await new Promise<void>((resolve, reject) => {
  ws.once('open', () => resolve());
  ws.once('error', reject);
});
const subscribed = new Promise<void>((resolve) => {
  ws.on('message', (data) => {
    const now = monoMs();
    const m = JSON.parse(data.toString()) as {
      type?: string;
      count?: number;
      events?: { values?: { flow?: number } }[];
    };
    if (m.type === 'subscribed') return resolve();
    if (m.type === 'dropped') {
      droppedNotices++;
      droppedCount += m.count ?? 0;
      return;
    }
    if (m.type === 'error') throw new Error(`server error frame: ${data.toString()}`);
    for (const e of m.events ?? []) {
      received++;
      const sentAt = e.values?.flow;
      if (typeof sentAt !== 'number') continue;
      // The warm-up is counted from the first message the publisher stamped (its start-up is not ours).
      if (measureFrom === Infinity) measureFrom = sentAt + WARMUP * 1000;
      if (sentAt >= measureFrom) {
        histogram.recordValue(Math.max(1, Math.round((now - sentAt) * 1000))); // µs
        measured++;
      }
    }
  });
});
ws.send(
  JSON.stringify({ op: 'subscribe', id: 'all', model: 'dtmi:twinloop:test:Pump;1', types: ['telemetry'] }),
);
await subscribed;

const publisher = child('publisher.ts', [
  '--port',
  String(ready.mqttPort),
  '--rate',
  String(RATE),
  '--seconds',
  String(SECONDS),
  '--twins',
  String(TWINS),
]);
const pub = await jsonLine<{ sent: number; acked: number; failed: number; seconds: number }>(
  publisher,
  'sent',
  (SECONDS + 60) * 1000,
);
// Let the last events arrive.
const settle = monoMs() + 3000;
while (received < pub.sent && monoMs() < settle) await new Promise((r) => setTimeout(r, 20));
ws.close();

server.stdin.write('stop\n');
const { stats } = await jsonLine<{ stats: { hub: Record<string, number>; ingest: Record<string, number> } }>(
  server,
  'stats',
  30_000,
);

const ms = (us: number): string => (us / 1000).toFixed(2);
const p50 = histogram.getValueAtPercentile(50);
const p99 = histogram.getValueAtPercentile(99);
const p999 = histogram.getValueAtPercentile(99.9);
const max = histogram.maxValue;
const cpu = os.cpus();
const load = os
  .loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
const verdict = p99 < 25_000 ? 'meets' : 'misses';
const block = [
  `### Live latency (MQTT QoS 1 → ingest → WebSocket) — ${new Date().toISOString()}`,
  '',
  `- Machine: ${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}; load average at the end ${load}`,
  `- Node ${process.version}; command: \`npm run bench:latency${args.length ? ` -- ${args.join(' ')}` : ''}\``,
  `- Offered ${RATE} msg/s for ${SECONDS} s over ${TWINS} twins (1 reading set of 2 telemetries per message), QoS 1, SQLite synchronous ${SYNC}; first ${WARMUP} s excluded from the histogram`,
  `- ${loadNote()}`,
  '',
  '| sent | acked | received by the subscriber | measured | p50 | p99 | p99.9 | max | coalesced | dropped |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  `| ${pub.sent} | ${pub.acked} | ${received} (${((100 * received) / Math.max(1, pub.sent)).toFixed(1)} %) | ${measured} | ${ms(p50)} ms | ${ms(p99)} ms | ${ms(p999)} ms | ${ms(max)} ms | ${stats.hub['coalesced']} | ${stats.hub['dropped']} |`,
  '',
  `Achieved publish rate ${(pub.sent / pub.seconds).toFixed(0)} msg/s; ${droppedNotices} dropped notices (${droppedCount} events coalesced or dropped for this subscriber). Target p99 < 25 ms: ${verdict} it on this run.`,
  '',
].join('\n');
process.stdout.write(`\n${block}\n`);
if (!DRY) {
  const results = path.join(here, '..', 'RESULTS.md');
  fs.appendFileSync(results, `${fs.existsSync(results) ? '\n' : '# Benchmark results\n\n'}${block}\n`);
  process.stdout.write(`(appended to ${path.relative(process.cwd(), results)})\n`);
}
