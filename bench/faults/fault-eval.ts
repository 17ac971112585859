/**
 * Scores a played pilot (pilot-sim.ts) the way the platform would: every reading, in time order,
 * through an AnomalyOperator configured from pilots/pump-line/anomaly.yaml (or overrides) with an
 * in-memory AlarmSink. Then per injected fault: the first alarm on a pump it disturbs at or after
 * the injection (within `detectWithin` of the fault's end for faults that end) and its delay; and
 * false alarms: alarms raised on a pump while nothing disturbs it (outside every fault window and
 * a grace after it), per pump-day of scored time (after the detectors' probation).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AlarmConditionCleared, AlarmRaise } from '../../src/analytics/analytics-types.js';
import { createDetector } from '../../src/analytics/anomaly/create-detector.js';
import { DETECTOR_KINDS, type DetectorKind } from '../../src/analytics/anomaly/detector.js';
import {
  planStreams,
  readAnomalyPlan,
  type AnomalyPlanSpec,
} from '../../src/analytics/runtime/anomaly-plan.js';
import { AnomalyOperator } from '../../src/analytics/runtime/anomaly-operator.js';
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

export interface EvalResult {
  plan: AnomalyPlanSpec;
  threshold: number;
  detections: Detection[];
  falseAlarms: FalseAlarm[];
  /** False alarms on the pumps never disturbed, and their scored pump-days. */
  healthyFalseAlarms: number;
  healthyPumpDays: number;
  /** All pumps' undisturbed scored time (pump-days) and the alarms in it. */
  quietPumpDays: number;
  alarms: number;
  scored: number;
  wallMs: number;
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
  const operator = new AnomalyOperator({
    streamsOf: (_ws, modelId) => {
      let s = streamsByModel.get(modelId);
      if (!s) streamsByModel.set(modelId, (s = planStreams(plan, modelId, (m, b) => m === b)));
      return s;
    },
    createDetector: () =>
      createDetector(
        kind,
        o.probationReadings !== undefined ? { probation: o.probationReadings } : undefined,
      ),
    sink: {
      write: (_ws, _id, _t, values) => {
        scoredValues += Object.keys(values).length;
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
  // Each alarm belongs to the latest injection on its pump that it can be the detection of.
  const owner = (a: AlarmRaise): Injection | undefined => {
    let best: Injection | undefined;
    for (const inj of sim.injections)
      if (inj.pumps.includes(a.twinId) && sec(a.time) >= inj.at && sec(a.time) <= inj.end + within)
        if (!best || inj.at > best.at) best = inj;
    return best;
  };
  const firstOf = new Map<Injection, AlarmRaise>();
  for (const a of raised) {
    const inj = owner(a);
    if (inj && !firstOf.has(inj)) firstOf.set(inj, a);
  }
  const detections: Detection[] = sim.injections.map((inj) => {
    const first = firstOf.get(inj);
    return first
      ? { ...inj, alarmAt: sec(first.time), delayS: sec(first.time) - inj.at, rule: first.ruleId }
      : { ...inj };
  });
  /** Windows (s) in which a pump is disturbed: from an injection to its end plus the grace. */
  const windows = new Map<string, [number, number][]>();
  for (const inj of sim.injections)
    for (const p of inj.pumps) windows.set(p, [...(windows.get(p) ?? []), [inj.at, inj.end + grace]]);
  const disturbedAt = (p: string, t: number): boolean =>
    (windows.get(p) ?? []).some(([a, b]) => t >= a && t < b);
  const falseAlarms: FalseAlarm[] = raised
    .filter((a) => !disturbedAt(a.twinId, sec(a.time)))
    .map((a) => ({ twin: a.twinId, rule: a.ruleId, at: sec(a.time) }));

  // Scored time: after probation (the detectors are silent before it), outside the windows.
  const probationS = (o.probationReadings ?? DEFAULT_PROBATION) * sim.sampleInterval;
  const scoredS = Math.max(0, sim.seconds - probationS);
  const undisturbedS = (p: string): number => {
    let s = 0;
    for (let t = probationS; t < sim.seconds; t += sim.sampleInterval)
      if (!disturbedAt(p, t)) s += sim.sampleInterval;
    return s;
  };
  const day = 86_400;
  const healthy = new Set(sim.healthy);
  return {
    plan,
    threshold,
    detections,
    falseAlarms,
    healthyFalseAlarms: falseAlarms.filter((f) => healthy.has(f.twin)).length,
    healthyPumpDays: (sim.healthy.length * scoredS) / day,
    quietPumpDays: sim.pumps.reduce((s, p) => s + undisturbedS(p), 0) / day,
    alarms: raised.length,
    scored: scoredValues,
    wallMs,
  };
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
