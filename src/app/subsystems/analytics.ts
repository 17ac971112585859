/**
 * The streaming analytics of a process: the runtime that feeds committed telemetry to the
 * operators off the ingest path (derived values, anomaly detection, rules), the writer that stores
 * their results as derived telemetry, the writer that patches derived properties into the twins
 * (through the twin service, like an API patch), and the twin context they read. On an api node
 * of a cluster every node sees every reading, so analytics there would raise every alarm once per
 * node: they run only on a single-process platform for now (docs/analytics.md).
 */
import type { Logger } from 'pino';
import type { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { LiveEventBus } from '../../core/live/live-events.js';
import type { ModelService } from '../../core/models/model-service.js';
import type { HistoryStore } from '../../core/ports/storage-ports.js';
import type { IngestService } from '../../core/telemetry/ingest-service.js';
import { TwinloopError } from '../../core/errors/errors.js';
import type { TwinService } from '../../core/twins/twin-service.js';
import type { TelemetryObservation, TwinContext } from '../../analytics/analytics-types.js';
import { RuleEngine, type RuleEngineStats } from '../../analytics/rules/rule-engine.js';
import type { AlarmService, AlarmServiceStats } from '../../analytics/alarms/alarm-service.js';
import type { AlarmRecord } from '../../core/alarms/alarm.js';
import { ANOMALY_RULE_PREFIX } from '../../analytics/analytics-types.js';
import type { DerivedSet } from '../../analytics/derived/derived-types.js';
import { DerivedEngine, type DerivedStats } from '../../analytics/derived/derived-engine.js';
import type { LiveEvent } from '../../core/live/live-events.js';
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
import { DerivedWriter } from '../../analytics/runtime/derived-writer.js';
import type { PropertyWriterStats } from '../../analytics/runtime/property-writer.js';
import { PropertyWriter } from '../../analytics/runtime/property-writer.js';
import { graphTwinContext } from '../../analytics/runtime/graph-twin-context.js';
import type { TwinloopConfig } from '../config.js';
import type { Subsystem } from './subsystem.js';

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

export interface AnalyticsSubsystem extends Subsystem {
  /** Undefined when analytics are off. */
  runtime: AnalyticsRuntime | undefined;
  /** The alarm service it raises through. */
  alarms: AlarmService;
  context: TwinContext;
  /**
   * Hands the alarms still open (from before a restart) to the rules and the anomaly detectors, so
   * their conditions can clear them. Call once the rules are set. `wasRule` tells a rule id the rule
   * store knows (deleted or disabled rules included): an open alarm of an id that never was a rule
   * (another raiser's) is left alone.
   */
  resumeOpenAlarms(
    wasRule: (ruleId: string) => Promise<boolean>,
  ): Promise<{ open: number; resumed: number; cleared: number }>;
  stats(): {
    runtime?: AnalyticsStats;
    derived?: DerivedWriterStats;
    /** Derived values written as twin properties (present when the pilot defines some). */
    derivedProperties?: PropertyWriterStats;
    derivedEngine?: DerivedStats;
    anomaly?: AnomalyOperatorStats;
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
   * The workspace's twin service: derived values with `target: property` are patched through it.
   * Required when `derived` has such values.
   */
  twins?: Pick<TwinService, 'update'>;
  /**
   * Rules: called with the engine once it exists, to give it the workspace's rules now and on
   * every change (RuleEngine.setRules). Without it no rules are evaluated.
   */
  rules?: (engine: RuleEngine) => void;
  anomaly?: AnomalyPlan;
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

/** Most open alarms taken up at a start (as many as the rule engine keeps pairs). */
const MAX_RESUMED = 100_000;

/** The workspace's open alarms (active or acknowledged), newest first, at most MAX_RESUMED. */
async function openAlarms(alarms: AlarmService, workspace: string): Promise<AlarmRecord[]> {
  await alarms.flush();
  const out: AlarmRecord[] = [];
  const limit = 1000;
  let after: { firstTime: number; id: string } | undefined;
  while (out.length < MAX_RESUMED) {
    const page = await alarms.list({
      workspace,
      states: ['active', 'acknowledged'],
      limit,
      ...(after ? { after } : {}),
    });
    out.push(...page);
    if (page.length < limit) break;
    const last = page[page.length - 1]!;
    after = { firstTime: last.firstTime, id: last.id };
  }
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
    return {
      runtime: undefined,
      alarms,
      context,
      resumeOpenAlarms: () => Promise.resolve({ open: 0, resumed: 0, cleared: 0 }),
      stats: () => ({}),
      close: () => Promise.resolve(),
    };
  }
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
  let derived: DerivedEngine | undefined;
  let properties: PropertyWriter | undefined;
  if (o.derived && o.derived.length > 0) {
    if (o.derived.some((s) => s.values.some((v) => v.property !== undefined))) {
      const twins = o.twins;
      if (!twins)
        throw new Error('startAnalytics: derived properties need the twin service (options.twins).');
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
    o.rules(rules);
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
  // Deleted twins: their detectors go (a new twin with the same id starts fresh).
  if (anomaly) {
    const a = anomaly;
    lifecycle.push((e) => {
      if (e.type === 'twinDeleted') a.forgetTwin(e.workspace, e.twinId);
    });
  }
  const unlisten = o.live.subscribe((events) => {
    for (const e of events) if (e.type !== 'telemetry') for (const l of lifecycle) l(e);
  });
  log.info({ operators: operators.map((op) => op.name) }, 'streaming analytics running');
  return {
    runtime,
    alarms,
    context,
    async resumeOpenAlarms(wasRule) {
      if (!rules && !anomaly) return { open: 0, resumed: 0, cleared: 0 };
      const open = await openAlarms(alarms, workspace);
      const current = new Set(rules?.rulesOf(workspace).map((x) => x.spec.id));
      const known = new Map<string, boolean>();
      const ofRules: AlarmRecord[] = [];
      for (const x of open) {
        if (x.ruleId.startsWith(ANOMALY_RULE_PREFIX)) continue;
        let k = current.has(x.ruleId) || known.get(x.ruleId);
        if (k === undefined) known.set(x.ruleId, (k = await wasRule(x.ruleId).catch(() => false)));
        if (k) ofRules.push(x);
      }
      const r = rules ? rules.resumeOpen(workspace, ofRules) : { resumed: 0, cleared: 0 };
      const a = anomaly ? anomaly.resumeOpen(open) : 0;
      const out = { open: open.length, resumed: r.resumed + a, cleared: r.cleared };
      if (open.length) log.info(out, 'open alarms taken up by the analytics');
      return out;
    },
    stats: () => ({
      runtime: runtime.stats(),
      derived: writer.stats(),
      ...(properties ? { derivedProperties: properties.stats() } : {}),
      ...(derived ? { derivedEngine: derived.stats() } : {}),
      ...(anomaly ? { anomaly: anomaly.stats() } : {}),
      ...(rules ? { rules: rules.stats() } : {}),
      alarms: { ...alarms.stats },
    }),
    async close() {
      unlisten();
      runtime.close();
      await properties?.flush();
      await writer.flush();
    },
  };
}
