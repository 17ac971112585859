/**
 * Runs one what-if plan: every twin of the run on its own runtime and stepper, all advanced together
 * on relative time τ ∈ [0, horizon] (twin i's model time is its fork time + τ). At each sync point —
 * a sample, an event, or a coupling tick when twins of the run feed each other — events due are
 * applied (the stepper restarts there: the right-hand side jumps), relationship inputs are re-read
 * (twins of the run: their noise-free telemetry now; twins outside: their latest live value, held),
 * and samples are recorded. Async in chunks: yields to the event loop, reports progress, stops on abort.
 * The world is only read; nothing live is written.
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { BehaviourRuntime, CompiledBehaviour } from '../behaviour/compile-behaviour.js';
import type { IdealTelemetry } from '../behaviour/ideal-telemetry.js';
import type { OdeStepper } from '../solvers/ode-types.js';
import { createStepper } from '../solvers/solve-ivp.js';
import type { ForkSource, TwinTrajectory, WhatIfResult } from './what-if-types.js';

export interface PlannedTwin {
  twinId: string;
  model: CompiledBehaviour;
  ideal: IdealTelemetry;
  fork: ForkSource;
  forkTime: number;
  rt: BehaviourRuntime;
  y0: Float64Array;
  /** Relationship inputs: where each reads from (twins of the run by index, else a live value). */
  relationships: {
    input: string;
    source: string;
    inRun: number[];
    outside: number[];
  }[];
}

export interface PlannedEvent {
  /** Seconds after the fork. */
  at: number;
  twin: number;
  apply: (model: CompiledBehaviour, rt: BehaviourRuntime, t: number) => void;
}

export interface WhatIfPlan {
  twins: PlannedTwin[];
  horizon: number;
  sampleInterval: number;
  method: 'rk4' | 'dopri5';
  step: number;
  /** Sorted by `at`. */
  events: PlannedEvent[];
  /** Seconds between relationship refreshes when twins of the run feed each other. */
  couplingInterval: number;
}

export interface RunControl {
  signal?: AbortSignal;
  /** Lets other work run (setImmediate in the platform). */
  yieldNow: () => Promise<void>;
  onProgress?: (simulatedSeconds: number) => void;
  /** Twin-steps between yields (default 20,000). */
  chunk?: number;
}

const EPS = 1e-9;

