/**
 * The streaming analytics of a process: the runtime that feeds committed telemetry to the
 * operators off the ingest path (derived values, anomaly detection, continuous forecasts, rules), the writer that stores
 * their results as derived telemetry, and the twin context they read. On an api node of a cluster
 * every node sees every reading, so analytics there would raise every alarm once per node: they run
 * only on a single-process platform for now (docs/analytics.md).
 */
import type { Logger } from 'pino';
import type { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { LiveEventBus } from '../../core/live/live-events.js';
import type { ModelService } from '../../core/models/model-service.js';
import type { HistoryStore } from '../../core/ports/storage-ports.js';
import type { IngestService } from '../../core/telemetry/ingest-service.js';
import type { TelemetryObservation, TwinContext } from '../../analytics/analytics-types.js';
import { RuleEngine, type RuleEngineStats } from '../../analytics/rules/rule-engine.js';
import type { AlarmService, AlarmServiceStats } from '../../analytics/alarms/alarm-service.js';
import type { DerivedSet } from '../../analytics/derived/derived-types.js';
import { DerivedEngine, type DerivedStats } from '../../analytics/derived/derived-engine.js';
import type { LiveEvent } from '../../core/live/live-events.js';
import type { AnalyticsOperator, AnalyticsStats } from '../../analytics/runtime/analytics-runtime.js';
import { AnalyticsRuntime } from '../../analytics/runtime/analytics-runtime.js';
import type {
  AnomalyOperatorStats,
  HistoryReading,
  StreamDetector,
} from '../../analytics/runtime/anomaly-operator.js';
import { AnomalyOperator } from '../../analytics/runtime/anomaly-operator.js';
import type { DerivedWriterStats } from '../../analytics/runtime/derived-writer.js';
import type { ForecastOperatorStats } from '../../analytics/runtime/forecast-operator.js';
import { ForecastOperator } from '../../analytics/runtime/forecast-operator.js';
import type { ForecastStreamSpec } from '../../analytics/runtime/forecast-plan.js';
import { DerivedWriter } from '../../analytics/runtime/derived-writer.js';
import { graphTwinContext } from '../../analytics/runtime/graph-twin-context.js';
import type { TwinloopConfig } from '../config.js';
import type { Subsystem } from './subsystem.js';

/** Anomaly detection of a pilot: which streams, with which detector. */
export interface AnomalyPlan {
  /** Telemetry names scored for twins of a model (undefined: none). */
  streamsOf: (workspace: string, modelId: string) => readonly string[] | undefined;
  createDetector: () => StreamDetector;
  /** Points of history replayed into a new stream's detector. */
  warmUpPoints?: number;
  /** Alarm threshold of this plan (default: analytics.anomalyThreshold). */
  threshold?: number;
}

/** Continuous forecasts of a pilot (forecast.yaml): which streams, how far ahead, how often. */
export interface ForecastPlan {
  /** The forecast streams of twins of a model (undefined: none). */
  streamsOf: (workspace: string, modelId: string) => readonly ForecastStreamSpec[] | undefined;
}

export interface AnalyticsSubsystem extends Subsystem {
  /** Undefined when analytics are off. */
  runtime: AnalyticsRuntime | undefined;
  /** The alarm service it raises through. */
  alarms: AlarmService;
  context: TwinContext;
  stats(): {
    runtime?: AnalyticsStats;
    derived?: DerivedWriterStats;
    derivedEngine?: DerivedStats;
    anomaly?: AnomalyOperatorStats;
    forecast?: ForecastOperatorStats;
    rules?: RuleEngineStats;
    alarms?: AlarmServiceStats;
  };
}

export interface StartAnalyticsOptions {
  config: Readonly<Pick<TwinloopConfig, 'analytics'>>;
  logger: Logger;
  workspace: string;
  live: LiveEventBus;
  ingest: IngestService;
  graph: InMemoryTwinGraph;
  models: ModelService;
  history: HistoryStore;
  /** The alarm service (rules and anomaly detectors raise through it; created by the platform). */
  alarms: AlarmService;
  /** The pilot's derived values (checked). */
  derived?: readonly DerivedSet[];
  /**
   * Rules: called with the engine once it exists, to give it the workspace's rules now and on
   * every change (RuleEngine.setRules). Without it no rules are evaluated.
   */
  rules?: (engine: RuleEngine) => void;
  anomaly?: AnomalyPlan;
  forecast?: ForecastPlan;
  /** False on an api node of a cluster (see the header). */
  runHere?: boolean;
}

/**
 * An engine as an operator whose ticks run on the readings' time base (a simulator may run faster
 * than the wall clock): the newest reading's time plus the wall time since it came.
 */
function onReadingsClock(
  name: string,
  engine: { observe(obs: TelemetryObservation): void; tick(now: number): void },
  seesDerived: boolean,
): AnalyticsOperator {
  let newest = -Infinity;
  let newestWall = 0;
  return {
    name,
    seesDerived,
    observe(obs) {
      if (obs.time > newest) {
        newest = obs.time;
        newestWall = Date.now();
      }
      engine.observe(obs);
    },
    tick(now) {
      if (newest > -Infinity) engine.tick(newest + (now - newestWall));
    },
  };
}

/** Last points of one stream before `before`, oldest first (a stream's warm-up). */
async function recentPoints(
  history: HistoryStore,
  workspace: string,
  twinId: string,
  path: string,
  before: number,
  limit: number,
): Promise<HistoryReading[]> {
  const page = await history.queryRaw({ workspace, twinId, path, from: 0, to: before, limit, order: 'desc' });
  const out: HistoryReading[] = [];
  for (let i = page.points.length - 1; i >= 0; i--) {
    const p = page.points[i] as { ts: number; value: unknown };
    if (typeof p.value === 'number') out.push({ time: p.ts, value: p.value });
  }
  return out;
}

/**
 * A stream's history as the forecast operator's warm-up wants it: averages over cells of
 * `spacing` from `from` (a multiple of it) to `to`, each at its cell's middle, oldest first.
 */
async function forecastHistory(
  history: HistoryStore,
  workspace: string,
  twinId: string,
  path: string,
  from: number,
  to: number,
  spacing: number,
): Promise<HistoryReading[]> {
  const buckets = await history.queryAggregate({
    workspace,
    twinId,
    path,
    from,
    to,
    interval: spacing,
    fns: ['avg'],
  });
  const out: HistoryReading[] = [];
  for (const b of buckets)
    if (b.count > 0 && typeof b.avg === 'number' && Number.isFinite(b.avg))
      out.push({ time: b.start + Math.floor(spacing / 2), value: b.avg });
  return out;
}

export function startAnalytics(o: StartAnalyticsOptions): AnalyticsSubsystem {
  const { config, logger, workspace, graph, models } = o;
  const context = graphTwinContext({
    graphOf: (ws) => (ws === workspace ? graph : undefined),
    isOfModel: (_ws, m, b) => models.matchesModel(m, b),
  });
  const log = logger.child({ component: 'analytics' });
  const alarms = o.alarms;
  if (!config.analytics.enabled || o.runHere === false) {
    if (config.analytics.enabled) logger.warn('streaming analytics do not run on api nodes of a cluster');
    return { runtime: undefined, alarms, context, stats: () => ({}), close: () => Promise.resolve() };
  }
  let lastWriteError = 0;
  const writer = new DerivedWriter({
    write: (ws, id, t, values) => o.ingest.ingestDerived(ws, id, t, values),
    onError: (e, where) => {
      // One line a minute at most: a deleted twin's late values must not flood the log.
      if (Date.now() - lastWriteError < 60_000) return;
      lastWriteError = Date.now();
      log.warn({ err: e, ...where }, 'a derived value could not be stored');
    },
  });
  const operators: AnalyticsOperator[] = [];
  /** Listeners of lifecycle events (twins created, deleted). */
  const lifecycle: ((e: LiveEvent) => void)[] = [];
  let anomaly: AnomalyOperator | undefined;
  if (o.anomaly) {
    anomaly = new AnomalyOperator({
      streamsOf: o.anomaly.streamsOf,
      createDetector: o.anomaly.createDetector,
      sink: writer,
      alarms,
      threshold: o.anomaly.threshold ?? config.analytics.anomalyThreshold,
      recent: (ws, id, name, before, limit) => recentPoints(o.history, ws, id, name, before, limit),
      ...(o.anomaly.warmUpPoints !== undefined ? { warmUpPoints: o.anomaly.warmUpPoints } : {}),
      onWarmUpError: (e) =>
        log.warn({ err: e }, 'anomaly warm-up from history failed; the stream starts cold'),
    });
    operators.push(anomaly);
  }
  let forecast: ForecastOperator | undefined;
  if (o.forecast) {
    forecast = new ForecastOperator({
      streamsOf: o.forecast.streamsOf,
      sink: writer,
      recent: (ws, id, name, from, to, spacing) =>
        forecastHistory(o.history, ws, id, name, from, to, spacing),
      onWarmUpError: (e) =>
        log.warn({ err: e }, 'forecast warm-up from history failed; the stream starts cold'),
    });
    operators.push(forecast);
  }
  let derived: DerivedEngine | undefined;
  if (o.derived && o.derived.length > 0) {
    const engine = new DerivedEngine({ sets: o.derived, context, sink: writer });
    derived = engine;
    // Twins without telemetry of their own (a production line) get their neighbour sums only
    // when watched: every twin is, at start and when created.
    for (const t of graph.allTwins()) engine.watch(workspace, t.id);
    operators.unshift(onReadingsClock('derived', engine, false));
    lifecycle.push((e) => {
      if (e.type === 'twinCreated' || e.type === 'twinReplaced') engine.watch(e.workspace, e.twinId);
    });
  }
  let rules: RuleEngine | undefined;
  if (o.rules) {
    rules = new RuleEngine({ sink: alarms, context });
    operators.push(onReadingsClock('rules', rules, true));
    o.rules(rules);
  }
  let lastOpError = 0;
  const runtime = new AnalyticsRuntime({
    subscribe: (l) => o.live.subscribe(l),
    operators,
    maxInboxObservations: config.analytics.maxQueued,
    onOperatorError: (name, e) => {
      if (Date.now() - lastOpError < 60_000) return;
      lastOpError = Date.now();
      log.error(
        { err: e, operator: name },
        'an analytics operator failed on a reading (counted; later ones go on)',
      );
    },
  });
  // Deleted twins: their detectors and forecast buffers go (a new twin with the same id starts fresh).
  for (const op of [anomaly, forecast])
    if (op)
      lifecycle.push((e) => {
        if (e.type === 'twinDeleted') op.forgetTwin(e.workspace, e.twinId);
      });
  const unlisten = o.live.subscribe((events) => {
    for (const e of events) if (e.type !== 'telemetry') for (const l of lifecycle) l(e);
  });
  log.info({ operators: operators.map((op) => op.name) }, 'streaming analytics running');
  return {
    runtime,
    alarms,
    context,
    stats: () => ({
      runtime: runtime.stats(),
      derived: writer.stats(),
      ...(derived ? { derivedEngine: derived.stats() } : {}),
      ...(anomaly ? { anomaly: anomaly.stats() } : {}),
      ...(forecast ? { forecast: forecast.stats() } : {}),
      ...(rules ? { rules: rules.stats() } : {}),
      alarms: { ...alarms.stats },
    }),
    async close() {
      unlisten();
      runtime.close();
      await writer.flush();
    },
  };
}
