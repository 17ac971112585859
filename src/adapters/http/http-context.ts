/**
 * What the HTTP adapter is given by the composition root: the workspace's services and stores, and
 * the server's own options (security, limits, plugins). Routes receive the resolved context.
 */
import type { FastifyBaseLogger, FastifyPluginAsync, FastifyServerOptions } from 'fastify';
import type { GraphView } from '../../core/graph/graph-types.js';
import type { QueryBudgetLimits } from '../../core/query/query-budget.js';
import type { QueryCursorLimits } from '../../core/query/query-cursors.js';
import type { ModelService } from '../../core/models/model-service.js';
import type { DeadLetterStore, HistoryStore } from '../../core/ports/storage-ports.js';
import type { IncomingMessage, IngestOutcome } from '../../core/telemetry/telemetry-types.js';
import type { IngestStatsSnapshot } from '../../core/telemetry/ingest-stats.js';
import type { TwinService } from '../../core/twins/twin-service.js';
import type { HttpAlarmPort } from './http-alarm-routes.js';
import type { HttpControlPort } from './http-control-routes.js';
import type { HttpRulPort } from './http-rul-routes.js';
import type { HttpSimulatorPort } from './http-simulator-routes.js';
import type { WebAppFiles } from './http-web-app.js';

/** One workspace as the HTTP API serves it (only "default" exists for now). */
export interface HttpWorkspace {
  name: string;
  models: ModelService;
  twins: TwinService;
  graph: GraphView;
}

/** The ingest service as the HTTP API uses it. */
export interface HttpIngestPort {
  ingest(msg: IncomingMessage): Promise<IngestOutcome>;
  /** ADT's telemetry routes: valid values stored, the rest dead-lettered, still accepted. */
  ingestAdt(msg: IncomingMessage): Promise<IngestOutcome>;
  ingestBulk(
    msg: IncomingMessage,
  ): Promise<{ acceptedLines: number; readings: number; deadLettered: number; lines: unknown[] }>;
}

/**
 * The metrics the server serves at /metrics and records its requests in. The Prometheus adapter
 * (adapters/metrics/prometheus-http-metrics.ts) makes one of a prom-client registry.
 */
export interface HttpMetrics {
  /** The exposition format's content type. */
  readonly contentType: string;
  /** The exposition text of every metric of the registry. */
  metrics(): Promise<string>;
  /** Counts an answered request by method, route pattern (never the URL) and status, with its duration. */
  observeRequest(method: string, route: string, status: number, seconds: number): void;
}

export interface HttpServerOptions {
  workspace: HttpWorkspace;
  ingest: HttpIngestPort;
  history: Pick<HistoryStore, 'queryRaw' | 'queryAggregate' | 'listSeries'>;
  deadLetters: Pick<DeadLetterStore, 'list' | 'count' | 'get' | 'take' | 'add'>;
  /** MQTT telemetry topic patterns, to re-ingest MQTT dead letters as the broker read them (default: the default scheme). */
  telemetryTopics?: readonly string[];
  /** Metrics to expose at /metrics; the HTTP requests are recorded in them. */
  metrics?: HttpMetrics;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: the OS picks one; listen() reports it). */
  port?: number;
  /** When set, every route except GET /healthz needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Host names accepted besides the bound ones (`name` or `name:port`; see http-edge-guard.ts). */
  allowedHosts?: readonly string[];
  /** Origins allowed cross-origin access (CORS and the Origin check); none by default. */
  corsOrigins?: readonly string[];
  /** Deepest JSON nesting accepted in request bodies (default 128). */
  maxJsonDepth?: number;
  /** Serve HTTPS with this PEM certificate and key. */
  tls?: { cert: string; key: string };
  /** Largest request body in bytes (default 16 MiB). */
  bodyLimit?: number;
  /** Longest query text accepted by POST /query (default 8000, ADT's limit; the engine caps it too). */
  maxQueryLength?: number;
  /** Cap on MATCH variable hops (default: none; reaching a cap is QueryBudgetExceeded). */
  maxQueryHops?: number;
  /** Work budget of one POST /query request and the kept paging cursors (docs/api.md). */
  query?: { budget?: Partial<QueryBudgetLimits>; cursors?: Partial<QueryCursorLimits> };
  /** Fastify logger option (default false). */
  logger?: FastifyServerOptions['logger'];
  /** A pino logger to use instead (the platform's): 5xx errors are logged with their request id. */
  loggerInstance?: FastifyBaseLogger;
  /** Secret signing query continuation tokens (default: random per process). */
  queryTokenSecret?: Uint8Array;
  /** Plugins registered after the built-in routes (e.g. the live WebSocket stream). */
  plugins?: FastifyPluginAsync[];
  /** Commands and desired state to devices (routes under /digitaltwins/{id}/commands and /desired). */
  control?: HttpControlPort;
  /** Predictive maintenance: RUL training jobs and predictions (POST /ml/training, GET /digitaltwins/{id}/rul). */
  rul?: HttpRulPort;
  /** The in-process device simulator (GET /simulator, POST /simulator/faults). */
  simulator?: HttpSimulatorPort;
  /** Alarms (GET /alarms, GET /alarms/{id}, POST /alarms/{id}/ack and /clear). */
  alarms?: HttpAlarmPort;
  /** The built web app (shell and assets), served at /, /app/* and /assets/* (http-web-app.ts). */
  webApp?: WebAppFiles;
  /** The ingest counters since start, for GET /ingest/stats (the web app's ingest rate). */
  ingestStats?: () => IngestStatsSnapshot;
  /** Extra fields for /healthz (e.g. storage status). */
  health?: () => Record<string, unknown>;
  /** Readiness checks for /readyz (see http-ops-routes.ts): each says whether it is ready, and why not. */
  readiness?: () => Record<string, ReadinessCheck>;
  /** Largest /deadletters page, bytes of payload (default 1 MiB). */
  maxDeadLetterPageBytes?: number;
}

/** One readiness check: ready, or why not (`reason`) and since when (ms since epoch). */
export interface ReadinessCheck {
  ready: boolean;
  reason?: string;
  since?: number;
}
