/**
 * The `worker` role of a cluster (`twinloop start --role worker --store postgres://… --bus nats://…`):
 * storage, models and the twin graph (the read model ingest validates against, kept current over
 * the cluster feed), the event-route journal (telemetry a route wants is staged into the outbox and
 * commits in the history transaction of its readings; the api nodes deliver it), the ingest bus,
 * partition leases, the partition workers with the real sink (core/cluster/telemetry-batch-sink.ts),
 * and a small HTTP server for /healthz, /readyz (the owned partitions and their lag) and /metrics —
 * no public API. Start order: lock → storage → models and graph, event routes → feed → bus →
 * workers → HTTP; stop in reverse (the workers release their leases).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import os from 'node:os';
import { pino, type Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { openJetStreamIngestBus } from '../adapters/nats/jetstream-ingest-bus.js';
import { openNatsClusterFeed } from '../adapters/nats/nats-cluster-feed.js';
import { PgCommitLock } from '../adapters/postgres/pg-commit-lock.js';
import type { PgStorage } from '../adapters/postgres/pg-storage.js';
import { FeedReplica } from '../core/cluster/feed-replica.js';
import type { EventRouteService } from '../core/events/event-route-service.js';
import { PartitionWorker, type WorkerStatus } from '../core/cluster/partition-worker.js';
import { TelemetryBatchSink } from '../core/cluster/telemetry-batch-sink.js';
import { TwinloopError } from '../core/errors/errors.js';
import type { InMemoryTwinGraph } from '../core/graph/in-memory-twin-graph.js';
import { LiveEventBus } from '../core/live/live-events.js';
import { IngestService } from '../core/telemetry/ingest-service.js';
import { IngestStats } from '../core/telemetry/ingest-stats.js';
import type { TwinloopConfig } from './config.js';
import { lockDataFolder } from './data-folder-lock.js';
import { createRouteJournal } from './event-routing.js';
import { removeRuntimeInfo, writeRuntimeInfo, type RuntimeInfo } from './runtime-files.js';
import { createMetricsRegistry } from './subsystems/metrics.js';
import { loadModelsAndGraph } from './subsystems/models-and-graph.js';
import { startStorage } from './subsystems/storage.js';
import { Closers } from './subsystems/subsystem.js';

export interface WorkerNode {
  readonly config: Readonly<TwinloopConfig>;
  readonly logger: Logger;
  readonly runtime: RuntimeInfo;
  readonly owner: string;
  readonly graph: InMemoryTwinGraph;
  /** The event routes this worker journals telemetry for (kept current over the feed). */
  readonly routes: EventRouteService;
  readonly metrics: Registry;
  status(): WorkerStatus;
  stop(): Promise<void>;
}

