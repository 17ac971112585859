/**
 * `npm run bench:fanout`: does the live stream slow ingest? The system under test (own process:
 * embedded aedes + ingest + SQLite FULL + LiveHub + WebSocket server) takes QoS 1 telemetry from the
 * bench/ingest load generator (another process) while S WebSocket subscribers of every twin (a third
 * process) either read every frame or never read their socket (paused). Three variants per round,
 * interleaved: no subscribers, S reading, S paused. The rate is accepted messages/s over the
 * measured window; after each phase the readings stored are counted from the store (loss).
 * Options: --duration S (10), --rounds R (3), --subscribers S (20), --connections C (20), --window W (100),
 * --only reading|paused (with the baseline). BENCH_CPU_PROF=dir writes CPU profiles of the server.
 * Prints a markdown block with medians and ratios and appends it to bench/RESULTS.md (--dry: not).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';
import { forkChild, nextMessage, sleep, stopChild } from '../child-processes.js';
import { ingestThreadFigures, type ThreadCpu } from '../thread-cpu.js';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const DURATION_S = numberFlag(argv, '--duration', 10);
const ROUNDS = numberFlag(argv, '--rounds', 3);
const SUBSCRIBERS = numberFlag(argv, '--subscribers', 20);
const CONNECTIONS = numberFlag(argv, '--connections', 20);
const WINDOW = numberFlag(argv, '--window', 100);
const DRY = argv.includes('--dry');
const DEVICES = 1000;
const READINGS = 5;
const WARMUP_MS = 2000;

// BENCH_CPU_PROF=dir profiles the system under test (node --cpu-prof; bench/child-processes.ts).

const child = (path: string, args: string[], server = false): ChildProcess =>
  forkChild(here, path, args, server);
const next = <T>(c: ChildProcess, type: string, timeoutMs = 120_000): Promise<T> =>
  nextMessage<T>(c, type, timeoutMs);

type Variant = 'none' | 'reading' | 'paused';
interface Stats {
  acceptedMessages: number;
  t: number;
  cpuMs: number;
  threads?: ThreadCpu;
  rss: number;
  live: { delivered: number; coalesced: number; dropped: number; queued: number };
}
interface Figures {
  msgsPerS: number;
  acked: number;
  stored: number;
  lost: number;
  received: number;
  rssMiB: number;
  live: Stats['live'];
  /** Server CPU (user + system) per accepted message over the window, µs. */
  serverCpuUs: number;
  /** Subscriber process CPU over the window, in cores. */
  subscriberCores: number;
  /** The ingest (main) thread: µs of CPU per message, share of the window running and waiting for a core (Linux). */
  ingest?: { ingestThreadUs: number; ingestThreadBusy: number; ingestThreadWaited: number };
}

