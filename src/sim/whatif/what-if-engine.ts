/**
 * Runs one what-if plan: every twin of the run on its own runtime and stepper, all advanced together
 * on run time τ ∈ [0, horizon] (twin i's model time is its fork time + τ).
 *
 * Between sync points each twin steps on its own. A sync point is a sample, an event, or — when twins
 * of the run feed each other through relationship inputs — every `couplingInterval` (one solver
 * step by default). At a sync point, in this order: events due are applied (the stepper restarts
 * there, as the right-hand side jumps), relationship inputs are re-read from the other twins' noise-free
 * values now (a zero-order hold until the next sync; related twins outside the run keep the value they
 * had at the fork), and samples are recorded — so a sample shows the values just after what changed
 * at its time.
 *
 * Async in slices: it yields to the event loop every `sliceMs` of work, reports progress (simulated
 * seconds done) and stops at the next slice once the signal is aborted. Only the plan's own copies
 * are touched: the world the plan was forked from is never read or written here.
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { BehaviourRuntime, CompiledBehaviour } from '../behaviour/compile-behaviour.js';
import { createStepper } from '../solvers/solve-ivp.js';
import type { Probes } from './probes.js';
import type { ForkSource, TwinTrajectory, WhatIfResult } from './what-if-types.js';

/** A relationship input wired for the run. */
export interface PlannedRelationship {
  input: string;
  /** Related twins of the run: which twin (index in the plan) and which of its probes. */
  fromRun: { twin: number; probe: number }[];
  /** Values of related twins outside the run, read at the fork and held. */
  held: number[];
}

/** One twin, forked: its own runtime and start state (copies; nothing live). */
export interface PlannedTwin {
  twinId: string;
  model: CompiledBehaviour;
  probes: Probes;
  fork: ForkSource;
  /** Model time (s) at τ = 0. */
  forkTime: number;
  rt: BehaviourRuntime;
  y0: Float64Array;
  relationships: PlannedRelationship[];
  units: Record<string, string>;
}

/** A change at run time `at` (seconds after the fork). */
export interface PlannedEvent {
  at: number;
  /** Index of the twin in the plan. */
  twin: number;
  apply: (model: CompiledBehaviour, rt: BehaviourRuntime, t: number) => void;
  /** The input the event sets: from then on it is no longer re-read from relationships. */
  pins?: string;
}

export interface WhatIfPlan {
  twins: PlannedTwin[];
  horizon: number;
  sampleInterval: number;
  method: 'rk4' | 'dopri5';
  /** RK4 step; DOPRI5 largest step (s). */
  step: number;
  /** Sorted by `at`. */
  events: PlannedEvent[];
  /** Seconds between relationship refreshes when twins of the run feed each other. */
  couplingInterval: number;
  /** Most solver steps in the whole run (all twins); the run fails beyond. */
  maxSteps: number;
}

export interface RunControl {
  signal?: AbortSignal;
  /** Lets other work run (setImmediate in the platform). */
  yieldNow: () => Promise<void>;
  /** Called at each yield and at the end with the simulated seconds done (never decreasing). */
  onProgress?: (simulatedSeconds: number) => void;
  /** Milliseconds of work between yields (default 10). */
  sliceMs?: number;
  /** Monotonic clock in ms (default performance.now). */
  clock?: () => number;
}

/** What a stepper must offer the run (an OdeStepper does; a twin without states gets a still one). */
interface Advancer {
  readonly t: number;
  readonly y: Float64Array;
  step(tLimit: number): number;
  reset(t: number, y: ArrayLike<number>): void;
}

/** The "stepper" of a behaviour without states: only time moves. */
class StillAdvancer implements Advancer {
  readonly y = new Float64Array(0);
  constructor(public t: number) {}
  step(tLimit: number): number {
    this.t = tLimit;
    return tLimit;
  }
  reset(t: number): void {
    this.t = t;
  }
}

/** Steps between clock checks. */
const CHECK_EVERY = 64;

/**
 * Runs the plan to its horizon. The plan's runtimes are used (and changed) by the run: run a plan once.
 * @throws TwinloopError Conflict when cancelled; BadRequest when a twin cannot be simulated (the
 *   solver fails, naming the twin and the time) or the run needs more than `maxSteps` steps.
 */
