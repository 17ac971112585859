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
  forecast?: ForecastPlan;
  /** A stream's last points before `before`, oldest first (anomaly warm-up). */
  recentPoints: NonNullable<AnomalyOperatorOptions['recent']>;
  /** Cell averages of a stream from `from` to `to` (forecast warm-up). */
  forecastHistory: NonNullable<ForecastOperatorOptions['recent']>;
  onWarmUpError: (operator: 'anomaly' | 'forecast', error: unknown) => void;
  /** The twins there are now (watched by the derived engine for their neighbour values). */
  twinIds: Iterable<string>;
}

export interface AnalyticsOperators {
  /** In the order they see each reading. */
  operators: AnalyticsOperator[];
  derived?: DerivedEngine;
  anomaly?: AnomalyOperator;
  forecast?: ForecastOperator;
  rules?: RuleEngine;
  /** Feeds a twin or relationship event (not telemetry) to the operators that track twins. */
  onLifecycle(e: LiveEvent): void;
  stats(): OperatorStats;
}

export interface OperatorStats {
  derivedEngine?: DerivedStats;
  anomaly?: AnomalyOperatorStats;
  forecast?: ForecastOperatorStats;
  rules?: RuleEngineStats;
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
  // Deleted twins: their detectors and forecast buffers go (a new twin with the same id starts fresh).
  for (const op of [anomaly, forecast])
    if (op)
      lifecycle.push((e) => {
        if (e.type === 'twinDeleted') op.forgetTwin(e.workspace, e.twinId);
      });
  return {
    operators,
    ...(derived ? { derived } : {}),
    ...(anomaly ? { anomaly } : {}),
    ...(forecast ? { forecast } : {}),
    ...(rules ? { rules } : {}),
    onLifecycle(e) {
      for (const l of lifecycle) l(e);
    },
    stats: () => ({
      ...(derived ? { derivedEngine: derived.stats() } : {}),
      ...(anomaly ? { anomaly: anomaly.stats() } : {}),
      ...(forecast ? { forecast: forecast.stats() } : {}),
      ...(rules ? { rules: rules.stats() } : {}),
    }),
  };
}
