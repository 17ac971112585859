/**
 * The cluster phases of bench/cluster, on a BenchCluster (cluster-nodes.ts) driven by bench/ingest's
 * load generator against the API node's MQTT broker (1,000 devices, 5 readings per message, QoS 1).
 *
 * "workers": N workers, the generator as fast as the broker acknowledges; over a measured window
 * after the warm-up: messages/s acknowledged to the devices and messages/s durable in PostgreSQL
 * (history rows counted at the window's edges), CPU of each process; then the load stops, the
 * workers drain the bus and the readings are checked: stored = 5 × acknowledged, none twice.
 *
 * "failover": 3 workers under a steady paced rate; one worker killed with SIGKILL; the time until
 * every partition it owned is owned by another worker, and until each of them has committed again
 * (its checkpoint in PostgreSQL moved under the new owner); then the same loss check. The leases
 * and checkpoints are polled every 50 ms and a change is dated when the poll returns, so the times
 * are late by up to one poll (and one commit: the first commit may precede the new owner's first sighting).
 */
import { performance } from 'node:perf_hooks';
import { load, next, READINGS, sleep } from '../ingest/ingest-phase.js';
import type { LoadConfig, LoadResult } from '../ingest/ingest-phase.js';
import type { BenchCluster, BenchNode } from './cluster-nodes.js';
import { busyBetween, commTicks, coresBetween, machineTicks, pidTicks, TICKS_PER_S } from './proc-cpu.js';

type Generator = ReturnType<typeof load>;

interface Sample {
  acked: number;
  /** performance.now() when the store was counted and the CPU read. */
  t: number;
  rows: number;
  /** CPU ticks of the API node, each worker, the load generator (undefined once exited). */
  procs: (number | undefined)[];
  postgres: Map<number, number>;
  nats: Map<number, number>;
  machine: { busy: number; total: number };
}

async function sample(cluster: BenchCluster, gen: Generator): Promise<Sample> {
  gen.proc.send({ type: 'mark' });
  const { acked } = await next<{ acked: number }>(gen.proc, 'counts');
  const procs = [...cluster.nodes.map((n) => n.child), gen.proc].map((c) => pidTicks(c.pid));
  const postgres = commTicks('postgres');
  const nats = commTicks('nats-server');
  const machine = machineTicks();
  const t = performance.now();
  // The count is a snapshot as of the query's start (MVCC): its time is t.
  return { acked, t, rows: await cluster.storedReadings(), procs, postgres, nats, machine };
}

export interface WindowFigures {
  secs: number;
  /** Messages acknowledged to the devices per second (stored on the bus). */
  ackedPerS: number;
  /** Messages whose readings were committed to PostgreSQL per second. */
  durablePerS: number;
  /** Cores: API node, each worker (undefined when it died), load generator, postgres, NATS. */
  cpu: { api?: number; workers: (number | undefined)[]; load?: number; postgres: number; nats: number };
  machineBusy: number;
}

function between(a: Sample, b: Sample): WindowFigures {
  const secs = (b.t - a.t) / 1000;
  const cores = (i: number) => {
    const x = a.procs[i];
    const y = b.procs[i];
    return x === undefined || y === undefined ? undefined : (y - x) / TICKS_PER_S / secs;
  };
  const n = a.procs.length;
  return {
    secs,
    ackedPerS: (b.acked - a.acked) / secs,
    durablePerS: (b.rows - a.rows) / READINGS / secs,
    cpu: {
      api: cores(0),
      workers: Array.from({ length: n - 2 }, (_, i) => cores(i + 1)),
      load: cores(n - 1),
      postgres: coresBetween(a.postgres, b.postgres, secs),
      nats: coresBetween(a.nats, b.nats, secs),
    },
    machineBusy: busyBetween(a.machine, b.machine),
  };
}

