/**
 * Worker threads that step a batch with the same fused kernel (fused-rk4.ts), over the batch's
 * SharedArrayBuffers. The positions are cut in fixed blocks of BLOCK assets; in a job (run this many
 * ticks) every thread, the main one included, claims blocks (compare-and-swap of the job's
 * generation into the block's slot) starting from its own share of the positions and going on
 * through the others' until every block is claimed — so neighbouring blocks stay on one core (blocks
 * handed out in turn from one counter put adjacent memory on both cores: 1.55× on two threads
 * against 1.65× this way), on a busy machine the thread that gets a core does more, and the
 * results do not depend on who stepped what (each asset's arithmetic is its own; a block's first
 * failure is its own). A job is announced through an Int32Array generation counter (Atomics.notify), and the main
 * thread waits for the workers with Atomics.wait: the fleet runner stays synchronous, and nothing
 * is copied per job but two numbers.
 *
 * The worker is plain JavaScript run with `eval: true` (the same from the TypeScript sources and
 * from dist/): it re-checks the kernel source with the same character whitelist, and maps function
 * names to Math's own functions only (a kernel calling anything else is not sent to workers).
 * Workers are unref'd and end on `close()` or when the pool is garbage collected.
 */
import { Worker } from 'node:worker_threads';
import { TwinloopError } from '../../core/errors/errors.js';
import { assertSafeSource } from '../expr/emit-js.js';
import type { FusedKernel, FusedPlan } from './fused-rk4.js';

/** Language functions that are Math's own: the only ones a worker can call. */
const WORKER_MATH = [
  'abs',
  'min',
  'max',
  'sqrt',
  'exp',
  'log',
  'log10',
  'sin',
  'cos',
  'tan',
  'asin',
  'acos',
  'atan',
  'atan2',
  'sinh',
  'cosh',
  'tanh',
  'pow',
  'floor',
  'ceil',
  'round',
  'trunc',
  'sign',
  'hypot',
] as const;

/** Assets per block: the unit of work a thread takes (and of failure reports). */
export const BLOCK = 64;

// ctrl: [0] job generation, [1] workers done, [2] stop, [3] a worker failed.
const WORKER = `
const { workerData: d } = require('node:worker_threads');
const MATH = new Set(${JSON.stringify(WORKER_MATH)});
const ctrl = d.ctrl;
try {
  if (/[^A-Za-z0-9_ \\n().,;:?!=<>+\\-*/%&|[\\]{}]/.test(d.source) || /\\/\\/|\\/\\*|\\*\\//.test(d.source))
    throw new Error('unsafe kernel source');
  const F = d.fnNames.map((n) => {
    if (!MATH.has(n)) throw new Error('kernel function not available in a worker');
    return Math[n];
  });
  const kernel = new Function('F', d.source)(F);
  const one = new Int32Array(2);
  const blocks = Math.ceil(d.m / d.block);
  let gen = 0;
  for (;;) {
    Atomics.wait(ctrl, 0, gen);
    gen = Atomics.load(ctrl, 0);
    if (Atomics.load(ctrl, 2) !== 0) break;
    let bt = -1;
    let ba = -1;
    // Its own run of blocks first (from its start, so neighbouring blocks stay on one core), then
    // whatever the others left: each block is claimed once a job (its generation, compare-and-swap).
    for (let i = 0; i < blocks; i++) {
      const b = (d.start + i) % blocks;
      if (Atomics.compareExchange(d.claims, b, gen - 1, gen) !== gen - 1) continue;
      kernel(d.Y, d.C, d.S, d.H, d.act, d.m, b * d.block, Math.min(d.m, (b + 1) * d.block), d.job[0], d.job[1], one);
      if (one[0] >= 0 && (bt < 0 || one[0] < bt || (one[0] === bt && one[1] < ba))) {
        bt = one[0];
        ba = one[1];
      }
    }
    d.res[0] = bt;
    d.res[1] = ba;
    Atomics.add(ctrl, 1, 1);
    Atomics.notify(ctrl, 1);
  }
} catch (e) {
  Atomics.store(ctrl, 3, 1);
  Atomics.add(ctrl, 1, 1);
  Atomics.notify(ctrl, 1);
}
`;

/** The batch's arrays (all on SharedArrayBuffers) a pool's workers step. */
export interface SharedBatch {
  Y: Float64Array;
  C: readonly Float64Array[];
  S: Float64Array;
  H: Float64Array;
  act: Uint8Array;
  m: number;
}

export interface KernelPool {
  /** Threads stepping the batch, the main thread included. */
  readonly threads: number;
  /**
   * Runs nTicks ticks of every block, the workers and this thread taking blocks in turn.
   * `alongside` runs on this thread once the workers have the job, before it takes blocks (work
   * that does not touch the batch: the assets stepping alone); what it throws is thrown once the
   * job is over, so the workers never run into the next one.
   * Returns the first (tick, position) whose state stopped being finite, or [-1, -1].
   * @throws TwinloopError InternalError when a worker failed or stopped answering.
   */
  run(kernel: FusedKernel, nTicks: number, h: number, alongside?: () => void): [number, number];
  close(): void;
}

