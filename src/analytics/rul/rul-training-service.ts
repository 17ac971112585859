/**
 * Training jobs for remaining-useful-life models: one runs at a time, in the order asked. A job
 * reads the chosen twins' history (rul-history.ts, on this thread, through the store's async
 * reads), hands it to a RulTrainer (a worker thread in the platform: training never runs on the
 * thread that acknowledges devices), and stores the result in the model registry as a new version
 * (promoted to active when asked). Progress (phase, fraction, time left) is kept per job.
 *
 * Jobs live in memory: a restart forgets jobs that had not finished (the registry holds every
 * trained model; run the training again). Finished jobs are kept for `keepFinished` jobs.
 */
import { TwinloopError, type ErrorCode } from '../../core/errors/errors.js';
import type { HistoryStore } from '../../core/ports/storage-ports.js';
import { workSlicer } from '../../core/jobs/work-slicer.js';
import { readRulAssets, type RulHistoryRange } from './rul-history.js';
import type { RulTrainingRequest } from './rul-training-request.js';
import type {
  RulArtefact,
  RulAssetSeries,
  RulMetrics,
  RulTrainingProgress,
  RulTrainingSpec,
} from './rul-types.js';

/** Runs the learner (off the main thread in the platform). Rejects when `signal` aborts. */
export interface RulTrainer {
  train(
    assets: RulAssetSeries[],
    spec: RulTrainingSpec,
    onProgress: (p: RulTrainingProgress) => void,
    signal: AbortSignal,
  ): Promise<{ artefact: RulArtefact; metrics: RulMetrics }>;
}

/** What a trained model is stored with (the registry allocates id and version). */
export interface TrainedRulModel {
  kind: 'rul';
  target: string;
  /** The feature definition: the spec, the step, the twins it learned from. */
  features: { spec: RulTrainingSpec; stepMs: number; twins: number; skipped: number };
  trainingRange: { from?: number; to?: number; assets: number; rows: number };
  metrics: RulMetrics;
  /** The artefact as JSON text. */
  artefact: string;
  note?: string;
}

/** The part of the model registry training uses. */
export interface TrainedModelSink {
  add(model: TrainedRulModel): Promise<{ id: string; version: number }>;
  promote(id: string, reason: string): Promise<void>;
}

/** What training reads of the twins. */
export interface RulTwinSource {
  /** Twins of the target model (and of models extending it), by id. */
  twinsOf(target: string): string[];
  /** A twin's property value (for `failedAtProperty`); undefined when unset. */
  property(twinId: string, name: string): unknown;
}

export type RulJobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface RulTrainingJob {
  id: string;
  status: RulJobStatus;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  request: RulTrainingRequest;
  progress: RulTrainingProgress & { etaSeconds?: number };
  result?: {
    modelId: string;
    version: number;
    promoted: boolean;
    metrics: RulMetrics;
    assets: number;
    skipped: { twinId: string; reason: string }[];
  };
  error?: { code: string; message: string };
}

export interface RulTrainingServiceOptions {
  workspace: string;
  history: Pick<HistoryStore, 'queryRaw' | 'queryAggregate'>;
  twins: RulTwinSource;
  trainer: RulTrainer;
  registry: TrainedModelSink;
  newId: () => string;
  /** Jobs waiting at most (default 10); more is TooManyRequests. */
  maxQueued?: number;
  /** Finished jobs kept (default 50). */
  keepFinished?: number;
  /** Fewest assets a training needs (default 4: some to learn from, some to validate on). */
  minAssets?: number;
  now?: () => number;
  onError?: (err: unknown, jobId: string) => void;
  /**
   * Gives the event loop back while history is read (setImmediate in the platform), at least every
   * `sliceMs` (default 10) of reading; without it the read runs in one go (tests).
   */
  yieldNow?: () => Promise<void>;
  sliceMs?: number;
}

/** Share of the progress bar each part takes. */
const READ_SHARE = 0.15;
const TRAIN_SHARE = 0.83;

export class RulTrainingService {
  private readonly jobs = new Map<string, RulTrainingJob>();
  private readonly queue: string[] = [];
  private running: { id: string; abort: AbortController } | undefined;
  private readonly now: () => number;
  private closed = false;
  private pumping: Promise<void> | undefined;

