/**
 * Scores a played pilot (pilot-sim.ts) the way the platform would: every reading, in time order,
 * through an AnomalyOperator configured from pilots/pump-line/anomaly.yaml (or overrides: the
 * univariate streams on or off, other multivariate groups, another group detector) with an
 * in-memory AlarmSink. Then per injected fault: the first alarm on a pump it disturbs at or after
 * the injection (within `detectWithin` of the fault's end for faults that end) and its delay; and
 * false alarms: alarms raised on a pump while nothing disturbs it (outside every fault window and
 * a grace after it), per pump-day of scored time (after the detectors' probation). The same figures
 * for the streams' alarms alone and for the multivariate groups' alone.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AlarmConditionCleared, AlarmRaise } from '../../src/analytics/analytics-types.js';
import { createDetector } from '../../src/analytics/anomaly/create-detector.js';
import { DETECTOR_KINDS, type DetectorKind } from '../../src/analytics/anomaly/detector.js';
import { createMultivariateDetector } from '../../src/analytics/anomaly/multivariate-detector.js';
import {
  planStreams,
  readAnomalyPlan,
  type AnomalyPlanSpec,
} from '../../src/analytics/runtime/anomaly-plan.js';
import { AnomalyOperator, type GroupDetector } from '../../src/analytics/runtime/anomaly-operator.js';
import { EPOCH_MS, PILOT_DIR, type Injection, type PilotSim } from './pilot-sim.js';

export interface EvalOptions {
  detector?: DetectorKind;
  threshold?: number;
  clearBelow?: number;
  quietMs?: number;
  /** Quiet time after a fault ends before alarms count as false (s; default 30 min). */
  graceS?: number;
  /** How long after a fault that ends an alarm still counts as its detection (s; default 30 min). */
  detectWithinS?: number;
  /** Readings a detector learns before scoring (its default when undefined): the unscored time. */
  probationReadings?: number;
  /** Score the plan's univariate streams (default true). */
  streams?: boolean;
  /** Multivariate groups instead of the plan's (`[]`: none). */
  groups?: readonly EvalGroup[];
  /** Multivariate detector settings over the platform's (`{ streams, perStreamDetectors: 0 }`). */
  groupDetector?: Record<string, number>;
}

export interface EvalGroup {
  model: string;
  name: string;
  telemetry: readonly string[];
}

/** Detections and false alarms of one set of alarms (all, the streams', the groups'). */
export interface AlarmFigures {
  detections: Detection[];
  falseAlarms: FalseAlarm[];
  /** False alarms on the pumps never disturbed. */
  healthyFalseAlarms: number;
  alarms: number;
}

export interface Detection extends Injection {
  /** Simulated seconds of the first alarm, its delay and the stream that raised it. */
  alarmAt?: number;
  delayS?: number;
  rule?: string;
}

export interface FalseAlarm {
  twin: string;
  rule: string;
  /** Simulated seconds. */
  at: number;
}

export interface EvalResult extends AlarmFigures {
  plan: AnomalyPlanSpec;
  threshold: number;
  /** The groups scored. */
  groups: readonly EvalGroup[];
  /** The same figures for the univariate streams' alarms alone and for the groups' alone. */
  streamAlarms: AlarmFigures;
  groupAlarms: AlarmFigures;
  /** Scored pump-days of the pumps never disturbed. */
  healthyPumpDays: number;
  /** All pumps' undisturbed scored time (pump-days). */
  quietPumpDays: number;
  scored: number;
  wallMs: number;
  /**
   * Per random pump fault (same order as `detections`; undefined for the scenario's and for tank
   * faults, whose pumps see other events too), the highest group score on the pumps it disturbs from the injection to
   * the end of its detection window; and the highest group score on the never-disturbed pumps
   * after probation. Undefined without groups.
   */
  groupPeaks?: { perInjection: (number | undefined)[]; healthy: number };
}

/** The pilot's anomaly plan. @throws Error when it does not read. */
export function pilotAnomalyPlan(): AnomalyPlanSpec {
  const file = join(PILOT_DIR, 'anomaly.yaml');
  const r = readAnomalyPlan(readFileSync(file, 'utf8'), file, DETECTOR_KINDS);
  if (!('plan' in r)) throw new Error(r.problems.map((p) => p.message).join('\n'));
  return r.plan;
}

const DEFAULT_PROBATION = 750;

