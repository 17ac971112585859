/**
 * A pilot's anomaly and forecast plans (anomaly.yaml, forecast.yaml: plain data) as the operators
 * ask for them: which streams and groups a model's twins have, and fresh detectors. Built the same
 * way wherever the operators run (the ingest thread or the analytics worker), over that place's
 * IS_OF_MODEL.
 */
import type { StreamDetector, AnomalyGroup, GroupDetector } from './anomaly-operator.js';
import type { AnomalyPlanSpec } from './anomaly-plan.js';
import { createGroupDetector, planGroups, planStreams } from './anomaly-plan.js';
import type { ForecastPlanSpec, ForecastStreamSpec } from './forecast-plan.js';
import { planForecastStreams } from './forecast-plan.js';
import { createDetector } from '../anomaly/create-detector.js';
import type { DetectorKind } from '../anomaly/detector.js';

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
  /** Scores reported by exception (the plan's `report`); absent: every score is reported. */
  report?: { deadband: number; heartbeatMs: number };
}

/** Continuous forecasts of a pilot (forecast.yaml): which streams, how far ahead, how often. */
export interface ForecastPlan {
  /** The forecast streams of twins of a model (undefined: none). */
  streamsOf: (workspace: string, modelId: string) => readonly ForecastStreamSpec[] | undefined;
}

/** IS_OF_MODEL: `modelId` is `baseId`, extends it or is a later version of it. */
export type IsOfModel = (modelId: string, baseId: string) => boolean;

export function anomalyPlanOf(spec: AnomalyPlanSpec, isOf: IsOfModel): AnomalyPlan {
  return {
    streamsOf: (_ws, modelId) => planStreams(spec, modelId, isOf),
    createDetector: () => createDetector(spec.detector as DetectorKind),
    groupsOf: (_ws, modelId) => planGroups(spec, modelId, isOf),
    createGroupDetector,
    ...(spec.threshold !== undefined ? { threshold: spec.threshold } : {}),
    ...(spec.report !== undefined ? { report: spec.report } : {}),
  };
}

export function forecastPlanOf(spec: ForecastPlanSpec, isOf: IsOfModel): ForecastPlan {
  return { streamsOf: (_ws, modelId) => planForecastStreams(spec, modelId, isOf) };
}
