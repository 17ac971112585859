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
import type { DerivedReadingSet, IngestService } from '../../core/telemetry/ingest-service.js';
import type { TwinContext } from '../../analytics/analytics-types.js';
import type { AlarmService } from '../../analytics/alarms/alarm-service.js';
import type { DerivedSet } from '../../analytics/derived/derived-types.js';
import type { DerivedStats } from '../../analytics/derived/derived-engine.js';
import type { RuleEngineStats } from '../../analytics/rules/rule-engine.js';
import { buildAnalyticsOperators } from '../../analytics/runtime/analytics-operators.js';
import type { VersionedRule } from '../../analytics/rules/rule-types.js';
import type { AnalyticsStats } from '../../analytics/runtime/analytics-runtime.js';
import { AnalyticsRuntime } from '../../analytics/runtime/analytics-runtime.js';
import type { AnomalyOperatorStats } from '../../analytics/runtime/anomaly-operator.js';
import { recentPoints } from '../../analytics/runtime/anomaly-history.js';
import type { DerivedWriterStats } from '../../analytics/runtime/derived-writer.js';
import type { ForecastOperatorStats } from '../../analytics/runtime/forecast-operator.js';
import type { RulOperatorStats } from '../../analytics/runtime/rul-operator.js';
import type { HistoryReading } from '../../analytics/runtime/anomaly-history.js';
import { DerivedWriter } from '../../analytics/runtime/derived-writer.js';
import type { PropertyWriterStats } from '../../analytics/runtime/property-writer.js';
import type { ReportFilterStats } from '../../analytics/runtime/report-filter.js';
import { PropertyWriter } from '../../analytics/runtime/property-writer.js';
import { TwinloopError } from '../../core/errors/errors.js';
import type { TwinService } from '../../core/twins/twin-service.js';
import type { AlarmRecord } from '../../core/alarms/alarm.js';
import type { TwinloopConfig } from '../config.js';
import type { ActiveRulModel } from '../../analytics/rul/rul-types.js';
import { loadRulPredictor } from '../../analytics/rul/rul-predictor.js';

import type { AnomalyPlan, ForecastPlan } from '../../analytics/runtime/analytics-plans.js';
import { OwnDerivedValues } from './own-derived-values.js';
export type { AnomalyPlan, ForecastPlan };

/**
 * A stream's history as the forecast operator's warm-up wants it: averages over cells of
 * `spacing` from `from` (a multiple of it) to `to`, each at its cell's middle, oldest first.
 */