async function phase(variant: Variant): Promise<Figures> {
  const dataDir = mkdtempSync(join(tmpdir(), 'twinloop-bench-fanout-'));
  const sut = child('server.ts', [dataDir, String(DEVICES)], true);
  let subs: ChildProcess | undefined;
  try {
    const { port, httpPort } = await next<{ port: number; httpPort: number }>(sut, 'ready');
    if (variant !== 'none') {
      subs = child('subscribers.ts', [`ws://127.0.0.1:${httpPort}/live`, String(SUBSCRIBERS), variant]);
      await next(subs, 'ready');
    }
    const gen = child(join('..', 'ingest', 'load-generator.ts'), [
      '127.0.0.1',
      String(port),
      String(CONNECTIONS),
      String(WINDOW),
      String(DEVICES),
      String(DURATION_S * 1000 + WARMUP_MS),
      'twins/',
    ]);
    const done = next<{ acked: number }>(gen, 'done', DURATION_S * 1000 + 60_000);
    await sleep(WARMUP_MS);
    const subCpu = async () => {
      if (!subs) return 0;
      subs.send({ type: 'mark' });
      return (await next<{ cpuMs: number }>(subs, 'count')).cpuMs;
    };
    sut.send({ type: 'mark' });
    const a = await next<Stats>(sut, 'stats');
    const sa = await subCpu();
    await sleep(DURATION_S * 1000);
    sut.send({ type: 'mark' });
    const b = await next<Stats>(sut, 'stats');
    const sb = await subCpu();
    const { acked } = await done;
    await sleep(500);
    sut.send({ type: 'count' });
    const { rows } = await next<{ rows: number }>(sut, 'rows');
    let received = 0;
    if (subs) {
      subs.send({ type: 'mark' });
      received = (await next<{ events: number }>(subs, 'count')).events;
    }
    return {
      msgsPerS: (b.acceptedMessages - a.acceptedMessages) / ((b.t - a.t) / 1000),
      acked,
      stored: rows,
      lost: Math.max(0, acked * READINGS - rows),
      received,
      rssMiB: b.rss / 2 ** 20,
      live: b.live,
      serverCpuUs: ((b.cpuMs - a.cpuMs) * 1000) / Math.max(1, b.acceptedMessages - a.acceptedMessages),
      subscriberCores: (sb - sa) / (b.t - a.t),
      ingest: ingestThreadFigures(a.threads, b.threads, b.acceptedMessages - a.acceptedMessages, b.t - a.t),
    };
  } finally {
    if (subs) await stopChild(subs);
    await stopChild(sut);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const only = argv.indexOf('--only');
const variants: Variant[] = (
  only >= 0 ? (argv[only + 1] ?? '').split(',') : ['none', 'reading', 'paused']
) as Variant[];
if (!variants.includes('none')) variants.unshift('none');
const results = new Map<Variant, Figures[]>(variants.map((v) => [v, []]));
for (let r = 1; r <= ROUNDS; r++)
  for (const v of variants) {
    console.error(`round ${r}/${ROUNDS}: ${v === 'none' ? 'no subscribers' : `${SUBSCRIBERS} ${v}`} ...`);
    const fig = await phase(v);
    const it = fig.ingest;
    console.error(
      `  ${Math.round(fig.msgsPerS)} msgs/s, lost ${fig.lost}, delivered ${fig.live.delivered}, server ${fig.serverCpuUs.toFixed(1)} µs CPU/msg` +
        (it
          ? ` (ingest thread ${it.ingestThreadUs.toFixed(1)} µs/msg, busy ${(it.ingestThreadBusy * 100).toFixed(0)} %, waited for a core ${(it.ingestThreadWaited * 100).toFixed(0)} %)`
          : '') +
        (v !== 'none' ? `, subscribers ${fig.subscriberCores.toFixed(2)} cores` : ''),
    );
    results.get(v)!.push(fig);
  }

const median = (xs: number[]) => {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const f = (n: number) => Math.round(n).toLocaleString('en-US');
const base = median(results.get('none')!.map((x) => x.msgsPerS));
const label = {
  none: 'no subscribers',
  reading: `${SUBSCRIBERS} subscribers reading`,
  paused: `${SUBSCRIBERS} subscribers paused`,
};
const lines = [
  `### Live fan-out vs ingest (bench/fanout) — ${new Date().toISOString()}`,
  '',
  `- Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB; Node ${process.version}`,
  `- Command: \`npm run bench:fanout${argv.length ? ` -- ${argv.join(' ')}` : ''}\``,
  `- Load: ${DEVICES} devices over ${CONNECTIONS} MQTT connections (embedded aedes), ${WINDOW} QoS 1 messages in flight each, ${READINGS} readings/message; ${DURATION_S} s measured after ${WARMUP_MS / 1000} s warm-up; SQLite synchronous=FULL. Subscribers: one WebSocket each, subscribed to every twin (model subscription), in their own process. ${ROUNDS} rounds, variants interleaved; medians.`,
  `- ${loadNote()}`,
  '',
  '| variant | ingest msgs/s (median) | per round | ratio to none | server CPU µs per message (median) | of it the ingest thread: µs per message, share of the window running / waiting for a core (median) | subscriber process, cores | readings stored / acked×5 (lost) | events received by subscribers | coalesced / dropped by server | server RSS |',
  '|---|---:|---|---:|---:|---:|---:|---|---:|---|---:|',
  ...variants.map((v) => {
    const rs = results.get(v)!;
    const m = median(rs.map((x) => x.msgsPerS));
    const last = rs[rs.length - 1]!;
    const cpu = median(rs.map((x) => x.serverCpuUs));
    const subCores = median(rs.map((x) => x.subscriberCores));
    return `| ${label[v]} | ${f(m)} | ${rs.map((x) => f(x.msgsPerS)).join(' / ')} | ${(m / base).toFixed(2)} | ${cpu.toFixed(1)} | ${rs[0]!.ingest ? `${median(rs.map((x) => x.ingest?.ingestThreadUs ?? 0)).toFixed(1)}, ${(median(rs.map((x) => x.ingest?.ingestThreadBusy ?? 0)) * 100).toFixed(0)} % / ${(median(rs.map((x) => x.ingest?.ingestThreadWaited ?? 0)) * 100).toFixed(0)} %` : 'n/a'} | ${v === 'none' ? '–' : subCores.toFixed(2)} | ${rs.map((x) => `${f(x.stored)}/${f(x.acked * READINGS)} (${f(x.lost)})`).join('; ')} | ${rs.map((x) => f(x.received)).join(' / ')} | ${f(last.live.coalesced)} / ${f(last.live.dropped)} | ${last.rssMiB.toFixed(0)} MiB |`;
  }),
  '',
  `Median of the per-round ratios (each round's run against the no-subscriber run beside it; this machine's speed drifts within a run): ${variants
    .filter((v) => v !== 'none')
    .map(
      (v) =>
        `${label[v]} **${median(results.get(v)!.map((x, i) => x.msgsPerS / results.get('none')![i]!.msgsPerS)).toFixed(2)}**`,
    )
    .join(', ')}.`,
  '',
  'Target: ≥ 0.9 of the no-subscriber rate with subscribers reading and paused.',
  '',
];
const block = lines.join('\n');
console.log(block);
if (!DRY) appendResults(block);
