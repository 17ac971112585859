/**
 * The operators of one analytics run (derived values, anomaly detection, forecasts, rules), built
 * the same way wherever they run: on the ingest thread (analytics.worker false) or in the
 * analytics worker thread. Everything they read or write goes through the narrow ports given here
 * (a TwinContext, sinks for values and alarms, history reads for warm-ups), so the place that hosts
 * them decides what is behind each port.
 */
import type { LiveEvent } from '../../core/live/live-events.js';
import type {
  AlarmSink,
  DerivedPropertySink,
  DerivedSink,
  TelemetryObservation,
  TwinContext,
} from '../analytics-types.js';
import type { DerivedSet } from '../derived/derived-types.js';
import type { DerivedSetToWrite } from './derived-writer.js';
import { DerivedEngine, type DerivedStats } from '../derived/derived-engine.js';
import { RuleEngine, type RuleEngineStats } from '../rules/rule-engine.js';
import type { AnalyticsOperator } from './analytics-runtime.js';
import {
  AnomalyOperator,
  type AnomalyOperatorOptions,
  type AnomalyOperatorStats,
} from './anomaly-operator.js';
import {
  ForecastOperator,
  type ForecastOperatorOptions,
  type ForecastOperatorStats,
} from './forecast-operator.js';
import type { AnomalyPlan, ForecastPlan } from './analytics-plans.js';
import { RulOperator, type RulOperatorStats } from './rul-operator.js';
import type { RulArtefact, RulPredictor } from '../rul/rul-types.js';
import { ANOMALY_SCORE_SUFFIX } from './anomaly-operator.js';
import {
  ReportFilter,
  type ReportFilterStats,
  type ReportPoliciesOf,
  type ReportPolicy,
} from './report-filter.js';

/** Where derived values with `target: property` go, with the ticks that release what waited. */
export interface PropertySinkWithTicks extends DerivedPropertySink {
  tick(now: number): void;
  forgetTwin(workspace: string, twinId: string): void;
}

export interface AnalyticsOperatorsOptions {
  workspace: string;
  context: TwinContext;
  /** Derived telemetry, anomaly scores and forecasts. */
  sink: DerivedSink;
  alarms: AlarmSink;
  /** Required when a derived set has values with `target: property`. */
  properties?: PropertySinkWithTicks;
  derived?: readonly DerivedSet[];
  /** Evaluate rules (given later with RuleEngine.setRules). */
  rules: boolean;
  anomaly?: AnomalyPlan;
  /** The anomaly alarms' threshold when the plan sets none. */
  anomalyThreshold: number;
  /** Report by exception where the definitions say so (false: every value is reported). */
  deadbands: boolean;
  forecast?: ForecastPlan;
  /** A stream's last points before `before`, oldest first (anomaly warm-up). */
  recentPoints: NonNullable<AnomalyOperatorOptions['recent']>;
  /** Cell averages of a stream from `from` to `to` (forecast warm-up). */
  forecastHistory: NonNullable<ForecastOperatorOptions['recent']>;
  onWarmUpError: (operator: 'anomaly' | 'forecast', error: unknown) => void;
  /**
   * Live RUL inference (the registry's active models are given later with RulOperator.setModels):
   * how to load an artefact, and a stream's first reading time (a twin's age counts from it).
   */
  rul?: {
    load: (artefact: RulArtefact) => RulPredictor;
    first: (workspace: string, twinId: string, name: string) => Promise<number | undefined>;
    /** A model that cannot be loaded, a prediction or a warm-up that failed (`what` says which). */
    onError: (error: unknown, what: string) => void;
  };
  /** The twins there are now (watched by the derived engine for their neighbour values). */
  twinIds: Iterable<string>;
}

export interface AnalyticsOperators {
  /** In the order they see each reading. */
  operators: AnalyticsOperator[];
  derived?: DerivedEngine;
  anomaly?: AnomalyOperator;
  forecast?: ForecastOperator;
  rul?: RulOperator;
  rules?: RuleEngine;
  /**
   * Which derived values are stored and published (report by exception: `deadband` of a derived
   * value, `report` of the anomaly plan); absent when every value is. The host applies it to what
   * it hands to the store, after the run's own rules have seen every value.
   */
  report?: ReportFilter;
  /** Feeds a twin or relationship event (not telemetry) to the operators that track twins. */
  onLifecycle(e: LiveEvent): void;
  stats(): OperatorStats;
}