/** Runs the readings through the operator and scores detections and false alarms. */
export function evaluate(sim: PilotSim, o: EvalOptions = {}): EvalResult {
  const plan = pilotAnomalyPlan();
  const kind = o.detector ?? (plan.detector as DetectorKind);
  const threshold = o.threshold ?? plan.threshold ?? 0.99;
  const raised: AlarmRaise[] = [];
  const cleared: AlarmConditionCleared[] = [];
  let scoredValues = 0;
  const streamsByModel = new Map<string, string[]>();
  const groups = o.groups ?? plan.multivariate ?? [];
  const probation = o.probationReadings !== undefined ? { probation: o.probationReadings } : {};
  const groupScoreNames = groups.map((g) => `${g.name}AnomalyScore`);
  /** Per twin: time, score, time, score, ... of its group scores. */
  const groupScores = new Map<string, number[]>();
  const operator = new AnomalyOperator({
    streamsOf: (_ws, modelId) => {
      if (o.streams === false) return [];
      let s = streamsByModel.get(modelId);
      if (!s) streamsByModel.set(modelId, (s = planStreams(plan, modelId, (m, b) => m === b)));
      return s;
    },
    createDetector: () => createDetector(kind, o.probationReadings !== undefined ? probation : undefined),
    // Exact models, as streamsOf here: the pilot's pumps are of the Pump model itself.
    groupsOf: (_ws, modelId) => groups.filter((g) => g.model === modelId),
    // The platform's group detector (createGroupDetector), with the benchmark's overrides.
    createGroupDetector: (n): GroupDetector =>
      createMultivariateDetector({ streams: n, perStreamDetectors: 0, ...probation, ...o.groupDetector }),
    sink: {
      write: (_ws, id, t, values) => {
        scoredValues += Object.keys(values).length;
        for (const k of groupScoreNames) {
          const v = values[k];
          if (v === undefined) continue;
          let series = groupScores.get(id);
          if (!series) groupScores.set(id, (series = []));
          series.push(t, v);
        }
      },
    },
    alarms: { raise: (a) => raised.push(a), conditionCleared: (c) => cleared.push(c) },
    threshold,
    ...(o.clearBelow !== undefined ? { clearBelow: o.clearBelow } : {}),
    ...(o.quietMs !== undefined ? { quietMs: o.quietMs } : {}),
  });
  const t0 = performance.now();
  for (const obs of sim.observations) operator.observe(obs);
  const wallMs = performance.now() - t0;

  const sec = (ms: number): number => (ms - EPOCH_MS) / 1000;
  const grace = o.graceS ?? 1800;
  const within = o.detectWithinS ?? 1800;
  const figures = (alarms: readonly AlarmRaise[]): AlarmFigures =>
    alarmFigures(sim, alarms, { graceS: grace, detectWithinS: within });
  const groupRules = new Set(groups.map((g) => `anomaly.${g.name}`));

  // Scored time: after probation (the detectors are silent before it), outside the windows.
  const probationS = (o.probationReadings ?? DEFAULT_PROBATION) * sim.sampleInterval;
  const scoredS = Math.max(0, sim.seconds - probationS);
  const day = 86_400;
  const peakOf = (pump: string, from: number, to: number): number => {
    const series = groupScores.get(pump) ?? [];
    let max = 0;
    for (let i = 0; i < series.length; i += 2) {
      const t = sec(series[i] as number);
      if (t >= from && t <= to) max = Math.max(max, series[i + 1] as number);
    }
    return max;
  };
  const peaks = () => ({
    // Random pump faults only: each is alone on its stand-alone pump, so nothing else raises it.
    perInjection: sim.injections.map((inj) =>
      inj.source === 'random' && inj.pumps.length === 1 && inj.pumps[0] === inj.twin
        ? Math.max(0, ...inj.pumps.map((p) => peakOf(p, inj.at, inj.end + within)))
        : undefined,
    ),
    healthy: Math.max(0, ...sim.healthy.map((p) => peakOf(p, probationS, Infinity))),
  });
  return {
    plan,
    threshold,
    groups,
    ...figures(raised),
    streamAlarms: figures(raised.filter((a) => !groupRules.has(a.ruleId))),
    groupAlarms: figures(raised.filter((a) => groupRules.has(a.ruleId))),
    ...(groups.length ? { groupPeaks: peaks() } : {}),
    healthyPumpDays: (sim.healthy.length * scoredS) / day,
    quietPumpDays: undisturbedDays(sim, sim.pumps, probationS, grace),
    scored: scoredValues,
    wallMs,
  };
}

