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
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNote } from '../machine-note.js';
import { child, freePort, ingestPhase, load, next, READINGS, sleep } from './ingest-phase.js';
import type { IngestFigures, LoadConfig } from './ingest-phase.js';

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
const MACHINE_URL = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const CFG: LoadConfig = {
  durationS: DURATION_S,
  connections: CONNECTIONS,
  window: WINDOW,
  devices: DEVICES,
  warmupMs: WARMUP_MS,
};

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
    const gen = load(target.hostname, Number(target.port || 1883), CFG);
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
  const ingest = await ingestPhase('embedded', 'mqtt://127.0.0.1:0', CFG);
  console.error('embedded aedes: bare phase ...');
  const bare = await barePhase('mqtt://127.0.0.1:0', true);
  rows.push({ broker: 'embedded aedes', ingest, bare });
}
if (want('machine')) {
  console.error(`machine Mosquitto ${MACHINE_URL}: ingest phase ...`);
  const ingest = await ingestPhase('external', MACHINE_URL, CFG);
  console.error('machine Mosquitto: bare phase ...');
  const bare = await barePhase(MACHINE_URL, false);
  rows.push({ broker: `machine Mosquitto (${MACHINE_URL}, default limits)`, ingest, bare });
}
if (want('private')) {
  const m = await privateMosquitto();
  if (m) {
    try {
      console.error(`private Mosquitto ${m.url}: ingest phase ...`);
      const ingest = await ingestPhase('external', m.url, CFG);
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