  constructor(private readonly o: RulTrainingServiceOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Queues a training. @throws TooManyRequests when `maxQueued` jobs wait; ServiceUnavailable when stopping */
  start(request: RulTrainingRequest): RulTrainingJob {
    if (this.closed)
      throw new TwinloopError('ServiceUnavailable', 'Twinloop is stopping: no training starts now.');
    const max = this.o.maxQueued ?? 10;
    if (this.queue.length >= max)
      throw new TwinloopError(
        'TooManyRequests',
        `${max} trainings are waiting already; try again when one has run.`,
      );
    const id = this.o.newId();
    const job: RulTrainingJob = {
      id,
      status: 'queued',
      createdAt: new Date(this.now()).toISOString(),
      request,
      progress: { phase: 'queued', fraction: 0 },
    };
    this.jobs.set(id, job);
    this.queue.push(id);
    this.prune();
    this.pump();
    return { ...job };
  }

  get(id: string): RulTrainingJob {
    const job = this.jobs.get(id);
    if (!job)
      throw new TwinloopError(
        'NotFound',
        `There is no training job '${id}' (finished jobs are kept until ${this.o.keepFinished ?? 50} newer ones have finished, and not after a restart).`,
      );
    return { ...job };
  }

  /** Jobs, newest first. */
  list(): RulTrainingJob[] {
    return [...this.jobs.values()].reverse().map((j) => ({ ...j }));
  }

  /** Cancels a waiting or running job. @throws NotFound; Conflict when it has finished */
  cancel(id: string): RulTrainingJob {
    const job = this.jobs.get(id);
    if (!job) return this.get(id);
    if (job.status === 'queued') {
      this.queue.splice(this.queue.indexOf(id), 1);
      this.finish(job, 'cancelled');
    } else if (job.status === 'running') this.running?.abort.abort();
    else
      throw new TwinloopError(
        'Conflict',
        `The training job '${id}' has ${job.status}; only a waiting or running job can be cancelled.`,
      );
    return { ...job };
  }

  /** Resolves when no job runs or waits (tests). */
  async idle(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  /** Cancels what waits and runs; resolves once the running job has stopped. */
  async close(): Promise<void> {
    this.closed = true;
    for (const id of this.queue.splice(0)) this.finish(this.jobs.get(id)!, 'cancelled');
    this.running?.abort.abort();
    await this.pumping;
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = (async () => {
      while (this.queue.length > 0 && !this.closed) {
        const id = this.queue.shift()!;
        const job = this.jobs.get(id);
        if (job?.status === 'queued') await this.run(job);
      }
    })().finally(() => {
      this.pumping = undefined;
    });
  }

  private async run(job: RulTrainingJob): Promise<void> {
    const abort = new AbortController();
    this.running = { id: job.id, abort };
    const t0 = this.now();
    job.status = 'running';
    job.startedAt = new Date(t0).toISOString();
    const progress = (phase: string, fraction: number, message?: string): void => {
      const elapsed = (this.now() - t0) / 1000;
      job.progress = {
        phase,
        fraction,
        ...(message !== undefined ? { message } : {}),
        ...(fraction > 0.02 && fraction < 1
          ? { etaSeconds: Math.round((elapsed * (1 - fraction)) / fraction) }
          : {}),
      };
    };
    try {
      const r = job.request;
      // Sorted: the seeded split into folds must not depend on the order the graph holds twins in
      // (creation order in a new process, storage order after a restart).
      let ids = [...(r.twins ?? this.o.twins.twinsOf(r.target))].sort();
      if (r.twinIdPrefix !== undefined) ids = ids.filter((id) => id.startsWith(r.twinIdPrefix!));
      const failures = new Map<string, number>();
      if (r.failedAtProperty !== undefined) {
        ids = ids.filter((id) => {
          const t = failureTime(this.o.twins.property(id, r.failedAtProperty!));
          if (t !== undefined) failures.set(id, t);
          return t !== undefined;
        });
      }
      const minAssets = this.o.minAssets ?? 4;
      if (ids.length < minAssets)
        throw new TwinloopError(
          'ValidationFailed',
          `Training needs at least ${minAssets} twins that ran to failure; ${ids.length} match (target ${r.target}${r.twinIdPrefix !== undefined ? `, ids starting '${r.twinIdPrefix}'` : ''}${r.failedAtProperty !== undefined ? `, with the property '${r.failedAtProperty}'` : ''}).`,
        );
      const columns = [...r.spec.sensors, ...r.spec.settings];
      progress('read', 0, `reading the history of ${ids.length} twins`);
      const stepMs = r.stepMs ?? (await this.medianSpacing(ids, columns));
      const read = await readRulAssets({
        history: this.o.history,
        workspace: this.o.workspace,
        twinIds: ids,
        columns,
        stepMs,
        ...(failures.size > 0 ? { failureOf: (id: string) => failures.get(id) } : {}),
        onAsset: (done, total) =>
          progress('read', (READ_SHARE * done) / total, `read ${done} of ${total} twins`),
        cancelled: () => abort.signal.aborted,
        ...(this.o.yieldNow
          ? {
              pace: workSlicer({
                sliceMs: this.o.sliceMs ?? 10,
                yieldNow: this.o.yieldNow,
                now: () => performance.now(),
              }),
            }
          : {}),
      });
      if (abort.signal.aborted) throw abortError();
      if (read.assets.length < minAssets)
        throw new TwinloopError(
          'ValidationFailed',
          `Training needs at least ${minAssets} twins with history; ${read.assets.length} of ${ids.length} have readings of the chosen telemetry.`,
        );
      const trained = await this.o.trainer.train(
        read.assets,
        r.spec,
        (p) => progress(p.phase, READ_SHARE + TRAIN_SHARE * Math.min(1, Math.max(0, p.fraction)), p.message),
        abort.signal,
      );
      progress('store', READ_SHARE + TRAIN_SHARE, 'storing the model in the registry');
      const artefact: RulArtefact = { ...trained.artefact, stepMs };
      const added = await this.o.registry.add({
        kind: 'rul',
        target: r.target,
        features: { spec: r.spec, stepMs, twins: read.assets.length, skipped: read.skipped.length },
        trainingRange: rangeOf(read.range, read.assets.length),
        metrics: trained.metrics,
        artefact: JSON.stringify(artefact),
        ...(r.note !== undefined ? { note: r.note } : {}),
      });
      if (r.promote) await this.o.registry.promote(added.id, `promoted when trained (job ${job.id})`);
      job.result = {
        modelId: added.id,
        version: added.version,
        promoted: r.promote,
        metrics: trained.metrics,
        assets: read.assets.length,
        skipped: read.skipped.slice(0, 100),
      };
      progress('done', 1);
      this.finish(job, 'succeeded');
    } catch (err) {
      if (abort.signal.aborted) this.finish(job, 'cancelled');
      else {
        job.error = {
          code: err instanceof TwinloopError ? err.code : 'InternalError',
          message: err instanceof Error ? err.message : String(err),
        };
        this.o.onError?.(err, job.id);
        this.finish(job, 'failed');
      }
    } finally {
      this.running = undefined;
    }
  }

  /** The median spacing of the first few twins' readings of the first column, ms (at least 1). */
  private async medianSpacing(ids: readonly string[], columns: readonly string[]): Promise<number> {
    const gaps: number[] = [];
    for (const twinId of ids.slice(0, 5)) {
      const page = await this.o.history.queryRaw({
        workspace: this.o.workspace,
        twinId,
        path: columns[0]!,
        from: -8.64e15,
        to: 8.64e15,
        limit: 1000,
        order: 'asc',
      });
      for (let i = 1; i < page.points.length; i++) gaps.push(page.points[i]!.ts - page.points[i - 1]!.ts);
    }
    if (gaps.length === 0)
      throw new TwinloopError(
        'ValidationFailed',
        'The step cannot be found from the history (too few readings): give stepSeconds.',
      );
    gaps.sort((a, b) => a - b);
    return Math.max(1, Math.round(gaps[gaps.length >> 1]!));
  }

  private finish(job: RulTrainingJob, status: RulJobStatus): void {
    job.status = status;
    job.finishedAt = new Date(this.now()).toISOString();
    // A cancelled job says so by its status alone (no error: nothing failed; every code in an
    // error comes from the catalogue, and cancelling is not an error).
    if (status === 'cancelled') delete job.error;
    this.prune();
  }

  /** Forgets the oldest finished jobs beyond `keepFinished`. */
  private prune(): void {
    const keep = this.o.keepFinished ?? 50;
    const finished = [...this.jobs.values()].filter((j) => j.status !== 'queued' && j.status !== 'running');
    for (let i = 0; i < finished.length - keep; i++) this.jobs.delete(finished[i]!.id);
  }
}

function abortError(): TwinloopError {
  return new TwinloopError('ServiceUnavailable' satisfies ErrorCode, 'The training was cancelled.');
}

function rangeOf(r: RulHistoryRange, assets: number): TrainedRulModel['trainingRange'] {
  return {
    ...(r.from !== undefined ? { from: r.from } : {}),
    ...(r.to !== undefined ? { to: r.to } : {}),
    assets,
    rows: r.rows,
  };
}

/** A failure time from a property value: ms since the epoch, or ISO 8601 text. */
export function failureTime(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string' || v.length > 64) return undefined;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : undefined;
}
