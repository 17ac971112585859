/**
 * Runs a fleet of assets sharing one compiled behaviour: each asset has its own runtime (parameters,
 * inputs, fault switches), its own stepper (RK4 or DOPRI5) and its own noise stream. Time advances
 * in fixed ticks on the grid t0 + k·tick, all assets stepped in one loop per tick (no allocation in
 * that loop); every `sampleInterval` each asset is measured and the reading set goes to the sink.
 *
 * Commands, fault switches and inputs may be given for now or for a later simulated time; a
 * scheduled action splits its asset's step exactly at its time, and the stepper is restarted after
 * it (the right-hand side jumps there, so the derivative kept from the previous step is stale).
 * Actions at a sample time are applied before that sample is measured.
 *
 * Two ways to drive it: `advanceTo`/`runFor` (synchronous, as fast as possible) or `start`/`stop`
 * against a Clock port at `speed` simulated seconds per wall second.
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { BehaviourRuntime, CompiledBehaviour } from '../behaviour/compile-behaviour.js';
import type { InputSpec } from '../behaviour/behaviour-types.js';
import type { OdeStepper } from '../solvers/ode-types.js';
import { createStepper } from '../solvers/solve-ivp.js';
import { createBatchRk4, type BatchRk4 } from './batch-rk4.js';
import type { Clock, TimerHandle } from './clock.js';
import {
  checkFleetOptions,
  fleetParameters,
  noiseStream,
  type FleetConfig,
  type FleetRunnerOptions,
  type ReadingSink,
  type RelationshipWiring,
} from './fleet-config.js';

export type {
  FleetAsset,
  FleetRunnerOptions,
  ReadingSet,
  ReadingSink,
  RelationshipWiring,
} from './fleet-config.js';

interface Action {
  at: number;
  seq: number;
  asset: number;
  apply: (t: number) => void;
}

/** Everything needed to continue an asset elsewhere (a what-if fork): copies, not views. */
export interface AssetSnapshot {
  /** Simulated time (s). */
  t: number;
  /** States, model.layout.states order. */
  state: Float64Array;
  /** Raw input values, model.layout.inputs order. */
  inputs: Float64Array;
  /** Switch-on time of each fault (NaN = off), model.layout.faults order. */
  faultStart: Float64Array;
  faultHold: Float64Array;
  parameters: Record<string, number>;
}

export interface FleetRunner {
  /** Current simulated time (s): every asset is here between calls. */
  readonly t: number;
  readonly assetIds: readonly string[];
  /** True between start() and stop() (or reaching `until`). */
  readonly running: boolean;
  /** A copy of an asset's state vector (model.layout.states order). */
  state(assetId: string): Float64Array;
  /** An asset's parameter values after variation and overrides. */
  parameters(assetId: string): Record<string, number>;
  /** A copy of an asset's whole simulated state now. @throws TwinloopError NotFound. */
  snapshot(assetId: string): AssetSnapshot;
  /** Steps taken and right-hand-side calls, summed over the fleet. */
  stats(): { assetSteps: number; fevals: number };
  /**
   * Advances every asset to `t` (on the tick grid), applying due actions and emitting samples;
   * the sample at t0 is emitted by the first advance.
   * @throws TwinloopError BadRequest when t is before now or off the tick grid, or a step fails
   *   (the message names the asset).
   */
  advanceTo(t: number): void;
  /** advanceTo(now + seconds). */
  runFor(seconds: number): void;
  /**
   * Applies a command to an asset now, or at simulated time `at`. Returns how many inputs/faults
   * it drives. @throws TwinloopError NotFound (unknown asset), BadRequest (the behaviour does not
   * handle the command, a bad payload, or `at` in the past).
   */
  command(assetId: string, command: string, payload?: unknown, at?: number): number;
  /** Switches a fault on now or at `at`. @throws NotFound / BadRequest (unknown fault, past time). */
  activateFault(assetId: string, fault: string, at?: number): void;
  deactivateFault(assetId: string, fault: string, at?: number): void;
  /** Sets an input (external/property source) now or at `at`. */
  setInput(assetId: string, input: string, value: number, at?: number): void;
  /**
   * Clock-driven mode: from now on the simulation follows the clock at `speed`, advancing every
   * `timerMs`, until `until` (simulated seconds) if given.
   * @throws TwinloopError BadRequest without a clock, or when already running.
   */
  start(until?: number): void;
  stop(): void;
  /** Threads the batch steps on now (1 until a run is long enough to start workers). */
  readonly threads: number;
  /** Ends the batch's worker threads, if any (also done when the runner is garbage collected). */
  close(): void;
}

