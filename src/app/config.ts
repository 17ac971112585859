/**
 * Twinloop's configuration: one schema (TypeBox), layered sources
 * (defaults < config file < environment < command line), validated once after merging with every
 * problem reported at once, then deep-frozen. This is the only module that reads process.env.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { TwinloopError, type Problem } from '../core/errors/errors.js';
import { ENDPOINT_NAME, checkEndpoint } from '../core/events/endpoint-spec.js';
import { checkConfiguredRoute } from '../core/events/event-route-service.js';

const Port = Type.Integer({ minimum: 0, maximum: 65535 });

export const ConfigSchema = Type.Object(
  {
    /** Folder holding the database, the access token and TLS material. */
    dataDir: Type.String({ minLength: 1 }),
    /** Address the HTTP API, WebSocket stream and embedded MQTT broker bind to. */
    host: Type.String({ minLength: 1 }),
    httpPort: Port,
    /** True when httpPort was given explicitly: a busy explicit port is an error, a busy default is skipped. */
    httpPortExplicit: Type.Boolean(),
    mqtt: Type.Object({
      /** Embedded broker port (ignored with `url`). */
      port: Port,
      portExplicit: Type.Boolean(),
      /** External broker: Twinloop becomes its client instead of running a broker. */
      url: Type.Optional(Type.String({ pattern: '^(mqtt|mqtts|tcp|ssl|ws|wss)://' })),
      /** Largest accepted MQTT message, bytes. */
      maxMessageBytes: Type.Integer({ minimum: 256 }),
      /**
       * Embedded broker: largest MQTT packet, bytes; a larger one is refused from its header and the
       * client disconnected. Default: max(2 × maxMessageBytes, maxMessageBytes + 64 KiB).
       */
      maxPacketBytes: Type.Optional(Type.Integer({ minimum: 1024 })),
    }),
    tls: Type.Optional(Type.Object({ certFile: Type.String(), keyFile: Type.String() })),
    /** The HTTP edge (see docs/api.md, "Security and limits"). */
    http: Type.Object({
      /** Origins (`https://app.example.com`) allowed cross-origin access: CORS and the Origin check. None by default. */
      corsOrigins: Type.Array(Type.String({ pattern: '^https?://[^/?#\\s]+$' })),
      /** Host names (`name` or `name:port`) accepted besides the bound ones (DNS-rebinding check). */
      allowedHosts: Type.Array(
        Type.String({ pattern: '^(\\[[0-9a-fA-F:.]+\\]|[^:/?#\\s\\[\\]@]+)(:\\d{1,5})?$' }),
      ),
    }),
    /**
     * "auto": a token is required unless bound to loopback; "on": always; "off": never (only allowed on loopback).
     */
    auth: Type.Union([Type.Literal('auto'), Type.Literal('on'), Type.Literal('off')]),
    limits: Type.Object({
      maxBodyBytes: Type.Integer({ minimum: 1024 }),
      maxQueryLength: Type.Integer({ minimum: 64 }),
    }),
    /** The work budget of every query, and the kept cursors of paged results (docs/api.md). */
    query: Type.Object({
      /** Twins and relationships one request may visit. */
      maxVisits: Type.Integer({ minimum: 1000 }),
      /** Wall time one request may take, ms (pauses included). */
      timeoutMs: Type.Integer({ minimum: 10, maximum: 3_600_000 }),
      /** CPU time one slice may take before the query yields the event loop, ms. */
      sliceMs: Type.Number({ minimum: 0.5, maximum: 1000 }),
      /** Hop cap of variable-hop conditions (absent: none); reaching it is an error. */
      maxHops: Type.Optional(Type.Integer({ minimum: 1 })),
      /** How long a paged result waits for its next page, ms. */
      cursorTtlMs: Type.Integer({ minimum: 1000 }),
      /** Paged results kept at once. */
      maxCursors: Type.Integer({ minimum: 1 }),
      /** Estimated memory of all kept paged results, bytes. */
      cursorMaxBytes: Type.Integer({ minimum: 65_536 }),
      /**
       * Twins and relationships one evaluation of a live JOIN/MATCH subscription may visit. Live
       * evaluations run synchronously on the live hub's drain (between ingest commits), so this
       * bound is smaller than a request's: 50,000 visits take ~20 ms here (measured on 320 densely
       * linked twins), a request's 1,000,000 up to ~230 ms.
       */
      liveMaxVisits: Type.Integer({ minimum: 1000 }),
    }),
    history: Type.Object({
      /** Days of history kept; 0 keeps everything. */
      retentionDays: Type.Number({ minimum: 0 }),
      /** SQLite synchronous mode: FULL survives power loss, NORMAL survives a process crash (kill -9). */
      synchronous: Type.Union([Type.Literal('FULL'), Type.Literal('NORMAL')]),
    }),
    storage: Type.Object({
      /**
       * At start, PRAGMA quick_check the database (with its WAL) when it is at most this many MiB; 0
       * never. It reads every page (measured 0.3 ms/MiB cached, 1.7 ms/MiB cold), so a bigger file
       * is checked after start in a worker thread (damage then fails /readyz) rather than holding
       * the start for minutes.
       */
      integrityCheckMaxMB: Type.Number({ minimum: 0 }),
      /**
       * Where state and history are kept: absent, the embedded SQLite database in the data folder;
       * a postgres:// URL, that PostgreSQL database (`?schema=name` picks the schema, default public).
       */
      url: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
      /** PostgreSQL connections in the pool. */
      poolSize: Type.Integer({ minimum: 1, maximum: 1000 }),
      /** PostgreSQL history partitions: one per day or per week. */
      partition: Type.Union([Type.Literal('day'), Type.Literal('week')]),
    }),
    /**
     * What this process runs (docs/scaling.md): `all` (the default) everything in one process; `api`
     * the HTTP/WebSocket API and an MQTT broker bridged to the bus; `worker` ingest from the bus into the
     * store. `api` and `worker` need a PostgreSQL store and a bus.
     */
    role: Type.Union([Type.Literal('all'), Type.Literal('api'), Type.Literal('worker')]),
    bus: Type.Object({
      /** NATS with JetStream (nats://host:port); absent: no bus, one process. */
      url: Type.Optional(Type.String({ pattern: '^(nats|tls)://' })),
      /** Ingest stream partitions (by twin id); fixed for the life of a cluster. */
      partitions: Type.Integer({ minimum: 1, maximum: 1024 }),
      /** Prefix of the cluster's streams and subjects (several clusters may share one NATS). */
      prefix: Type.String({ pattern: '^[A-Za-z0-9_-]{1,32}$' }),
    }),
    deadLetters: Type.Object({
      /** Days dead letters are kept; 0 keeps them until the size cap prunes them. */
      retentionDays: Type.Number({ minimum: 0 }),
      /** Total size of kept dead letters, MiB; the oldest go first beyond it. */
      maxMB: Type.Number({ exclusiveMinimum: 0 }),
      /** Bytes of each rejected payload kept; the rest is cut (and the letter says so). */
      maxPayloadBytes: Type.Integer({ minimum: 0 }),
    }),
    alarms: Type.Object({
      /** Days cleared alarms are kept (pruned hourly); 0 keeps them. Open alarms are never pruned. */
      retentionDays: Type.Number({ minimum: 0 }),
    }),
    /** Commands to devices (docs/control.md). */
    control: Type.Object({
      /** A command's expiry when the caller gives none, seconds. */
      commandExpirySeconds: Type.Number({ exclusiveMinimum: 0 }),
      /** The longest expiry a caller may ask for, seconds. */
      maxCommandExpirySeconds: Type.Number({ exclusiveMinimum: 0 }),
      /** Most commands one twin may have queued. */
      maxQueuedPerTwin: Type.Integer({ minimum: 1 }),
      /** Days finished commands are kept (pruned hourly); 0 keeps them. */
      retentionDays: Type.Number({ minimum: 0 }),
    }),
    /**
     * Pilot: loaded on first start, its behaviours simulated (a folder under pilots/ or a path);
     * "none" for none. Default: the one the data folder was seeded with, else "pump-line".
     */
    pilot: Type.Optional(Type.String({ minLength: 1 })),
    /** The device simulator: plays the pilot's behaviours/ over MQTT (see docs/simulation.md). */
    simulation: Type.Object({
      enabled: Type.Boolean(),
      /** Simulated seconds per wall second (default: the pilot scenario's, else 1). */
      speed: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 })),
      /** Shadow mode: each twin with a behaviour gets residuals (measured − model) as telemetry. */
      shadow: Type.Boolean(),
    }),
    /** Streaming analytics: derived values, anomaly detection, rules and alarms (docs/analytics.md). */
    analytics: Type.Object({
      enabled: Type.Boolean(),
      /** Readings waiting for the analytics at most; beyond, they are counted as overflowed. */
      maxQueued: Type.Integer({ minimum: 1000, maximum: 10_000_000 }),
      /** Anomaly score at or above which an anomaly alarm is raised. */
      anomalyThreshold: Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
      /**
       * On a cluster: the analytics lease, ms (one api node runs the analytics; another takes over
       * within about this plus a second when it dies).
       */
      leaseMs: Type.Integer({ minimum: 200, maximum: 600_000 }),
      /**
       * Run the operators in a worker thread (default): the thread that acknowledges devices only
       * forwards events and stores results, and the analytics use another core. false: on that thread.
       */
      worker: Type.Boolean(),
      /**
       * The worker thread's nice value (0–19, default 10; Linux, where it is per thread): when the CPU
       * is short, the OS runs the thread that acknowledges devices first and the analytics with what
       * is left (they queue up to maxQueued, then count overflows). 0: the same priority as ingest.
       */
      workerNice: Type.Integer({ minimum: 0, maximum: 19 }),
      /**
       * The worker thread in Linux's SCHED_IDLE class (default true): it runs only on CPU time the
       * ingest thread does not want, which takes its core back at once (a nice value alone still
       * left ingest waiting for the worker's time slice). Set through util-linux's `chrt`; where
       * that is missing (or off Linux) the worker runs at `workerNice`, and says so in the log.
       */
      workerIdle: Type.Boolean(),
      /**
       * Report by exception (default): derived values with a `deadband` (and anomaly scores of a plan
       * with `report`) are stored and published only when they moved beyond it or after their
       * heartbeat. false: every derived value is stored (full resolution, more storage).
       */
      deadbands: Type.Boolean(),
    }),
    /** What-if runs: bounds of the trajectories kept in memory (docs/what-if.md). */
    whatIf: Type.Object({
      /** MiB of trajectories kept at most, all runs together (finished and running). */
      maxKeptMiB: Type.Number({ minimum: 1 }),
      /** MiB of trajectories one run may produce (a larger run is refused before it starts). */
      maxResultMiB: Type.Number({ minimum: 1 }),
    }),
    /** Import and delete jobs (docs/import-jobs.md). */
    jobs: Type.Object({
      /** The folder under the data folder that file: URIs of import jobs must name (no '..'). */
      importsFolder: Type.String({ minLength: 1, pattern: '^(?!.*(^|[\\\\/])\\.\\.([\\\\/]|$))[^\\\\/].*$' }),
      /** Jobs of one kind kept at most (ADT: JobLimitReached). */
      maxJobs: Type.Integer({ minimum: 1 }),
      /** Days a finished job is kept (purgeDateTime). */
      retentionDays: Type.Number({ exclusiveMinimum: 0 }),
      /** Twins or relationships written per transaction (then the event loop is yielded). */
      batchSize: Type.Integer({ minimum: 1, maximum: 10_000 }),
      /** Most ms of writes per transaction (a batch is cut into slices; the event loop runs between). */
      sliceMs: Type.Number({ minimum: 1, maximum: 1000 }),
      /** Longest line of an import file, KiB. */
      maxLineKiB: Type.Integer({ minimum: 1 }),
      /** Largest Models section, MiB (held for its one batch). */
      maxModelMiB: Type.Number({ exclusiveMinimum: 0 }),
      /** Largest import input (file, download or upload), MiB. */
      maxInputMiB: Type.Number({ exclusiveMinimum: 0 }),
      /** Error lines written to an output log at most (later ones are counted). */
      maxLoggedErrors: Type.Integer({ minimum: 1 }),
      /** Bad rows a history import writes aside at most; past them the job fails (docs/history-import.md). */
      maxBadRows: Type.Integer({ minimum: 1 }),
      /** Whether http(s) inputBlobUri values are fetched. */
      httpInput: Type.Boolean(),
      /** Time budget of an http(s) input, ms. */
      httpTimeoutMs: Type.Integer({ minimum: 1000 }),
    }),
    // ---- event routes (issue 8; docs/event-routes.md) ----
    eventRoutes: Type.Object({
      /** The CloudEvent `source` of this instance (default: the machine's host name). */
      source: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
      /** NATS server for nats endpoints without a url of their own. */
      natsUrl: Type.Optional(Type.String({ pattern: '^(nats|tls|ws|wss)://' })),
      /** Endpoints declared here ({ name, type, ... } as PUT /endpoints/{name} takes); fixed at run time. */
      endpoints: Type.Array(Type.Record(Type.String(), Type.Unknown())),
      /** Routes declared here (as PUT /eventroutes/{id} takes, with their id); fixed at run time. */
      routes: Type.Array(
        Type.Object(
          { id: Type.String(), endpointName: Type.String(), filter: Type.String() },
          { additionalProperties: false },
        ),
      ),
      maxRoutes: Type.Integer({ minimum: 1, maximum: 10_000 }),
      maxEndpoints: Type.Integer({ minimum: 1, maximum: 10_000 }),
      /** Failed attempts after which an event goes to the dead letters; 0: no limit (ttlSeconds only). */
      maxAttempts: Type.Integer({ minimum: 0 }),
      /** An event still undelivered this long after its commit goes to the dead letters at its next failure. */
      ttlSeconds: Type.Number({ exclusiveMinimum: 0 }),
      initialBackoffMs: Type.Integer({ minimum: 1 }),
      maxBackoffMs: Type.Integer({ minimum: 1 }),
      /** Sends in flight per endpoint (to different twins). */
      concurrency: Type.Integer({ minimum: 1, maximum: 1024 }),
      /** Per send, ms. */
      timeoutMs: Type.Integer({ minimum: 100, maximum: 600_000 }),
    }),
    // ---- end of event routes ----
    logLevel: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    ),
  },
  { additionalProperties: false },
);

