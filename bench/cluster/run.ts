/**
 * `npm run bench:cluster`: Twinloop's ingest on PostgreSQL, the storage a cluster shares, against
 * the embedded SQLite default.
 *
 * Phase "single node": bench/ingest's machinery (a load-generator process publishing QoS 1 from
 * 1,000 devices, 5 readings per message, to the system under test: the real ingest stack behind the
 * embedded aedes broker) run twice with the same load and duration — once on SQLite
 * (synchronous=FULL, as bench:ingest) and once on PostgreSQL (PG_URL, in a schema of its own that
 * is dropped after; synchronous_commit as the server has it, on by default). Per store: accepted
 * msg/s and readings/s over the measured window, the loss check (readings counted in the store
 * against readings the broker acknowledged), CPU of the system under test's process, of its
 * PostgreSQL backends and of every postgres process (read from /proc over the window), and the
 * PostgreSQL/SQLite ratio.
 *
 * Later phases (1, 2, 3 ingest workers; failover) need the cluster roles: see LATER PHASES below.
 *
 * Options: --duration S (measured window per store, default 20), --only sqlite|pg,
 *          --connections C (20), --window W (100), --record (append the block to bench/RESULTS.md;
 *          default: print only). Set BENCH_CPU_PROF=<dir> to profile the system under test.
 */
import crypto from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import pg from 'pg';
import { ingestPhase } from '../ingest/ingest-phase.js';
import type { IngestFigures, LoadConfig } from '../ingest/ingest-phase.js';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';

const argv = process.argv.slice(2);
const ONLY = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
if (ONLY !== undefined && ONLY !== 'sqlite' && ONLY !== 'pg') throw new Error('--only takes sqlite or pg.');
const RECORD = argv.includes('--record');
const CFG: LoadConfig = {
  durationS: numberFlag(argv, '--duration', 20),
  connections: numberFlag(argv, '--connections', 20),
  window: numberFlag(argv, '--window', 100),
  devices: 1000,
  warmupMs: 2000,
};
const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** The application name the system under test gives its PostgreSQL connections. */
const SUT_APP = 'tl-bench-sut';
const TICKS_PER_S = 100; // USER_HZ on Linux

// ------------------------------------------------------------------ CPU of the PostgreSQL server

