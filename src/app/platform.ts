/**
 * The composition root: the one place that builds adapters and wires them to the core. Each
 * subsystem is a module under ./subsystems/ whose start function takes what it needs (a typed slice
 * of config, a logger, the services it depends on) and returns its services and a `close()`; this
 * file only composes them in start order and closes them in reverse.
 *
 * Start order: the data-folder lock → security material (TLS, token) → storage → models and twin
 * graph → event routes → the write paths (twins, ingest) → the pilot (first run) → retention timers
 * → connectors (MQTT) → control → behaviours, calibration and what-if → jobs → the live hub →
 * metrics → HTTP (last) → jobs run, runtime.json, event delivery → the device simulator and shadow
 * mode. Stop in reverse: devices, runtime.json, jobs, HTTP, live hub, simulation services, control,
 * MQTT, retention, event routes, storage (which flushes), the lock.
 *
 * Roles (`twinloop start --role all|api|worker`) compose a subset of the same modules, in
 * the same order, each pushing its `close()` on the one stack: an ingest worker is storage + models
 * and graph + event routes + ingest + retention (its bus consumer in place of MQTT); an API node is
 * storage + models and graph (the read model) + ingest + MQTT + control + simulation services + jobs
 * + live + analytics + HTTP, where event delivery and the analytics run only while the node holds
 * their lease. Nothing in a subsystem knows which role runs it.
 */
