/**
 * What the streaming analytics (derived values, anomaly detection, rules and alarms, forecasting)
 * share: the observation they consume, the read-only view of twins they may consult, and what they
 * emit. The analytics runtime (src/analytics/runtime/) feeds committed telemetry to the operators
 * off the ingest critical path and writes their results back (derived telemetry through
 * IngestService.ingestDerived, alarms through the alarm service).
 */

/** One committed reading set of a twin (a telemetry event of the LiveEventBus). */
export interface TelemetryObservation {
  workspace: string;
  twinId: string;
  modelId: string;
  /** Component name when the readings belong to a component. */
  component?: string;
  /** Source time, ms since epoch. */
  time: number;
  /** Validated values by telemetry name (numbers, booleans, strings, objects as the model says). */
  values: Readonly<Record<string, unknown>>;
}

/** A read-only view of the twin graph for analytics (implemented over the in-memory graph). */
export interface TwinContext {
  /** The twin's model id; undefined when the twin does not exist. */
  modelOf(workspace: string, twinId: string): string | undefined;
  /** Whether `modelId` is `baseModelId` or extends it (IS_OF_MODEL). */
  isOfModel(workspace: string, modelId: string, baseModelId: string): boolean;
  /** A property's current value (`name`, or `component/name`); undefined when unset or unknown. */
  property(workspace: string, twinId: string, name: string): unknown;
  /** Ids of the targets of the twin's relationships of that name (empty when none). */
  related(workspace: string, twinId: string, relationshipName: string): readonly string[];
}

/** Alarm severities, most severe first (ThingsBoard's five). */
export const ALARM_SEVERITIES = ['critical', 'major', 'minor', 'warning', 'indeterminate'] as const;
export type AlarmSeverity = (typeof ALARM_SEVERITIES)[number];

/** A rule's condition became true for a twin: raise (or repeat) its alarm. */
export interface AlarmRaise {
  workspace: string;
  twinId: string;
  ruleId: string;
  /** Version of the rule that raised it. */
  ruleVersion: number;
  severity: AlarmSeverity;
  /** Human text, e.g. "vibration 7.9 mm/s above its limit 7.1 for 5 min". */
  message: string;
  /** When the condition was met (source time of the reading that decided it), ms. */
  time: number;
  /** The value that decided it, when there is one. */
  value?: number;
}

/** A rule's condition is no longer met for a twin (after its hysteresis): its alarm clears. */
export interface AlarmConditionCleared {
  workspace: string;
  twinId: string;
  ruleId: string;
  time: number;
  /** Why, e.g. "vibration 6.2 mm/s back below 6.8". */
  reason: string;
}

/** Where the rules engine sends what it decides (the alarm service implements it). */
/**
 * The rule id of the alarms the anomaly detectors raise: `anomaly.<telemetry>`. Reserved: no rule
 * may have an id that starts with it.
 */
export const ANOMALY_RULE_PREFIX = 'anomaly.';

export interface AlarmSink {
  raise(a: AlarmRaise): void;
  conditionCleared(c: AlarmConditionCleared): void;
}

/** Where derived values go (the runtime batches them into IngestService.ingestDerived). */
export interface DerivedSink {
  write(workspace: string, twinId: string, time: number, values: Readonly<Record<string, number>>): void;
}

/** How a derived value with `target: property` is written to its twin (times in ms, source time). */
export interface PropertyWritePolicy {
  /** Least time between two writes of the property per twin. */
  everyMs: number;
  /** Written only when it moved by more than this since the last write (0: any change). */
  deadband: number;
  /** The property is an integer or long: values are rounded (Math.round) before they are written. */
  integer: boolean;
}

/**
 * Where derived values with `target: property` go (the runtime's PropertyWriter patches the twins
 * through the twin service). `name` is the property, `component.name` for a component's.
 */
export interface DerivedPropertySink {
  write(
    workspace: string,
    twinId: string,
    time: number,
    name: string,
    value: number,
    policy: Readonly<PropertyWritePolicy>,
  ): void;
}
