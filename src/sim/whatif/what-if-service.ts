/**
 * What-if jobs: a request is checked in full and forked (what-if-plan.ts) before it is queued, so a
 * job that exists is a run that can start. At most `maxRunning` jobs compute at once, the others wait
 * in order (at most `maxQueued`). Finished jobs are kept with their trajectories for `keepMs`, and at
 * most `maxKept` of them (the least recently used go first).
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { InterfaceInfo } from '../../core/models/model-types.js';
import type { BehaviourCatalog } from '../behaviour/behaviour-catalog.js';
import { runWhatIf, type WhatIfPlan } from './what-if-engine.js';
import { DEFAULT_WHAT_IF_LIMITS, planWhatIf, type WhatIfLimits } from './what-if-plan.js';
import type { WhatIfJob, WhatIfResult, WhatIfWorld } from './what-if-types.js';

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
  result?: WhatIfResult;
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

  constructor(private readonly o: WhatIfServiceOptions) {
    this.limits = { ...DEFAULT_WHAT_IF_LIMITS, ...o.limits };
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
    const entry: Entry = { job, plan, abort: new AbortController(), done, resolveDone, used: this.now() };
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
  result(id: string): WhatIfResult {
    const e = this.entry(id);
    if (!e.result)
      throw new TwinloopError(
        'Conflict',
        `Simulation ${id} is ${e.job.status}${e.job.error ? ` (${e.job.error.message})` : ''}: it has no trajectories${isFinished(e.job) ? '' : ' yet'}.`,
      );
    return e.result;
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
        `There is no simulation '${id}' (finished runs are kept for ${Math.round((this.o.keepMs ?? 3_600_000) / 60_000)} min, at most ${this.o.maxKept ?? 50} of them).`,
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
  }

  private pump(): void {
    while (this.running < (this.o.maxRunning ?? 2) && this.queue.length) {
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
            e.result = result;
            this.finish(e, 'succeeded');
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
    e.job.status = status;
    e.job.finishedAt = new Date(this.now()).toISOString();
    e.used = this.now();
    e.resolveDone();
  }
}

function copy(job: WhatIfJob): WhatIfJob {
  return { ...job, twins: [...job.twins], skipped: job.skipped.map((s) => ({ ...s })) };
}
