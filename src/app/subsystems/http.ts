/**
 * The HTTP server, started last: the REST API (models, twins, query, telemetry, control, simulator),
 * the live WebSocket, event routes, what-if and calibration, jobs, device credentials, the home page,
 * health and readiness, metrics. A busy default port moves to the next free one; an explicit one
 * fails with PortInUse. Gives back the URLs actually bound.
 */
import type { HttpRulPort } from '../../adapters/http/http-rul-routes.js';
import type { FastifyPluginAsync } from 'fastify';
import type { AnalyticsSubsystem } from './analytics.js';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { CommandService } from '../../core/control/command-service.js';
import type { ControlService } from '../../core/control/control-service.js';
import { TwinloopError, errors } from '../../core/errors/errors.js';
import type { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { LiveHub } from '../../core/live/live-hub.js';
import type { JobService } from '../../core/jobs/job-service.js';
import type { ModelService } from '../../core/models/model-service.js';
import type { IngestService } from '../../core/telemetry/ingest-service.js';
import type { IngestStatsSnapshot } from '../../core/telemetry/ingest-stats.js';
import type { WebAppFiles } from '../../adapters/http/http-web-app.js';
import type { TwinService } from '../../core/twins/twin-service.js';
import type { FileImportIo } from '../../adapters/files/file-import-io.js';
import { calibrationPlugin } from '../../adapters/http/calibration/calibration-plugin.js';
import { deviceRoutesPlugin } from '../../adapters/http/http-device-routes.js';
import { homePlugin } from '../../adapters/http/http-home-routes.js';
import { jobRoutesPlugin } from '../../adapters/http/http-job-routes.js';
import { createHttpServer, type HttpServer } from '../../adapters/http/http-server.js';
import { liveWsPlugin } from '../../adapters/http/live/live-ws-plugin.js';
import { simulationsPlugin } from '../../adapters/http/simulations/simulations-plugin.js';
import { prometheusHttpMetrics } from '../../adapters/metrics/prometheus-http-metrics.js';
import type { Storage } from '../../core/ports/storage.js';
import type { BehaviourCatalog } from '../../sim/behaviour/behaviour-catalog.js';
import { homeInfo } from '../banner.js';
import type { TwinloopConfig } from '../config.js';
import type { EventRouting } from '../event-routing.js';
import type { SimulationServices } from './simulation.js';
import type { Security } from './security.js';
import { bindWithFallback, subsystem, type Subsystem } from './subsystem.js';

export interface HttpSubsystem extends Subsystem {
  http: HttpServer;
  /** The URL bound, e.g. http://127.0.0.1:8080 (IPv6 hosts in brackets). */
  httpUrl: string;
  /** The live stream's WebSocket URL. */
  liveUrl: string;
}

export function startHttp(o: {
  config: Readonly<
    Pick<TwinloopConfig, 'host' | 'httpPort' | 'httpPortExplicit' | 'http' | 'limits' | 'query'>
  >;
  logger: Logger;
  security: Pick<Security, 'tls' | 'token'>;
  workspace: string;
  models: ModelService;
  twins: TwinService;
  graph: InMemoryTwinGraph;
  ingest: IngestService;
  storage: Pick<Storage, 'history' | 'deadLetters' | 'credentials' | 'health'>;
  metrics: Registry;
  control: ControlService;
  commands: CommandService;
  hub: LiveHub;
  eventRoutes: Pick<EventRouting, 'plugin'>;
  simulation: SimulationServices;
  pilot: string;
  behaviours: BehaviourCatalog;
  jobs: JobService;
  importIo: FileImportIo;
  mqttUrl: string;
  revokedCredential: (id: string) => void;
  /** Alarms (GET /alarms …) and, for /healthz, whether the analytics run on this node. */
  analytics?: Pick<AnalyticsSubsystem, 'alarms' | 'state'>;
  /** GET/PUT/DELETE /rules and backtests (issue 10). */
  rules?: FastifyPluginAsync;
  /** GET /scenes … and PUT /scenes/{id}/binding (docs/scenes.md). */
  scenes?: FastifyPluginAsync;
  /** The ML model registry's routes under /ml (docs/ml-models.md). */
  mlModels?: FastifyPluginAsync;
  /** RUL training jobs and predictions (POST /ml/training, GET /digitaltwins/{id}/rul). */
  rul?: HttpRulPort;
  /** The ingest counters (GET /ingest/stats). */
  ingestStats?: () => IngestStatsSnapshot;
  /** The built web app (dist/web), when there is one. */
  webApp?: WebAppFiles;
}): Promise<HttpSubsystem> {
  const { config, logger, workspace, models, twins, graph, storage, control, hub } = o;
  const { tls, token } = o.security;
  const { running } = o.simulation;
  return subsystem(logger, async (closers) => {
    const http: HttpServer = await bindWithFallback(
      'HTTP',
      config.httpPort,
      config.httpPortExplicit,
      logger,
      async (port) => {
        const server = await createHttpServer({
          workspace: { name: workspace, models, twins, graph },
          ingest: o.ingest,
          history: storage.history,
          deadLetters: storage.deadLetters,
          metrics: prometheusHttpMetrics(o.metrics),
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
          control: { commands: o.commands, desiredState: (id) => control.desiredState(id) },
          ...(o.rul ? { rul: o.rul } : {}),
          ...(o.ingestStats ? { ingestStats: o.ingestStats } : {}),
          ...(o.webApp ? { webApp: o.webApp } : {}),
          ...(o.analytics ? { alarms: o.analytics.alarms } : {}),
          simulator: {
            status: () => {
              const simulator = running.simulator;
              return (
                simulator && {
                  running: true,
                  pilot: simulator.pilot,
                  speed: simulator.speed,
                  fleets: simulator.fleets,
                  stats: simulator.stats(),
                  offline: simulator.offline(),
                }
              );
            },
            fault: (twinId, fault, on) => {
              const simulator = running.simulator;
              if (!simulator) throw new TwinloopError('ServiceUnavailable', 'The device simulator is off.');
              if (!graph.getTwin(twinId)) throw errors.twinNotFound(twinId);
              return simulator.fault(twinId, fault, on);
            },
            connection: async (twinId, state) => {
              const simulator = running.simulator;
              if (!simulator) throw new TwinloopError('ServiceUnavailable', 'The device simulator is off.');
              if (!graph.getTwin(twinId)) throw errors.twinNotFound(twinId);
              return simulator.connection(twinId, state);
            },
          },
          plugins: [
            liveWsPlugin({ hub, token, maxQueryLength: config.limits.maxQueryLength }),
            o.eventRoutes.plugin,
            simulationsPlugin(o.simulation.whatIf),
            calibrationPlugin({ calibration: o.simulation.calibration }),
            homePlugin({
              ...(o.webApp ? { webApp: o.webApp } : {}),
              info: () =>
                homeInfo({
                  pilot: o.pilot,
                  graph,
                  models,
                  behaviours: o.behaviours,
                  mqttUrl: o.mqttUrl,
                  simulator: running.simulator,
                  shadow: running.shadow,
                  token,
                }),
            }),
            jobRoutesPlugin({ jobs: o.jobs, io: o.importIo }),
            ...(o.rules ? [o.rules] : []),
            ...(o.scenes ? [o.scenes] : []),
            ...(o.mlModels ? [o.mlModels] : []),
            deviceRoutesPlugin({
              workspace,
              credentials: storage.credentials,
              twinExists: (id) => graph.getTwin(id) !== undefined,
              onRevoked: (id) => o.revokedCredential(id),
            }),
          ],
          health: () => ({
            twins: graph.twinCount,
            models: models.count,
            ...(o.analytics ? { analytics: o.analytics.state() } : {}),
          }),
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
    const address = http.app.server.address();
    const httpPort = typeof address === 'object' && address ? address.port : config.httpPort;
    const shownHost = config.host.includes(':') ? `[${config.host}]` : config.host;
    return {
      http,
      httpUrl: `${tls ? 'https' : 'http'}://${shownHost}:${httpPort}`,
      liveUrl: `${tls ? 'wss' : 'ws'}://${shownHost}:${httpPort}/live`,
    };
  });
}