export interface LossFigures {
  published: number;
  acked: number;
  busMessages: number;
  storedReadings: number;
  /** 5 × acknowledged − stored, when positive. */
  lostReadings: number;
  /** Stored − 5 × messages on the bus, when positive. */
  excessReadings: number;
  /** Readings stored more than once: same series, time and value (vibration, unique per device message). */
  twice: number;
  deadLetters: number;
  /** From the last acknowledgement until every bus message's readings were stored. */
  drainS: number;
}

interface Baseline {
  rows: number;
  bus: number;
  deadLetters: number;
}

/** What an earlier run on the same cluster left (the failover phase's calibration run). */
async function baseline(cluster: BenchCluster): Promise<Baseline> {
  return {
    rows: await cluster.storedReadings(),
    bus: await cluster.busMessages(),
    deadLetters: await cluster.deadLetters(),
  };
}

/**
 * Stops the load, waits until the workers stored what the bus holds (or nothing moves for 10 s),
 * counts what this run added to the store and the bus since `base`.
 */
async function stopAndCheck(cluster: BenchCluster, gen: Generator, base: Baseline): Promise<LossFigures> {
  gen.proc.send({ type: 'stop' });
  const lr: LoadResult = await gen.done;
  const t0 = performance.now();
  const bus = (await cluster.busMessages()) - base.bus;
  let rows = (await cluster.storedReadings()) - base.rows;
  let still = performance.now();
  while (rows < bus * READINGS && performance.now() - still < 10_000 && performance.now() - t0 < 300_000) {
    await sleep(250);
    const r = (await cluster.storedReadings()) - base.rows;
    if (r !== rows) still = performance.now();
    rows = r;
  }
  const drainS = (performance.now() - t0) / 1000;
  await sleep(1000); // a reading stored twice would show after the count reached the bus's
  rows = (await cluster.storedReadings()) - base.rows;
  // Over the whole store: a reading stored twice is one whichever run sent it.
  const twice = await cluster.db.query<{ n: number }>(
    `SELECT coalesce(sum(c - 1), 0)::float8 AS n FROM (
       SELECT count(*) AS c FROM ${cluster.schema}.history_points p
         JOIN ${cluster.schema}.history_series s ON s.id = p.series_id
        WHERE s.path = 'vibration' GROUP BY p.series_id, p.ts, p.num HAVING count(*) > 1) d`,
  );
  return {
    published: lr.published,
    acked: lr.acked,
    busMessages: bus,
    storedReadings: rows,
    lostReadings: Math.max(0, lr.acked * READINGS - rows),
    excessReadings: Math.max(0, rows - bus * READINGS),
    twice: twice.rows[0]!.n,
    deadLetters: (await cluster.deadLetters()) - base.deadLetters,
    drainS,
  };
}

/** The load generator against the API node's broker, for `runS` seconds at most. */
function loadOn(api: BenchNode, cfg: LoadConfig, runS: number, ratePerS = 0): Generator {
  const u = new URL(api.mqttUrl);
  return load(u.hostname, Number(u.port), { ...cfg, durationS: runS, warmupMs: 0 }, ratePerS);
}

export interface WorkersRow {
  workers: number;
  window: WindowFigures;
  loss: LossFigures;
}

/** Phase "workers" for one N: a fresh cluster, full-speed load, the window, the drain, the check. */
export async function workersRun(
  cluster: BenchCluster,
  cfg: LoadConfig,
  onWindow?: (edge: 'start' | 'end') => void,
): Promise<WorkersRow> {
  const base = await baseline(cluster);
  // The generator stops on 'stop'; its own end is only a backstop.
  const gen = loadOn(cluster.api, cfg, cfg.durationS + cfg.warmupMs / 1000 + 120);
  try {
    await sleep(cfg.warmupMs);
    onWindow?.('start');
    const a = await sample(cluster, gen);
    await sleep(cfg.durationS * 1000);
    const b = await sample(cluster, gen);
    onWindow?.('end');
    return {
      workers: cluster.workers.length,
      window: between(a, b),
      loss: await stopAndCheck(cluster, gen, base),
    };
  } finally {
    gen.proc.kill('SIGKILL');
  }
}

