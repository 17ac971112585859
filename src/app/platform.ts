/**
 * The composition root: the one place that builds adapters and wires them to the core.
 * Start order: storage → models and twin graph → services → pilot (first run) → connectors (MQTT)
 * → HTTP (with the live stream) → the device simulator (when on and the pilot has behaviours/).
 * Stop in reverse: simulator, HTTP, MQTT, live hub, storage (which flushes).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { isTwinloopError, TwinloopError, type ErrorCode } from '../core/errors/errors.js';
import { InMemoryTwinGraph } from '../core/graph/in-memory-twin-graph.js';
import { LiveEventBus } from '../core/live/live-events.js';
import { LiveHub } from '../core/live/live-hub.js';
import { createLiveQueryCompiler } from '../core/live/live-query.js';
import { ModelRegistry } from '../core/models/model-registry.js';
import { ModelService } from '../core/models/model-service.js';
import { IngestService } from '../core/telemetry/ingest-service.js';
import { IngestStats } from '../core/telemetry/ingest-stats.js';
import { TwinService } from '../core/twins/twin-service.js';
import { createHttpServer, type HttpServer } from '../adapters/http/http-server.js';
import { liveWsPlugin } from '../adapters/http/live/live-ws-plugin.js';
import {
  createCommitMetrics,
  registerPlatformMetrics,
} from '../adapters/metrics/prometheus-platform-metrics.js';
import { AedesBroker } from '../adapters/mqtt/aedes-broker.js';
import { MqttClientIngest } from '../adapters/mqtt/mqtt-client-ingest.js';
import { ensureMqttClientId } from '../adapters/mqtt/mqtt-client-id.js';
import { deviceRoutesPlugin } from '../adapters/http/http-device-routes.js';
import { jobRoutesPlugin } from '../adapters/http/http-job-routes.js';
import { FileImportIo } from '../adapters/files/file-import-io.js';
import { JobService } from '../core/jobs/job-service.js';
import { serviceDeleteTarget, serviceImportTarget } from '../core/jobs/service-targets.js';
import { openSqliteStorage, type SqliteStorage } from '../adapters/sqlite/sqlite-storage.js';
import { authRequired, type TwinloopConfig } from './config.js';
import { ControlService } from '../core/control/control-service.js';
import type { DeviceChannel } from '../core/ports/device-channel.js';
import { BehaviourCatalog } from '../sim/behaviour/behaviour-catalog.js';
import { loadBehaviourCatalog } from './behaviour-files.js';
import { loadPilot } from './pilot-loader.js';
import { readPilotScenario } from './pilot-files.js';
import { ShadowService } from '../sim/shadow/shadow-service.js';
import { WhatIfService } from '../sim/whatif/what-if-service.js';
import { graphWorld as whatIfWorld } from '../sim/whatif/graph-world.js';
import { simulationsPlugin } from '../adapters/http/simulations/simulations-plugin.js';
import { calibrationPlugin } from '../adapters/http/calibration/calibration-plugin.js';
import { CalibrationService, historyFromStore } from '../sim/calibration/calibration-service.js';
import { startSimulator, type Simulator } from './simulator.js';
import { createEventRouting, type EventRouting } from './event-routing.js';
import { exampleReading, formatBanner, homeInfo } from './banner.js';
import { homePlugin } from '../adapters/http/http-home-routes.js';
import type { FolderLock } from '../adapters/sqlite/sqlite-folder-lock.js';
import { lockDataFolder } from './data-folder-lock.js';
import {
  ensureToken,
  readPilotRecord,
  removeRuntimeInfo,
  writePilotRecord,
  writeRuntimeInfo,
  type RuntimeInfo,
} from './runtime-files.js';

export const DEFAULT_WORKSPACE = 'default';
/** The pilot a new data folder is seeded with. */
export const DEFAULT_PILOT = 'pump-line';
/** How many ports above a busy default port are tried before giving up. */
const PORT_FALLBACK_TRIES = 20;

