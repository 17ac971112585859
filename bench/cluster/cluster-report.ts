/**
 * The markdown of bench/cluster's cluster phases: the workers table with its scaling and per-core
 * note, and the failover figures. Pure formatting of cluster-phase.ts's results.
 */
import { cpus } from 'node:os';
import type { FailoverRow, LossFigures, WindowFigures, WorkersRow } from './cluster-phase.js';

const f = (n: number) => Math.round(n).toLocaleString('en-US');
const c2 = (n: number | undefined) => (n === undefined ? 'n/a' : n.toFixed(2));
const pct = (x: number) => (Number.isNaN(x) ? 'n/a' : `${(x * 100).toFixed(0)} %`);

/** Cores of every measured process (load generator included) in a window. */
function allCores(w: WindowFigures): number {
  const { api = 0, workers, load = 0, postgres, nats } = w.cpu;
  return api + workers.reduce<number>((a, b) => a + (b ?? 0), 0) + load + postgres + nats;
}

function twinloopCores(w: WindowFigures): number {
  return (w.cpu.api ?? 0) + w.cpu.workers.reduce<number>((a, b) => a + (b ?? 0), 0);
}

function lossCells(l: LossFigures): string {
  return `${f(l.acked)} | ${f(l.storedReadings)} | ${f(l.lostReadings)} | ${f(l.twice)} (excess ${f(l.excessReadings)}) | ${f(l.deadLetters)} | ${l.drainS.toFixed(1)}`;
}

export function workersBlock(rows: readonly WorkersRow[]): string[] {
  if (rows.length === 0) return [];
  const one = rows.find((r) => r.workers === 1);
  const n = cpus().length;
  const best = rows.reduce((a, b) => (b.window.durablePerS > a.window.durablePerS ? b : a));
  const per1k = (cores: number, w: WindowFigures) => (cores / w.durablePerS) * 1000;
  const w = best.window;
  return [
    '#### Ingest workers: 1 API node, N workers, one PostgreSQL, one NATS server',
    '',
    '| workers | msgs/s acknowledged | msgs/s durable in PostgreSQL | readings/s durable | vs 1 worker | acked msgs | readings stored | lost readings | stored twice | dead letters | drain after load, s | API node, cores | workers, cores each | load generator, cores | postgres, cores | NATS, cores | machine busy |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.workers} | ${f(r.window.ackedPerS)} | ${f(r.window.durablePerS)} | ${f(r.window.durablePerS * 5)} | ${one ? (r.window.durablePerS / one.window.durablePerS).toFixed(2) : 'n/a'} | ${lossCells(r.loss)} | ${c2(r.window.cpu.api)} | ${r.window.cpu.workers.map(c2).join(' + ')} | ${c2(r.window.cpu.load)} | ${c2(r.window.cpu.postgres)} | ${c2(r.window.cpu.nats)} | ${pct(r.window.machineBusy)} |`,
    ),
    '',
    `msgs/s acknowledged: PUBACKs the devices got (the message is on the JetStream bus); durable: history rows committed by the workers over the same window ÷ 5. Lost: 5 × acknowledged − stored; stored twice: the same reading (series, time, value) more than once; excess: stored − 5 × messages on the bus. Both are 0 when nothing was stored twice.`,
    '',
    `Per core: everything runs on these ${n} cores (load generator, API node, NATS, workers, PostgreSQL), so more workers only help while cores are idle, and the curve flattens once the machine is busy — more workers then share the same cores. ` +
      `At its best (${best.workers} worker${best.workers > 1 ? 's' : ''}: ${f(w.durablePerS)} msgs/s durable, machine ${pct(w.machineBusy)} busy) the pipeline costs per 1,000 msgs/s: Twinloop processes ${per1k(twinloopCores(w), w).toFixed(2)} cores (API node ${per1k(w.cpu.api ?? 0, w).toFixed(2)}, workers ${per1k(twinloopCores(w) - (w.cpu.api ?? 0), w).toFixed(2)}), PostgreSQL ${per1k(w.cpu.postgres, w).toFixed(2)}, NATS ${per1k(w.cpu.nats, w).toFixed(2)}, load generator ${per1k(w.cpu.load ?? 0, w).toFixed(2)}; ` +
      `all measured processes ${per1k(allCores(w), w).toFixed(2)} cores, i.e. ≈ ${f(w.durablePerS / Math.max(allCores(w), 1e-9))} msgs/s per core. ` +
      `Extrapolation (not measured): without the load generator, ≈ ${f(w.durablePerS / Math.max(allCores(w) - (w.cpu.load ?? 0), 1e-9))} msgs/s per core of cluster, linear in cores only while one PostgreSQL and one NATS server keep up.`,
    '',
  ];
}

export function failoverBlock(r: FailoverRow | undefined): string[] {
  if (!r) return [];
  const win = (name: string, w: WindowFigures) =>
    `| ${name} | ${w.secs.toFixed(1)} | ${f(w.ackedPerS)} | ${f(w.durablePerS)} | ${w.cpu.workers.map(c2).join(' + ')} | ${pct(w.machineBusy)} |`;
  const l = r.loss;
  return [
    '#### Failover: 3 workers, one killed with SIGKILL under steady load',
    '',
    `- Load: ${f(r.ratePerS)} msgs/s paced (${r.rateNote}); the killed worker owned partitions ${r.victimPartitions.join(', ')}.`,
    `- **Failover: ${r.resumeS.toFixed(2)} s** from the kill until every one of its partitions had committed again under another worker (target < 5 s: ${r.resumeS < 5 ? 'met' : 'missed'}); owned by another worker after ${r.takeoverS.toFixed(2)} s (lease TTL 2.5 s).`,
    `- Per partition (owned again / committing again, s): ${r.perPartition.map((p) => `${p.partition}: ${p.takeoverS.toFixed(2)} / ${p.resumeS.toFixed(2)}`).join('; ')}.`,
    `- Loss check after the drain: ${f(l.acked)} messages acknowledged, ${f(l.busMessages)} on the bus, ${f(l.storedReadings)} readings stored; lost ${f(l.lostReadings)}, stored twice ${f(l.twice)} (excess ${f(l.excessReadings)}), dead letters ${f(l.deadLetters)}; drain ${l.drainS.toFixed(1)} s after the last acknowledgement.`,
    '',
    '| window | s | msgs/s acknowledged | msgs/s durable | workers, cores each | machine busy |',
    '|---|---:|---:|---:|---:|---:|',
    win('before the kill', r.before),
    win('kill → all partitions committing again', r.during),
    win('after (catching up the backlog)', r.after),
    '',
  ];
}
