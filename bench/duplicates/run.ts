/**
 * `npm run bench:duplicates`: readings stored twice after `kill -9` through an external broker.
 * Per trial: Twinloop's ingest (own process, SQLite FULL, a random persistent-session client id)
 * subscribes to the broker; a publisher process sends QoS 1 readings carrying `$ts`; the ingest
 * process is killed with SIGKILL at a random point mid-stream and restarted on the same data folder
 * and client id, so the broker redelivers what was never acknowledged. When the stream is over and
 * the store is quiet, the store is counted: rows, distinct (series, ts), and what the broker
 * acknowledged to the publisher (readings it may have dropped: Mosquitto's max_queued_messages).
 * Options: --trials N (10) --duration S (8) --rate MSG/S (1000) --devices N (100)
 *          --dry (print only). Broker: MQTT_URL (default the machine's Mosquitto, 127.0.0.1:1883);
 *          --private: a private Mosquitto with max_queued_messages 0 (it drops nothing while Twinloop is down).
 */
import { forkChild, nextMessage } from '../child-processes.js';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const TRIALS = numberFlag(argv, '--trials', 10);
const DURATION_MS = numberFlag(argv, '--duration', 8) * 1000;
const RATE = numberFlag(argv, '--rate', 1000);
const DEVICES = numberFlag(argv, '--devices', 100);
const DRY = argv.includes('--dry');
const PRIVATE = argv.includes('--private');
let URL_ = process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883';
const READINGS = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const child = (script: string, args: string[]): ChildProcess => forkChild(here, script, args);
const next = <T>(c: ChildProcess, type: string, ms = 60_000): Promise<T> => nextMessage<T>(c, type, ms);

interface Counts {
  rows: number;
  distinct: number;
  skipped: number;
}

interface Trial {
  killAtMs: number;
  published: number;
  acked: number;
  rows: number;
  distinct: number;
  duplicates: number;
  skipped: number;
  lost: number;
}

async function dropSession(clientId: string): Promise<void> {
  const c = await mqtt.connectAsync(URL_, {
    clientId,
    clean: true,
    protocolVersion: 5,
    properties: { sessionExpiryInterval: 0 },
    reconnectPeriod: 0,
  });
  await c.endAsync();
}