export type TwinloopConfig = Static<typeof ConfigSchema>;

/** A partial configuration as one source gives it. */
export type ConfigLayer = {
  [K in keyof TwinloopConfig]?: TwinloopConfig[K] extends object
    ? Partial<TwinloopConfig[K]>
    : TwinloopConfig[K];
};

export const DEFAULT_HTTP_PORT = 8480;
export const DEFAULT_MQTT_PORT = 1883;

export function defaultConfig(): TwinloopConfig {
  return {
    dataDir: './data',
    host: '127.0.0.1',
    httpPort: DEFAULT_HTTP_PORT,
    httpPortExplicit: false,
    mqtt: { port: DEFAULT_MQTT_PORT, portExplicit: false, maxMessageBytes: 256 * 1024 },
    auth: 'auto',
    http: { corsOrigins: [], allowedHosts: [] },
    limits: { maxBodyBytes: 16 * 1024 * 1024, maxQueryLength: 8000 },
    // Keeps a hopeless query (an unanchored MATCH over a dense graph) to well under a second of
    // work; slices of 5 ms keep MQTT acknowledgements and /healthz answering while it runs.
    query: {
      maxVisits: 1_000_000,
      timeoutMs: 10_000,
      sliceMs: 5,
      cursorTtlMs: 5 * 60_000,
      maxCursors: 1000,
      cursorMaxBytes: 64 * 1024 * 1024,
      liveMaxVisits: 50_000,
    },
    history: { retentionDays: 0, synchronous: 'FULL' },
    storage: { integrityCheckMaxMB: 1024, poolSize: 10, partition: 'day' },
    role: 'all',
    bus: { partitions: 12, prefix: 'twinloop' },
    deadLetters: { retentionDays: 7, maxMB: 256, maxPayloadBytes: 16 * 1024 },
    alarms: { retentionDays: 90 },
    control: {
      commandExpirySeconds: 600,
      maxCommandExpirySeconds: 7 * 86_400,
      maxQueuedPerTwin: 1000,
      retentionDays: 30,
    },
    simulation: { enabled: true, shadow: true },
    analytics: {
      enabled: true,
      maxQueued: 200_000,
      anomalyThreshold: 0.9,
      leaseMs: 5000,
      worker: true,
      workerNice: 10,
      workerIdle: true,
      deadbands: true,
    },
    whatIf: { maxKeptMiB: 256, maxResultMiB: 64 },
    jobs: {
      importsFolder: 'imports',
      maxJobs: 100,
      retentionDays: 30,
      batchSize: 200,
      sliceMs: 10,
      maxLineKiB: 4096,
      maxModelMiB: 64,
      maxInputMiB: 16_384,
      maxLoggedErrors: 10_000,
      maxBadRows: 1_000_000,
      httpInput: true,
      httpTimeoutMs: 3_600_000,
    },
    // event routes (issue 8)
    eventRoutes: {
      endpoints: [],
      routes: [],
      maxRoutes: 100,
      maxEndpoints: 100,
      maxAttempts: 0,
      ttlSeconds: 24 * 3600,
      initialBackoffMs: 500,
      maxBackoffMs: 60_000,
      concurrency: 64,
      timeoutMs: 10_000,
    },
    logLevel: 'info',
  };
}