/** CPU ticks (user + system) of every process whose command is `postgres`, by pid. */
function postgresTicks(): Map<number, number> {
  const out = new Map<number, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out; // not Linux: no figure
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
      const f = stat.slice(close + 2).split(' ');
      // fields 14 and 15 of stat (utime, stime) are 11 and 12 after "pid (comm)"
      out.set(Number(pid), Number(f[11]) + Number(f[12]));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Busy and total ticks of the whole machine (/proc/stat). */
function machineTicks(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

interface ServerCpu {
  /** Cores used by the system under test's backends. */
  sutBackends: number;
  /** Cores used by every postgres process (other users of the server included). */
  server: number;
  backends: number;
}

/** Samples postgres CPU at the edges of the measured window. */
function serverCpuSampler(client: pg.Client): {
  onWindow: (edge: 'start' | 'end') => Promise<void>;
  result: () => ServerCpu | undefined;
} {
  let t0 = 0;
  let t1 = 0;
  let a = new Map<number, number>();
  let b = new Map<number, number>();
  const sut = new Set<number>();
  const sutPids = async (): Promise<void> => {
    const r = await client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
      [SUT_APP],
    );
    for (const { pid } of r.rows) sut.add(pid);
  };
  return {
    async onWindow(edge) {
      if (edge === 'start') {
        await sutPids();
        t0 = performance.now();
        a = postgresTicks();
      } else {
        b = postgresTicks();
        t1 = performance.now();
        await sutPids();
      }
    },
    result() {
      if (b.size === 0 || t1 <= t0) return undefined;
      const secs = (t1 - t0) / 1000;
      let all = 0;
      let ofSut = 0;
      for (const [pid, ticks] of b) {
        // A process started in the window counts whole; one that ended in it is missed (undercount).
        const d = ticks - (a.get(pid) ?? 0);
        all += d;
        if (sut.has(pid)) ofSut += d;
      }
      return {
        sutBackends: ofSut / TICKS_PER_S / secs,
        server: all / TICKS_PER_S / secs,
        backends: sut.size,
      };
    },
  };
}

// ------------------------------------------------------------------ phase: single node

interface StoreRow {
  store: 'SQLite (synchronous=FULL)' | 'PostgreSQL (synchronous_commit=on)';
  figures: IngestFigures;
  pgCpu?: ServerCpu;
  machineBusy: number;
  loadAfter: number;
}

async function withMachineBusy<T>(
  run: (onWindow: (edge: 'start' | 'end') => Promise<void>) => Promise<T>,
  inner?: (edge: 'start' | 'end') => Promise<void>,
): Promise<{ value: T; busy: number }> {
  let m0 = machineTicks();
  let m1 = m0;
  const value = await run(async (edge) => {
    if (edge === 'start') m0 = machineTicks();
    await inner?.(edge);
    if (edge === 'end') m1 = machineTicks();
  });
  const total = m1.total - m0.total;
  return { value, busy: total > 0 ? (m1.busy - m0.busy) / total : NaN };
}

async function sqlitePhase(): Promise<StoreRow> {
  console.error(`single node, SQLite: ${CFG.durationS} s ...`);
  const { value, busy } = await withMachineBusy((onWindow) =>
    ingestPhase('embedded', 'mqtt://127.0.0.1:0', CFG, { store: 'sqlite', onWindow }),
  );
  return { store: 'SQLite (synchronous=FULL)', figures: value, machineBusy: busy, loadAfter: loadavg()[0]! };
}

async function pgPhase(): Promise<StoreRow> {
  const schema = `tl_bench_cluster_${crypto.randomBytes(5).toString('hex')}`;
  const url = new URL(PG_URL);
  url.searchParams.set('schema', schema);
  const admin = new pg.Client({ connectionString: PG_URL, application_name: 'tl-bench-cluster' });
  await admin.connect();
  try {
    const sync = await admin.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
    if (sync.rows[0]?.synchronous_commit !== 'on') {
      console.error(`warning: the server has synchronous_commit=${sync.rows[0]?.synchronous_commit}`);
    }
    console.error(`single node, PostgreSQL (schema ${schema}): ${CFG.durationS} s ...`);
    const sampler = serverCpuSampler(admin);
    const { value, busy } = await withMachineBusy(
      (onWindow) => ingestPhase('embedded', 'mqtt://127.0.0.1:0', CFG, { store: url.toString(), onWindow }),
      sampler.onWindow,
    );
    const cpu = sampler.result();
    return {
      store: 'PostgreSQL (synchronous_commit=on)',
      figures: value,
      ...(cpu ? { pgCpu: cpu } : {}),
      machineBusy: busy,
      loadAfter: loadavg()[0]!,
    };
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
}

const rows: StoreRow[] = [];
if (ONLY !== 'pg') rows.push(await sqlitePhase());
if (ONLY !== 'sqlite') rows.push(await pgPhase());

// ---------------------------------------------------------------------------------------------
// LATER PHASES — not wired yet. They need the cluster roles (ingest workers reading the JetStream
// bus under PostgreSQL partition leases, src/core/cluster + src/adapters/nats), which are being
// wired into the composition root by another change. To add here, each printing its own table:
//   phase "workers":  1, 2 and 3 ingest workers on one PostgreSQL behind the bus, same load:
//                     msg/s, readings/s, loss check, scaling against 1 worker;
//   phase "failover": 3 workers, one killed (SIGKILL) mid-run: time until its partitions are
//                     leased by the others, readings lost (must be 0) and stored twice.
// ---------------------------------------------------------------------------------------------

// ------------------------------------------------------------------ report

const f = (n: number) => Math.round(n).toLocaleString('en-US');
const cores = (n: number | undefined) => (n === undefined ? 'n/a' : n.toFixed(2));
const sqlite = rows.find((r) => r.store.startsWith('SQLite'));
const postgres = rows.find((r) => r.store.startsWith('PostgreSQL'));
const lines = [
  `### Cluster benchmark, single node — ${new Date().toISOString()}`,
  '',
  `- Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB (PostgreSQL, the broker, the load generator and Twinloop all on it); load average at end ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
  `- Node ${process.version}; command: \`npm run bench:cluster -- ${argv.join(' ')}\``,
  `- Load: ${CFG.devices} devices over ${CFG.connections} connections to the embedded aedes broker, ${CFG.window} QoS 1 messages in flight per connection, 5 readings/message, ${CFG.durationS} s measured after ${CFG.warmupMs / 1000} s warm-up, per store; group commit, a message acknowledged only after its commit.`,
  `- ${loadNote()}`,
  '',
  '| store | ingest msgs/s | readings/s | acked by broker | readings stored | lost readings | dead letters | Twinloop process, cores | its PostgreSQL backends, cores | all postgres processes, cores | history commits/s × points, mean ms | machine busy | load (1 min) after |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.store} | ${f(r.figures.msgsPerS)} | ${f(r.figures.readingsPerS)} | ${f(r.figures.acked)} | ${f(r.figures.storedReadings)} | ${f(r.figures.lostReadings)} | ${f(r.figures.deadLetters)} | ${cores(r.figures.sutCores)} | ${cores(r.pgCpu?.sutBackends)} | ${cores(r.pgCpu?.server)} | ${r.figures.commitsPerS.toFixed(0)} × ${f(r.figures.pointsPerCommit)}, ${r.figures.commitMs.toFixed(1)} ms | ${(r.machineBusy * 100).toFixed(0)} % | ${r.loadAfter.toFixed(2)} |`,
  ),
  '',
  ...(sqlite && postgres
    ? [
        `PostgreSQL / SQLite: ${(postgres.figures.msgsPerS / sqlite.figures.msgsPerS).toFixed(2)} (same run, same load).`,
        '',
      ]
    : []),
  'Target: PostgreSQL ≥ 20,000 msgs/s (100,000 readings/s) durably on one node, no reading lost.',
  'Not measured yet: 1, 2, 3 ingest workers (the cluster roles are wired; this phase is not written yet).',
  '',
];
const block = lines.join('\n');
console.log(block);
if (RECORD) appendResults(`${block}\n`);