/** Simulated seconds of an alarm. */
const secOf = (ms: number): number => (ms - EPOCH_MS) / 1000;

/** The twins an injection disturbs: the pumps it reaches, and the twin it was applied to (a tank). */
const disturbs = (inj: Injection, twin: string): boolean => inj.twin === twin || inj.pumps.includes(twin);

/** Windows (s) in which each twin is disturbed: from an injection to its end plus the grace. */
function disturbedWindows(sim: PilotSim, graceS: number): Map<string, [number, number][]> {
  const windows = new Map<string, [number, number][]>();
  for (const inj of sim.injections)
    for (const p of new Set([inj.twin, ...inj.pumps]))
      windows.set(p, [...(windows.get(p) ?? []), [inj.at, inj.end + graceS]]);
  return windows;
}

/**
 * Detections and false alarms of a set of alarms, whoever raised them (detectors or rules): an alarm
 * detects the latest injection that disturbs its twin (a pump it reaches, or the twin it was applied
 * to: a tank's own alarm for supplyLoss) at or after the injection and at most `detectWithinS` after
 * its end; an alarm outside every window of its twin (injection to end plus `graceS`) is false.
 */
export function alarmFigures(
  sim: PilotSim,
  alarms: readonly AlarmRaise[],
  o: { graceS: number; detectWithinS: number },
): AlarmFigures {
  const owner = (a: AlarmRaise): Injection | undefined => {
    let best: Injection | undefined;
    const t = secOf(a.time);
    for (const inj of sim.injections)
      if (disturbs(inj, a.twinId) && t >= inj.at && t <= inj.end + o.detectWithinS)
        if (!best || inj.at > best.at) best = inj;
    return best;
  };
  const windows = disturbedWindows(sim, o.graceS);
  const disturbedAt = (p: string, t: number): boolean =>
    (windows.get(p) ?? []).some(([a, b]) => t >= a && t < b);
  const healthy = new Set(sim.healthy);
  const firstOf = new Map<Injection, AlarmRaise>();
  for (const a of alarms) {
    const inj = owner(a);
    if (inj && !firstOf.has(inj)) firstOf.set(inj, a);
  }
  const detections: Detection[] = sim.injections.map((inj) => {
    const first = firstOf.get(inj);
    return first
      ? { ...inj, alarmAt: secOf(first.time), delayS: secOf(first.time) - inj.at, rule: first.ruleId }
      : { ...inj };
  });
  const falseAlarms: FalseAlarm[] = alarms
    .filter((a) => !disturbedAt(a.twinId, secOf(a.time)))
    .map((a) => ({ twin: a.twinId, rule: a.ruleId, at: secOf(a.time) }));
  return {
    detections,
    falseAlarms,
    healthyFalseAlarms: falseAlarms.filter((f) => healthy.has(f.twin)).length,
    alarms: alarms.length,
  };
}

/** Undisturbed time of these twins from `fromS` to the end (twin-days; windows as alarmFigures). */
export function undisturbedDays(
  sim: PilotSim,
  twins: readonly string[],
  fromS: number,
  graceS: number,
): number {
  const windows = disturbedWindows(sim, graceS);
  let s = 0;
  for (const p of twins)
    for (let t = fromS; t < sim.seconds; t += sim.sampleInterval)
      if (!(windows.get(p) ?? []).some(([a, b]) => t >= a && t < b)) s += sim.sampleInterval;
  return s / 86_400;
}

/** Per fault kind: injections, detected, delays (s) of the detected ones. */
export function byKind(
  detections: readonly Detection[],
): Map<string, { n: number; detected: number; delays: number[] }> {
  const out = new Map<string, { n: number; detected: number; delays: number[] }>();
  for (const d of detections) {
    const k = out.get(d.kind) ?? { n: 0, detected: 0, delays: [] };
    k.n++;
    if (d.delayS !== undefined) {
      k.detected++;
      k.delays.push(d.delayS);
    }
    out.set(d.kind, k);
  }
  for (const k of out.values()) k.delays.sort((a, b) => a - b);
  return out;
}

export const median = (xs: readonly number[]): number | undefined => {
  if (!xs.length) return undefined;
  const m = xs.length >> 1;
  return xs.length % 2 ? xs[m] : ((xs[m - 1] as number) + (xs[m] as number)) / 2;
};