/** Options as the command line gives them (commander's parsed options). */
export interface CliConfigOptions {
  config?: string;
  data?: string;
  host?: string;
  httpPort?: string;
  mqttPort?: string;
  mqttUrl?: string;
  tlsCert?: string;
  tlsKey?: string;
  auth?: string;
  /** --cors-origin (repeatable, or a comma list). */
  corsOrigin?: string | readonly string[];
  /** --allowed-host (repeatable, or a comma list). */
  allowedHost?: string | readonly string[];
  pilot?: string;
  /** 'on' or 'off' (commander's --sim / --no-sim, mapped by the CLI). */
  sim?: string;
  simSpeed?: string;
  /** 'on' or 'off' (--shadow / --no-shadow). */
  shadow?: string;
  logLevel?: string;
  retentionDays?: string;
  queryMaxVisits?: string;
  queryTimeoutMs?: string;
  queryMaxHops?: string;
  /** postgres://… (storage.url). */
  store?: string;
  role?: string;
  /** nats://… (bus.url). */
  bus?: string;
}

type Env = Record<string, string | undefined>;

function num(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : (v as unknown as number); // left as-is so validation reports it
}

/** on/off (anything else is left as-is so validation reports it). */
const flag = (v: string): boolean => (v === 'on' ? true : v === 'off' ? false : (v as unknown as boolean));