import { pino, type Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { FeedReplica } from '../core/cluster/feed-replica.js';
import type { InMemoryTwinGraph } from '../core/graph/in-memory-twin-graph.js';
import { LiveEventBus } from '../core/live/live-events.js';
import type { ModelService } from '../core/models/model-service.js';
import type { IngestService } from '../core/telemetry/ingest-service.js';
import type { TwinService } from '../core/twins/twin-service.js';
import type { ControlService } from '../core/control/control-service.js';
import type { DeviceStateService } from '../core/control/device-state-service.js';
import type { JobService } from '../core/jobs/job-service.js';
import type { FileImportIo } from '../adapters/files/file-import-io.js';
import type { FolderLock } from '../adapters/sqlite/sqlite-folder-lock.js';
import type { Storage } from '../core/ports/storage.js';
import { TwinloopError } from '../core/errors/errors.js';
import type { BehaviourCatalog } from '../sim/behaviour/behaviour-catalog.js';
import type { CalibrationService } from '../sim/calibration/calibration-service.js';
import type { Simulator } from '../sim/device/device-simulator.js';
import type { ShadowService } from '../sim/shadow/shadow-service.js';
import type { WhatIfService } from '../sim/whatif/what-if-service.js';
import type { TwinloopConfig } from './config.js';
import type { AlarmService } from '../analytics/alarms/alarm-service.js';
import { createAlarms } from './alarm-wiring.js';
import { createEventRouting, type EventRouting } from './event-routing.js';
import { exampleReading, formatBanner } from './banner.js';
import { lockDataFolder } from './data-folder-lock.js';
import { removeRuntimeInfo, ruleStateFile, writeRuntimeInfo, type RuntimeInfo } from './runtime-files.js';
import { announceModelChanges, openClusterBus, openClusterFeed } from './subsystems/cluster.js';
import { createControlInbox, startControl } from './subsystems/control.js';
import { commandLiveEvent } from '../core/control/command-service.js';
import type { CommandService } from '../core/control/command-service.js';
import { startHttp } from './subsystems/http.js';
import { startRules } from './subsystems/rules.js';
import { startScenes } from './subsystems/scenes.js';
import { startMlModels } from './subsystems/ml-models.js';
import { startRul } from './subsystems/rul.js';
import { RUL_LOWER, RUL_UPPER, RUL_VALUE } from '../analytics/runtime/rul-operator.js';
import type { MlModelRegistry } from '../analytics/ml/ml-model-registry.js';
import { startIngest } from './subsystems/ingest.js';
import { createJobs } from './subsystems/jobs.js';
import { startLive } from './subsystems/live.js';
import { analyticsLease, startAnalytics, type AnalyticsSubsystem } from './subsystems/analytics.js';
import { loadPilotAnalytics } from './pilot-analytics.js';
import { DETECTOR_KINDS } from '../analytics/anomaly/detector.js';
import { startRetention } from './subsystems/maintenance.js';
import { createMetricsRegistry, registerMetrics } from './subsystems/metrics.js';
import { loadModelsAndGraph } from './subsystems/models-and-graph.js';
import { startMqtt } from './subsystems/mqtt.js';
import { loadBehaviours, seedPilot } from './subsystems/pilot.js';
import { loadSecurity } from './subsystems/security.js';
import { startDevices, startSimulationServices } from './subsystems/simulation.js';
import { startStorage } from './subsystems/storage.js';
import { Closers } from './subsystems/subsystem.js';
import { nodeName } from './worker-node.js';
import { shippedWebAppDir } from './web-app-dir.js';
import { loadWebApp } from '../adapters/http/http-web-app.js';

export const DEFAULT_WORKSPACE = 'default';
export { DEFAULT_PILOT } from './subsystems/pilot.js';

export interface Platform {
  readonly config: Readonly<TwinloopConfig>;
  readonly logger: Logger;
  readonly runtime: RuntimeInfo;
  /** The access token when one is required, else undefined. */
  readonly token: string | undefined;
  /** Every HTTP route (method and URL pattern), for the edge tests. */
  readonly httpRoutes: readonly { method: string; url: string }[];
  readonly storage: Storage;
  readonly models: ModelService;
  readonly twins: TwinService;
  readonly graph: InMemoryTwinGraph;
  readonly ingest: IngestService;
  readonly live: LiveEventBus;
  readonly metrics: Registry;
  /** Desired state to devices. */
  readonly control: ControlService;
  /** Commands to devices, stored with their lifecycle. */
  readonly commands: CommandService;
  /** What devices report, their presence and divergence (docs/control.md). */
  readonly deviceState: DeviceStateService;
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
  /** Alarms: the rules engine's AlarmSink, GET /alarms and the rest (docs/alarms.md). */
  readonly alarms: AlarmService;
  /** The streaming analytics: derived values and properties, anomaly detection, rules; whether they run here (on a cluster, one api node at a time). */
  readonly analytics: AnalyticsSubsystem;
  /** Trained ML models (RUL): versions, compare, promote, rollback; `onChange` to reload live inference (docs/ml-models.md). */
  readonly mlModels: MlModelRegistry;
  /** Stops everything in reverse order, flushing storage. Idempotent. */
  stop(): Promise<void>;
}

export interface StartPlatformOptions {
  /** Logger to use (default: pino to stdout at config.logLevel). */
  logger?: Logger;
  /** Print the "where to look" banner (default true). */
  banner?: boolean;
}

export async function startPlatform(
  config: Readonly<TwinloopConfig>,
  options: StartPlatformOptions = {},
): Promise<Platform> {
  const logger = options.logger ?? pino({ level: config.logLevel, base: { app: 'twinloop' } });
  if (config.role === 'worker')
    throw new TwinloopError(
      'InvalidConfig',
      'A worker node is started with startWorkerNode (src/app/worker-node.ts).',
    );
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
  const security = loadSecurity(config);
  const { token } = security;

  // ---- storage (the metrics registry first, so commits can be timed from the start)
  const metrics = createMetricsRegistry();
  const { storage, close: closeStorage } = await startStorage({ config, logger, metrics });
  const closers = new Closers(logger);
  closers.push(() => lock.release());
  closers.push(closeStorage);
  const stopAll = () => closers.close();

  try {
    // ---- an api node of a cluster: the feed's position is read before the read model is loaded
    const origin = config.role === 'api' ? nodeName('api') : undefined;
    const feed = origin ? await openClusterFeed({ config, logger, origin }) : undefined;
    if (feed) closers.push(feed.close);

    // ---- the default workspace: models, graph, services
    const workspace = DEFAULT_WORKSPACE;
    const { models, graph, loaded } = await loadModelsAndGraph({ workspace, storage, logger });

    // ---- event routes (issue 8): journaled in the writes' transactions, delivered once all is up
    // (on a cluster by one node at a time); a route changed here is told to the other nodes.
    let replica: FeedReplica | undefined;
    // The streaming analytics (made below; rule changes told before then find none running).
    const late: { analytics?: AnalyticsSubsystem } = {};
    const eventRoutes = await createEventRouting({
      config: config.eventRoutes,
      storage,
      metrics,
      logger,
      isComponent: (twin, name) =>
        models.getInterface(twin.modelId)?.contents.get(name)?.kind === 'Component',
      onRoutesChanged: () => void replica?.routesChanged(),
    });
    closers.push(() => eventRoutes.stop());
    // Every step of every command is journaled for event routes in the command store's transaction.
    storage.commands.setJournal((changed) => eventRoutes.service.commandRows(changed));
    closers.push(() => storage.commands.setJournal(undefined));

    const live = new LiveEventBus();
    // ---- an api node of a cluster: device telemetry goes to the bus; changes come and go on the feed
    let bus: Awaited<ReturnType<typeof openClusterBus>> | undefined;
    if (origin && feed) {
      bus = await openClusterBus({ config, logger, origin });
      closers.push(bus.close);
      replica = await feed.follow({
        workspace,
        storage,
        models,
        graph,
        live,
        routes: eventRoutes.service,
        reloadRules: () => late.analytics?.reloadRules() ?? Promise.resolve(),
      });
      announceModelChanges(models, replica);
    }
    const { twins, ingest, stats } = startIngest({
      ...(bus ? { bus: bus.bus } : {}),
      config,
      logger,
      workspace,
      models,
      graph,
      storage,
      live,
      journal: eventRoutes.service,
    });

    // ---- alarms (issue 10): on the live stream and event routes; closed before storage
    const alarms = createAlarms({
      storage,
      live,
      modelOf: (_ws, id) => graph.getTwin(id)?.modelId,
      routes: eventRoutes.service,
      logger,
    });
    closers.push(() => alarms.close());

    // ---- the pilot: seeded on first run; later runs keep the data folder's own
    const choice = await seedPilot({ config, logger, loaded, models, twins });

    // ---- retention: history (when configured) and dead letters (by age and by size, by default)
    closers.push((await startRetention({ config, logger, storage })).close);

    // ---- connectors: MQTT
    const inbox = createControlInbox({ workspace, storage, logger: logger.child({ component: 'control' }) });
    const mqtt = await startMqtt({ config, logger, security, storage, ingest, live, inbox });
    closers.push(mqtt.close);
    const { channel, mqttUrl, mqttLogger } = mqtt;
    eventRoutes.setChannel(channel);

    // ---- control: commands and desired state back to devices
    const controlSub = await startControl({
      config,
      logger,
      mqttLogger,
      workspace,
      graph,
      models,
      channel,
      storage,
      inbox,
      live,
      twins,
      journal: eventRoutes.service,
      onCommands: (records) => {
        live.publish(records.map((c) => commandLiveEvent(c, graph.getTwin(c.twinId)?.modelId)));
        eventRoutes.service.committed(); // their Twinloop.Command.* rows were journaled with them
      },
    });
    closers.push(controlSub.close);
    const { control, commands, devices: deviceState } = controlSub;

    // ---- behaviour models (the pilot's behaviours/), compiled against the workspace's models
    const { pilot, behaviours } = await loadBehaviours({ choice, models, logger });

    // ---- calibration and what-if runs (the simulator and shadow mode start last, below)
    const simulation = await startSimulationServices({
      config,
      logger,
      workspace,
      storage,
      graph,
      models,
      live,
      behaviours,
    });
    closers.push(simulation.close);
    const { calibration, whatIf, running } = simulation;

    // ---- import and delete jobs: through the same services as the REST API, one job at a time
    const jobsSub = createJobs({ config, logger, storage, models, twins, graph, workspace });
    const { jobs, importIo } = jobsSub;

    const firstRun = loaded.models === 0 && loaded.twins === 0;
    // ---- rules (issue 10): the store, the pilot's rule files on the first start, the routes
    // ---- the pilot's analytics files: derived values, anomaly and forecast plans (checked; rules may read them)
    const pilotAnalytics = loadPilotAnalytics(
      pilot,
      {
        models,
        twinModel: (id) => graph.getTwin(id)?.modelId,
        modelIds: () => models.list().map((m) => m.id),
      },
      DETECTOR_KINDS,
      // A data folder started before keeps the models of its first start: pilot files newer than
      // them (a property added since) are left out with a warning rather than stopping the start.
      { lenient: !firstRun },
    );
    for (const w of pilotAnalytics.derivedWarnings)
      logger.warn({ pilot, problem: w }, 'pilot derived value warning');
    if (pilotAnalytics.derivedSkipped.length)
      logger.warn(
        { pilot, files: pilotAnalytics.derivedSkipped, data: config.dataDir },
        "pilot derived-value files left out: they do not fit this data folder's models (stored at its first start; the warnings above say where). Start on a new data folder (--data) to use the pilot as it is now",
      );
    const { anomalyPlan, forecastPlan } = pilotAnalytics;
    // The live rule engine (in the analytics, below) follows every change of the rules: made here at
    // once; on a cluster the other nodes are told, and the one running the analytics reloads them.
    const rulesSub = await startRules({
      workspace,
      storage,
      models,
      graph,
      logger,
      pilot,
      firstRun,
      onChange: (rules) => {
        late.analytics?.setRules(rules);
        if (replica) void replica.rulesChanged();
      },
      // Any model may get an active RUL model (trained later): rules may read what it writes.
      derivedNames: (modelId) => [...pilotAnalytics.derivedNames(modelId), RUL_VALUE, RUL_LOWER, RUL_UPPER],
    });

    // ---- 3D scenes: the pilot's scene files, their bindings stored (edits kept), the routes
    const scenesSub = await startScenes({ workspace, storage, graph, logger, pilot });

    // ---- ML models (issue 13): the registry of trained models and its /ml routes
    const mlSub = startMlModels({ workspace, storage, logger, followOtherNodes: origin !== undefined });
    closers.push(mlSub.close);
    // ---- predictive maintenance: RUL training (worker thread), predictions, live inference
    const rulSub = startRul({
      workspace,
      logger,
      history: storage.history,
      graph,
      models,
      registry: mlSub.registry,
    });
    closers.push(rulSub.close);
    mlSub.registry.onChange((c) => {
      if (c.kind === 'rul' && c.type !== 'added') void late.analytics?.reloadRulModels();
    });

    // ---- live stream
    const liveSub = startLive({ config, workspace, live, models, graph });
    closers.push(liveSub.close);
    const { hub } = liveSub;

    // ---- streaming analytics: derived values, anomaly detection, forecasts, rules (off the ingest
    // path); on a cluster on one api node at a time, the holder of the analytics lease
    const analytics = startAnalytics({
      config,
      logger,
      workspace,
      live,
      ingest,
      graph,
      models,
      history: storage.history,
      alarms,
      rules: () => rulesSub.service.enabled(),
      // Alarms left open by the last run (or the last holder of the lease) clear by their conditions.
      wasRule: async (id) => (await rulesSub.service.versions(id)).length > 0,
      derived: pilotAnalytics.derived,
      twins,
      ...(anomalyPlan ? { anomaly: anomalyPlan } : {}),
      ...(forecastPlan ? { forecast: forecastPlan } : {}),
      rulModels: rulSub.activeModels,
      ...(origin
        ? { lease: analyticsLease(config, storage.clusterLeases, origin) }
        : { ruleState: ruleStateFile(config.dataDir, (f, m) => logger.warn(f, m)) }),
    });
    late.analytics = analytics;
    closers.push(analytics.close);
    await analytics.start();

    // ---- metrics
    registerMetrics(metrics, { stats, hub, graph, brokerClients: mqtt.brokerClients, storage, analytics });

    // ---- HTTP last
    // The web app as built into dist/web (none in a checkout that was not built: / is a plain page).
    const webApp = loadWebApp(shippedWebAppDir());
    const httpSub = await startHttp({
      config,
      logger,
      security,
      workspace,
      models,
      twins,
      graph,
      ingest,
      storage,
      metrics,
      control,
      commands,
      hub,
      eventRoutes,
      simulation,
      pilot,
      behaviours,
      jobs,
      importIo,
      mqttUrl,
      revokedCredential: mqtt.revokedCredential,
      analytics,
      rules: rulesSub.plugin,
      scenes: scenesSub.plugin,
      mlModels: mlSub.plugin,
      rul: rulSub.http,
      ingestStats: () => stats.snapshot(),
      ...(webApp ? { webApp } : {}),
    });
    closers.push(httpSub.close);
    const { http, httpUrl, liveUrl } = httpSub;
    // Jobs run once everything is up; they stop first (at their next batch), before HTTP closes.
    await jobsSub.start();
    closers.push(jobsSub.close);

    const runtime: RuntimeInfo = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      httpUrl,
      liveUrl,
      mqttUrl,
      mqttMode: config.mqtt.url ? 'external' : 'embedded',
    };
    writeRuntimeInfo(config.dataDir, runtime);
    eventRoutes.start();
    closers.push(() => removeRuntimeInfo(config.dataDir, runtime));

    // ---- the device simulator and shadow mode, once all is up
    // On a cluster every api node sees every reading: a simulator or shadow on each would duplicate
    // devices and residuals, so api nodes run neither.
    if (origin && (config.simulation.enabled || config.simulation.shadow))
      logger.warn('the device simulator and shadow mode do not run on api nodes of a cluster');
    const devices = await startDevices({
      config: origin
        ? { ...config, simulation: { ...config.simulation, enabled: false, shadow: false } }
        : config,
      logger,
      workspace,
      pilot,
      behaviours,
      graph,
      live,
      ingest,
      commands,
      models,
      services: simulation,
      mqttUrl,
      token,
    });
    closers.push(devices.close);
    const { simulator, shadow } = running;

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
          ...(token ? { token: { value: token, created: security.tokenCreated } } : {}),
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
      commands,
      deviceState,
      behaviours,
      shadow,
      whatIf,
      calibration,
      simulator,
      jobs,
      importIo,
      eventRoutes,
      alarms,
      analytics,
      mlModels: mlSub.registry,
      stop: () => (stopped ??= stopAll()),
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
