/**
 * The messages between the ingest thread and the analytics worker (analytics-worker.ts): plain
 * data only, structured-cloned by postMessage. The ingest thread sends the committed events in
 * their order (telemetry, and twin updates that keep the worker's TwinReplica current) and answers
 * the worker's history reads; the worker sends what the operators decided (derived values,
 * property values, alarms) in batches, and its statistics. The hot parts (telemetry one way,
 * derived and property values the other) travel compacted (analytics-worker-codec.ts).
 */
import type { AlarmConditionCleared, AlarmRaise } from '../../analytics/analytics-types.js';
import type { DerivedSet } from '../../analytics/derived/derived-types.js';
import type { VersionedRule } from '../../analytics/rules/rule-types.js';
import type { AnalyticsStats } from '../../analytics/runtime/analytics-runtime.js';
import type { OperatorStats } from '../../analytics/runtime/analytics-operators.js';
import type { AnomalyPlanSpec } from '../../analytics/runtime/anomaly-plan.js';
import type { ForecastPlanSpec } from '../../analytics/runtime/forecast-plan.js';
import type { HistoryReading } from '../../analytics/runtime/anomaly-history.js';
import type { ReplicaSnapshot, ReplicaUpdate } from '../../analytics/runtime/twin-replica.js';
import type { AlarmRecord } from '../../core/alarms/alarm.js';
import type { ActiveRulModel } from '../../analytics/rul/rul-types.js';
import type { LiveEvent } from '../../core/live/live-events.js';
import type { OutBatch, WireBatch } from './analytics-worker-codec.js';

export interface AnalyticsWorkerData {
  workspace: string;
  derived?: DerivedSet[];
  anomaly?: AnomalyPlanSpec;
  forecast?: ForecastPlanSpec;
  anomalyThreshold: number;
  /** analytics.deadbands: report by exception. */
  deadbands: boolean;
  rules: boolean;
  /** Live RUL inference runs (models come with `setRulModels`). */
  rul: boolean;
  /** The ingest thread writes derived properties (a set has values with `target: property`). */
  properties: boolean;
  maxQueued: number;
  /** analytics.workerNice: the worker lowers its own thread's priority to it (Linux). */
  nice: number;
  /** analytics.workerIdle: the worker puts its own thread in SCHED_IDLE (Linux, util-linux chrt); else `nice`. */
  idle: boolean;
  snapshot: ReplicaSnapshot;
}

/** An event for the operators (telemetry, a twin's lifecycle) or an update of the replica. */
export type WorkerItem = LiveEvent | ReplicaUpdate;

export type ToWorker =
  /** The items in order: ItemEncoder's batch (telemetry compacted) and the rest as they are. */
  | { t: 'items'; wire: WireBatch; rest: WorkerItem[] }
  | { t: 'setRules'; rules: VersionedRule[] }
  | { t: 'setRulModels'; models: ActiveRulModel[] }
  | { t: 'restore'; id: number; snapshot: unknown }
  | { t: 'resume'; id: number; open: AlarmRecord[]; ofRules: AlarmRecord[] }
  | { t: 'ruleState'; id: number }
  | { t: 'history'; id: number; points?: HistoryReading[]; error?: string }
  | { t: 'stop'; id: number };

export type AlarmOut = { raise: AlarmRaise } | { cleared: AlarmConditionCleared };

export interface WorkerStats extends OperatorStats {
  runtime: AnalyticsStats;
}

export type FromWorker =
  | {
      t: 'out';
      /** Derived values and property values (OutEncoder). */
      batch?: OutBatch;
      alarms: AlarmOut[];
      /** The readings' clock for the property writer's waiting values. */
      propertyTick?: number;
      forgetTwins?: [string, string][];
    }
  | { t: 'stats'; stats: WorkerStats }
  | {
      t: 'history';
      id: number;
      read:
        | { kind: 'recent'; ws: string; twinId: string; name: string; before: number; limit: number }
        | {
            kind: 'cells';
            ws: string;
            twinId: string;
            name: string;
            from: number;
            to: number;
            spacing: number;
          }
        | { kind: 'first'; ws: string; twinId: string; name: string };
    }
  | { t: 'reply'; id: number; value: unknown }
  | { t: 'log'; level: 'warn' | 'error'; message: string; fields: Record<string, unknown> };