export interface Platform {
  readonly config: Readonly<TwinloopConfig>;
  readonly logger: Logger;
  readonly runtime: RuntimeInfo;
  /** The access token when one is required, else undefined. */
  readonly token: string | undefined;
  /** Every HTTP route (method and URL pattern), for the edge tests. */
  readonly httpRoutes: readonly { method: string; url: string }[];
  readonly storage: SqliteStorage;
  readonly models: ModelService;
  readonly twins: TwinService;
  readonly graph: InMemoryTwinGraph;
  readonly ingest: IngestService;
  readonly live: LiveEventBus;
  readonly metrics: Registry;
  /** Commands and desired state to devices. */
  readonly control: ControlService;
  /** The behaviour models of the workspace (the pilot's behaviours/), by the models they simulate. */
  readonly behaviours: BehaviourCatalog;
  /** Calibration of twins' behaviour parameters (POST /digitaltwins/{id}/calibrations). */
  readonly calibration: CalibrationService;
  /** What-if runs (POST /simulations). */
  readonly whatIf: WhatIfService;
  /** Shadow mode, when on (config.simulation.shadow) and the workspace has behaviours. */
  readonly shadow: ShadowService | undefined;
  /** The device simulator playing the pilot's behaviours, when on (config.simulation). */
  readonly simulator: Simulator | undefined;
  /** Import and delete jobs (ADT's /jobs routes). */
  readonly jobs: JobService;
  /** Where import jobs read and write (the imports folder, job logs). */
  readonly importIo: FileImportIo;
  /** Event routes: routes, endpoints, the delivery engine (docs/event-routes.md). */
  readonly eventRoutes: EventRouting;
  /** Stops everything in reverse order, flushing storage. Idempotent. */
  stop(): Promise<void>;
}

