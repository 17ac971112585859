/**
 * `npm run bench:ingest`: sustained, durable MQTT ingest. Per broker, two phases with the same load
 * (a separate load-generator process publishing QoS 1 from 1,000 simulated devices over C connections
 * with W messages in flight each, 5 readings per message):
 *   1. ingest: the system under test (own process: broker or external client + ingest service + SQLite
 *      FULL) — accepted messages/s over the measured window, then rows counted in the store (loss);
 *   2. bare: the same broker with only a counting QoS 1 subscriber — the transport's limit.
 * Brokers: the embedded aedes broker; the machine's Mosquitto (MQTT_URL, default 127.0.0.1:1883);
 * a private Mosquitto with max_queued_messages 0 (when /usr/sbin/mosquitto exists).
 * Set BENCH_CPU_PROF=<dir> to write a CPU profile of the system under test.
 * The system under test gets the Node flags `npm start` uses (bench/server-flags.ts); BENCH_SUT_FLAGS overrides them.
 * Options: --duration S (default 20), --connections C (20), --window W (100), --only embedded|machine|private
 * Prints a markdown block and appends it to bench/RESULTS.md.
 */
import { fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem, loadavg } from 'node:os';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNote } from '../machine-note.js';
import { serverNodeFlags } from '../server-flags.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const DURATION_S = Number(opt('duration', '20'));
const CONNECTIONS = Number(opt('connections', '20'));
const WINDOW = Number(opt('window', '100'));
const ONLY = opt('only', '');
const DEVICES = 1000;
const WARMUP_MS = 2000;
const READINGS = 5;
const MACHINE_URL = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';

// BENCH_CPU_PROF=dir profiles the system under test (node --cpu-prof) to see where its time goes.
const PROF_DIR = process.env.BENCH_CPU_PROF;

