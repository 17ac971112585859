/**
 * The machinery of the MQTT ingest benchmark, shared by bench/ingest (SQLite, per broker) and
 * bench/cluster (SQLite against PostgreSQL): child processes (load generator, system under test,
 * bare subscriber) and one measured ingest phase — warm-up, a measured window, drain, then the
 * readings counted in the store against what the broker acknowledged to the devices.
 * Set BENCH_CPU_PROF=<dir> to write a CPU profile of the system under test.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serverNodeFlags } from '../server-flags.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Readings per message the load generator sends. */
export const READINGS = 5;

/** The load of one phase: devices over connections, messages in flight each, time. */
export interface LoadConfig {
  durationS: number;
  connections: number;
  window: number;
  devices: number;
  warmupMs: number;
}

/** Forks one of bench/ingest's processes (the system under test with the server's Node flags). */
export function child(script: string, argv: string[]): ChildProcess {
  // BENCH_CPU_PROF=dir profiles the system under test (node --cpu-prof) to see where its time goes.
  const profDir = process.env.BENCH_CPU_PROF;
  const prof =
    profDir && script === 'system-under-test.ts' && argv[0] !== 'plain'
      ? ['--cpu-prof', '--cpu-prof-dir', profDir]
      : [];
  return fork(join(here, script), argv, {
    execArgv: ['--import', 'tsx', ...(script === 'system-under-test.ts' ? serverNodeFlags() : []), ...prof],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** The next IPC message of this type from the child. */
export function next<T>(c: ChildProcess, type: string, timeoutMs = 120_000): Promise<T> {
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

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const p = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

export interface LoadResult {
  published: number;
  acked: number;
  elapsedMs: number;
}

/**
 * Starts the load generator against host:port (any MQTT broker: an embedded one in a child, a
 * cluster's API node) for the warm-up and the measured window; `ratePerS` paces it to a steady
 * total rate (default: as fast as the broker acknowledges). The process answers 'mark' with
 * { type: 'counts', published, acked, t }.
 */
export function load(
  host: string,
  port: number,
  cfg: LoadConfig,
  ratePerS = 0,
): { proc: ChildProcess; done: Promise<LoadResult> } {
  const proc = child('load-generator.ts', [
    host,
    String(port),
    String(cfg.connections),
    String(cfg.window),
    String(cfg.devices),
    String(cfg.durationS * 1000 + cfg.warmupMs),
    'twins/',
    String(ratePerS),
  ]);
  return { proc, done: next<LoadResult>(proc, 'done', cfg.durationS * 1000 + 60_000) };
}

export interface IngestFigures {
  msgsPerS: number;
  readingsPerS: number;
  published: number;
  acked: number;
  storedReadings: number;
  lostReadings: number;
  deadLetters: number;
  /** CPU of the system under test's process over the measured window, in cores. */
  sutCores: number;
  /** History group commits in the window: per second, mean points, mean duration (ms). */
  commitsPerS: number;
  pointsPerCommit: number;
  commitMs: number;
}

interface Stats {
  acceptedMessages: number;
  acceptedReadings: number;
  deadLetters: number;
  cpuUs: number;
  commits: { n: number; points: number; ms: number };
  t: number;
}

export interface IngestPhaseOptions {
  /** Where the system under test stores: 'sqlite' (FULL, a temp data folder; default) or a postgres:// URL. */
  store?: string;
  /** Called when the measured window opens and when it closes (CPU sampling of other processes). */
  onWindow?: (edge: 'start' | 'end') => void | Promise<void>;
}

/**
 * One measured ingest phase: the system under test (embedded broker, or a client of the broker at
 * `url`), the load generator, the measured window after the warm-up, the drain, the store counted.
 */
export async function ingestPhase(
  mode: 'embedded' | 'external',
  url: string,
  cfg: LoadConfig,
  options: IngestPhaseOptions = {},
): Promise<IngestFigures> {
  const dataDir = mkdtempSync(join(tmpdir(), 'twinloop-bench-ingest-'));
  const sut = child('system-under-test.ts', [
    mode,
    dataDir,
    String(cfg.devices),
    url,
    options.store ?? 'sqlite',
  ]);
  try {
    const { port } = await next<{ port: number }>(sut, 'ready');
    const u = new URL(url);
    const gen = load(
      mode === 'embedded' ? '127.0.0.1' : u.hostname,
      mode === 'embedded' ? port : Number(u.port || 1883),
      cfg,
    );
    await sleep(cfg.warmupMs);
    await options.onWindow?.('start');
    sut.send({ type: 'mark' });
    const a = await next<Stats>(sut, 'stats');
    await sleep(cfg.durationS * 1000);
    sut.send({ type: 'mark' });
    const b = await next<Stats>(sut, 'stats');
    await options.onWindow?.('end');
    const lr = await gen.done;
    // Let the ingest side drain (external mode: the broker may still hold queued messages).
    let last = -1;
    let s = b;
    for (let i = 0; i < 60; i++) {
      sut.send({ type: 'mark' });
      s = await next<Stats>(sut, 'stats');
      if (s.acceptedMessages === last) break;
      last = s.acceptedMessages;
      await sleep(1000);
    }
    sut.send({ type: 'count' });
    const { rows } = await next<{ rows: number }>(sut, 'rows');
    const secs = (b.t - a.t) / 1000;
    return {
      msgsPerS: (b.acceptedMessages - a.acceptedMessages) / secs,
      readingsPerS: (b.acceptedReadings - a.acceptedReadings) / secs,
      published: lr.published,
      acked: lr.acked,
      storedReadings: rows,
      lostReadings: Math.max(0, lr.acked * READINGS - rows),
      deadLetters: s.deadLetters,
      sutCores: (b.cpuUs - a.cpuUs) / 1e6 / secs,
      commitsPerS: (b.commits.n - a.commits.n) / secs,
      pointsPerCommit: (b.commits.points - a.commits.points) / Math.max(1, b.commits.n - a.commits.n),
      commitMs: (b.commits.ms - a.commits.ms) / Math.max(1, b.commits.n - a.commits.n),
    };
  } finally {
    sut.send({ type: 'stop' });
    await new Promise((r) => sut.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
}
