/**
 * What-if jobs: a request is checked in full and forked (what-if-plan.ts) before it is queued, so a
 * job that exists is a run that can start. At most `maxRunning` jobs compute at once, the others wait
 * in order (at most `maxQueued`). Finished jobs are kept with their trajectories for `keepMs`, at
 * most `maxKept` of them, and at most `maxKeptBytes` of trajectories (the least recently used go
 * first). A run's trajectories are sized before it runs: one larger than `maxResultBytes` is refused
 * (400, naming the limit and the sample interval that fits), and a run starts only once its size
 * fits beside what is kept and what the other running runs will keep, so the accounted bytes
 * (what-if-kept.ts: Float64Arrays, 8 bytes a value) never exceed `maxKeptBytes`.
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { InterfaceInfo } from '../../core/models/model-types.js';
import type { BehaviourCatalog } from '../behaviour/behaviour-catalog.js';
import { runWhatIf, type WhatIfPlan } from './what-if-engine.js';
import { DEFAULT_WHAT_IF_LIMITS, planWhatIf, type WhatIfLimits } from './what-if-plan.js';
import type { WhatIfJob, WhatIfWorld } from './what-if-types.js';
import { answerOf, type WhatIfAnswer } from './what-if-answer.js';
import { keepResult, mib, plannedResultBytes, samplesOf, type KeptResult } from './what-if-kept.js';

/** Default bounds of kept trajectories: all runs together, and one run. */
export const DEFAULT_MAX_KEPT_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MAX_RESULT_BYTES = 64 * 1024 * 1024;

export interface WhatIfServiceOptions {
  catalog: BehaviourCatalog;
  world: WhatIfWorld;
  /** Lets other work run between slices of a run (setImmediate in the platform). */
  yieldNow: () => Promise<void>;
  /** DTDL interfaces, for the units of telemetry in the trajectories. */
  interfaces?: { getInterface(id: string): InterfaceInfo | undefined };
  limits?: Partial<WhatIfLimits>;
  /** Runs computing at once (default 2). */
  maxRunning?: number;
  /** Runs waiting (default 100); beyond, create() refuses with TooManyRequests. */
  maxQueued?: number;
  /** Finished jobs kept (default 50) and for how long (default 1 h). */
  maxKept?: number;
  keepMs?: number;
  /** Bytes of trajectories kept at most, all runs together, running ones counted (default 256 MiB). */
  maxKeptBytes?: number;
  /** Bytes of trajectories one run may produce (default 64 MiB, at most maxKeptBytes). */
  maxResultBytes?: number;
  /** Milliseconds of work between yields (default 10). */
  sliceMs?: number;
  /** Wall clock, ms (default Date.now). */
  now?: () => number;
  /** Job ids (default crypto.randomUUID). */
  newId?: () => string;
}

interface Entry {
  job: WhatIfJob;
  plan?: WhatIfPlan;
  result?: KeptResult;
  /** Bytes accounted: the planned size while queued or running, the kept size once succeeded, else 0. */
  bytes: number;
  abort: AbortController;
  done: Promise<void>;
  resolveDone: () => void;
  /** Last read or change, ms: the least recently used finished job is dropped first. */
  used: number;
}

const isFinished = (j: WhatIfJob): boolean =>
  j.status === 'succeeded' || j.status === 'failed' || j.status === 'cancelled';

/**
 * @example
 *   const whatIf = new WhatIfService({ catalog, world, yieldNow: () => new Promise((r) => setImmediate(r)) });
 *   const job = whatIf.create({ twins: ['pump-3a'], horizon: '24h', events: [{ at: '1h', twin: 'pump-3a', fault: 'cavitation' }] });
 *   await whatIf.wait(job.id, 60_000);
 *   const { twins } = whatIf.result(job.id);
 */
export class WhatIfService {
  private readonly jobs = new Map<string, Entry>();
  private readonly queue: Entry[] = [];
  private running = 0;
  private readonly limits: WhatIfLimits;
  private readonly maxKeptBytes: number;
  private readonly maxResultBytes: number;

  constructor(private readonly o: WhatIfServiceOptions) {
    this.limits = { ...DEFAULT_WHAT_IF_LIMITS, ...o.limits };
    this.maxKeptBytes = o.maxKeptBytes ?? DEFAULT_MAX_KEPT_BYTES;
    this.maxResultBytes = Math.min(o.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES, this.maxKeptBytes);
  }

  /**
   * Bytes of trajectories accounted now: kept (finished runs) and reserved (running runs, at
   * their planned size); their sum never exceeds `limit`.
   */
  memory(): { keptBytes: number; reservedBytes: number; kept: number; limit: number; perRunLimit: number } {
    let keptBytes = 0;
    let reservedBytes = 0;
    let kept = 0;
    for (const e of this.jobs.values()) {
      if (e.job.status === 'running') reservedBytes += e.bytes;
      else if (e.result) {
        keptBytes += e.bytes;
        kept++;
      }
    }
    return { keptBytes, reservedBytes, kept, limit: this.maxKeptBytes, perRunLimit: this.maxResultBytes };
  }