const bad = (message: string): TwinloopError => new TwinloopError('BadRequest', message);

/** @throws TwinloopError ValidationFailed for bad options (every problem, with its pointer). */
export function createFleetRunner(options: FleetRunnerOptions): FleetRunner {
  const cfg: FleetConfig = checkFleetOptions(options);
  const model: CompiledBehaviour = options.model;
  const sink: ReadingSink | undefined = options.sink;
  const wiring: RelationshipWiring | undefined = options.relationships;
  const relInputs: readonly InputSpec[] = wiring ? model.relationshipInputs : [];
  const relIndex = relInputs.map((i) => model.layout.inputs.indexOf(i.name));
  const clock: Clock | undefined = options.clock;
  const ids = options.assets.map((a) => a.id);
  const indexOf = new Map(ids.map((id, i) => [id, i]));
  const params = fleetParameters(options, cfg.seed);
  const runtimes: BehaviourRuntime[] = [];
  const steppers: OdeStepper[] = [];
  const randoms: (() => number)[] = [];
  ids.forEach((id, i) => {
    const rt = model.createRuntime(params[i]);
    runtimes.push(rt);
    try {
      steppers.push(createStepper(cfg.method, model.rhs(rt), cfg.t0, model.initialState(rt), cfg.stepper));
    } catch (e) {
      throw new TwinloopError('ValidationFailed', `Asset '${id}' cannot start: ${(e as Error).message}`, {
        cause: e,
      });
    }
    randoms.push(noiseStream(cfg.seed, i));
  });
  const n = ids.length;
  const { t0, tick, ticksPerSample, relationshipEvery } = cfg;
  // The quiet majority steps together (batch-rk4.ts); an asset with a fault on, or any action,
  // steps alone on its own stepper from then on.
  const inBatch = new Uint8Array(n);
  let batch: BatchRk4 | undefined;
  if ((options.batch ?? true) && cfg.method === 'rk4' && cfg.stepper.h === tick) {
    const members: number[] = [];
    runtimes.forEach((rt, i) => {
      if (rt.faultStart.every((v) => Number.isNaN(v))) members.push(i);
    });
    batch = createBatchRk4(
      model,
      runtimes,
      members,
      members.map((i) => (steppers[i] as OdeStepper).y),
      options.threads === undefined ? {} : { threads: options.threads },
    );
    if (batch) for (const i of batch.members) inBatch[i] = 1;
  }
  /** Assets stepping alone, in index order. */
  let lone: number[] = [];
  const refreshLone = (): void => {
    lone = [];
    for (let i = 0; i < n; i++) if (!inBatch[i]) lone.push(i);
  };
  refreshLone();
  const scratch = new Float64Array(model.layout.states.length);
  /** The current state of an asset, wherever it steps. */
  const yOf = (i: number): Float64Array =>
    inBatch[i] ? (batch as BatchRk4).stateOf(i, scratch) : (steppers[i] as OdeStepper).y;
  /** Moves an asset out of the batch onto its own stepper, at time t (where the batch is). */
  const alone = (i: number, t: number): void => {
    if (!inBatch[i]) return;
    inBatch[i] = 0;
    (steppers[i] as OdeStepper).reset(t, (batch as BatchRk4).remove(i));
    refreshLone();
  };
  const tk = (k: number): number => t0 + k * tick;
  let k = 0;
  let begun = false;
  let seq = 0;
  const queue: Action[] = [];
  let timer: TimerHandle | undefined;

  const assetIndex = (assetId: string): number => {
    const i = indexOf.get(assetId);
    if (i === undefined) throw new TwinloopError('NotFound', `The fleet has no asset '${assetId}'.`);
    return i;
  };
  const restart = (i: number, t: number): void => {
    if (inBatch[i]) return; // fixed-step RK4 in a batch keeps no history to invalidate
    const s = steppers[i] as OdeStepper;
    s.reset(t, s.y);
  };
  /** Runs an action now or queues it (sorted by time, then by arrival). */
  const schedule = (i: number, at: number | undefined, apply: (t: number) => void): void => {
    const now = tk(k);
    if (at !== undefined && (typeof at !== 'number' || !Number.isFinite(at)))
      throw bad(`Action time must be a finite number, got ${String(at)}.`);
    if (at === undefined || at === now) {
      apply(now);
      // An input change keeps a batched asset in its batch; a fault switched on takes it out.
      if (inBatch[i] && !(runtimes[i] as BehaviourRuntime).faultStart.every((v) => Number.isNaN(v)))
        alone(i, now);
      if (inBatch[i]) batch?.inputsChanged();
      restart(i, now);
      return;
    }
    alone(i, now); // an action inside a tick splits that asset's step: it steps alone from now on
    if (at < now) throw bad(`Action time ${at} s is before the simulation time ${now} s.`);
    const action = { at, seq: seq++, asset: i, apply };
    let j = queue.length;
    while (j > 0 && (queue[j - 1] as Action).at > at) j--;
    queue.splice(j, 0, action);
  };

  const sample = (t: number): void => {
    if (!sink) return;
    for (let i = 0; i < n; i++) {
      const m = model.measure(t, yOf(i), runtimes[i] as BehaviourRuntime, randoms[i]!);
      sink({
        assetId: ids[i] as string,
        time: t,
        values: m.telemetry,
        properties: m.properties,
        dropped: m.dropped,
        invalid: m.invalid,
      });
    }
  };

  const refreshRelationships = (t: number): void => {
    for (let i = 0; i < n; i++) {
      const rt = runtimes[i] as BehaviourRuntime;
      let changed = false;
      for (let r = 0; r < relInputs.length; r++) {
        const input = relInputs[r] as InputSpec;
        const values = (wiring as RelationshipWiring)(ids[i] as string, input);
        if (!Array.isArray(values) || values.some((v) => typeof v !== 'number' || !Number.isFinite(v)))
          throw bad(
            `Relationship wiring for asset '${ids[i]}', input '${input.name}' must return finite numbers, got ${JSON.stringify(values)}.`,
          );
        const slot = relIndex[r] as number;
        const before = rt.inputs[slot];
        model.setRelationshipInput(rt, input.name, values);
        if (rt.inputs[slot] !== before) changed = true;
      }
      if (changed) restart(i, t);
    }
    batch?.inputsChanged();
  };

  /**
   * The hot loop: from tick k to tick kTarget, in spans that end where the whole fleet must be at
   * the same tick (a sample, a relationship refresh): the batch runs a span in one call (its
   * members are independent of the assets stepping alone), the lone assets stepping tick by tick
   * with their actions beside it (on this thread while worker threads step the batch).
   */
  const runTicks = (kTarget: number): void => {
    let i = -1;
    let kAt = k;
    try {
      if (!begun) {
        begun = true;
        if (wiring && relInputs.length) refreshRelationships(tk(0));
        sample(tk(0));
      }
      while (k < kTarget) {
        kAt = k;
        if (relInputs.length && k > 0 && k % relationshipEvery === 0) refreshRelationships(tk(k));
        let kEnd = kTarget;
        if (sink) kEnd = Math.min(kEnd, (Math.floor(k / ticksPerSample) + 1) * ticksPerSample);
        if (relInputs.length)
          kEnd = Math.min(kEnd, (Math.floor(k / relationshipEvery) + 1) * relationshipEvery);
        // The lone assets step tick by tick with their actions; beside a batch, while its worker
        // threads step the members (a batch member never has an action pending: it left first).
        const stepLone = (kFrom: number, q: number): void => {
          for (let kk = kFrom; kk < kFrom + q; kk++) {
            kAt = kk;
            const tn = tk(kk + 1);
            while (queue.length && (queue[0] as Action).at <= tn) {
              const a = queue.shift() as Action;
              i = a.asset;
              const s = steppers[i] as OdeStepper;
              if (a.at > s.t) s.advanceTo(a.at);
              a.apply(a.at);
              s.reset(a.at, s.y);
            }
            for (let j = 0; j < lone.length; j++) {
              i = lone[j] as number;
              const s = steppers[i] as OdeStepper;
              if (s.t < tn) s.advanceTo(tn);
            }
            i = -1;
          }
        };
        const loneWork = lone.length > 0 || queue.length > 0;
        if (batch && batch.members.length) {
          try {
            batch.run(t0, tick, k, kEnd - k, loneWork ? stepLone : undefined);
          } catch (e) {
            // A member of the batch (the error names it), else a lone asset (i and kAt say which).
            const asset = (e as { asset?: number }).asset;
            if (asset !== undefined) {
              i = asset;
              kAt = (e as { tick?: number }).tick ?? k;
            }
            throw e;
          }
        } else if (loneWork) stepLone(k, kEnd - k);
        k = kEnd;
        kAt = k;
        if (k % ticksPerSample === 0) sample(tk(k));
      }
    } catch (e) {
      if (i < 0) throw e;
      throw new TwinloopError(
        'BadRequest',
        `Asset '${ids[i]}' failed at t ≈ ${tk(kAt)} s: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  };

  const tickOf = (t: number): number => {
    if (typeof t !== 'number' || !Number.isFinite(t))
      throw bad(`Target time must be finite, got ${String(t)}.`);
    const kt = Math.round((t - t0) / tick);
    if (Math.abs(tk(kt) - t) > 1e-9 * Math.max(1, Math.abs(t)))
      throw bad(`Target time ${t} s is not on the tick grid (t0 = ${t0} s, tick = ${tick} s).`);
    if (kt < k) throw bad(`Target time ${t} s is before the simulation time ${tk(k)} s.`);
    return kt;
  };

  const checkFault = (fault: string): void => {
    if (!model.layout.faults.includes(fault))
      throw bad(`Behaviour '${model.spec.behaviour}' has no fault '${fault}'.`);
  };

  const runner: FleetRunner = {
    get t() {
      return tk(k);
    },
    assetIds: ids,
    get running() {
      return timer !== undefined;
    },
    state: (assetId) => Float64Array.from(yOf(assetIndex(assetId))),
    parameters(assetId) {
      const rt = runtimes[assetIndex(assetId)] as BehaviourRuntime;
      return Object.fromEntries(
        model.layout.parameters.map((p) => [p, rt.frame[model.layout.slots.get(p) as number] as number]),
      );
    },
    snapshot(assetId) {
      const i = assetIndex(assetId);
      const rt = runtimes[i] as BehaviourRuntime;
      return {
        t: tk(k),
        state: Float64Array.from(yOf(i)),
        inputs: Float64Array.from(rt.inputs),
        faultStart: Float64Array.from(rt.faultStart),
        faultHold: Float64Array.from(rt.faultHold),
        parameters: runner.parameters(assetId),
      };
    },
    stats() {
      let assetSteps = 0;
      let fevals = 0;
      for (const s of steppers) {
        assetSteps += s.stats.steps;
        fevals += s.stats.fevals;
      }
      if (batch) {
        assetSteps += batch.stats.steps;
        fevals += batch.stats.fevals;
      }
      return { assetSteps, fevals };
    },
    advanceTo(t) {
      runTicks(tickOf(t));
    },
    runFor(seconds) {
      runTicks(tickOf(tk(k) + seconds));
    },
    command(assetId, command, payload, at) {
      const i = assetIndex(assetId);
      // Dry run on a scratch runtime: an unhandled command or a bad payload fails now, not later.
      const count = model.applyCommand(model.createRuntime(params[i]), tk(k), command, payload);
      if (count === 0) throw bad(`Behaviour '${model.spec.behaviour}' does not handle command '${command}'.`);
      schedule(i, at, (t) => model.applyCommand(runtimes[i] as BehaviourRuntime, t, command, payload));
      return count;
    },
    activateFault(assetId, fault, at) {
      const i = assetIndex(assetId);
      checkFault(fault);
      schedule(i, at, (t) => model.activateFault(runtimes[i] as BehaviourRuntime, fault, t));
    },
    deactivateFault(assetId, fault, at) {
      const i = assetIndex(assetId);
      checkFault(fault);
      schedule(i, at, () => model.deactivateFault(runtimes[i] as BehaviourRuntime, fault));
    },
    setInput(assetId, input, value, at) {
      const i = assetIndex(assetId);
      if (!model.layout.inputs.includes(input))
        throw bad(`Behaviour '${model.spec.behaviour}' has no input '${input}'.`);
      if (typeof value !== 'number' || !Number.isFinite(value))
        throw bad(`Input '${input}' must be a finite number, got ${String(value)}.`);
      schedule(i, at, () => model.setInput(runtimes[i] as BehaviourRuntime, input, value));
    },
    start(until) {
      if (!clock) throw bad('start() needs a clock (options.clock).');
      if (timer !== undefined) throw bad('The fleet runner is already running.');
      const kUntil = until === undefined ? Infinity : tickOf(until);
      const wallStart = clock.now();
      const simStart = tk(k);
      const onTimer = (): void => {
        timer = undefined;
        try {
          const simNow = simStart + ((clock.now() - wallStart) / 1000) * cfg.speed;
          const kNow = Math.min(kUntil, Math.floor((simNow - t0) / tick + 1e-9));
          if (kNow > k) runTicks(kNow);
        } catch (e) {
          if (!options.onError) throw e;
          options.onError(e);
          return;
        }
        if (k < kUntil) timer = clock.setTimer(cfg.timerMs, onTimer);
      };
      timer = clock.setTimer(cfg.timerMs, onTimer);
    },
    stop() {
      if (timer !== undefined && clock) clock.clearTimer(timer);
      timer = undefined;
    },
    get threads() {
      return batch?.threads ?? 1;
    },
    close() {
      batch?.close();
    },
  };
  return runner;
}