export interface OperatorStats {
  derivedEngine?: DerivedStats;
  anomaly?: AnomalyOperatorStats;
  forecast?: ForecastOperatorStats;
  rul?: RulOperatorStats;
  rules?: RuleEngineStats;
  report?: ReportFilterStats;
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

/**
 * The report policies of a twin's derived series: its model's (and its own) derived values with a
 * `deadband`, and its anomaly scores when the plan says `report` (always reported at or above the
 * alarm threshold). Undefined when nothing is reported by exception.
 */
function reportPolicies(o: AnalyticsOperatorsOptions): ReportPoliciesOf | undefined {
  const sets = (o.derived ?? []).filter((s) => s.values.some((v) => v.report !== undefined));
  const scores = o.anomaly?.report;
  if (sets.length === 0 && scores === undefined) return undefined;
  const { context } = o;
  const threshold = o.anomaly?.threshold ?? o.anomalyThreshold;
  const ofModel = new Map<string, Map<string, ReportPolicy>>();
  const modelPolicies = (ws: string, modelId: string): Map<string, ReportPolicy> => {
    const key = `${ws}\u0000${modelId}`;
    let m = ofModel.get(key);
    if (m !== undefined) return m;
    m = new Map();
    for (const s of sets)
      if ('model' in s.target && !('twin' in s.target) && context.isOfModel(ws, modelId, s.target.model))
        for (const v of s.values) if (v.report) m.set(v.name, v.report);
    if (scores !== undefined && o.anomaly) {
      const policy: ReportPolicy = { ...scores, atOrAbove: threshold };
      for (const name of o.anomaly.streamsOf(ws, modelId) ?? []) m.set(name + ANOMALY_SCORE_SUFFIX, policy);
      for (const g of o.anomaly.groupsOf?.(ws, modelId) ?? []) m.set(g.name + ANOMALY_SCORE_SUFFIX, policy);
    }
    if (ofModel.size >= 10_000) ofModel.clear();
    ofModel.set(key, m);
    return m;
  };
  return (ws, twinId) => {
    const modelId = context.modelOf(ws, twinId);
    if (modelId === undefined) return undefined;
    const m = modelPolicies(ws, modelId);
    const own = sets.filter((s) => 'twin' in s.target && s.target.twin === twinId);
    if (own.length === 0) return m;
    const withOwn = new Map(m);
    for (const s of own) for (const v of s.values) if (v.report) withOwn.set(v.name, v.report);
    return withOwn;
  };
}

export function buildAnalyticsOperators(o: AnalyticsOperatorsOptions): AnalyticsOperators {
  const { workspace, context, sink, alarms } = o;
  const operators: AnalyticsOperator[] = [];
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
      sink,
      alarms,
      threshold: o.anomaly.threshold ?? o.anomalyThreshold,
      recent: o.recentPoints,
      ...(o.anomaly.warmUpPoints !== undefined ? { warmUpPoints: o.anomaly.warmUpPoints } : {}),
      onWarmUpError: (e) => o.onWarmUpError('anomaly', e),
    });
    operators.push(anomaly);
  }
  let forecast: ForecastOperator | undefined;
  if (o.forecast) {
    forecast = new ForecastOperator({
      streamsOf: o.forecast.streamsOf,
      sink,
      recent: o.forecastHistory,
      onWarmUpError: (e) => o.onWarmUpError('forecast', e),
    });
    operators.push(forecast);
  }
  let rul: RulOperator | undefined;
  if (o.rul) {
    rul = new RulOperator({
      workspace,
      context,
      sink,
      load: o.rul.load,
      cells: o.forecastHistory,
      first: o.rul.first,
      onError: o.rul.onError,
    });
    operators.push(rul);
  }
  let derived: DerivedEngine | undefined;
  if (o.derived && o.derived.length > 0) {
    const props = o.properties;
    if (!props && o.derived.some((set) => set.values.some((v) => v.property !== undefined)))
      throw new Error('buildAnalyticsOperators: derived properties need a property sink.');
    const engine = new DerivedEngine({
      sets: o.derived,
      context,
      sink,
      ...(props ? { propertySink: props } : {}),
    });
    derived = engine;
    // Twins without telemetry of their own (a production line) get their neighbour sums only
    // when watched: every twin is, at start and when created.
    for (const id of o.twinIds) engine.watch(workspace, id);
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
  const policies = o.deadbands ? reportPolicies(o) : undefined;
  const report = policies ? new ReportFilter(policies) : undefined;
  if (report)
    lifecycle.push((e) => {
      if (e.type === 'twinDeleted' || e.type === 'twinReplaced') report.forgetTwin(e.workspace, e.twinId);
    });
  // Deleted twins: their detectors and forecast buffers go (a new twin with the same id starts fresh).
  for (const op of [anomaly, forecast, rul])
    if (op)
      lifecycle.push((e) => {
        if (e.type === 'twinDeleted') op.forgetTwin(e.workspace, e.twinId);
      });
  return {
    operators,
    ...(derived ? { derived } : {}),
    ...(anomaly ? { anomaly } : {}),
    ...(forecast ? { forecast } : {}),
    ...(rul ? { rul } : {}),
    ...(rules ? { rules } : {}),
    ...(report ? { report } : {}),
    onLifecycle(e) {
      for (const l of lifecycle) l(e);
    },
    stats: () => ({
      ...(derived ? { derivedEngine: derived.stats() } : {}),
      ...(anomaly ? { anomaly: anomaly.stats() } : {}),
      ...(forecast ? { forecast: forecast.stats() } : {}),
      ...(rul ? { rul: rul.stats() } : {}),
      ...(rules ? { rules: rules.stats() } : {}),
      ...(report ? { report: report.stats() } : {}),
    }),
  };
}

/**
 * What the host of a run does with a batch of merged derived sets (the analytics worker; the
 * operators' benchmark): each set's reported values (report by exception, when `report` is given)
 * go to `store`, and every set, with all its values, goes back to the rules as a derived telemetry
 * event (returned, in order) when `modelOf` is given (the run has rules).
 */
export function reportDerivedSets(
  sets: readonly DerivedSetToWrite[],
  o: {
    report: ReportFilter | undefined;
    modelOf: ((workspace: string, twinId: string) => string | undefined) | undefined;
    store: (set: DerivedSetToWrite, reported: Readonly<Record<string, number>>) => void;
  },
): LiveEvent[] {
  const events: LiveEvent[] = [];
  for (const s of sets) {
    const reported = o.report ? o.report.reportable(s.workspace, s.twinId, s.time, s.values) : s.values;
    if (reported !== undefined) o.store(s, reported);
    const modelId = o.modelOf?.(s.workspace, s.twinId);
    if (modelId !== undefined)
      events.push({
        type: 'telemetry',
        workspace: s.workspace,
        twinId: s.twinId,
        modelId,
        time: s.time,
        values: s.values,
        derived: true,
      });
  }
  return events;
}