export interface StartPlatformOptions {
  /** Logger to use (default: pino to stdout at config.logLevel). */
  logger?: Logger;
  /** Print the "where to look" banner (default true). */
  banner?: boolean;
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new TwinloopError('InvalidConfig', `Cannot read the TLS ${what} ${file}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/**
 * Tries `bind(port)`; when the port is a busy default, tries the next ones and says so.
 * An explicit port is never changed: its PortInUse error (which says how to pick another) stands.
 */
async function bindWithFallback<T>(
  what: string,
  port: number,
  explicit: boolean,
  logger: Logger,
  bind: (port: number) => Promise<T>,
): Promise<T> {
  let lastError: unknown;
  const tries = explicit || port === 0 ? 1 : PORT_FALLBACK_TRIES;
  for (let i = 0; i < tries; i++) {
    try {
      const r = await bind(port + i);
      if (i > 0) logger.warn(`${what}: default port ${port} is in use, bound ${port + i} instead`);
      return r;
    } catch (e) {
      if (!(isTwinloopError(e) && e.code === ('PortInUse' satisfies ErrorCode))) throw e;
      lastError = e;
    }
  }
  throw lastError;
}

export async function startPlatform(
  config: Readonly<TwinloopConfig>,
  options: StartPlatformOptions = {},
): Promise<Platform> {
  const logger = options.logger ?? pino({ level: config.logLevel, base: { app: 'twinloop' } });
  // One process per data folder: taken before anything is opened or bound, released last.
  const lock = lockDataFolder(config.dataDir);
  try {
    return await startLocked(config, options, logger, lock);
  } catch (e) {
    lock.release();
    throw e;
  }
}

async function startLocked(
  config: Readonly<TwinloopConfig>,
  options: StartPlatformOptions,
  logger: Logger,
  lock: FolderLock,
): Promise<Platform> {
  // Security material first: a bad certificate path fails before anything is opened.
  const tls = config.tls
    ? { cert: readPem(config.tls.certFile, 'certificate'), key: readPem(config.tls.keyFile, 'key') }
    : undefined;
  let token: string | undefined;
  let tokenCreated = false;
  if (authRequired(config)) {
    const t = ensureToken(config.dataDir);
    token = t.token;
    tokenCreated = t.created;
  }

  // ---- storage (the metrics registry first, so commits can be timed from the start)
  const metrics = new Registry();
  const recorders = createCommitMetrics(metrics);
  const storage = openSqliteStorage({
    dataDir: config.dataDir,
    synchronous: config.history.synchronous,
    // A seeded folder (pilot.json) whose database is missing or empty is damage, never a new install.
    holdsData: readPilotRecord(config.dataDir) !== undefined,
    checkIntegrity: config.storage.integrityCheckMaxMB > 0,
    integrityCheckMaxBytes: config.storage.integrityCheckMaxMB * 1024 * 1024,
    history: { onCommit: (info) => recorders.observeHistoryCommit(info) },
    deadLetters: {
      maxPayloadBytes: config.deadLetters.maxPayloadBytes,
      maxBytes: config.deadLetters.maxMB * 1024 * 1024,
    },
  });
  const closers: (() => Promise<void> | void)[] = [() => lock.release(), () => storage.close()];
  if (config.storage.integrityCheckMaxMB > 0 && !storage.integrity.checked) {
    // Too big to check before starting: checked in a worker thread; damage makes /readyz fail.
    logger.warn(
      { bytes: storage.integrity.bytes, maxMB: config.storage.integrityCheckMaxMB },
      'the database is larger than storage.integrityCheckMaxMB: its integrity is checked in the background',
    );
    const check = storage.checkInBackground((r) => {
      if ('error' in r) logger.warn({ reason: r.error }, 'the background integrity check did not finish');
      else if (r.problems.length)
        logger.error({ file: storage.file, problems: r.problems }, 'the database is damaged: restore it');
      else logger.info({ file: storage.file }, 'background integrity check: ok');
    });
    closers.push(() => check.stop());
  }
  const stopAll = async () => {
    for (const [i, c] of closers.reverse().entries()) {
      try {
        const t0 = performance.now();
        await c();
        logger.debug({ step: i, ms: Math.round(performance.now() - t0) }, 'stopped a component');
      } catch (e) {
        logger.error({ err: e }, 'error while stopping');
      }
    }
    closers.length = 0;
  };

  try {
    // ---- the default workspace: models, graph, services
    const workspace = DEFAULT_WORKSPACE;
    const registry = new ModelRegistry();
    const models = new ModelService({ workspace, registry, store: storage.models });
    const modelCount = models.load();
    const graph = new InMemoryTwinGraph({ hierarchy: registry });
    let twinCount = 0;
    for (const t of storage.twins.loadTwins(workspace)) {
      graph.putTwin(t);
      twinCount++;
    }
    let relCount = 0;
    for (const r of storage.twins.loadRelationships(workspace)) {
      try {
        graph.putRelationship(r);
        relCount++;
      } catch (e) {
        logger.warn(
          { err: e, relationship: r.id, source: r.sourceId },
          'skipped a stored relationship whose twin is missing',
        );
      }
    }
    logger.info(
      { models: modelCount, twins: twinCount, relationships: relCount, file: storage.file },
      'storage opened',
    );

    // ---- event routes (issue 8): journaled in the writes' transactions, delivered once all is up
    const eventRoutes = await createEventRouting({
      config: config.eventRoutes,
      storage,
      metrics,
      logger,
      isComponent: (twin, name) =>
        models.getInterface(twin.modelId)?.contents.get(name)?.kind === 'Component',
    });
    closers.push(() => eventRoutes.stop());

    const live = new LiveEventBus();
    const twins = new TwinService({
      workspace,
      models,
      graph,
      store: storage.twins,
      history: storage.history,
      live,
      journal: eventRoutes.service,
      onHistoryError: (err, twinId) =>
        logger.error(
          { err, twin: twinId },
          'a twin write is committed, but its property history could not be recorded',
        ),
    });
    const stats = new IngestStats();
    const ingest = new IngestService({
      workspace: (name) => (name === workspace ? { graph, models } : undefined),
      history: storage.history,
      deadLetters: storage.deadLetters,
      live,
      stats,
      maxPayloadBytes: config.mqtt.maxMessageBytes,
      journal: eventRoutes.service,
    });

    // ---- the pilot: seeded on first run; later runs keep the data folder's own
    const recorded = readPilotRecord(config.dataDir)?.pilot;
    const empty = modelCount === 0 && twinCount === 0;
    if (!empty && recorded && config.pilot && config.pilot !== 'none' && config.pilot !== recorded)
      throw new TwinloopError(
        'InvalidConfig',
        `The data folder ${config.dataDir} holds the pilot '${recorded}', not '${config.pilot}'. Start '${config.pilot}' in its own folder (--data ./data-${config.pilot.replace(/[^\w-]+/g, '_')}), or leave out --pilot to go on with '${recorded}'.`,
      );
    // A folder seeded before pilot.json existed is taken to hold the default pilot (checked below).
    const guessed = !config.pilot && !recorded && !empty;
    let pilot = config.pilot ?? recorded ?? DEFAULT_PILOT;
    if (empty) writePilotRecord(config.dataDir, pilot);
    if (empty && pilot !== 'none') {
      const r = await loadPilot(pilot, { models, twins });
      logger.info(
        { pilot: r.name, models: r.models, twins: r.twins, relationships: r.relationships },
        'pilot loaded',
      );
    }

    // ---- retention: history (when configured) and dead letters (by age and by size, by default)
    const historyRetentionMs = config.history.retentionDays * 86_400_000;
    const letterRetentionMs = config.deadLetters.retentionDays * 86_400_000;
    const prune = async () => {
      try {
        const now = Date.now();
        const points = historyRetentionMs > 0 ? await storage.history.prune(now - historyRetentionMs) : 0;
        const letters =
          (letterRetentionMs > 0 ? storage.deadLetters.prune(now - letterRetentionMs) : 0) +
          storage.deadLetters.pruneToSize();
        if (points || letters) logger.info({ points, deadLetters: letters }, 'retention: pruned');
      } catch (e) {
        logger.error({ err: e }, 'retention: prune failed');
      }
    };
    await prune();
    const retentionTimer = setInterval(() => void prune(), 3600_000);
    retentionTimer.unref();
    closers.push(() => clearInterval(retentionTimer));

    // ---- MQTT
    const mqttLogger = logger.child({ component: 'mqtt' });
    const mqttLog = {
      info: (msg: string, meta?: Record<string, unknown>) => mqttLogger.info(meta ?? {}, msg),
      warn: (msg: string, meta?: Record<string, unknown>) => mqttLogger.warn(meta ?? {}, msg),
      error: (msg: string, meta?: Record<string, unknown>) => mqttLogger.error(meta ?? {}, msg),
    };
    let mqttUrl: string;
    let brokerClients: () => number = () => 0;
    let revokedCredential: (id: string) => void = () => undefined;
    let channel: DeviceChannel;
    if (config.mqtt.url) {
      const client = new MqttClientIngest({
        url: config.mqtt.url,
        // Random, kept in the data folder (0600): a restart resumes the broker's persistent session,
        // and nobody can guess the id to take that session over. Never logged (its fingerprint is).
        clientId: ensureMqttClientId(config.dataDir).clientId,
        ingest,
        logger: mqttLog,
        maxMessageBytes: config.mqtt.maxMessageBytes,
      });
      await client.start();
      closers.push(() => client.close());
      channel = client;
      mqttUrl = config.mqtt.url;
    } else {
      const broker = await bindWithFallback(
        'MQTT',
        config.mqtt.port,
        config.mqtt.portExplicit,
        logger,
        async (port) => {
          const b = new AedesBroker({
            host: config.host,
            port,
            tls,
            token,
            credentials: storage.credentials,
            ingest,
            logger: mqttLog,
            maxMessageBytes: config.mqtt.maxMessageBytes,
            maxPacketBytes: config.mqtt.maxPacketBytes,
          });
          try {
            await b.start();
          } catch (e) {
            await b.close().catch(() => undefined);
            throw e;
          }
          return b;
        },
      );
      closers.push(() => broker.close());
      channel = broker;
      mqttUrl = broker.url;
      brokerClients = () => broker.connectedClients;
      revokedCredential = (id) => broker.disconnectCredential(id);
    }
    eventRoutes.setChannel(channel);
    // A deleted twin's device credentials go with it (a new twin reusing the id starts without them).
    closers.push(
      live.subscribe((events) => {
        for (const e of events) {
          if (e.type !== 'twinDeleted') continue;
          try {
            storage.credentials.revokeTwin(e.workspace, e.twinId);
          } catch (err) {
            mqttLogger.error(
              { err, twin: e.twinId },
              'could not revoke the device credentials of a deleted twin',
            );
          }
        }
      }),
    );

    // ---- control: commands and desired state back to devices
    const control = new ControlService({
      workspace,
      graph,
      models,
      channel,
      onError: (err, twinId) =>
        mqttLogger.warn({ err, twin: twinId }, 'could not publish the desired state of a twin'),
    });
    control.start(live);
    closers.push(() => control.stop());
    const desiredCount = await control.publishAllDesired();
    if (desiredCount) mqttLogger.debug({ twins: desiredCount }, 'desired state published');

    // ---- behaviour models (the pilot's behaviours/), compiled against the workspace's models
    let behaviours = new BehaviourCatalog([], models);
    if (pilot !== 'none') {
      try {
        behaviours = await loadBehaviourCatalog(pilot, models);
      } catch (e) {
        if (!guessed) throw e;
        logger.warn(
          { err: e },
          `the data folder names no pilot and the ${pilot} behaviours do not fit its models: no simulation (give --pilot)`,
        );
        pilot = 'none';
      }
    }

    let simulator: Simulator | undefined; // started last, once everything is up
    let shadow: ShadowService | undefined;

    // ---- calibration: fit a twin's behaviour parameters to its history, apply them on request
    const calibration = new CalibrationService({
      workspace,
      store: storage.behaviour,
      history: historyFromStore(storage.history, workspace),
      twin: (id) => {
        const t = graph.getTwin(id);
        return t && { modelId: t.modelId, properties: t.contents };
      },
      behaviours,
      // Simulated twins on the simulator's clock; others on Unix seconds, as in shadow mode.
      simTime: (id) => {
        const sim = simulator;
        return sim?.simulates(id) ? (ms: number) => sim.simTime(ms) : (ms: number) => ms / 1000;
      },
      // The shadow restarts with the new values; the simulated device (the "real" asset) is left alone.
      onApplied: (id) => shadow?.forget(id),
    });
    closers.push(
      live.subscribe((evs) => {
        for (const e of evs)
          if (e.type === 'twinDeleted' && e.workspace === workspace) calibration.deleteTwin(e.twinId);
      }),
    );

    // ---- what-if runs: read the live twins (and the simulator's or shadows' states), never write
    const whatIf = new WhatIfService({
      catalog: behaviours,
      world: whatIfWorld(graph, {
        now: () => (simulator ? simulator.simTime(Date.now()) : Date.now() / 1000),
        snapshot: (id) => {
          const sim = simulator?.snapshot(id);
          if (sim) return { source: 'simulator', snapshot: sim };
          const sh = shadow?.shadowOf(id);
          return sh && Number.isFinite(sh.t)
            ? { source: 'shadow', snapshot: { t: sh.t, state: sh.state() } }
            : undefined;
        },
        parameters: (id) => calibration.applied(id),
      }),
      interfaces: models,
      yieldNow: () => new Promise((resolve) => setImmediate(resolve)),
      maxKeptBytes: config.whatIf.maxKeptMiB * 1024 * 1024,
      maxResultBytes: config.whatIf.maxResultMiB * 1024 * 1024,
    });
    closers.push(() => whatIf.close());

    // ---- import and delete jobs: through the same services as the REST API, one job at a time
    const importIo = new FileImportIo({
      importsDir: path.resolve(config.dataDir, config.jobs.importsFolder),
      logsDir: path.join(config.dataDir, 'jobs'),
      maxInputBytes: config.jobs.maxInputMiB * 1024 * 1024,
      httpInput: config.jobs.httpInput,
      httpTimeoutMs: config.jobs.httpTimeoutMs,
    });
    const jobTargets = {
      models,
      twins,
      graph,
      transaction: (fn: () => void) => storage.twins.transaction(fn),
    };
    const jobLogger = logger.child({ component: 'jobs' });
    const jobs = new JobService({
      store: storage.jobs,
      io: importIo,
      importTarget: serviceImportTarget(jobTargets),
      deleteTarget: serviceDeleteTarget(jobTargets),
      limits: {
        maxJobs: config.jobs.maxJobs,
        retentionMs: config.jobs.retentionDays * 86_400_000,
        batchSize: config.jobs.batchSize,
        sliceMs: config.jobs.sliceMs,
        maxLineBytes: config.jobs.maxLineKiB * 1024,
        maxModelBytes: config.jobs.maxModelMiB * 1024 * 1024,
        maxLoggedErrors: config.jobs.maxLoggedErrors,
        progressEveryMs: 1000,
      },
      yieldNow: () => new Promise((resolve) => setImmediate(resolve)),
      newId: randomUUID,
      onError: (err, job) =>
        jobLogger.error({ err, job: job.id, kind: job.kind }, 'a job stopped on an error'),
    });

    // ---- live stream
    // IS_OF_MODEL's rule (later versions too) for model subscriptions and live queries alike.
    const isOfModel = (_ws: string, modelId: string, baseId: string) => models.matchesModel(modelId, baseId);
    const hub = new LiveHub({
      bus: live,
      isOfModel,
      compileQuery: createLiveQueryCompiler({
        graphOf: (ws) => (ws === workspace ? graph : undefined),
        isOfModel,
        ...(config.query.maxHops !== undefined ? { maxHops: config.query.maxHops } : {}),
        // Live evaluations are synchronous: a smaller visit budget keeps each to ~20 ms.
        budget: {
          ...config.query,
          maxVisits: config.query.liveMaxVisits,
          visitsSetting: 'query.liveMaxVisits',
        },
      }),
    });
    closers.push(() => hub.close());

    // ---- metrics
    registerPlatformMetrics(metrics, {
      ingest: () => stats.snapshot(),
      live: () => hub.stats(),
      twins: () => graph.twinCount,
      relationships: () => graph.relationshipCount,
      mqttClients: brokerClients,
      historyBuffered: () => storage.history.bufferedPoints,
    });

    // ---- HTTP last
    const http: HttpServer = await bindWithFallback(
      'HTTP',
      config.httpPort,
      config.httpPortExplicit,
      logger,
      async (port) => {
        const server = await createHttpServer({
          workspace: { name: workspace, models, twins, graph },
          ingest,
          history: storage.history,
          deadLetters: storage.deadLetters,
          metrics,
          host: config.host,
          port,
          token,
          allowedHosts: config.http.allowedHosts,
          corsOrigins: config.http.corsOrigins,
          loggerInstance: logger.child({ component: 'http' }),
          tls,
          bodyLimit: config.limits.maxBodyBytes,
          maxQueryLength: config.limits.maxQueryLength,
          ...(config.query.maxHops !== undefined ? { maxQueryHops: config.query.maxHops } : {}),
          query: {
            budget: config.query,
            cursors: {
              ttlMs: config.query.cursorTtlMs,
              maxCursors: config.query.maxCursors,
              maxBytes: config.query.cursorMaxBytes,
            },
          },
          control,
          simulator: {
            status: () =>
              simulator && {
                running: true,
                pilot: simulator.pilot,
                speed: simulator.speed,
                fleets: simulator.fleets,
                stats: simulator.stats(),
              },
            fault: (twinId, fault, on) => {
              if (!simulator) throw new TwinloopError('ServiceUnavailable', 'The device simulator is off.');
              return simulator.fault(twinId, fault, on);
            },
          },
          plugins: [
            liveWsPlugin({ hub, token, maxQueryLength: config.limits.maxQueryLength }),
            eventRoutes.plugin,
            simulationsPlugin(whatIf),
            calibrationPlugin({ calibration }),
            homePlugin({
              info: () => homeInfo({ pilot, graph, models, behaviours, mqttUrl, simulator, shadow, token }),
            }),
            jobRoutesPlugin({ jobs, io: importIo }),
            deviceRoutesPlugin({
              workspace,
              credentials: storage.credentials,
              twinExists: (id) => graph.getTwin(id) !== undefined,
              onRevoked: (id) => revokedCredential(id),
            }),
          ],
          health: () => ({ twins: graph.twinCount, models: models.count }),
          // Readiness: writes work (group commits and a probe write; see sqlite-write-health.ts).
          readiness: () => ({ storage: storage.health.check() }),
        });
        try {
          await server.listen();
        } catch (e) {
          await server.close().catch(() => undefined);
          throw e;
        }
        return server;
      },
    );
    closers.push(() => http.close());
    // Jobs run once everything is up; they stop first (at their next batch), before HTTP closes.
    await jobs.start();
    closers.push(() => jobs.stop());
    const address = http.app.server.address();
    const httpPort = typeof address === 'object' && address ? address.port : config.httpPort;
    const shownHost = config.host.includes(':') ? `[${config.host}]` : config.host;
    const httpUrl = `${tls ? 'https' : 'http'}://${shownHost}:${httpPort}`;

    const runtime: RuntimeInfo = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      httpUrl,
      liveUrl: `${tls ? 'wss' : 'ws'}://${shownHost}:${httpPort}/live`,
      mqttUrl,
      mqttMode: config.mqtt.url ? 'external' : 'embedded',
    };
    writeRuntimeInfo(config.dataDir, runtime);
    eventRoutes.start();
    closers.push(() => removeRuntimeInfo(config.dataDir, runtime));