/** on/off and a speed. */
function simLayer(
  on: string | undefined,
  speed: string | undefined,
  shadow: string | undefined,
): Partial<TwinloopConfig['simulation']> | undefined {
  const sim: Partial<TwinloopConfig['simulation']> = {};
  if (on) sim.enabled = flag(on);
  if (shadow) sim.shadow = flag(shadow);
  if (speed !== undefined && speed !== '') sim.speed = num(speed);
  return Object.keys(sim).length ? sim : undefined;
}

/** A repeatable or comma-separated list option; undefined when not given. */
function list(v: string | readonly string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const items = (typeof v === 'string' ? [v] : v).flatMap((x) => x.split(',')).map((x) => x.trim());
  return items.filter((x) => x !== '');
}

/** The HTTP edge options of one layer. */
function httpLayer(
  corsOrigins: string | readonly string[] | undefined,
  allowedHosts: string | readonly string[] | undefined,
): Partial<TwinloopConfig['http']> | undefined {
  const http: Partial<TwinloopConfig['http']> = {};
  const origins = list(corsOrigins);
  const hosts = list(allowedHosts);
  if (origins) http.corsOrigins = origins.map((o) => o.replace(/\/$/, ''));
  if (hosts) http.allowedHosts = hosts;
  return Object.keys(http).length ? http : undefined;
}

