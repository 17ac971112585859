/**
 * `npm run bench:cluster`: Twinloop's ingest on PostgreSQL, the storage a cluster shares, against
 * the embedded SQLite default; then the cluster itself (issue 9).
 *
 * Phase "single": bench/ingest's machinery (a load-generator process publishing QoS 1 from 1,000
 * devices, 5 readings per message, to the system under test: the real ingest stack behind the
 * embedded aedes broker) run twice with the same load and duration — once on SQLite
 * (synchronous=FULL, as bench:ingest) and once on PostgreSQL (PG_URL, in a schema of its own that
 * is dropped after; synchronous_commit as the server has it, on by default). Per store: accepted
 * msg/s and readings/s over the measured window, the loss check (readings counted in the store
 * against readings the broker acknowledged), CPU of the system under test's process, of its
 * PostgreSQL backends and of every postgres process (read from /proc over the window), and the
 * PostgreSQL/SQLite ratio.
 *
 * Phase "workers": for N = 1, 2, 3 a fresh cluster on this machine (cluster-nodes.ts): one API node
 * (`twinloop start --role api`, devices on its embedded broker) and N `--role worker` processes, a
 * fresh PostgreSQL schema and NATS bus prefix each; the same load generator against the API node:
 * msg/s acknowledged and msg/s durable in PostgreSQL over the window, scaling against 1 worker, CPU
 * of each process, the loss check after the drain (none lost, none stored twice) and a per-core note.
 * Phase "failover": 3 workers at a steady rate (--rate, else half the 3-worker durable rate of this
 * run, else of a calibration run), one worker killed with SIGKILL: seconds until its partitions are
 * owned and committing again on the others (target < 5 s), then the loss check (cluster-phase.ts).
 * The nodes run from the built dist/ as `npm start` does (built first when older than src/), or
 * through tsx with --runner tsx; the output says which.
 *
 * Options: --phase single|workers|failover|all (default all), --duration S (measured window per
 *          store or cluster, default 20), --only sqlite|pg (phase single), --connections C (20),
 *          --window W (100), --rate R (failover msgs/s), --runner dist|tsx (dist), --record (append
 *          the block to bench/RESULTS.md; default: print only). PG_URL, NATS_URL name the services.
 *          Set BENCH_CPU_PROF=<dir> to profile the single-node system under test.
 */
import crypto from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import pg from 'pg';
import { ingestPhase } from '../ingest/ingest-phase.js';
import type { IngestFigures, LoadConfig } from '../ingest/ingest-phase.js';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';
import { serverNodeFlags } from '../server-flags.js';
import { BenchCluster, NATS_URL, prepareRunner, type Runner } from './cluster-nodes.js';
import { failoverRun, workersRun, type FailoverRow, type WorkersRow } from './cluster-phase.js';
import { failoverBlock, workersBlock } from './cluster-report.js';
import { busyBetween, machineTicks, serverCpuSampler, type ServerCpu } from './proc-cpu.js';

const argv = process.argv.slice(2);
const flag = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const ONLY = flag('--only');
if (ONLY !== undefined && ONLY !== 'sqlite' && ONLY !== 'pg') throw new Error('--only takes sqlite or pg.');
const PHASE = flag('--phase') ?? 'all';
if (!['single', 'workers', 'failover', 'all'].includes(PHASE))
  throw new Error('--phase takes single, workers, failover or all.');
const want = (p: string) => PHASE === 'all' || PHASE === p;
const RUNNER = (flag('--runner') ?? 'dist') as Runner;
if (RUNNER !== 'dist' && RUNNER !== 'tsx') throw new Error('--runner takes dist or tsx.');
const RATE = argv.includes('--rate') ? numberFlag(argv, '--rate', 1) : undefined;
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
  return { value, busy: busyBetween(m0, m1) };
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
    const sampler = serverCpuSampler(admin, SUT_APP);
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
if (want('single')) {
  if (ONLY !== 'pg') rows.push(await sqlitePhase());
  if (ONLY !== 'sqlite') rows.push(await pgPhase());
}

// ------------------------------------------------------------------ phases: workers, failover

