/**
 * Fixed-step RK4 for many assets of one behaviour at once: one fused kernel (fused-rk4.ts) steps
 * every member through a chunk of ticks, states state-major in one Float64Array (y[s·m + i]),
 * parameters with spread and inputs that are not time-driven as per-asset columns, everything the
 * same for all members hoisted out of the asset loop. A large batch is split between worker threads
 * (fleet-threads.ts) over SharedArrayBuffers; the results are the same bits whatever the split.
 *
 * The fleet runner keeps an asset here while nothing is special about it; an asset with an action
 * (command, fault, input) moves to its own stepper for good (`remove`: its position is switched
 * off, nothing is rebuilt). Faults are not evaluated here: the runner never puts an asset with a
 * fault switched on (or scheduled by the model) in a batch.
 */
import { availableParallelism } from 'node:os';
import { TwinloopError } from '../../core/errors/errors.js';
import type { BehaviourRuntime, CompiledBehaviour } from '../behaviour/compile-behaviour.js';
import { cycleAt, scheduleAt } from '../behaviour/input-signals.js';
import {
  createKernelPool,
  portableToWorkers,
  BLOCK,
  runBlocks,
  sharedFloat64,
  type KernelPool,
} from './fleet-threads.js';
import { compileFusedRk4, planFusedRk4, type FusedPlan } from './fused-rk4.js';

/**
 * Ticks per kernel call at most: BLOCK assets × CHUNK ticks (~1 ms) is the unit of work threads
 * share, small enough that the last block of a job keeps nobody waiting long.
 */
const CHUNK = 256;
/** Values in the hoisted table at most (CHUNK × 3 points × values per point, shortened to fit). */
const MAX_HOISTED = 1 << 18;
/** Members per thread below which another thread does not pay for its synchronisation. */
const MIN_PER_THREAD = 2 * BLOCK;
/** Asset-steps in one run before worker threads are started (~30 ms of work; a start-up ~50 ms). */
const START_THREADS_AT = 500_000;
/** Most threads a batch uses. */
const MAX_THREADS = 8;

export interface BatchRk4Options {
  /**
   * Threads stepping the batch, the calling one included: a number ≥ 1, or undefined for as many
   * as pay off (up to the machine's cores, at least 256 members each, once a run is long enough).
   */
  threads?: number;
  /** `exp` inline in the kernel, within 2 ulp of Math.exp (default true; fused-rk4.ts). */
  fastExp?: boolean;
}

export interface BatchRk4 {
  /** Asset indices (into the runner's assets) in the batch, in order. */
  readonly members: readonly number[];
  /**
   * Steps every member from tick k to tick k + n (t = t0 + k·tick, step size tick). `alongside(k, q)`
   * is called for each piece of ticks k..k + q the batch steps, on this thread while worker threads
   * step the members (with one thread, after the piece): for work that does not touch the batch.
   * @throws TwinloopError BadRequest naming the first asset whose state stopped being finite
   *   (`asset`: its index, `tick`: the tick that failed).
   */
  run(t0: number, tick: number, k: number, n: number, alongside?: (k: number, n: number) => void): void;
  /** Copies a member's state into `out`. */
  stateOf(asset: number, out: Float64Array): Float64Array;
  /** Takes an asset out of the batch and returns its state. */
  remove(asset: number): Float64Array;
  /** Members' inputs were changed in their runtimes (relationship refresh): re-read them. */
  inputsChanged(): void;
  /** Threads in use now (1 until a run is long enough to start workers). */
  readonly threads: number;
  /** Ends the worker threads, if any (the batch keeps working on one thread). */
  close(): void;
  readonly stats: { steps: number; fevals: number };
}

/**
 * A batch of `members` (asset indices) with their runtimes and starting states, or undefined when
 * the model has nothing to batch (no states) or this process may not generate code.
 */