export async function forecastHistory(
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

/** The time of a stream's first reading, or undefined when it has none (a twin's age for RUL). */
export async function firstReading(
  history: HistoryStore,
  workspace: string,
  twinId: string,
  path: string,
): Promise<number | undefined> {
  const page = await history.queryRaw({
    workspace,
    twinId,
    path,
    from: -8.64e15,
    to: 8.64e15,
    limit: 1,
    order: 'asc',
  });
  return page.points[0]?.ts;
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
  /** Run live RUL inference (the active models come with AnalyticsRun.setRulModels). */
  rul?: boolean;
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
  rul?: RulOperatorStats;
  rules?: RuleEngineStats;
  /** Derived values reported by exception: how many were stored, how many held back. */
  report?: ReportFilterStats;
}

export interface AnalyticsRun {
  /** The runtime when the operators run on this thread (analytics.worker false). */
  readonly runtime?: AnalyticsRuntime;
  /** Gives the rule engine the workspace's enabled rules (no-op without rules). */
  setRules(rules: readonly VersionedRule[]): void;
  /** The ids of the rules the engine evaluates now. */
  ruleIds(): string[];
  /** Gives live RUL inference the registry's active models (all of them; no-op without `rul`). */
  setRulModels(models: readonly ActiveRulModel[]): void;
  /** Restores the rule state saved by an earlier run (call once the rules are set). @returns pairs restored */
  restoreRuleState(): Promise<number>;
  /**
   * Takes up the alarms left open before this run (a restart, a takeover), so their conditions
   * clear them: the rules' (`ofRules`: alarms of rule ids the store knows) and the detectors'.
   * Call once the rules are set.
   */
  resumeOpen(
    open: readonly AlarmRecord[],
    ofRules: readonly AlarmRecord[],
  ): Promise<{ resumed: number; cleared: number }>;
  stats(): AnalyticsRunStats;
  /**
   * Stops listening, feeds the operators what was queued, then writes the derived values (waiting
   * at most `flushMs`; what is still in flight then is written or fails on its own) and the alarms
   * raised so far. Idempotent.
   */
  stop(flushMs?: number): Promise<void>;
}

/**
 * Writes what a stopping run derived (properties, then values), waiting at most `flushMs`: while the
 * store is unreachable its appends wait for it (docs/scaling.md), and a node that gives the
 * analytics up must not wait for the whole outage.
 */
export async function flushWriters(
  writer: DerivedWriter,
  properties: PropertyWriter | undefined,
  flushMs: number,
  log: Logger,
): Promise<void> {
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
  if (late) log.warn({ waitedMs: flushMs }, 'derived values were still being written when the run stopped');
}

/** The writer of derived values (telemetry): batched into IngestService.ingestDerivedMany. */
export function derivedValueWriter(o: {
  ingest: Pick<IngestService, 'ingestDerivedMany'>;
  log: Logger;
}): DerivedWriter {
  let lastWriteError = 0;
  return new DerivedWriter({
    write: (sets) => o.ingest.ingestDerivedMany(sets),
    onError: (e, where) => {
      // One line a minute at most: a deleted twin's late values must not flood the log.
      if (Date.now() - lastWriteError < 60_000) return;
      lastWriteError = Date.now();
      o.log.warn({ err: e, ...where }, 'a derived value could not be stored');
    },
  });
}

/** The writer of derived values with `target: property`: patches through the twin service. */
export function derivedPropertyWriter(
  o: Pick<AnalyticsRunOptions, 'workspace' | 'context' | 'log'>,
  twins: Pick<TwinService, 'update'>,
): PropertyWriter {
  let lastPatchError = 0;
  return new PropertyWriter({
    patch: (ws, id, ops) =>
      ws === o.workspace
        ? twins.update(id, ops)
        : Promise.reject(new TwinloopError('DigitalTwinNotFound', `No workspace '${ws}' here.`)),
    has: (ws, id, name) => o.context.property(ws, id, name.replace('.', '/')) !== undefined,
    isGone: (e) => e instanceof TwinloopError && e.code === 'DigitalTwinNotFound',
    onError: (e, where) => {
      // One line a minute at most: a twin deleted or remodelled must not flood the log.
      if (Date.now() - lastPatchError < 60_000) return;
      lastPatchError = Date.now();
      o.log.warn({ err: e, ...where }, 'a derived property could not be written to its twin');
    },
  });
}

/** Starts a run: fresh operators, subscribed to the live event bus from now on. */
export function startAnalyticsRun(o: AnalyticsRunOptions): AnalyticsRun {
  const { config, log, workspace, graph, context, alarms } = o;
  // Report by exception (ops.report): the rules get every derived value at once, the store only what
  // is reported, and the events of what this run stored are not handed to the rules a second time.
  let toRules: ((events: readonly LiveEvent[]) => void) | undefined;
  const ours = new OwnDerivedValues();
  const writer = derivedValueWriter({
    log,
    ingest: {
      ingestDerivedMany: (sets) => {
        const report = ops.report;
        if (!report) return o.ingest.ingestDerivedMany(sets);
        if (o.rules && toRules) {
          const events: LiveEvent[] = [];
          for (const s of sets) {
            const modelId = context.modelOf(s.workspace, s.twinId);
            if (modelId !== undefined) events.push({ type: 'telemetry', ...s, modelId, derived: true });
          }
          toRules(events);
        }
        const kept: DerivedReadingSet[] = [];
        const index: number[] = [];
        for (let i = 0; i < sets.length; i++) {
          const s = sets[i]!;
          const values = report.reportable(s.workspace, s.twinId, s.time, s.values);
          if (values === undefined) continue;
          kept.push(values === s.values ? s : { ...s, values: values as Record<string, number> });
          index.push(i);
        }
        return ours
          .storing(kept, (k) => o.ingest.ingestDerivedMany(k))
          .then((r) => ({ ...r, refused: r.refused.map((x) => ({ ...x, index: index[x.index]! })) }));
      },
    },
  });
  let properties: PropertyWriter | undefined;
  if (o.derived?.some((set) => set.values.some((v) => v.property !== undefined))) {
    const twins = o.twins;
    if (!twins)
      throw new Error('startAnalyticsRun: derived properties need the twin service (options.twins).');
    properties = derivedPropertyWriter(o, twins);
  }
  const ops = buildAnalyticsOperators({
    workspace,
    context,
    sink: writer,
    alarms,
    ...(properties ? { properties } : {}),
    ...(o.derived ? { derived: o.derived } : {}),
    rules: o.rules,
    ...(o.anomaly ? { anomaly: o.anomaly } : {}),
    anomalyThreshold: config.analytics.anomalyThreshold,
    deadbands: config.analytics.deadbands,
    ...(o.forecast ? { forecast: o.forecast } : {}),
    recentPoints: (ws, id, name, before, limit) => recentPoints(o.history, ws, id, name, before, limit),
    forecastHistory: (ws, id, name, from, to, spacing) =>
      forecastHistory(o.history, ws, id, name, from, to, spacing),
    onWarmUpError: (op, e) =>
      log.warn({ err: e }, `${op} warm-up from history failed; the stream starts cold`),
    ...(o.rul
      ? {
          rul: {
            load: loadRulPredictor,
            first: (ws: string, id: string, name: string) => firstReading(o.history, ws, id, name),
            onError: (err: unknown, what: string) =>
              log.warn({ err, what }, `live RUL inference: ${what} failed`),
          },
        }
      : {}),
    twinIds: (function* () {
      for (const t of graph.allTwins()) yield t.id;
    })(),
  });
  const { operators, rules, anomaly } = ops;
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
    subscribe: (l) => {
      // Without report by exception the bus's events go to the runtime as they are (no extra pass).
      if (!ops.report) return o.live.subscribe(l);
      toRules = l;
      return o.live.subscribe((events) => {
        // The run's own stored sets are left out (their rules had them); a copy only when some are.
        let kept: LiveEvent[] | undefined;
        for (let i = 0; i < events.length; i++) {
          const e = events[i] as LiveEvent;
          if (e.type === 'telemetry' && e.derived === true && ours.take(e.values))
            kept ??= events.slice(0, i);
          else kept?.push(e);
        }
        l(kept ?? events);
      });
    },
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
  const unlisten = o.live.subscribe((events) => {
    for (const e of events) if (e.type !== 'telemetry') ops.onLifecycle(e);
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
    setRulModels: (models) => ops.rul?.setModels(models),
    ruleIds: () => (rules ? rules.rulesOf(workspace).map((x) => x.spec.id) : []),
    restoreRuleState: () => {
      if (!rules || !o.ruleState) return Promise.resolve(0);
      const snap = o.ruleState.load();
      return Promise.resolve(snap === undefined ? 0 : rules.restore(snap));
    },
    resumeOpen(open, ofRules) {
      const r = rules ? rules.resumeOpen(workspace, ofRules) : { resumed: 0, cleared: 0 };
      const a = anomaly ? anomaly.resumeOpen(open) : 0;
      return Promise.resolve({ resumed: r.resumed + a, cleared: r.cleared });
    },
    stats: () => ({
      runtime: runtime.stats(),
      derived: writer.stats(),
      ...(properties ? { derivedProperties: properties.stats() } : {}),
      ...ops.stats(),
    }),
    stop: (flushMs = 10_000) =>
      (stopping ??= (async () => {
        unlisten();
        runtime.close();
        if (ruleStateTimer !== undefined) clearInterval(ruleStateTimer);
        saveRuleState();
        await flushWriters(writer, properties, flushMs, log);
        await alarms.flush();
      })()),
  };
}
