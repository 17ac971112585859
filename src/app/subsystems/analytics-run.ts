/**
 * One run of the streaming analytics on this node: the operators (derived values, anomaly
 * detection, rules) with fresh state, the runtime that feeds them committed telemetry off the
 * ingest path, and the writer that stores their results as derived telemetry. A run starts when
 * this node begins to run the analytics (at start in one process; on a cluster, when it takes the
 * analytics lease) and is stopped cleanly when it ends: the runtime stops listening and feeds what
 * it had queued, then the derived values and alarms raised so far are written. Nothing of a run's
 * state outlives it: the next run (here or on another node) starts as after a restart
 * (docs/analytics.md).
 */
import type { Logger } from 'pino';
import type { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { LiveEvent, LiveEventBus } from '../../core/live/live-events.js';
import type { HistoryStore } from '../../core/ports/storage-ports.js';
import type { IngestService } from '../../core/telemetry/ingest-service.js';
import type { TelemetryObservation, TwinContext } from '../../analytics/analytics-types.js';
import type { AlarmService } from '../../analytics/alarms/alarm-service.js';
import type { DerivedSet } from '../../analytics/derived/derived-types.js';
import { DerivedEngine, type DerivedStats } from '../../analytics/derived/derived-engine.js';
import { RuleEngine, type RuleEngineStats } from '../../analytics/rules/rule-engine.js';
import type { VersionedRule } from '../../analytics/rules/rule-types.js';
import type { AnalyticsOperator, AnalyticsStats } from '../../analytics/runtime/analytics-runtime.js';
import { AnalyticsRuntime } from '../../analytics/runtime/analytics-runtime.js';
import type {
  AnomalyGroup,
  AnomalyOperatorStats,
  GroupDetector,
  StreamDetector,
} from '../../analytics/runtime/anomaly-operator.js';
import { recentPoints } from '../../analytics/runtime/anomaly-history.js';
import { AnomalyOperator } from '../../analytics/runtime/anomaly-operator.js';
import type { DerivedWriterStats } from '../../analytics/runtime/derived-writer.js';
import type { ForecastOperatorStats } from '../../analytics/runtime/forecast-operator.js';
import { ForecastOperator } from '../../analytics/runtime/forecast-operator.js';
import type { ForecastStreamSpec } from '../../analytics/runtime/forecast-plan.js';
import type { HistoryReading } from '../../analytics/runtime/anomaly-history.js';
import { DerivedWriter } from '../../analytics/runtime/derived-writer.js';
import type { PropertyWriterStats } from '../../analytics/runtime/property-writer.js';
import { PropertyWriter } from '../../analytics/runtime/property-writer.js';
import { TwinloopError } from '../../core/errors/errors.js';
import type { TwinService } from '../../core/twins/twin-service.js';
import type { AlarmRecord } from '../../core/alarms/alarm.js';
import type { TwinloopConfig } from '../config.js';

/** Anomaly detection of a pilot: which streams, with which detector. */
export interface AnomalyPlan {
  /** Telemetry names scored for twins of a model (undefined: none). */
  streamsOf: (workspace: string, modelId: string) => readonly string[] | undefined;
  createDetector: () => StreamDetector;
  /** Multivariate groups scored for twins of a model (undefined: none). */
  groupsOf?: (workspace: string, modelId: string) => readonly AnomalyGroup[] | undefined;
  /** A fresh detector for a group of `streams` telemetry. */
  createGroupDetector?: (streams: number) => GroupDetector;
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

/** What the operators of a run need (the same for every run of a node). */
export interface AnalyticsRunOptions {
  config: Readonly<Pick<TwinloopConfig, 'analytics'>>;
  /** The analytics' logger (component: analytics). */
  log: Logger;
  workspace: string;
  live: LiveEventBus;
  ingest: IngestService;
  graph: InMemoryTwinGraph;
  history: HistoryStore;
  context: TwinContext;
  alarms: AlarmService;
  derived?: readonly DerivedSet[];
  /**
   * The workspace's twin service: derived values with `target: property` are patched through it.
   * Required when `derived` has such values.
   */
  twins?: Pick<TwinService, 'update'>;
  /** Evaluate rules (the rules themselves come with AnalyticsRun.setRules). */
  rules: boolean;
  anomaly?: AnomalyPlan;
  forecast?: ForecastPlan;
  /**
   * Where the rule engine's state is kept between runs of one process (a file in the data folder):
   * saved every `ruleStateEveryMs` and when the run stops, restored when it starts, so a `for`
   * duration under way or a forecast rule's buffer survives a restart. None on a cluster (the next
   * run may be on another node).
   */
  ruleState?: RuleStateStore;
  /** Between two saves of the rule state, ms (default 60,000). */
  ruleStateEveryMs?: number;
}

/** Keeps the rule engine's snapshot (RuleEngine.snapshot) between runs. */
export interface RuleStateStore {
  /** The last snapshot saved, or undefined (none, or unreadable: said by the store). */
  load(): unknown;
  save(snapshot: unknown): void;
}

/** The statistics of one run (absent parts: that operator does not run). */
export interface AnalyticsRunStats {
  runtime?: AnalyticsStats;
  derived?: DerivedWriterStats;
  /** Derived values written as twin properties (present when the pilot defines some). */
  derivedProperties?: PropertyWriterStats;
  derivedEngine?: DerivedStats;
  anomaly?: AnomalyOperatorStats;
  forecast?: ForecastOperatorStats;
  rules?: RuleEngineStats;
}

export interface AnalyticsRun {
  readonly runtime: AnalyticsRuntime;
  /** Gives the rule engine the workspace's enabled rules (no-op without rules). */
  setRules(rules: readonly VersionedRule[]): void;
  /** The ids of the rules the engine evaluates now. */
  ruleIds(): string[];
  /** Restores the rule state saved by an earlier run (call once the rules are set). @returns pairs restored */
  restoreRuleState(): number;
  /**
   * Takes up the alarms left open before this run (a restart, a takeover), so their conditions
   * clear them: the rules' (`ofRules`: alarms of rule ids the store knows) and the detectors'.
   * Call once the rules are set.
   */
  resumeOpen(
    open: readonly AlarmRecord[],
    ofRules: readonly AlarmRecord[],
  ): { resumed: number; cleared: number };
  stats(): AnalyticsRunStats;
  /**
   * Stops listening, feeds the operators what was queued, then writes the derived values (waiting
   * at most `flushMs`; what is still in flight then is written or fails on its own) and the alarms
   * raised so far. Idempotent.
   */
  stop(flushMs?: number): Promise<void>;
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

/** Starts a run: fresh operators, subscribed to the live event bus from now on. */
export function startAnalyticsRun(o: AnalyticsRunOptions): AnalyticsRun {
  const { config, log, workspace, graph, context, alarms } = o;
  let lastWriteError = 0;
  const writer = new DerivedWriter({
    write: (sets) => o.ingest.ingestDerivedMany(sets),
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
      ...(o.anomaly.groupsOf !== undefined ? { groupsOf: o.anomaly.groupsOf } : {}),
      ...(o.anomaly.createGroupDetector !== undefined
        ? { createGroupDetector: o.anomaly.createGroupDetector }
        : {}),
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
  let properties: PropertyWriter | undefined;
  if (o.derived && o.derived.length > 0) {
    if (o.derived.some((set) => set.values.some((v) => v.property !== undefined))) {
      const twins = o.twins;
      if (!twins)
        throw new Error('startAnalyticsRun: derived properties need the twin service (options.twins).');
      let lastPatchError = 0;
      properties = new PropertyWriter({
        patch: (ws, id, ops) =>
          ws === workspace
            ? twins.update(id, ops)
            : Promise.reject(new TwinloopError('DigitalTwinNotFound', `No workspace '${ws}' here.`)),
        has: (ws, id, name) => context.property(ws, id, name.replace('.', '/')) !== undefined,
        isGone: (e) => e instanceof TwinloopError && e.code === 'DigitalTwinNotFound',
        onError: (e, where) => {
          // One line a minute at most: a twin deleted or remodelled must not flood the log.
          if (Date.now() - lastPatchError < 60_000) return;
          lastPatchError = Date.now();
          log.warn({ err: e, ...where }, 'a derived property could not be written to its twin');
        },
      });
    }
    const engine = new DerivedEngine({
      sets: o.derived,
      context,
      sink: writer,
      ...(properties ? { propertySink: properties } : {}),
    });
    derived = engine;
    // Twins without telemetry of their own (a production line) get their neighbour sums only
    // when watched: every twin is, at start and when created.
    for (const t of graph.allTwins()) engine.watch(workspace, t.id);
    const props = properties;
    operators.unshift(
      onReadingsClock(
        'derived',
        {
          observe: (obs) => engine.observe(obs),
          // Derived properties that waited for their `every` go on the same (readings') clock.
          tick: (now) => {
            engine.tick(now);
            props?.tick(now);
          },
        },
        false,
      ),
    );
    lifecycle.push((e) => {
      if (e.type === 'twinCreated' || e.type === 'twinReplaced') engine.watch(e.workspace, e.twinId);
      if (e.type === 'twinDeleted') props?.forgetTwin(e.workspace, e.twinId);
    });
  }
  let rules: RuleEngine | undefined;
  if (o.rules) {
    rules = new RuleEngine({ sink: alarms, context });
    operators.push(onReadingsClock('rules', rules, true));
  }
  let lastOpError = 0;
  let lastOverflow = 0;
  const runtime = new AnalyticsRuntime({
    // Readings the analytics could not keep: stored, never analysed. Said once a minute at most.
    onOverflow: (total) => {
      if (Date.now() - lastOverflow < 60_000) return;
      lastOverflow = Date.now();
      log.warn(
        { overflowedTotal: total, maxQueued: config.analytics.maxQueued },
        'the analytics fall behind ingest: readings beyond analytics.maxQueued are stored but not analysed (no derived value, anomaly score or rule evaluation); see twinloop_analytics_overflowed_total',
      );
    },
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
  const saveRuleState = (): void => {
    if (!rules || !o.ruleState) return;
    try {
      o.ruleState.save(rules.snapshot());
    } catch (err) {
      log.warn({ err }, 'could not save the rule state (a restart will start the rules afresh)');
    }
  };
  const ruleStateTimer =
    rules && o.ruleState ? setInterval(saveRuleState, o.ruleStateEveryMs ?? 60_000) : undefined;
  ruleStateTimer?.unref();
  let stopping: Promise<void> | undefined;
  return {
    runtime,
    setRules: (list) => rules?.setRules(workspace, list),
    ruleIds: () => (rules ? rules.rulesOf(workspace).map((x) => x.spec.id) : []),
    restoreRuleState: () => {
      if (!rules || !o.ruleState) return 0;
      const snap = o.ruleState.load();
      return snap === undefined ? 0 : rules.restore(snap);
    },
    resumeOpen(open, ofRules) {
      const r = rules ? rules.resumeOpen(workspace, ofRules) : { resumed: 0, cleared: 0 };
      const a = anomaly ? anomaly.resumeOpen(open) : 0;
      return { resumed: r.resumed + a, cleared: r.cleared };
    },
    stats: () => ({
      runtime: runtime.stats(),
      derived: writer.stats(),
      ...(properties ? { derivedProperties: properties.stats() } : {}),
      ...(derived ? { derivedEngine: derived.stats() } : {}),
      ...(anomaly ? { anomaly: anomaly.stats() } : {}),
      ...(forecast ? { forecast: forecast.stats() } : {}),
      ...(rules ? { rules: rules.stats() } : {}),
    }),
    stop: (flushMs = 10_000) =>
      (stopping ??= (async () => {
        unlisten();
        runtime.close();
        if (ruleStateTimer !== undefined) clearInterval(ruleStateTimer);
        saveRuleState();
        // Bounded: while the store is unreachable its appends wait for it (docs/scaling.md), and a
        // node that gives the analytics up must not wait for the whole outage.
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = await Promise.race([
          (async () => {
            await properties?.flush();
            await writer.flush();
            return false;
          })(),
          new Promise<boolean>((r) => (timer = setTimeout(() => r(true), flushMs))),
        ]);
        clearTimeout(timer);
        if (late)
          log.warn({ waitedMs: flushMs }, 'derived values were still being written when the run stopped');
        await alarms.flush();
      })()),
  };
}