    // ---- the device simulator: a client of the broker like any device, started once all is up
    const scenario = pilot === 'none' ? undefined : readPilotScenario(pilot);
    if (config.simulation.enabled && behaviours.size > 0) {
      const simLogger = logger.child({ component: 'simulator' });
      const sim = await startSimulator({
        pilot,
        catalog: behaviours,
        twins: [...graph.allTwins()].map((t) => ({ id: t.id, modelId: t.modelId })),
        world: whatIfWorld(graph, { now: () => Date.now() / 1000 }), // property, related, latest
        live, // readings sent by others take a simulated twin's telemetry over for a while
        ...(scenario ? { scenario } : {}),
        mqttUrl,
        // The embedded broker takes the token as password; an external broker's URL carries its own.
        password: config.mqtt.url ? undefined : token,
        speed: config.simulation.speed ?? scenario?.simulation.speed ?? 1,
        logger: {
          info: (msg, meta) => simLogger.info(meta ?? {}, msg),
          warn: (msg, meta) => simLogger.warn(meta ?? {}, msg),
          error: (msg, meta) => simLogger.error(meta ?? {}, msg),
        },
      });
      simulator = sim;
      closers.push(() => sim.stop());
    }

    // ---- shadow mode: each twin with a behaviour, residuals back as derived telemetry
    if (config.simulation.shadow && behaviours.size > 0) {
      const shadowLogger = logger.child({ component: 'shadow' });
      let lastErrorLog = 0;
      const sim = simulator;
      shadow = new ShadowService({
        workspace,
        graph,
        catalog: behaviours,
        writeDerived: (twinId, time, values) => ingest.ingestDerived(workspace, twinId, time, values),
        // Simulated twins run on the simulator's clock; live ones on Unix seconds (a daily
        // schedule is then the UTC time of day).
        simTime: sim ? (ms) => sim.simTime(ms) : (ms) => ms / 1000,
        parameters: (id) => calibration.applied(id),
        onError: (err, twinId) => {
          if (Date.now() - lastErrorLog < 10_000) return;
          lastErrorLog = Date.now();
          shadowLogger.warn({ err, twin: twinId }, 'shadow mode: a twin could not be followed');
        },
      });
      const s = shadow;
      s.start(live);
      const off = control.onCommand((twinId, command, request) => s.onCommand(twinId, command, request));
      closers.push(() => {
        off();
        s.stop();
      });
    }

    if (options.banner ?? true)
      process.stdout.write(
        formatBanner({
          ...runtime,
          dataDir: config.dataDir,
          cwd: process.cwd(),
          twins: graph.twinCount,
          pilot,
          ...exampleReading(graph.allTwins(), behaviours),
          ...(simulator ? { simulator: { assets: simulator.stats().assets, speed: simulator.speed } } : {}),
          shadow: shadow !== undefined,
          ...(token ? { token: { value: token, created: tokenCreated } } : {}),
          defaultPorts: { http: config.httpPort, mqtt: config.mqtt.port },
        }),
      );

    let stopped: Promise<void> | undefined;
    return {
      config,
      logger,
      runtime,
      token,
      httpRoutes: http.routes,
      storage,
      models,
      twins,
      graph,
      ingest,
      live,
      metrics,
      control,
      behaviours,
      shadow,
      whatIf,
      calibration,
      simulator,
      jobs,
      importIo,
      eventRoutes,
      stop: () => (stopped ??= stopAll()),
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