/** The query budget options one source gives (numbers left as-is when not numbers, for validation). */
function queryLayer(
  maxVisits: string | undefined,
  timeoutMs: string | undefined,
  maxHops: string | undefined,
): Partial<TwinloopConfig['query']> | undefined {
  const q: Partial<TwinloopConfig['query']> = {};
  if (maxVisits !== undefined && maxVisits !== '') q.maxVisits = num(maxVisits);
  if (timeoutMs !== undefined && timeoutMs !== '') q.timeoutMs = num(timeoutMs);
  if (maxHops !== undefined && maxHops !== '') q.maxHops = num(maxHops);
  return Object.keys(q).length ? q : undefined;
}

/** The layer given by TWINLOOP_* environment variables. */
export function envLayer(env: Env): ConfigLayer {
  const layer: ConfigLayer = {};
  if (env.TWINLOOP_DATA) layer.dataDir = env.TWINLOOP_DATA;
  if (env.TWINLOOP_HOST) layer.host = env.TWINLOOP_HOST;
  if (env.TWINLOOP_HTTP_PORT) {
    layer.httpPort = num(env.TWINLOOP_HTTP_PORT);
    layer.httpPortExplicit = true;
  }
  const mqtt: Partial<TwinloopConfig['mqtt']> = {};
  if (env.TWINLOOP_MQTT_PORT) {
    mqtt.port = num(env.TWINLOOP_MQTT_PORT);
    mqtt.portExplicit = true;
  }
  if (env.TWINLOOP_MQTT_URL) mqtt.url = env.TWINLOOP_MQTT_URL;
  if (env.TWINLOOP_MQTT_MAX_PACKET_BYTES) mqtt.maxPacketBytes = num(env.TWINLOOP_MQTT_MAX_PACKET_BYTES);
  if (Object.keys(mqtt).length) layer.mqtt = mqtt;
  if (env.TWINLOOP_TLS_CERT || env.TWINLOOP_TLS_KEY)
    layer.tls = { certFile: env.TWINLOOP_TLS_CERT ?? '', keyFile: env.TWINLOOP_TLS_KEY ?? '' };
  if (env.TWINLOOP_AUTH) layer.auth = env.TWINLOOP_AUTH as TwinloopConfig['auth'];
  const http = httpLayer(env.TWINLOOP_CORS_ORIGINS, env.TWINLOOP_ALLOWED_HOSTS);
  if (http) layer.http = http;
  if (env.TWINLOOP_PILOT) layer.pilot = env.TWINLOOP_PILOT;
  const sim = simLayer(env.TWINLOOP_SIM, env.TWINLOOP_SIM_SPEED, env.TWINLOOP_SHADOW);
  if (sim) layer.simulation = sim;
  if (env.TWINLOOP_LOG_LEVEL) layer.logLevel = env.TWINLOOP_LOG_LEVEL as TwinloopConfig['logLevel'];
  if (env.TWINLOOP_RETENTION_DAYS) layer.history = { retentionDays: num(env.TWINLOOP_RETENTION_DAYS) };
  const whatIf: Partial<TwinloopConfig['whatIf']> = {};
  if (env.TWINLOOP_WHATIF_MAX_KEPT_MIB) whatIf.maxKeptMiB = num(env.TWINLOOP_WHATIF_MAX_KEPT_MIB);
  if (env.TWINLOOP_WHATIF_MAX_RESULT_MIB) whatIf.maxResultMiB = num(env.TWINLOOP_WHATIF_MAX_RESULT_MIB);
  if (Object.keys(whatIf).length) layer.whatIf = whatIf;
  // TWINLOOP_ANALYTICS=on|off, TWINLOOP_ANALYTICS_WORKER=on|off, TWINLOOP_ANALYTICS_WORKER_NICE=0..19,
  // TWINLOOP_ANALYTICS_WORKER_IDLE=on|off, TWINLOOP_ANALYTICS_DEADBANDS=on|off
  const analytics: Partial<TwinloopConfig['analytics']> = {};
  if (env.TWINLOOP_ANALYTICS) analytics.enabled = flag(env.TWINLOOP_ANALYTICS);
  if (env.TWINLOOP_ANALYTICS_WORKER) analytics.worker = flag(env.TWINLOOP_ANALYTICS_WORKER);
  if (env.TWINLOOP_ANALYTICS_WORKER_NICE) analytics.workerNice = num(env.TWINLOOP_ANALYTICS_WORKER_NICE);
  if (env.TWINLOOP_ANALYTICS_WORKER_IDLE) analytics.workerIdle = flag(env.TWINLOOP_ANALYTICS_WORKER_IDLE);
  if (env.TWINLOOP_ANALYTICS_DEADBANDS) analytics.deadbands = flag(env.TWINLOOP_ANALYTICS_DEADBANDS);
  if (Object.keys(analytics).length) layer.analytics = analytics;
  const storage: Partial<TwinloopConfig['storage']> = {};
  if (env.TWINLOOP_INTEGRITY_CHECK_MAX_MB)
    storage.integrityCheckMaxMB = num(env.TWINLOOP_INTEGRITY_CHECK_MAX_MB);
  if (env.TWINLOOP_STORE) storage.url = env.TWINLOOP_STORE;
  if (Object.keys(storage).length) layer.storage = storage;
  if (env.TWINLOOP_ROLE) layer.role = env.TWINLOOP_ROLE as TwinloopConfig['role'];
  if (env.TWINLOOP_BUS) layer.bus = { url: env.TWINLOOP_BUS };
  const dl: Partial<TwinloopConfig['deadLetters']> = {};
  if (env.TWINLOOP_DEADLETTER_RETENTION_DAYS) dl.retentionDays = num(env.TWINLOOP_DEADLETTER_RETENTION_DAYS);
  if (env.TWINLOOP_DEADLETTER_MAX_MB) dl.maxMB = num(env.TWINLOOP_DEADLETTER_MAX_MB);
  if (env.TWINLOOP_DEADLETTER_MAX_PAYLOAD_BYTES)
    dl.maxPayloadBytes = num(env.TWINLOOP_DEADLETTER_MAX_PAYLOAD_BYTES);
  if (Object.keys(dl).length) layer.deadLetters = dl;
  if (env.TWINLOOP_ALARM_RETENTION_DAYS)
    layer.alarms = { retentionDays: num(env.TWINLOOP_ALARM_RETENTION_DAYS) };
  const query = queryLayer(
    env.TWINLOOP_QUERY_MAX_VISITS,
    env.TWINLOOP_QUERY_TIMEOUT_MS,
    env.TWINLOOP_QUERY_MAX_HOPS,
  );
  if (query) layer.query = query;
  if (env.TWINLOOP_NATS_URL) layer.eventRoutes = { natsUrl: env.TWINLOOP_NATS_URL }; // event routes (issue 8)
  return layer;
}