export async function runWhatIf(plan: WhatIfPlan, ctl: RunControl): Promise<WhatIfResult> {
  const { twins, horizon, sampleInterval } = plan;
  const steppers: OdeStepper[] = twins.map((tw) =>
    createStepper(
      plan.method,
      tw.model.rhs(tw.rt),
      tw.forkTime,
      tw.y0,
      plan.method === 'rk4'
        ? { h: plan.step, maxSteps: Number.MAX_SAFE_INTEGER }
        : { maxStep: plan.step, maxSteps: Number.MAX_SAFE_INTEGER },
    ),
  );
  const coupled = twins.some((tw) => tw.relationships.some((r) => r.inRun.length > 0));
  const sync = coupled ? Math.min(sampleInterval, plan.couplingInterval) : sampleInterval;
  const trajectories: TwinTrajectory[] = twins.map((tw) => ({
    twinId: tw.twinId,
    behaviour: tw.model.spec.behaviour,
    fork: tw.fork,
    forkTime: tw.forkTime,
    times: [],
    telemetry: Object.fromEntries(tw.ideal.probes.map((p) => [p.name, [] as number[]])),
    states: Object.fromEntries(tw.model.layout.states.map((s) => [s, [] as number[]])),
    outputs: Object.fromEntries(tw.model.layout.outputs.map((o) => [o, [] as number[]])),
    units: unitsOf(tw.model),
  }));
  /** Noise-free telemetry of each twin at the current τ (filled by `observe`). */
  const current: Record<string, number>[] = twins.map(() => ({}));

  const observe = (tau: number): void => {
    twins.forEach((tw, i) => {
      current[i] = tw.ideal.values(tw.forkTime + tau, (steppers[i] as OdeStepper).y, tw.rt);
    });
  };
  const refresh = (tau: number): void => {
    twins.forEach((tw, i) => {
      if (!tw.relationships.length) return;
      let changed = false;
      for (const r of tw.relationships) {
        const values = [
          ...r.outside,
          ...r.inRun.map((j) => (current[j] as Record<string, number>)[r.source]),
        ];
        const finite = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
        const k = tw.model.layout.inputs.indexOf(r.input);
        const before = tw.rt.inputs[k];
        tw.model.setRelationshipInput(tw.rt, r.input, finite);
        if (tw.rt.inputs[k] !== before) changed = true;
      }
      if (changed) {
        const s = steppers[i] as OdeStepper;
        s.reset(tw.forkTime + tau, Float64Array.from(s.y));
      }
    });
  };
  const record = (tau: number): void => {
    twins.forEach((tw, i) => {
      const tr = trajectories[i] as TwinTrajectory;
      const y = (steppers[i] as OdeStepper).y;
      const tel = current[i] as Record<string, number>;
      tr.times.push(tau);
      for (const [name, arr] of Object.entries(tr.telemetry)) arr.push(tel[name] as number);
      tw.model.layout.states.forEach((s, k) => tr.states[s]?.push(y[k] as number));
      for (const o of tw.model.layout.outputs)
        tr.outputs[o]?.push(tw.rt.frame[tw.model.layout.slots.get(o) as number] as number);
    });
  };

  let nextEvent = 0;
  const applyEvents = (tau: number): void => {
    while (nextEvent < plan.events.length && (plan.events[nextEvent] as PlannedEvent).at <= tau + EPS) {
      const e = plan.events[nextEvent++] as PlannedEvent;
      const tw = twins[e.twin] as PlannedTwin;
      const s = steppers[e.twin] as OdeStepper;
      e.apply(tw.model, tw.rt, tw.forkTime + tau);
      s.reset(tw.forkTime + tau, Float64Array.from(s.y));
    }
  };

  let tau = 0;
  let sinceYield = 0;
  const chunk = ctl.chunk ?? 20_000;
  const stepsPerSync = Math.max(1, Math.ceil(sync / plan.step)) * twins.length;
  applyEvents(0);
  observe(0);
  refresh(0);
  observe(0);
  record(0);
  let nextSample = sampleInterval;
  while (tau < horizon - EPS) {
    if (ctl.signal?.aborted) throw new TwinloopError('Conflict', 'The run was cancelled.');
    const nextSync = Math.min(horizon, nextSample, Math.floor(tau / sync + 1 + EPS) * sync);
    const ev = plan.events[nextEvent];
    const target = ev && ev.at < nextSync - EPS ? ev.at : nextSync;
    twins.forEach((tw, i) => {
      try {
        (steppers[i] as OdeStepper).advanceTo(tw.forkTime + target);
      } catch (e) {
        throw new TwinloopError(
          'BadRequest',
          `Twin '${tw.twinId}' cannot be simulated past τ = ${tau} s: ${(e as Error).message}`,
          { cause: e },
        );
      }
    });
    tau = target;
    applyEvents(tau);
    observe(tau);
    if (coupled) refresh(tau);
    if (tau >= nextSample - EPS || tau >= horizon - EPS) {
      observe(tau);
      record(tau);
      nextSample = Math.min(horizon, nextSample + sampleInterval);
      if (tau >= horizon - EPS) break;
    }
    sinceYield += stepsPerSync;
    if (sinceYield >= chunk) {
      sinceYield = 0;
      ctl.onProgress?.(tau);
      await ctl.yieldNow();
    }
  }
  ctl.onProgress?.(horizon);
  return { twins: trajectories };
}

function unitsOf(model: CompiledBehaviour): Record<string, string> {
  const units: Record<string, string> = {};
  for (const s of model.spec.states) if (s.unit) units[s.name] = s.unit;
  for (const o of model.spec.outputs) if (o.unit) units[o.name] = o.unit;
  for (const m of model.spec.telemetry) {
    const from = m.from.ast.kind === 'name' ? units[m.from.ast.name] : undefined;
    if (from && units[m.name] === undefined) units[m.name] = from;
  }
  return units;
}