export function createBatchRk4(
  model: CompiledBehaviour,
  runtimes: readonly BehaviourRuntime[],
  members: readonly number[],
  states: readonly Float64Array[],
  options: BatchRk4Options = {},
): BatchRk4 | undefined {
  const nStates = model.layout.states.length;
  if (nStates === 0 || members.length === 0) return undefined;
  const slots = model.layout.slots;
  const spec = model.spec;
  const m = members.length;
  const ids = [...members];
  const position = new Map(ids.map((a, i) => [a, i]));
  let active = m;
  let current: readonly number[] = ids;
  const first = runtimes[ids[0] as number] as BehaviourRuntime;
  const frame = Float64Array.from(first.frame);

  // Columns: parameters that differ between members, then inputs that are not time-driven.
  const columns: number[] = [];
  for (const p of spec.parameters) {
    const s = slots.get(p.name) as number;
    const v = first.frame[s] as number;
    if (ids.some((a) => !Object.is((runtimes[a] as BehaviourRuntime).frame[s], v))) columns.push(s);
  }
  const timedSlots = new Set<number>();
  const timed: { slot: number; at: (t: number) => number }[] = [];
  const gathered: { k: number; c: number }[] = [];
  spec.inputs.forEach((input, k) => {
    const s = slots.get(input.name) as number;
    const src = input.source;
    if (src.kind === 'schedule') timed.push({ slot: s, at: (t) => scheduleAt(src, t) });
    else if (src.kind === 'cycle') timed.push({ slot: s, at: (t) => cycleAt(src, t) });
    else {
      gathered.push({ k, c: columns.length });
      columns.push(s);
    }
  });
  for (const x of timed) timedSlots.add(x.slot);
  let plan: FusedPlan;
  try {
    plan = planFusedRk4(model, columns, timedSlots, { fastExp: options.fastExp ?? true });
  } catch (e) {
    if (e instanceof TwinloopError && e.code === 'BadRequest') return undefined; // over the budget
    throw e;
  }
  const kernel = compileFusedRk4(plan);
  if (!kernel) return undefined;

  const Y = sharedFloat64(nStates * m);
  ids.forEach((_, i) => {
    const y0 = states[i] as Float64Array;
    for (let s = 0; s < nStates; s++) Y[s * m + i] = y0[s] as number;
  });
  const C = columns.map((slot) => {
    const col = sharedFloat64(m);
    ids.forEach((a, i) => (col[i] = (runtimes[a] as BehaviourRuntime).frame[slot] as number));
    return col;
  });
  const S = sharedFloat64(plan.nStatic);
  plan.fillStatic(frame, S);
  const chunk = Math.max(1, Math.min(CHUNK, Math.floor(MAX_HOISTED / Math.max(1, 3 * plan.nTimed))));
  const H = sharedFloat64(chunk * 3 * plan.nTimed);
  const act = new Uint8Array(new SharedArrayBuffer(m)).fill(1);
  const res = new Int32Array(2);
  const scratch = new Int32Array(2);
  const shared = { Y, C, S, H, act, m };
  // One thread takes the same blocks in order (the same failure reports as any split).
  let nextBlock = 0;
  const takeBlock = (): number => nextBlock++;
  const setTimed = (f: Float64Array, t: number): void => {
    for (const x of timed) f[x.slot] = x.at(t);
  };

  const wanted = options.threads;
  const maxThreads = Math.min(
    MAX_THREADS,
    wanted ?? availableParallelism(),
    Math.max(1, Math.floor(m / (wanted === undefined ? MIN_PER_THREAD : 1))),
  );
  let pool: KernelPool | undefined;
  let canThread = maxThreads > 1 && portableToWorkers(plan);

  /** Members' inputs change only through relationship refreshes (actions take an asset out). */
  let inputsStale = true;
  const gather = (): void => {
    for (const g of gathered) {
      const col = C[g.c] as Float64Array;
      for (let i = 0; i < m; i++) {
        if (act[i] === 0) continue;
        col[i] = (runtimes[ids[i] as number] as BehaviourRuntime).inputs[g.k] as number;
      }
    }
    inputsStale = false;
  };

  const stats = { steps: 0, fevals: 0 };
  const batch: BatchRk4 = {
    get members() {
      return current;
    },
    get threads() {
      return pool?.threads ?? 1;
    },
    stats,
    run(t0, tick, k, n, alongside) {
      if (inputsStale) gather();
      if (!pool && canThread && (wanted !== undefined || n * active >= START_THREADS_AT))
        pool = createKernelPool(plan, shared, maxThreads);
      for (let done = 0; done < n;) {
        const q = Math.min(chunk, n - done);
        plan.fillHoisted(frame, H, t0, tick, k + done, q, setTimed);
        let bt: number;
        let ba: number;
        const from = k + done;
        if (pool) [bt, ba] = pool.run(kernel, q, tick, alongside && (() => alongside(from, q)));
        else {
          nextBlock = 0;
          runBlocks(kernel, shared, q, tick, takeBlock, scratch, res);
          bt = res[0] as number;
          ba = res[1] as number;
          if (bt < 0) alongside?.(from, q);
        }
        if (bt >= 0) {
          stats.steps += active * bt;
          stats.fevals += 4 * active * bt;
          const asset = ids[ba] as number;
          let bad = 0;
          for (let s = 0; s < nStates; s++) if (!Number.isFinite(Y[s * m + ba])) bad = s;
          const t = t0 + (k + done + bt) * tick;
          throw Object.assign(
            new TwinloopError(
              'BadRequest',
              `state '${model.layout.states[bad]}' is not finite after the step from t = ${t} s`,
            ),
            { asset, tick: k + done + bt },
          );
        }
        stats.steps += active * q;
        stats.fevals += 4 * active * q;
        done += q;
      }
    },
    inputsChanged() {
      inputsStale = true;
    },
    stateOf(asset, out) {
      const i = position.get(asset) as number;
      for (let s = 0; s < nStates; s++) out[s] = Y[s * m + i] as number;
      return out;
    },
    remove(asset) {
      const i = position.get(asset);
      const y = new Float64Array(nStates);
      if (i === undefined || act[i] === 0) return y;
      for (let s = 0; s < nStates; s++) y[s] = Y[s * m + i] as number;
      act[i] = 0;
      active--;
      current = ids.filter((_, j) => act[j] === 1);
      return y;
    },
    close() {
      pool?.close();
      pool = undefined;
      canThread = false;
    },
  };
  return batch;
}