/** A unique worker name per process (a restarted process is a new owner). */
export function nodeName(role: string): string {
  return `${role}-${os.hostname()}-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
}

export async function startWorkerNode(
  config: Readonly<TwinloopConfig>,
  options: { logger?: Logger } = {},
): Promise<WorkerNode> {
  const logger =
    options.logger ?? pino({ level: config.logLevel, base: { app: 'twinloop', role: 'worker' } });
  const storageUrl = config.storage.url;
  const busUrl = config.bus.url;
  if (!storageUrl || !busUrl || config.role !== 'worker')
    throw new TwinloopError(
      'InvalidConfig',
      'A worker node needs role "worker", a PostgreSQL store and a bus.',
    );
  const lock = lockDataFolder(config.dataDir);
  const closers = new Closers(logger);
  closers.push(() => lock.release());
  try {
    const metrics = createMetricsRegistry();
    const { storage, close: closeStorage } = await startStorage({ config, logger, metrics });
    closers.push(closeStorage);
    if (storage.kind !== 'postgres')
      throw new TwinloopError('InvalidConfig', 'A worker node needs a PostgreSQL store.');
    const pg = storage as PgStorage;
    const workspace = 'default';
    const owner = nodeName('worker');
    // The feed's position before the read model is loaded: following from it misses nothing.
    const feed = await openNatsClusterFeed({ url: busUrl, subjectPrefix: config.bus.prefix, name: owner });
    closers.push(() => feed.close());
    const feedPosition = await feed.position();
    const mg = await loadModelsAndGraph({ workspace, storage, logger });
    const { models, graph } = mg;
    // Event routes: after the feed's position too, so a route changed meanwhile is reloaded.
    const routes = await createRouteJournal({
      config: config.eventRoutes,
      storage,
      isComponent: (twin, name) =>
        models.getInterface(twin.modelId)?.contents.get(name)?.kind === 'Component',
    });
    const live = new LiveEventBus();
    const stats = new IngestStats();
    const ingest = new IngestService({
      workspace: (name) => (name === workspace ? { graph, models } : undefined),
      history: storage.history,
      deadLetters: storage.deadLetters,
      live,
      stats,
      maxPayloadBytes: config.mqtt.maxMessageBytes,
      journal: routes,
    });

    // ---- the feed: changes of twins and models from the api nodes; telemetry out
    const replica = new FeedReplica({
      origin: owner,
      workspace,
      graph,
      live,
      feed,
      publishTelemetry: true,
      followEvents: false,
      reloadModels: async () => {
        await models.load();
      },
      reloadRoutes: () => routes.load(),
      reloadGraph: async () => {
        for await (const t of storage.twins.loadTwins(workspace)) graph.putTwin(t);
        for await (const r of storage.twins.loadRelationships(workspace))
          try {
            graph.putRelationship(r);
          } catch {
            // its twin is gone: skipped, as at start
          }
      },
      log: (level, message, fields) => logger[level](fields ?? {}, message),
    });
    await replica.start(feedPosition);
    closers.push(() => replica.stop());

    // ---- the bus and the partition workers
    const bus = await openJetStreamIngestBus({
      url: busUrl,
      subjectPrefix: config.bus.prefix,
      partitions: config.bus.partitions,
      name: owner,
    });
    closers.push(() => bus.close());
    const commitLock = new PgCommitLock({
      url: storageUrl,
      maxHolders: config.bus.partitions + 1,
      applicationName: `twinloop-worker-lock-${process.pid}`,
    });
    closers.push(() => commitLock.close());
    const sink = new TelemetryBatchSink({
      ingest,
      history: storage.history,
      bus: config.bus.prefix,
      lock: commitLock,
    });
    const worker = new PartitionWorker({
      owner,
      bus,
      leases: pg.leases,
      sink,
      log: (level, message, fields) => logger[level](fields ?? {}, message),
    });
    worker.start();
    closers.push(() => worker.stop());

    // ---- metrics and the small HTTP server
    new Gauge({
      name: 'twinloop_worker_partitions',
      help: 'Partitions this ingest worker owns',
      registers: [metrics],
      collect() {
        this.set(worker.status().partitions.length);
      },
    });
    new Gauge({
      name: 'twinloop_worker_lag_messages',
      help: 'Messages waiting on the bus in the partitions this worker owns',
      registers: [metrics],
      collect() {
        this.set(worker.status().partitions.reduce((n, p) => n + (p.pending ?? 0), 0));
      },
    });
    new Gauge({
      name: 'twinloop_worker_committed_messages',
      help: 'Messages this worker committed since it started',
      registers: [metrics],
      collect() {
        this.set(worker.status().partitions.reduce((n, p) => n + p.committed, 0));
      },
    });
    const server = http.createServer((req, res) => {
      const send = (code: number, body: unknown, type = 'application/json') => {
        res.writeHead(code, { 'content-type': type });
        res.end(typeof body === 'string' ? body : JSON.stringify(body));
      };
      const url = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET') return send(405, { error: { code: 'MethodNotAllowed' } });
      if (url === '/healthz') return send(200, { status: 'ok', role: 'worker', owner });
      if (url === '/readyz') {
        const s = worker.status();
        const h = storage.health.check();
        const ready = s.running && h.ready && s.lastHeartbeatAt !== undefined;
        return send(ready ? 200 : 503, {
          ready,
          owner,
          storage: h,
          liveWorkers: s.liveOwners,
          partitions: s.partitions.map((p) => ({
            partition: p.partition,
            epoch: p.epoch,
            committedSeq: p.committedSeq,
            lag: p.pending ?? null,
            phase: p.phase,
          })),
          ...(s.lastError ? { lastError: s.lastError } : {}),
        });
      }
      if (url === '/metrics') {
        metrics.metrics().then(
          (text) => send(200, text, metrics.contentType),
          (e: unknown) => send(500, { error: { code: 'InternalError', message: (e as Error).message } }),
        );
        return;
      }
      send(404, {
        error: { code: 'NotFound', message: 'A worker node serves /healthz, /readyz and /metrics.' },
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.httpPort, config.host, () => resolve());
    });
    closers.push(() => new Promise<void>((r) => server.close(() => r())));
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.httpPort;
    const runtime: RuntimeInfo = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      httpUrl: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
      liveUrl: '',
      mqttUrl: '',
      mqttMode: 'external',
    };
    writeRuntimeInfo(config.dataDir, runtime);
    closers.push(() => removeRuntimeInfo(config.dataDir, runtime));
    logger.info({ owner, http: runtime.httpUrl, partitions: config.bus.partitions }, 'ingest worker started');

    let stopped: Promise<void> | undefined;
    return {
      config,
      logger,
      runtime,
      owner,
      graph,
      routes,
      metrics,
      status: () => worker.status(),
      stop: () => (stopped ??= closers.close()),
    };
  } catch (e) {
    await closers.close();
    throw e;
  }
}
