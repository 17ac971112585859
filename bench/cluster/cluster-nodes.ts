/**
 * A Twinloop cluster on this machine for bench/cluster: one API node (`twinloop start --role api`,
 * devices on its embedded MQTT broker) and N ingest workers (`--role worker`), each its own process
 * and data folder, sharing a fresh PostgreSQL schema (PG_URL) and a fresh bus prefix on NATS
 * (NATS_URL); 1,000 pump twins created through the API node's HTTP API before the workers start.
 * Also what the benchmark reads from the shared services: readings stored, dead letters, messages
 * on the bus, the partition leases and checkpoints. stop() kills the nodes and removes the schema,
 * the streams and the folders, also when the benchmark is interrupted.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from 'nats';
import pg from 'pg';
import { PUMP_MODEL_ID, PUMP_MODELS } from '../../src/adapters/mqtt/mqtt-test-fixture.js';
import { streamName } from '../../src/adapters/nats/nats-connection.js';
import { dropSchema, freshSchemaName, pgTestUrl } from '../../src/adapters/postgres/pg-test-fixture.js';
import { kill9, startTwinloopChild, waitForRuntime } from '../../test/crash/twinloop-child.js';
import { serverNodeFlags } from '../server-flags.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const API = 'api-version=2023-10-31';
export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
/** The bus's partition count (the configuration default). */
export const PARTITIONS = 12;

export type Runner = 'dist' | 'tsx';

/**
 * How the nodes run: the built dist/ (as `npm start`), built first when missing or older than a
 * source file; or the sources through tsx when asked (`--runner tsx`).
 */