/** The layer given by command-line options. */
export function cliLayer(o: CliConfigOptions): ConfigLayer {
  const layer: ConfigLayer = {};
  if (o.data) layer.dataDir = o.data;
  if (o.host) layer.host = o.host;
  if (o.httpPort !== undefined) {
    layer.httpPort = num(o.httpPort);
    layer.httpPortExplicit = true;
  }
  const mqtt: Partial<TwinloopConfig['mqtt']> = {};
  if (o.mqttPort !== undefined) {
    mqtt.port = num(o.mqttPort);
    mqtt.portExplicit = true;
  }
  if (o.mqttUrl) mqtt.url = o.mqttUrl;
  if (Object.keys(mqtt).length) layer.mqtt = mqtt;
  if (o.tlsCert || o.tlsKey) layer.tls = { certFile: o.tlsCert ?? '', keyFile: o.tlsKey ?? '' };
  if (o.auth) layer.auth = o.auth as TwinloopConfig['auth'];
  const http = httpLayer(o.corsOrigin, o.allowedHost);
  if (http) layer.http = http;
  if (o.pilot) layer.pilot = o.pilot;
  const sim = simLayer(o.sim, o.simSpeed, o.shadow);
  if (sim) layer.simulation = sim;
  if (o.logLevel) layer.logLevel = o.logLevel as TwinloopConfig['logLevel'];
  if (o.retentionDays !== undefined) layer.history = { retentionDays: num(o.retentionDays) };
  const query = queryLayer(o.queryMaxVisits, o.queryTimeoutMs, o.queryMaxHops);
  if (query) layer.query = query;
  if (o.store) layer.storage = { url: o.store };
  if (o.role) layer.role = o.role as TwinloopConfig['role'];
  if (o.bus) layer.bus = { url: o.bus };
  return layer;
}