/**
 * Steps the blocks `next()` hands out; returns the first failure of those blocks by tick, then by
 * position, in `out` ([-1, -1] when none). The one-thread path and every thread of a pool.
 */
export function runBlocks(
  kernel: FusedKernel,
  batch: SharedBatch,
  nTicks: number,
  h: number,
  next: () => number,
  scratch: Int32Array,
  out: Int32Array,
): void {
  const blocks = Math.ceil(batch.m / BLOCK);
  let bt = -1;
  let ba = -1;
  for (let b = next(); b < blocks; b = next()) {
    const { Y, C, S, H, act, m } = batch;
    kernel(Y, C, S, H, act, m, b * BLOCK, Math.min(m, (b + 1) * BLOCK), nTicks, h, scratch);
    const t = scratch[0] as number;
    const a = scratch[1] as number;
    if (t >= 0 && (bt < 0 || t < bt || (t === bt && a < ba))) {
      bt = t;
      ba = a;
    }
  }
  out[0] = bt;
  out[1] = ba;
}

/** True when every function the kernel calls is Math's own (so a worker can call the same). */
export function portableToWorkers(plan: FusedPlan): boolean {
  const math = Math as unknown as Record<string, unknown>;
  return plan.fnNames.every(
    (name, k) => (WORKER_MATH as readonly string[]).includes(name) && plan.impls[k] === math[name],
  );
}

/** A SharedArrayBuffer-backed Float64Array of n values. */
export function sharedFloat64(n: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(Math.max(1, n) * 8));
}

const registry = new FinalizationRegistry<() => void>((stop) => stop());

/** Starts threads − 1 workers over a batch (the calling thread is the other one). */
export function createKernelPool(plan: FusedPlan, batch: SharedBatch, threads: number): KernelPool {
  assertSafeSource(plan.source);
  const nWorkers = threads - 1;
  const ctrl = new Int32Array(new SharedArrayBuffer(4 * 4));
  const job = sharedFloat64(2);
  const res = new Int32Array(new SharedArrayBuffer(8 * Math.max(1, nWorkers)));
  // Block claims: the generation of the job that took each block (every block is taken each job).
  const nBlocks = Math.ceil(batch.m / BLOCK);
  const claims = new Int32Array(new SharedArrayBuffer(4 * Math.max(1, nBlocks)));
  const workers: Worker[] = [];
  for (let w = 0; w < nWorkers; w++) {
    const worker = new Worker(WORKER, {
      eval: true,
      name: `twinloop-fleet-${w + 1}`,
      workerData: {
        source: plan.source,
        fnNames: plan.fnNames,
        ...batch,
        block: BLOCK,
        ctrl,
        job,
        res: res.subarray(2 * w, 2 * w + 2),
        claims,
        start: Math.floor(((w + 1) * nBlocks) / threads),
      },
    });
    worker.unref();
    workers.push(worker);
  }
  const scratch = new Int32Array(2);
  const mainRes = new Int32Array(2);
  let mainAt = 0;
  let gen = 0;
  const next = (): number => {
    while (mainAt < nBlocks) {
      const b = mainAt++;
      if (Atomics.compareExchange(claims, b, gen - 1, gen) === gen - 1) return b;
    }
    return nBlocks;
  };
  let done = 0;
  let closed = false;
  const stop = (): void => {
    Atomics.store(ctrl, 2, 1);
    Atomics.add(ctrl, 0, 1);
    Atomics.notify(ctrl, 0);
    for (const w of workers) void w.terminate();
  };
  const pool: KernelPool = {
    threads,
    run(kernel, nTicks, h, alongside) {
      if (closed) throw new TwinloopError('InternalError', 'The fleet thread pool is closed.');
      job[0] = nTicks;
      job[1] = h;
      mainAt = 0;
      const target = done + nWorkers;
      gen = Atomics.add(ctrl, 0, 1) + 1;
      Atomics.notify(ctrl, 0);
      let failed: { error: unknown } | undefined;
      try {
        alongside?.();
      } catch (error) {
        failed = { error };
      }
      runBlocks(kernel, batch, nTicks, h, next, scratch, mainRes);
      let waited = 0;
      for (;;) {
        const now = Atomics.load(ctrl, 1);
        if (Atomics.load(ctrl, 3) !== 0) {
          pool.close();
          throw new TwinloopError('InternalError', 'A fleet worker thread failed.');
        }
        if (now >= target) break;
        if (Atomics.wait(ctrl, 1, now, 1000) === 'timed-out' && ++waited > 120) {
          pool.close();
          throw new TwinloopError('InternalError', 'A fleet worker thread stopped answering.');
        }
      }
      done = target;
      if (failed) throw failed.error;
      // The first failure by tick, then by position: the same whoever stepped which block.
      let bt = mainRes[0] as number;
      let ba = mainRes[1] as number;
      for (let w = 0; w < nWorkers; w++) {
        const t = res[2 * w] as number;
        const a = res[2 * w + 1] as number;
        if (t >= 0 && (bt < 0 || t < bt || (t === bt && a < ba))) {
          bt = t;
          ba = a;
        }
      }
      return [bt, ba];
    },
    close() {
      if (closed) return;
      closed = true;
      registry.unregister(pool);
      stop();
    },
  };
  registry.register(pool, stop, pool);
  return pool;
}