const CLUSTER_CFG: LoadConfig = { ...CFG, warmupMs: 3000 };
const workerRows: WorkersRow[] = [];
let failover: FailoverRow | undefined;
let runner: Runner | undefined;

/** A fresh cluster of `workers` workers for one run; stopped and cleaned up whatever happens. */
async function withCluster<T>(workers: number, run: (c: BenchCluster) => Promise<T>): Promise<T> {
  const c = await BenchCluster.start({ runner: runner!, devices: CFG.devices, workers });
  try {
    return await run(c);
  } catch (e) {
    for (const n of c.nodes) console.error(`--- ${n.name} (last output) ---\n${n.tail()}`);
    throw e;
  } finally {
    await c.stop();
  }
}

if (want('workers') || want('failover')) {
  runner = prepareRunner(RUNNER);
  if (want('workers'))
    for (const n of [1, 2, 3]) {
      console.error(`cluster, ${n} worker${n > 1 ? 's' : ''}: ${CFG.durationS} s ...`);
      workerRows.push(await withCluster(n, (c) => workersRun(c, CLUSTER_CFG)));
    }
  if (want('failover')) {
    const three = workerRows.find((r) => r.workers === 3);
    const rate = RATE
      ? { perS: RATE, note: '--rate' }
      : three
        ? {
            perS: Math.max(100, Math.round(three.window.durablePerS / 2)),
            note: `half of the 3-worker durable rate above`,
          }
        : undefined;
    console.error(
      `cluster failover, 3 workers${rate ? `, ${rate.perS} msgs/s` : ', calibrating the rate first'} ...`,
    );
    failover = await withCluster(3, (c) => failoverRun(c, CLUSTER_CFG, rate));
  }
}

// ------------------------------------------------------------------ report

const f = (n: number) => Math.round(n).toLocaleString('en-US');
const cores = (n: number | undefined) => (n === undefined ? 'n/a' : n.toFixed(2));
const sqlite = rows.find((r) => r.store.startsWith('SQLite'));
const postgres = rows.find((r) => r.store.startsWith('PostgreSQL'));
const singleLines =
  rows.length === 0
    ? []
    : [
        '#### Single node: SQLite against PostgreSQL',
        '',
        `Load: ${CFG.devices} devices over ${CFG.connections} connections to the embedded aedes broker, ${CFG.window} QoS 1 messages in flight per connection, 5 readings/message, ${CFG.durationS} s measured after ${CFG.warmupMs / 1000} s warm-up, per store; group commit, a message acknowledged only after its commit.`,
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
        '',
      ];
const clusterRan = workerRows.length > 0 || failover !== undefined;
const nodeFlags = serverNodeFlags()
  .map((x) => `${x} `)
  .join('');
const lines = [
  `### Cluster benchmark — ${new Date().toISOString()}`,
  '',
  `- Machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB (PostgreSQL, NATS, the broker, the load generator and Twinloop all on it); load average at end ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
  `- Node ${process.version}; command: \`npm run bench:cluster -- ${argv.join(' ')}\``,
  ...(clusterRan
    ? [
        `- Cluster nodes: ${runner === 'dist' ? `\`node ${nodeFlags}dist/app/cli/main.js start\` (the built dist/, as \`npm start\`)` : `\`node ${nodeFlags}--import tsx src/app/cli/main.ts start\` (the sources through tsx)`} --role api|worker --store postgres://…?schema=<fresh> --bus ${NATS_URL} (fresh prefix, 12 partitions), one data folder each; load: ${CFG.devices} devices over ${CFG.connections} connections to the API node's embedded broker, ${CFG.window} QoS 1 messages in flight per connection, 5 readings/message, ${CFG.durationS} s measured after ${CLUSTER_CFG.warmupMs / 1000} s warm-up.`,
      ]
    : []),
  `- ${loadNote()}`,
  '',
  ...singleLines,
  ...workersBlock(workerRows),
  ...failoverBlock(failover),
];
const block = lines.join('\n');
console.log(block);
if (RECORD) appendResults(`${block}\n`);