export function prepareRunner(wanted: Runner): Runner {
  if (wanted === 'tsx') return 'tsx';
  const main = path.join(root, 'dist/app/cli/main.js');
  const newest = (readdirSync(path.join(root, 'src'), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .reduce((m, f) => Math.max(m, statSync(path.join(root, 'src', f)).mtimeMs), 0);
  if (!existsSync(main) || statSync(main).mtimeMs < newest) {
    console.error('building dist/ for the cluster nodes (npm run build) ...');
    const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
      cwd: root,
      stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error('npm run build failed: the cluster nodes cannot run from dist/.');
  }
  return 'dist';
}

export interface BenchNode {
  name: string;
  child: ChildProcess;
  httpUrl: string;
  mqttUrl: string;
  /** Last output of the process (its log at level warn), for a failure report. */
  tail: () => string;
}

/** Every cluster not stopped yet: killed and cleaned up when the benchmark is interrupted. */
const open = new Set<BenchCluster>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  const onSignal = (sig: NodeJS.Signals) => {
    console.error(`${sig}: stopping the cluster nodes and cleaning up ...`);
    void Promise.all([...open].map((c) => c.stop())).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => {
    for (const c of open) for (const n of c.nodes) n.child.kill('SIGKILL');
  });
}

export class BenchCluster {
  readonly schema = freshSchemaName();
  readonly prefix = `tlbench${crypto.randomBytes(4).toString('hex')}`;
  readonly nodes: BenchNode[] = [];
  readonly db: pg.Client;
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'tl-bench-cluster-'));
  private readonly configFile = path.join(this.dir, 'config.json');
  private nc?: NatsConnection;
  private stopped?: Promise<void>;

  private constructor(private readonly runner: Runner) {
    this.db = new pg.Client({ connectionString: pgTestUrl(), application_name: 'tl-bench-cluster' });
    writeFileSync(
      this.configFile,
      JSON.stringify({
        bus: { prefix: this.prefix, partitions: PARTITIONS },
        simulation: { enabled: false },
      }),
    );
  }

  /** An API node with `devices` pump twins (pump-1 ..) and `workers` workers owning their shares. */
  static async start(o: { runner: Runner; devices: number; workers: number }): Promise<BenchCluster> {
    hookExit();
    const c = new BenchCluster(o.runner);
    open.add(c);
    try {
      await c.db.connect();
      c.nc = await connect({ servers: NATS_URL, name: 'tl-bench-cluster' });
      const api = await c.startNode('api', 'api');
      await c.seedTwins(api, o.devices);
      await Promise.all(Array.from({ length: o.workers }, (_, i) => c.startNode(`w${i + 1}`, 'worker')));
      await c.waitForShares();
      return c;
    } catch (e) {
      await c.stop();
      throw e;
    }
  }

  get api(): BenchNode {
    return this.nodes[0]!;
  }

  get workers(): BenchNode[] {
    return this.nodes.slice(1);
  }

  private async startNode(name: string, role: 'api' | 'worker'): Promise<BenchNode> {
    const dir = path.join(this.dir, name);
    const args = ['--role', role, '--store', this.storeUrl(), '--bus', NATS_URL, '--config', this.configFile];
    if (role === 'api') args.push('--pilot', 'none');
    const child = startTwinloopChild(dir, args, {
      dist: this.runner === 'dist',
      nodeFlags: serverNodeFlags(),
    });
    // Read its output (a full pipe would stall it); keep the end for a failure report.
    let out = '';
    const keep = (d: Buffer) => (out = (out + d.toString()).slice(-4000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const node: BenchNode = { name, child, httpUrl: '', mqttUrl: '', tail: () => out };
    this.nodes.push(node);
    const info = await waitForRuntime(child, dir, 90_000);
    node.httpUrl = info.httpUrl;
    node.mqttUrl = info.mqttUrl;
    return node;
  }

  private storeUrl(): string {
    const u = new URL(pgTestUrl());
    u.searchParams.set('schema', this.schema);
    return u.toString();
  }

  /** The pump models and twins pump-1 .. pump-N through the API node's HTTP API. */
  private async seedTwins(api: BenchNode, devices: number): Promise<void> {
    const call = async (method: string, route: string, body: unknown): Promise<void> => {
      const res = await fetch(`${api.httpUrl}${route}?${API}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (res.status >= 300) throw new Error(`${method} ${route}: ${res.status} ${await res.text()}`);
    };
    await call('POST', '/models', PUMP_MODELS);
    let next = 1;
    const putter = async () => {
      while (next <= devices) {
        const i = next++;
        await call('PUT', `/digitaltwins/pump-${i}`, {
          $metadata: { $model: PUMP_MODEL_ID },
          motor: { $metadata: {} },
        });
      }
    };
    await Promise.all(Array.from({ length: 16 }, putter));
  }

  /** A worker's /readyz: its owner name and the partitions it owns. */
  async readyz(node: BenchNode): Promise<{ owner: string; partitions: { partition: number }[] }> {
    return (await (await fetch(`${node.httpUrl}/readyz`)).json()) as never;
  }

  /** Until every partition is owned and no worker holds more than its fair share. */
  async waitForShares(timeoutMs = 60_000): Promise<void> {
    const live = this.workers.filter((w) => w.child.exitCode === null && !w.child.signalCode);
    const fair = Math.ceil(PARTITIONS / live.length);
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const shares = await Promise.all(live.map(async (w) => (await this.readyz(w)).partitions.length));
      if (shares.reduce((a, b) => a + b, 0) === PARTITIONS && shares.every((n) => n > 0 && n <= fair)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the workers did not share the ${PARTITIONS} partitions in ${timeoutMs} ms`);
  }

  /** Readings stored in history (a snapshot as of the query's start). */
  async storedReadings(): Promise<number> {
    const r = await this.db.query<{ n: number }>(
      `SELECT count(*)::float8 AS n FROM ${this.schema}.history_points`,
    );
    return r.rows[0]!.n;
  }

  async deadLetters(): Promise<number> {
    const r = await this.db.query<{ n: number }>(
      `SELECT count(*)::float8 AS n FROM ${this.schema}.dead_letters`,
    );
    return r.rows[0]!.n;
  }

  /** Messages the API node put on the ingest bus (each one acknowledged to its device or about to be). */
  async busMessages(): Promise<number> {
    const jsm = await this.nc!.jetstreamManager();
    return (await jsm.streams.info(this.stream('INGEST'))).state.messages;
  }

  /** Owner and checkpoint (last committed bus seq) of some partitions. */
  async partitionState(
    partitions: readonly number[],
  ): Promise<Map<number, { owner: string | null; seq: number }>> {
    const r = await this.db.query<{ partition: number; owner: string | null; seq: string | null }>(
      `SELECT l.partition, l.owner, c.seq FROM ${this.schema}.twinloop_partition_leases l
         LEFT JOIN ${this.schema}.history_checkpoints c ON c.key = 'ingest/' || $1 || '/' || l.partition
        WHERE l.partition = ANY($2::int[])`,
      [this.prefix, partitions],
    );
    return new Map(r.rows.map((row) => [row.partition, { owner: row.owner, seq: Number(row.seq ?? 0) }]));
  }

  async kill9(node: BenchNode): Promise<void> {
    await kill9(node.child);
  }

  private stream(suffix: string): string {
    return streamName(this.prefix, suffix);
  }

  /** Stops the nodes (SIGTERM, SIGKILL after 10 s), deletes the streams, drops the schema, removes the folders. */
  stop(): Promise<void> {
    return (this.stopped ??= this.cleanUp());
  }

  private async cleanUp(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (n) => {
        if (n.child.exitCode !== null || n.child.signalCode) return;
        const exited = new Promise<void>((r) => n.child.once('exit', () => r()));
        n.child.kill('SIGTERM');
        const t = setTimeout(() => n.child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }),
    );
    const warn = (what: string) => (e: unknown) => console.error(`cleanup: ${what}: ${(e as Error).message}`);
    try {
      const nc = this.nc ?? (await connect({ servers: NATS_URL }));
      const jsm = await nc.jetstreamManager();
      for (const s of ['INGEST', 'FEED'])
        await jsm.streams.delete(this.stream(s)).catch((e: unknown) => {
          if (!/not found/i.test((e as Error).message)) warn(`stream ${this.stream(s)}`)(e);
        });
      await nc.close();
    } catch (e) {
      warn('NATS')(e);
    }
    await this.db.end().catch(() => undefined);
    await dropSchema(this.schema).catch(warn(`schema ${this.schema}`));
    rmSync(this.dir, { recursive: true, force: true });
    open.delete(this);
  }
}