/** Reads a JSON config file as a layer; a broken file is an InvalidConfig error saying where. */
export function fileLayer(file: string): ConfigLayer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TwinloopError('InvalidConfig', `Cannot read the config file ${file}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  try {
    return JSON.parse(text) as ConfigLayer;
  } catch (e) {
    throw new TwinloopError(
      'InvalidConfig',
      `The config file ${file} is not valid JSON: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(base: Record<string, unknown>, layer: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(layer)) {
    if (v === undefined) continue;
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? merge(out[k], v) : v;
  }
  return out;
}

function deepFreeze<T>(o: T): T {
  if (isPlainObject(o) || Array.isArray(o)) {
    for (const v of Object.values(o as object)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

/**
 * Builds the configuration from its layers, validates it (every problem at once) and freezes it.
 * @throws TwinloopError('InvalidConfig') listing every problem.
 */
export function resolveConfig(layers: readonly ConfigLayer[], cwd = process.cwd()): Readonly<TwinloopConfig> {
  let merged: Record<string, unknown> = defaultConfig() as unknown as Record<string, unknown>;
  for (const l of layers) merged = merge(merged, l as Record<string, unknown>);
  const problems: Problem[] = [...Value.Errors(ConfigSchema, merged)].map((e) => ({
    code: 'config.invalid',
    pointer: e.path,
    // URLs may hold a password: never echoed.
    message: `${e.path || '(root)'}: ${e.message}${e.value !== undefined && !SECRET_POINTERS.has(e.path) ? ` (got ${JSON.stringify(e.value)})` : ''}`,
  }));
  const cfg = merged as unknown as TwinloopConfig;
  if (problems.length === 0) {
    if (cfg.auth === 'off' && !isLoopback(cfg.host))
      problems.push({
        code: 'config.auth',
        pointer: '/auth',
        message: `auth "off" is only allowed when bound to loopback; host is ${cfg.host}`,
      });
    if (cfg.whatIf.maxResultMiB > cfg.whatIf.maxKeptMiB)
      problems.push({
        code: 'config.whatIf',
        pointer: '/whatIf/maxResultMiB',
        message: `whatIf.maxResultMiB (${cfg.whatIf.maxResultMiB}) cannot exceed whatIf.maxKeptMiB (${cfg.whatIf.maxKeptMiB}): one run must fit in what is kept`,
      });
    if (cfg.mqtt.maxPacketBytes !== undefined && cfg.mqtt.maxPacketBytes < cfg.mqtt.maxMessageBytes)
      problems.push({
        code: 'config.mqtt',
        pointer: '/mqtt/maxPacketBytes',
        message: `mqtt.maxPacketBytes (${cfg.mqtt.maxPacketBytes}) must be at least mqtt.maxMessageBytes (${cfg.mqtt.maxMessageBytes})`,
      });
    if (cfg.control.commandExpirySeconds > cfg.control.maxCommandExpirySeconds)
      problems.push({
        code: 'config.control',
        pointer: '/control/commandExpirySeconds',
        message: `control.commandExpirySeconds (${cfg.control.commandExpirySeconds}) cannot exceed control.maxCommandExpirySeconds (${cfg.control.maxCommandExpirySeconds})`,
      });
    problems.push(...eventRouteProblems(cfg.eventRoutes)); // event routes (issue 8)
    problems.push(...roleProblems(cfg));
    if (cfg.tls && (!cfg.tls.certFile || !cfg.tls.keyFile))
      problems.push({
        code: 'config.tls',
        pointer: '/tls',
        message: 'TLS needs both --tls-cert and --tls-key',
      });
  }
  if (problems.length) {
    throw new TwinloopError(
      'InvalidConfig',
      `Invalid configuration:\n${problems.map((p) => `  - ${p.message}`).join('\n')}`,
      { problems },
    );
  }
  cfg.dataDir = path.resolve(cwd, cfg.dataDir);
  if (cfg.tls)
    cfg.tls = { certFile: path.resolve(cwd, cfg.tls.certFile), keyFile: path.resolve(cwd, cfg.tls.keyFile) };
  return deepFreeze(cfg);
}

const SECRET_POINTERS = new Set(['/storage/url', '/bus/url', '/mqtt/url']);

/** A cluster role needs the shared store and the bus (docs/scaling.md). */
function roleProblems(cfg: TwinloopConfig): Problem[] {
  if (cfg.role === 'all') return [];
  const problems: Problem[] = [];
  if (!cfg.storage.url)
    problems.push({
      code: 'config.role',
      pointer: '/storage/url',
      message: `role "${cfg.role}" needs a PostgreSQL store shared by the cluster: --store postgres://… (env TWINLOOP_STORE)`,
    });
  if (!cfg.bus.url)
    problems.push({
      code: 'config.role',
      pointer: '/bus/url',
      message: `role "${cfg.role}" needs a NATS JetStream bus: --bus nats://… (env TWINLOOP_BUS)`,
    });
  return problems;
}

/** Event routes (issue 8): configured endpoints and routes, checked as the API checks them. */
function eventRouteProblems(er: TwinloopConfig['eventRoutes']): Problem[] {
  const problems: Problem[] = [];
  const names = new Set<string>();
  er.endpoints.forEach((e, i) => {
    const at = `/eventRoutes/endpoints/${i}`;
    const name = e.name;
    if (typeof name !== 'string' || !ENDPOINT_NAME.test(name) || names.has(name))
      problems.push({
        code: 'config.eventRoutes',
        pointer: `${at}/name`,
        message: `${at}/name: a unique endpoint name is needed`,
      });
    else names.add(name);
    const c = checkEndpoint(e, at);
    if ('problems' in c)
      for (const p of c.problems) problems.push({ ...p, message: `${p.pointer}: ${p.message}` });
    else if (c.spec.type === 'nats' && !c.spec.url && !er.natsUrl)
      problems.push({
        code: 'config.eventRoutes',
        pointer: `${at}/url`,
        message: `${at}/url: a nats endpoint needs a url, or eventRoutes.natsUrl (TWINLOOP_NATS_URL)`,
      });
  });
  er.routes.forEach((r, i) => problems.push(...checkConfiguredRoute(r, `/eventRoutes/routes/${i}`, names)));
  if (er.maxBackoffMs < er.initialBackoffMs)
    problems.push({
      code: 'config.eventRoutes',
      pointer: '/eventRoutes/maxBackoffMs',
      message: 'eventRoutes.maxBackoffMs must be at least eventRoutes.initialBackoffMs',
    });
  return problems;
}

/** The usual way: defaults < file (--config or TWINLOOP_CONFIG) < environment < command line. */
export function loadConfig(cli: CliConfigOptions, env: Env = process.env): Readonly<TwinloopConfig> {
  const file = cli.config ?? env.TWINLOOP_CONFIG;
  const layers: ConfigLayer[] = [];
  if (file) layers.push(fileLayer(file));
  layers.push(envLayer(env), cliLayer(cli));
  return resolveConfig(layers);
}

/** True when the server must demand a token. */
export function authRequired(cfg: Pick<TwinloopConfig, 'auth' | 'host'>): boolean {
  return cfg.auth === 'on' || (cfg.auth === 'auto' && !isLoopback(cfg.host));
}

/** Client-side settings for CLI commands that talk to a running server. */
export function clientEnv(env: Env = process.env): { url?: string; token?: string } {
  return { url: env.TWINLOOP_URL, token: env.TWINLOOP_TOKEN };
}