async function trial(i: number): Promise<Trial> {
  const dataDir = mkdtempSync(join(tmpdir(), 'twinloop-bench-dup-'));
  const clientId = `twinloop-${randomBytes(16).toString('hex')}`;
  const prefix = `tl-dup-${process.pid}-${i}`;
  const sutArgs = [dataDir, URL_, clientId, prefix, String(DEVICES)];
  let sut = child('system-under-test.ts', sutArgs);
  try {
    await next(sut, 'ready');
    const pub = child('publisher.ts', [
      URL_,
      prefix,
      String(DEVICES),
      String(RATE),
      String(DURATION_MS),
      'on',
    ]);
    const done = next<{ published: number; acked: number }>(pub, 'done', DURATION_MS + 60_000);
    const killAtMs = Math.round(DURATION_MS * (0.25 + 0.35 * Math.random()));
    await sleep(killAtMs);
    const exited = new Promise((r) => sut.once('exit', r));
    sut.kill('SIGKILL');
    await exited;
    sut = child('system-under-test.ts', sutArgs);
    await next(sut, 'ready');
    const { published, acked } = await done;
    // Quiet: the same count twice, a second apart (the broker has delivered everything it kept).
    let last: Counts | undefined;
    for (let k = 0; k < 60; k++) {
      await sleep(1000);
      sut.send({ type: 'count' });
      const c = await next<Counts>(sut, 'counts');
      if (last && c.rows === last.rows) break;
      last = c;
    }
    sut.send({ type: 'count' });
    const c = await next<Counts>(sut, 'counts');
    const expected = acked * READINGS;
    return {
      killAtMs,
      published,
      acked,
      rows: c.rows,
      distinct: c.distinct,
      duplicates: c.rows - c.distinct,
      skipped: c.skipped,
      lost: Math.max(0, expected - c.distinct),
    };
  } finally {
    const exited = new Promise((r) => sut.once('exit', r));
    sut.send({ type: 'stop' });
    await Promise.race([exited, sleep(15_000)]);
    if (sut.exitCode === null) sut.kill('SIGKILL');
    await dropSession(clientId).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** A private Mosquitto that never drops queued messages (the same settings as bench/ingest's). */
async function privateMosquitto(): Promise<{ url: string; stop: () => void }> {
  if (!existsSync('/usr/sbin/mosquitto')) throw new Error('--private needs /usr/sbin/mosquitto');
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  const dir = mkdtempSync(join(tmpdir(), 'twinloop-bench-dup-mosq-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nmax_inflight_messages 0\n`,
  );
  const p = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: 'ignore' });
  await sleep(500);
  if (p.exitCode !== null) throw new Error('the private Mosquitto did not start');
  return {
    url: `mqtt://127.0.0.1:${port}`,
    stop: () => {
      p.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const priv = PRIVATE ? await privateMosquitto() : undefined;
if (priv) URL_ = priv.url;
const results: Trial[] = [];
for (let i = 1; i <= TRIALS; i++) {
  const t = await trial(i);
  results.push(t);
  console.log(
    `trial ${i}: killed at ${t.killAtMs} ms; acked ${t.acked}/${t.published} msgs; rows ${t.rows}; stored twice ${t.duplicates}; redelivered and skipped ${t.skipped}; lost ${t.lost}`,
  );
}

priv?.stop();

const fmt = (n: number) => n.toLocaleString('en-US');
const sum = (k: keyof Trial) => results.reduce((a, t) => a + t[k], 0);
const lines = [
  `## Duplicates after kill -9 through an external broker (bench/duplicates/run.ts) — ${new Date().toISOString()}`,
  '',
  `- Machine: ${cpus().length} cores (${cpus()[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}.`,
  `- ${loadNote()}`,
  `- Command: \`npm run bench:duplicates${argv.length ? ` -- ${argv.join(' ')}` : ''}\`; broker ${URL_} (${PRIVATE ? 'a private Mosquitto with max_queued_messages 0 and max_inflight_messages 0: it drops nothing' : "the machine's Mosquitto, default limits: it drops what it queues beyond max_queued_messages (1000) while Twinloop is down or slow — counted as lost, not as duplicates"}).`,
  `- Per trial: ${DEVICES} devices publish QoS 1 at ${fmt(RATE)} msg/s for ${DURATION_MS / 1000} s, ${READINGS} readings per message, each carrying \`$ts\`; Twinloop's ingest process (SQLite FULL, persistent session) is killed with SIGKILL at a random point between 25% and 60% of the stream and restarted on the same data folder and client id.`,
  '',
  '| trial | killed at | msgs acked by broker | rows stored | stored twice | redeliveries skipped | readings lost |',
  '|---:|---:|---:|---:|---:|---:|---:|',
  ...results.map(
    (t, i) =>
      `| ${i + 1} | ${(t.killAtMs / 1000).toFixed(1)} s | ${fmt(t.acked)} | ${fmt(t.rows)} | **${fmt(t.duplicates)}** | ${fmt(t.skipped)} | ${fmt(t.lost)} |`,
  ),
  `| all | | ${fmt(sum('acked'))} | ${fmt(sum('rows'))} | **${fmt(sum('duplicates'))}** | ${fmt(sum('skipped'))} | ${fmt(sum('lost'))} |`,
  '',
  `Target: 0 readings stored twice. "Redeliveries skipped": readings the restarted process received again and did not store (exactly-once history, docs/mqtt.md).`,
  '',
];
const block = lines.join('\n');
console.log(block);
if (!DRY) appendResults(block);