  /** The limits a request is checked against. */
  get limitsInForce(): Readonly<WhatIfLimits> {
    return this.limits;
  }

  /**
   * Checks the request, forks its twins and queues the run; it starts at once when a slot is free.
   * @throws TwinloopError BadRequest listing every problem (with pointers), DigitalTwinNotFound for an
   *   unknown twin, TooManyRequests when `maxQueued` runs already wait.
   */
  create(request: unknown): WhatIfJob {
    const maxQueued = this.o.maxQueued ?? 100;
    if (this.queue.length >= maxQueued)
      throw new TwinloopError(
        'TooManyRequests',
        `${this.queue.length} what-if runs are already waiting (at most ${maxQueued}): try again when some have finished, or cancel some.`,
      );
    const planned = planWhatIf(request, {
      catalog: this.o.catalog,
      world: this.o.world,
      limits: this.limits,
      ...(this.o.interfaces ? { interfaces: this.o.interfaces } : {}),
    });
    const { plan } = planned;
    const bytes = plannedResultBytes(plan);
    if (bytes > this.maxResultBytes) {
      const samples = samplesOf(plan);
      const message = `The run's trajectories would take ${mib(bytes)} (${samples} samples per twin × ${plan.twins.length} twins, 8 bytes a value); a run keeps at most ${mib(this.maxResultBytes)} (whatIf.maxResultMiB): take a 'sampleInterval' of at least ${Math.ceil((plan.sampleInterval * bytes) / this.maxResultBytes)} s, a shorter 'horizon' or fewer twins.`;
      throw new TwinloopError(
        'BadRequest',
        `The simulation request is not valid: /sampleInterval: ${message}`,
        {
          problems: [{ code: 'whatif.limit', pointer: '/sampleInterval', message }],
        },
      );
    }
    let resolveDone!: () => void;
    const done = new Promise<void>((res) => (resolveDone = res));
    const job: WhatIfJob = {
      id: (this.o.newId ?? (() => globalThis.crypto.randomUUID()))(),
      ...(planned.name !== undefined ? { name: planned.name } : {}),
      status: 'queued',
      progress: 0,
      simulatedSeconds: 0,
      horizon: plan.horizon,
      sampleInterval: plan.sampleInterval,
      method: plan.method,
      step: plan.step,
      twins: plan.twins.map((t) => t.twinId),
      skipped: planned.skipped,
      createdAt: new Date(this.now()).toISOString(),
    };
    const entry: Entry = {
      job,
      plan,
      bytes,
      abort: new AbortController(),
      done,
      resolveDone,
      used: this.now(),
    };
    this.prune();
    this.jobs.set(job.id, entry);
    this.queue.push(entry);
    this.pump();
    return copy(job);
  }

  /** @throws TwinloopError NotFound (unknown, or finished and no longer kept). */
  get(id: string): WhatIfJob {
    return copy(this.entry(id).job);
  }

  /** Every job kept, newest first. */
  list(): WhatIfJob[] {
    this.prune();
    return [...this.jobs.values()].map((e) => copy(e.job)).reverse();
  }

  /** The trajectories. @throws TwinloopError NotFound; Conflict while the job has not succeeded. */
  result(id: string): KeptResult {
    const e = this.entry(id);
    if (!e.result)
      throw new TwinloopError(
        'Conflict',
        `Simulation ${id} is ${e.job.status}${e.job.error ? ` (${e.job.error.message})` : ''}: it has no trajectories${isFinished(e.job) ? '' : ' yet'}.`,
      );
    return e.result;
  }

  /** The answer in words and the limit checks. @throws TwinloopError NotFound; Conflict until it has succeeded. */
  answer(id: string): WhatIfAnswer {
    const result = this.result(id);
    return answerOf(this.entry(id).job, result.twins, (twinId, name) => this.o.world.property(twinId, name));
  }

  /**
   * Cancels a queued or running job: it is `cancelled` at once and a running computation stops at
   * its next slice. A finished job is returned as it is. @throws TwinloopError NotFound.
   */
  cancel(id: string): WhatIfJob {
    const e = this.entry(id);
    if (e.job.status === 'queued') {
      this.queue.splice(this.queue.indexOf(e), 1);
      e.plan = undefined;
      this.finish(e, 'cancelled');
    } else if (e.job.status === 'running') {
      e.abort.abort();
      this.finish(e, 'cancelled');
    }
    return copy(e.job);
  }