export interface FailoverRow {
  ratePerS: number;
  /** How the rate was chosen. */
  rateNote: string;
  victimPartitions: number[];
  /** Before the kill; from just before the kill until every partition resumed; the same time after. */
  before: WindowFigures;
  during: WindowFigures;
  after: WindowFigures;
  /** Seconds from the kill until every partition of the victim had another owner. */
  takeoverS: number;
  /** Seconds from the kill until every partition of the victim had committed again under its new owner. */
  resumeS: number;
  /** Per victim partition: seconds until owned again, until committing again. */
  perPartition: { partition: number; takeoverS: number; resumeS: number }[];
  loss: LossFigures;
}

/**
 * Phase "failover": `cluster` has 3 workers. Without a rate, a calibration run at full speed first
 * (its durable rate halved, after the bus drained).
 */
export async function failoverRun(
  cluster: BenchCluster,
  cfg: LoadConfig,
  rate: { perS: number; note: string } | undefined,
): Promise<FailoverRow> {
  if (!rate) {
    const calibration = await workersRun(cluster, { ...cfg, durationS: Math.min(cfg.durationS, 10) });
    const perS = Math.max(100, Math.round(calibration.window.durablePerS / 2));
    rate = {
      perS,
      note: `half of ${Math.round(calibration.window.durablePerS)} msgs/s durable measured just before on this cluster at full speed`,
    };
  }
  const steadyS = Math.max(3, cfg.durationS / 2);
  const base = await baseline(cluster);
  const gen = loadOn(cluster.api, cfg, cfg.warmupMs / 1000 + 2 * steadyS + 180, rate.perS);
  try {
    await sleep(cfg.warmupMs);
    const s0 = await sample(cluster, gen);
    await sleep(steadyS * 1000);
    const s1 = await sample(cluster, gen);

    const victim = cluster.workers[1]!;
    const { owner, partitions } = await cluster.readyz(victim);
    const mine = partitions.map((p) => p.partition);
    if (mine.length === 0) throw new Error(`worker ${victim.name} owns no partition to fail over`);
    const t0 = performance.now();
    await cluster.kill9(victim);
    const taken = new Map<number, { at: number; seq: number }>();
    const resumed = new Map<number, number>();
    while (resumed.size < mine.length) {
      if (performance.now() - t0 > 60_000)
        throw new Error(`no failover within 60 s: ${resumed.size}/${mine.length} partitions resumed`);
      const state = await cluster.partitionState(mine);
      const now = performance.now();
      for (const p of mine) {
        const s = state.get(p);
        if (!s || s.owner === null || s.owner === owner) continue;
        const t = taken.get(p);
        // The checkpoint when the new owner was first seen; moving past it is a commit of the new owner.
        if (!t) taken.set(p, { at: now, seq: s.seq });
        else if (s.seq > t.seq && !resumed.has(p)) resumed.set(p, now);
      }
      await sleep(50);
    }
    const secs = (t: number) => (t - t0) / 1000;
    const perPartition = mine.map((p) => ({
      partition: p,
      takeoverS: secs(taken.get(p)!.at),
      resumeS: secs(resumed.get(p)!),
    }));
    const s2 = await sample(cluster, gen);
    await sleep(steadyS * 1000);
    const s3 = await sample(cluster, gen);
    const loss = await stopAndCheck(cluster, gen, base);
    return {
      ratePerS: rate.perS,
      rateNote: rate.note,
      victimPartitions: mine,
      before: between(s0, s1),
      during: between(s1, s2),
      after: between(s2, s3),
      takeoverS: Math.max(...perPartition.map((p) => p.takeoverS)),
      resumeS: Math.max(...perPartition.map((p) => p.resumeS)),
      perPartition,
      loss,
    };
  } finally {
    gen.proc.kill('SIGKILL');
  }
}