function child(script: string, argv: string[]): ChildProcess {
  const prof =
    PROF_DIR && script === 'system-under-test.ts' && argv[0] !== 'plain'
      ? ['--cpu-prof', '--cpu-prof-dir', PROF_DIR]
      : [];
  return fork(join(here, script), argv, {
    execArgv: ['--import', 'tsx', ...(script === 'system-under-test.ts' ? serverNodeFlags() : []), ...prof],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

function next<T>(c: ChildProcess, type: string, timeoutMs = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for '${type}'`)), timeoutMs);
    const on = (m: { type: string }) => {
      if (m.type === type) {
        clearTimeout(t);
        c.off('message', on);
        resolve(m as T);
      }
    };
    c.on('message', on);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface LoadResult {
  published: number;
  acked: number;
  elapsedMs: number;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

function load(host: string, port: number): { proc: ChildProcess; done: Promise<LoadResult> } {
  const proc = child('load-generator.ts', [
    host,
    String(port),
    String(CONNECTIONS),
    String(WINDOW),
    String(DEVICES),
    String(DURATION_S * 1000 + WARMUP_MS),
    'twins/',
  ]);
  return { proc, done: next<LoadResult>(proc, 'done', DURATION_S * 1000 + 60_000) };
}

interface IngestFigures {
  msgsPerS: number;
  readingsPerS: number;
  published: number;
  acked: number;
  storedReadings: number;
  lostReadings: number;
  deadLetters: number;
}

async function ingestPhase(mode: 'embedded' | 'external', url: string): Promise<IngestFigures> {
  const dataDir = mkdtempSync(join(tmpdir(), 'twinloop-bench-ingest-'));
  const sut = child('system-under-test.ts', [mode, dataDir, String(DEVICES), url]);
  try {
    const { port } = await next<{ port: number }>(sut, 'ready');
    const u = new URL(url);
    const gen = load(
      mode === 'embedded' ? '127.0.0.1' : u.hostname,
      mode === 'embedded' ? port : Number(u.port || 1883),
    );
    await sleep(WARMUP_MS);
    sut.send({ type: 'mark' });
    const a = await next<{ acceptedMessages: number; acceptedReadings: number; t: number }>(sut, 'stats');
    await sleep(DURATION_S * 1000);
    sut.send({ type: 'mark' });
    const b = await next<{ acceptedMessages: number; acceptedReadings: number; t: number }>(sut, 'stats');
    const lr = await gen.done;
    // Let the ingest side drain (external mode: the broker may still hold queued messages).
    let last = -1;
    let s = b;
    for (let i = 0; i < 60; i++) {
      sut.send({ type: 'mark' });
      s = await next(sut, 'stats');
      if (s.acceptedMessages === last) break;
      last = s.acceptedMessages;
      await sleep(1000);
    }
    sut.send({ type: 'count' });
    const { rows } = await next<{ rows: number }>(sut, 'rows');
    const secs = (b.t - a.t) / 1000;
    const stats = s as unknown as { deadLetters: number };
    return {
      msgsPerS: (b.acceptedMessages - a.acceptedMessages) / secs,
      readingsPerS: (b.acceptedReadings - a.acceptedReadings) / secs,
      published: lr.published,
      acked: lr.acked,
      storedReadings: rows,
      lostReadings: Math.max(0, lr.acked * READINGS - rows),
      deadLetters: stats.deadLetters,
    };
  } finally {
    sut.send({ type: 'stop' });
    await new Promise((r) => sut.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function barePhase(
  url: string,
  plainEmbedded: boolean,
): Promise<{ msgsPerS: number; received: number; acked: number }> {
  let broker: ChildProcess | undefined;
  let target = new URL(url);
  if (plainEmbedded) {
    broker = child('system-under-test.ts', ['plain']);
    const { port } = await next<{ port: number }>(broker, 'ready');
    target = new URL(`mqtt://127.0.0.1:${port}`);
  }
  const sub = child('bare-subscriber.ts', [
    target.toString(),
    'twins/+/telemetry',
    plainEmbedded ? '4' : '5',
  ]);
  try {
    await next(sub, 'ready');
    const gen = load(target.hostname, Number(target.port || 1883));
    await sleep(WARMUP_MS);
    sub.send({ type: 'mark' });
    const t0 = Date.now();
    const a = await next<{ received: number }>(sub, 'count');
    await sleep(DURATION_S * 1000);
    sub.send({ type: 'mark' });
    const b = await next<{ received: number }>(sub, 'count');
    const secs = (Date.now() - t0) / 1000;
    const lr = await gen.done;
    await sleep(1000);
    sub.send({ type: 'mark' });
    const end = await next<{ received: number }>(sub, 'count');
    return { msgsPerS: (b.received - a.received) / secs, received: end.received, acked: lr.acked };
  } finally {
    sub.send({ type: 'stop' });
    await new Promise((r) => sub.once('exit', r));
    if (broker) {
      broker.send({ type: 'stop' });
      await new Promise((r) => broker.once('exit', r));
    }
  }
}

async function privateMosquitto(): Promise<{ url: string; stop: () => Promise<void> } | undefined> {
  if (!existsSync('/usr/sbin/mosquitto')) return undefined;
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'twinloop-bench-mosq-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nmax_inflight_messages 0\n`,
  );
  const p = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: 'ignore' });
  await sleep(500);
  if (p.exitCode !== null) return undefined;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    stop: async () => {
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Row {
  broker: string;
  ingest: IngestFigures;
  bare: { msgsPerS: number; received: number; acked: number };
}

const rows: Row[] = [];
const want = (n: string) => !ONLY || ONLY.split(',').includes(n);
if (want('embedded')) {
  console.error('embedded aedes: ingest phase ...');
  const ingest = await ingestPhase('embedded', 'mqtt://127.0.0.1:0');
  console.error('embedded aedes: bare phase ...');
  const bare = await barePhase('mqtt://127.0.0.1:0', true);
  rows.push({ broker: 'embedded aedes', ingest, bare });
}
if (want('machine')) {
  console.error(`machine Mosquitto ${MACHINE_URL}: ingest phase ...`);
  const ingest = await ingestPhase('external', MACHINE_URL);
  console.error('machine Mosquitto: bare phase ...');
  const bare = await barePhase(MACHINE_URL, false);
  rows.push({ broker: `machine Mosquitto (${MACHINE_URL}, default limits)`, ingest, bare });
}
if (want('private')) {
  const m = await privateMosquitto();
  if (m) {
    try {
      console.error(`private Mosquitto ${m.url}: ingest phase ...`);
      const ingest = await ingestPhase('external', m.url);
      console.error('private Mosquitto: bare phase ...');
      const bare = await barePhase(m.url, false);
      rows.push({
        broker: 'private Mosquitto (max_queued_messages 0, max_inflight_messages 0)',
        ingest,
        bare,
      });
    } finally {
      await m.stop();
    }
  }
}

const f = (n: number) => Math.round(n).toLocaleString('en-US');
const date = new Date().toISOString();
const lines = [
  `### Ingest benchmark — ${date}`,
  '',
  `- Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; load average at end ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
  `- Node ${process.version}; command: \`npm run bench:ingest -- ${args.join(' ')}\``,
  `- Load: ${DEVICES} devices over ${CONNECTIONS} connections, ${WINDOW} QoS 1 messages in flight per connection, ${READINGS} readings/message, ${DURATION_S} s measured after ${WARMUP_MS / 1000} s warm-up; SQLite synchronous=FULL, group commit.`,
  `- ${loadNote()}`,
  '',
  '| broker | ingest msgs/s | readings/s | bare subscriber msgs/s | ratio | acked by broker | readings stored | lost readings | dead letters |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.broker} | ${f(r.ingest.msgsPerS)} | ${f(r.ingest.readingsPerS)} | ${f(r.bare.msgsPerS)} | ${(r.ingest.msgsPerS / r.bare.msgsPerS).toFixed(2)} | ${f(r.ingest.acked)} | ${f(r.ingest.storedReadings)} | ${f(r.ingest.lostReadings)} | ${f(r.ingest.deadLetters)} |`,
  ),
  '',
  'Targets: ≥ 30,000 msgs/s (150,000 readings/s) durably, and ≥ 0.6 of the bare subscriber rate.',
  '',
];
const block = lines.join('\n');
console.log(block);
appendFileSync(join(here, '..', 'RESULTS.md'), `\n${block}\n`);