  /** Resolves when the job has finished or `ms` has passed, with the job as it is then. */
  async wait(id: string, ms: number): Promise<WhatIfJob> {
    const e = this.entry(id);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([e.done, new Promise<void>((res) => (timer = setTimeout(res, ms)))]);
    clearTimeout(timer);
    return copy(e.job);
  }

  /** Cancels every queued and running job (platform shutdown). */
  close(): void {
    for (const e of [...this.jobs.values()]) if (!isFinished(e.job)) this.cancel(e.job.id);
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  private entry(id: string): Entry {
    this.prune();
    const e = this.jobs.get(id);
    if (!e)
      throw new TwinloopError(
        'NotFound',
        `There is no simulation '${id}' (finished runs are kept for ${Math.round((this.o.keepMs ?? 3_600_000) / 60_000)} min, at most ${this.o.maxKept ?? 50} of them and ${mib(this.maxKeptBytes)} of trajectories; the least recently read go first).`,
      );
    e.used = this.now();
    return e;
  }

  /** Drops finished jobs past their time, then the least recently used beyond `maxKept`. */
  private prune(): void {
    const keepMs = this.o.keepMs ?? 3_600_000;
    const maxKept = this.o.maxKept ?? 50;
    const now = this.now();
    const finished = [...this.jobs.values()].filter((e) => isFinished(e.job));
    for (const e of finished)
      if (Date.parse(e.job.finishedAt as string) + keepMs <= now) this.jobs.delete(e.job.id);
    const kept = finished.filter((e) => this.jobs.has(e.job.id)).sort((a, b) => a.used - b.used);
    for (let i = 0; i < kept.length - maxKept; i++) this.jobs.delete((kept[i] as Entry).job.id);
    this.evict(0);
  }

  /**
   * Drops the least recently used finished runs until `room` more bytes fit under maxKeptBytes.
   * Returns false when they do not (what is left is running).
   */
  private evict(room: number): boolean {
    const m = this.memory();
    let used = m.keptBytes + m.reservedBytes;
    if (used + room <= this.maxKeptBytes) return true;
    const kept = [...this.jobs.values()]
      .filter((e) => isFinished(e.job) && e.result)
      .sort((a, b) => a.used - b.used);
    for (const e of kept) {
      if (used + room <= this.maxKeptBytes) break;
      this.jobs.delete(e.job.id);
      used -= e.bytes;
    }
    return used + room <= this.maxKeptBytes;
  }

  private pump(): void {
    while (this.running < (this.o.maxRunning ?? 2) && this.queue.length) {
      // A run starts once its planned size fits beside what is kept and what runs (never over the cap).
      if (!this.evict((this.queue[0] as Entry).bytes) && this.running > 0) return;
      const e = this.queue.shift() as Entry;
      const plan = e.plan as WhatIfPlan;
      this.running++;
      e.job.status = 'running';
      e.job.startedAt = new Date(this.now()).toISOString();
      void runWhatIf(plan, {
        signal: e.abort.signal,
        yieldNow: this.o.yieldNow,
        ...(this.o.sliceMs !== undefined ? { sliceMs: this.o.sliceMs } : {}),
        onProgress: (s) => {
          if (e.job.status !== 'running') return;
          e.job.simulatedSeconds = s;
          e.job.progress = plan.horizon > 0 ? Math.min(1, s / plan.horizon) : 1;
        },
      })
        .then(
          (result) => {
            if (e.job.status !== 'running') return;
            const kept = keepResult(result);
            if (kept.bytes > this.maxResultBytes) {
              e.job.error = {
                code: 'BadRequest',
                message: `The run's trajectories take ${mib(kept.bytes)}; a run keeps at most ${mib(this.maxResultBytes)} (whatIf.maxResultMiB): take a larger 'sampleInterval' or fewer twins.`,
              };
              this.finish(e, 'failed');
              return;
            }
            e.result = kept;
            e.bytes = kept.bytes;
            this.finish(e, 'succeeded');
            this.evict(0);
          },
          (err: unknown) => {
            if (e.job.status !== 'running') return;
            const te = err instanceof TwinloopError ? err : undefined;
            e.job.error = { code: te?.code ?? 'InternalError', message: (err as Error).message };
            this.finish(e, 'failed');
          },
        )
        .finally(() => {
          e.plan = undefined; // the forked runtimes are not needed any more
          this.running--;
          this.pump();
        });
    }
  }

  private finish(e: Entry, status: 'succeeded' | 'failed' | 'cancelled'): void {
    if (status !== 'succeeded') e.bytes = 0;
    e.job.status = status;
    e.job.finishedAt = new Date(this.now()).toISOString();
    e.used = this.now();
    e.resolveDone();
  }
}

function copy(job: WhatIfJob): WhatIfJob {
  return { ...job, twins: [...job.twins], skipped: job.skipped.map((s) => ({ ...s })) };
}