export async function runWhatIf(plan: WhatIfPlan, ctl: RunControl): Promise<WhatIfResult> {
  const { twins, horizon, sampleInterval, events } = plan;
  const n = twins.length;
  const tol = 1e-9 * Math.max(1, horizon);
  const clock = ctl.clock ?? (() => performance.now());
  const sliceMs = ctl.sliceMs ?? 10;

  const steppers: Advancer[] = twins.map((tw) =>
    tw.y0.length === 0
      ? new StillAdvancer(tw.forkTime)
      : createStepper(
          plan.method,
          tw.model.rhs(tw.rt),
          tw.forkTime,
          tw.y0,
          plan.method === 'rk4'
            ? { h: plan.step, maxSteps: Number.MAX_SAFE_INTEGER }
            : { maxStep: plan.step, maxSteps: Number.MAX_SAFE_INTEGER },
        ),
  );
  const outputs = twins.map((tw) => new Float64Array(tw.model.layout.outputs.length));
  const values = twins.map((tw) => new Float64Array(tw.probes.list.length));
  const active = twins.map((tw) => [...tw.relationships]);
  const sources = new Set(
    twins.flatMap((tw) => tw.relationships.flatMap((r) => r.fromRun.map((f) => f.twin))),
  );
  const coupled = sources.size > 0;
  const coupling = Math.min(plan.couplingInterval, sampleInterval);

  const trajectories: TwinTrajectory[] = twins.map((tw) => {
    const series = (kind: 'telemetry' | 'property'): Record<string, number[]> =>
      Object.fromEntries(tw.probes.list.filter((p) => p.kind === kind).map((p) => [p.name, [] as number[]]));
    return {
      twinId: tw.twinId,
      behaviour: tw.model.spec.behaviour,
      fork: tw.fork,
      forkTime: tw.forkTime,
      times: [],
      telemetry: series('telemetry'),
      properties: series('property'),
      states: Object.fromEntries(tw.model.layout.states.map((s) => [s, [] as number[]])),
      outputs: Object.fromEntries(tw.model.layout.outputs.map((o) => [o, [] as number[]])),
      units: tw.units,
    };
  });

  const observe = (i: number, tau: number): void => {
    const tw = twins[i] as PlannedTwin;
    tw.probes.evaluate(
      tw.forkTime + tau,
      (steppers[i] as Advancer).y,
      tw.rt,
      outputs[i] as Float64Array,
      values[i] as Float64Array,
    );
  };
  const observeAll = (tau: number): void => {
    for (let i = 0; i < n; i++) observe(i, tau);
  };
  const dirty = new Set<number>();
  /** Re-reads the relationship inputs; marks the twins whose inputs changed. True when any did. */
  const refresh = (): boolean => {
    let changed = false;
    for (let i = 0; i < n; i++) {
      const rels = active[i] as PlannedRelationship[];
      if (!rels.length) continue;
      const tw = twins[i] as PlannedTwin;
      for (const r of rels) {
        const vals = r.held.slice();
        for (const f of r.fromRun) {
          const v = (values[f.twin] as Float64Array)[f.probe] as number;
          if (Number.isFinite(v)) vals.push(v);
        }
        const k = tw.model.layout.inputs.indexOf(r.input);
        const before = tw.rt.inputs[k];
        tw.model.setRelationshipInput(tw.rt, r.input, vals);
        if (!Object.is(tw.rt.inputs[k], before)) {
          dirty.add(i);
          changed = true;
        }
      }
    }
    return changed;
  };
  const restartDirty = (): void => {
    for (const i of dirty) {
      const s = steppers[i] as Advancer;
      s.reset(s.t, Float64Array.from(s.y));
    }
    dirty.clear();
  };
  const record = (tau: number): void => {
    for (let i = 0; i < n; i++) {
      const tw = twins[i] as PlannedTwin;
      const tr = trajectories[i] as TwinTrajectory;
      const y = (steppers[i] as Advancer).y;
      const out = outputs[i] as Float64Array;
      const vals = values[i] as Float64Array;
      tr.times.push(tau);
      tw.model.layout.states.forEach((s, k) => (tr.states[s] as number[]).push(y[k] as number));
      tw.model.layout.outputs.forEach((o, k) => (tr.outputs[o] as number[]).push(out[k] as number));
      tw.probes.list.forEach((p, k) =>
        ((p.kind === 'telemetry' ? tr.telemetry : tr.properties)[p.name] as number[]).push(vals[k] as number),
      );
    }
  };

  let nextEvent = 0;
  const applyEvents = (tau: number): void => {
    while (nextEvent < events.length && (events[nextEvent] as PlannedEvent).at <= tau + tol) {
      const e = events[nextEvent++] as PlannedEvent;
      const tw = twins[e.twin] as PlannedTwin;
      e.apply(tw.model, tw.rt, tw.forkTime + tau);
      if (e.pins !== undefined)
        active[e.twin] = (active[e.twin] as PlannedRelationship[]).filter((r) => r.input !== e.pins);
      dirty.add(e.twin);
    }
  };

  const cancelled = (): boolean => ctl.signal?.aborted === true;
  const stop = (): never => {
    throw new TwinloopError('Conflict', 'The run was cancelled.');
  };
  let steps = 0;
  let sinceCheck = 0;
  let sliceStart = clock();
  let reported = 0;
  const report = (s: number): void => {
    reported = Math.max(reported, Math.min(horizon, s));
    ctl.onProgress?.(reported);
  };
  /** Yields when the slice is used up; `done` is the simulated seconds reached so far. */
  const maybeYield = async (done: number): Promise<void> => {
    if (++sinceCheck < CHECK_EVERY) return;
    sinceCheck = 0;
    if (clock() - sliceStart < sliceMs) return;
    report(done);
    await ctl.yieldNow();
    if (cancelled()) stop();
    sliceStart = clock();
  };

  /** Every twin from τ to `target`, one step at a time (yielding as it goes). */
  const advanceAll = async (tau: number, target: number): Promise<void> => {
    const span = target - tau;
    for (let i = 0; i < n; i++) {
      const tw = twins[i] as PlannedTwin;
      const s = steppers[i] as Advancer;
      const end = tw.forkTime + target;
      const start = tw.forkTime + tau;
      while (s.t < end) {
        try {
          s.step(end);
        } catch (e) {
          throw new TwinloopError(
            'BadRequest',
            `Twin '${tw.twinId}' cannot be simulated past ${+(s.t - tw.forkTime).toPrecision(9)} s after the fork: ${(e as Error).message} (an unstable model or changes, or a step too large for it: try a smaller 'step', or 'dopri5')`,
            { cause: e },
          );
        }
        if (++steps > plan.maxSteps)
          throw new TwinloopError(
            'BadRequest',
            `The run needs more than ${plan.maxSteps} solver steps (the limit per run; the model is stiff or the step small): take a larger 'step', a shorter 'horizon' or fewer twins.`,
          );
        await maybeYield(tau + (span * (i + (s.t - start) / span)) / n);
      }
    }
  };

  let tau = 0;
  applyEvents(0);
  observeAll(0);
  // At the fork: held values from outside, then values settle along chains of twins (a hop a pass).
  for (let pass = 0; pass <= n && refresh() && coupled; pass++) observeAll(0);
  restartDirty();
  observeAll(0);
  record(0);
  let kSample = 1;
  let kCouple = 1;
  while (tau < horizon - tol) {
    if (cancelled()) stop();
    const tSample = kSample * sampleInterval > horizon - tol ? horizon : kSample * sampleInterval;
    let target = tSample;
    if (coupled) target = Math.min(target, kCouple * coupling);
    const ev = events[nextEvent];
    if (ev && ev.at < target - tol) target = ev.at;
    await advanceAll(tau, target);
    tau = target;
    while (coupled && kCouple * coupling <= tau + tol) kCouple++;
    applyEvents(tau);
    const sample = tau >= tSample - tol;
    if (coupled) {
      for (const i of sources) observe(i, tau);
      refresh();
    }
    restartDirty();
    if (sample) {
      observeAll(tau);
      record(tau);
      kSample++;
    }
    sinceCheck += coupled ? n : 1;
    await maybeYield(tau);
  }
  report(horizon);
  return { twins: trajectories };
}
