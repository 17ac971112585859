/**
 * ADT's import jobs and delete jobs: create, get, list (paged), cancel, delete; one job runs at a
 * time, in the order they were created. Jobs are durable (JobStore). After a restart, a job that
 * was running or cancelling is marked failed (`JobInterrupted`) — never resumed, since part of its
 * input may already be written and a second pass would log every such item as a duplicate — and
 * jobs that had not started are run.
 */
import { TwinloopError } from '../errors/errors.js';
import type { ImportIo } from '../ports/import-io.js';
import type { JobStore } from '../ports/job-store.js';
import { runDelete, type DeleteTarget } from './delete-runner.js';
import { runImport, toJobError, type ImportTarget } from './import-runner.js';
import { parseHistoryMapping } from '../history-import/history-mapping.js';
import { runHistoryImportJob, type HistoryImportJobs } from '../history-import/history-import-job.js';
import {
  applyJobEvent,
  checkJobId,
  FINISHED_STATUSES,
  newDeleteJob,
  newHistoryImportJob,
  newImportJob,
  type DeleteJobRecord,
  type HistoryImportJobRecord,
  type ImportJobRecord,
  type JobEvent,
  type JobKind,
  type JobRecord,
} from './job-state.js';

export interface JobLimits {
  /** Jobs of one kind kept at most (ADT: JobLimitReached). */
  maxJobs: number;
  /** How long a finished job is kept (purgeDateTime), ms. */
  retentionMs: number;
  batchSize: number;
  /** Most ms of writes per transaction before the event loop is yielded. */
  sliceMs: number;
  maxLineBytes: number;
  maxModelBytes: number;
  maxLoggedErrors: number;
  /** At most one progress write to the store per this many ms. */
  progressEveryMs: number;
}

export interface JobServiceOptions {
  store: JobStore;
  io: ImportIo;
  importTarget: ImportTarget;
  deleteTarget: DeleteTarget;
  /** History import jobs (CSV into twins' history); absent: they are refused. */
  history?: HistoryImportJobs;
  limits: JobLimits;
  yieldNow: () => Promise<void>;
  now?: () => number;
  newId: () => string;
  /** Told about a job that ended in failure or whose bookkeeping failed (to log it). */
  onError?: (err: unknown, job: { kind: JobKind; id: string }) => void;
}

export interface JobPage {
  jobs: JobRecord[];
  /** Position of the next page, when there is one. */
  next?: { createdAt: number; id: string };
}

/**
 * @example
 * const jobs = new JobService({ store, io, importTarget, deleteTarget, limits, yieldNow, newId: randomUUID });
 * await jobs.start();
 * await jobs.createImport('j1', { inputBlobUri: 'file:///data/imports/graph.ndjson', outputBlobUri: 'file:///data/imports/graph.log' });
 */
export class JobService {
  private readonly now: () => number;
  private readonly queue: { kind: JobKind; id: string }[] = [];
  /** The running job, kept fresher than the store. */
  private current: JobRecord | undefined;
  private cancelRequested = false;
  private stopping = false;
  private pumping: Promise<void> | undefined;

  constructor(private readonly o: JobServiceOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Marks interrupted jobs failed, queues the ones not started, and starts running them. */
  async start(): Promise<void> {
    const open = await this.o.store.withStatus(['notstarted', 'running', 'cancelling']);
    for (const job of open) {
      if (job.status === 'notstarted') {
        this.queue.push({ kind: job.kind, id: job.id });
        continue;
      }
      const event: JobEvent =
        job.status === 'cancelling'
          ? { type: 'cancelled' }
          : {
              type: 'fail',
              error: {
                code: 'JobInterrupted',
                message: `Twinloop stopped while this ${job.kind} job was running; what it wrote stays written. Run a new job for the rest.`,
              },
            };
      await this.o.store.put(applyJobEvent(job, event, this.now(), this.o.limits.retentionMs));
    }
    await this.o.store.purge(this.now());
    this.pump();
  }

  /** Stops at the running job's next batch (it is marked failed: JobInterrupted) and waits for it. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.pumping;
  }

  // ---------------------------------------------------------------- import jobs

  /**
   * Creates an import job (ADT: 201 with the job).
   * @throws ValidationFailed (bad body, id taken, URI refused), JobLimitReached
   */
  async createImport(id: string, body: unknown): Promise<ImportJobRecord> {
    checkJobId('import', id);
    const b =
      typeof body === 'object' && body !== null && !Array.isArray(body)
        ? (body as Record<string, unknown>)
        : undefined;
    const input = b?.inputBlobUri;
    const output = b?.outputBlobUri;
    if (typeof input !== 'string' || input === '' || typeof output !== 'string' || output === '') {
      throw new TwinloopError(
        'ValidationFailed',
        'An import job needs "inputBlobUri" and "outputBlobUri" (strings).',
      );
    }
    await this.checkNew('import', id);
    this.o.io.checkUris(input, output);
    const job = newImportJob(id, input, output, this.now(), this.o.limits.retentionMs);
    await this.o.store.put(job);
    this.enqueue(job);
    return job;
  }

  /** @throws ImportJobNotFound */
  async getImport(id: string): Promise<ImportJobRecord> {
    return (await this.find('import', id)) as ImportJobRecord;
  }

  /**
   * Cancels an import job: one not started is cancelled at once, a running one goes to cancelling
   * and stops at its next batch. @throws ImportJobNotFound, ValidationFailed (already finished)
   */
  async cancelImport(id: string): Promise<ImportJobRecord> {
    return (await this.cancel('import', id)) as ImportJobRecord;
  }

  private async cancel(kind: 'import' | 'history-import', id: string): Promise<JobRecord> {
    const job = await this.find(kind, id);
    const next = applyJobEvent(job, { type: 'cancel' }, this.now(), this.o.limits.retentionMs);
    if (this.current?.kind === kind && this.current.id === id) {
      this.cancelRequested = true;
      this.current = next;
    }
    await this.o.store.put(next);
    return next;
  }

  /**
   * Deletes a finished import job's record (and Twinloop's own copy of its log); a job that is not
   * there is no error (ADT answers 204). @throws ValidationFailed when the job has not finished
   */
  async deleteImport(id: string): Promise<void> {
    const job = await this.findFinished('import', id);
    if (!job) return;
    await this.o.store.delete('import', id);
    await this.o.io.removeLog(id, (job as ImportJobRecord).outputBlobUri);
  }

  private async findFinished(kind: JobKind, id: string): Promise<JobRecord | undefined> {
    const job = await this.findOrUndefined(kind, id);
    if (job && !FINISHED_STATUSES.has(job.status)) {
      throw new TwinloopError(
        'ValidationFailed',
        `The ${kind} job '${id}' is ${job.status}: cancel it and wait until it is cancelled, then delete it.`,
      );
    }
    return job;
  }

  // ---------------------------------------------------------------- history import jobs

  /**
   * Creates a history import job: `inputBlobUri` (like an import job's), `mapping` (an object,
   * docs/history-import.md), `fileName` (optional, as reasons cite the file).
   * @throws ValidationFailed (bad body or mapping: every problem; id taken; URI refused), JobLimitReached
   */
  async createHistoryImport(id: string, body: unknown): Promise<HistoryImportJobRecord> {
    const h = this.o.history;
    if (!h)
      throw new TwinloopError('ValidationFailed', 'History import jobs are not available on this node.');
    checkJobId('history-import', id);
    const b =
      typeof body === 'object' && body !== null && !Array.isArray(body)
        ? (body as Record<string, unknown>)
        : undefined;
    const input = b?.inputBlobUri;
    if (typeof input !== 'string' || input === '') {
      throw new TwinloopError('ValidationFailed', 'A history import job needs "inputBlobUri" (a string).');
    }
    const mapping = parseHistoryMapping(b?.mapping);
    const model = mapping.createTwins?.model;
    if (model !== undefined && !h.target.models.getInterface(model)) {
      throw new TwinloopError(
        'ValidationFailed',
        `mapping.createTwins.model: there is no model '${model.slice(0, 200)}'.`,
      );
    }
    const given: unknown = b?.fileName ?? safeDecode(input.split(/[/?#]/).filter(Boolean).pop() ?? 'input');
    // eslint-disable-next-line no-control-regex
    if (typeof given !== 'string' || given.length > 255 || /[\u0000-\u001f]/.test(given)) {
      throw new TwinloopError(
        'ValidationFailed',
        'fileName is at most 255 characters without control characters.',
      );
    }
    const fileName = given || 'input';
    await this.checkNew('history-import', id);
    h.io.checkInput(input);
    const job = newHistoryImportJob(
      id,
      { inputBlobUri: input, fileName, mapping: b!.mapping as Record<string, unknown> },
      this.now(),
      this.o.limits.retentionMs,
    );
    await this.o.store.put(job);
    this.enqueue(job);
    return job;
  }

  /** @throws HistoryImportJobNotFound */
  async getHistoryImport(id: string): Promise<HistoryImportJobRecord> {
    return (await this.find('history-import', id)) as HistoryImportJobRecord;
  }

  /** Cancels a history import (at its next chunk). @throws HistoryImportJobNotFound, ValidationFailed (finished) */
  async cancelHistoryImport(id: string): Promise<HistoryImportJobRecord> {
    return (await this.cancel('history-import', id)) as HistoryImportJobRecord;
  }

  /** Deletes a finished history import job, its bad-rows file and its upload. @throws ValidationFailed (not finished) */
  async deleteHistoryImport(id: string): Promise<void> {
    const job = await this.findFinished('history-import', id);
    if (!job) return;
    await this.o.store.delete('history-import', id);
    await this.o.history?.io.removeBadRows(id);
  }

  // ---------------------------------------------------------------- delete jobs

  /**
   * Starts a delete job (ADT: 202). `operationId` is the job id when given (else a new one).
   * @throws ValidationFailed (id taken, bad timeout), JobLimitReached
   */
  async createDelete(
    operationId: string | undefined,
    timeoutMinutes: number | undefined,
  ): Promise<DeleteJobRecord> {
    const id = operationId ?? this.o.newId();
    checkJobId('delete', id);
    if (timeoutMinutes !== undefined && (!Number.isSafeInteger(timeoutMinutes) || timeoutMinutes < 1)) {
      throw new TwinloopError('ValidationFailed', 'timeoutInMinutes must be a whole number of at least 1.');
    }
    await this.checkNew('delete', id);
    const job = newDeleteJob(id, this.now(), this.o.limits.retentionMs, timeoutMinutes);
    await this.o.store.put(job);
    this.enqueue(job);
    return job;
  }

  /** @throws DeleteJobNotFound */
  async getDelete(id: string): Promise<DeleteJobRecord> {
    return (await this.find('delete', id)) as DeleteJobRecord;
  }

  // ---------------------------------------------------------------- shared

  /** One page of jobs of a kind, in creation order. */
  async list(kind: JobKind, limit: number, after?: { createdAt: number; id: string }): Promise<JobPage> {
    await this.o.store.purge(this.now());
    const jobs = await this.o.store.list(kind, { limit: limit + 1, ...(after ? { after } : {}) });
    const page = jobs.slice(0, limit).map((j) => this.fresh(j));
    const last = page[page.length - 1];
    return jobs.length > limit && last
      ? { jobs: page, next: { createdAt: last.createdAt, id: last.id } }
      : { jobs: page };
  }

  /** Resolves when no job is queued or running (for tests and the CLI). */
  async idle(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  private async checkNew(kind: JobKind, id: string): Promise<void> {
    await this.o.store.purge(this.now());
    if (await this.o.store.get(kind, id)) {
      throw new TwinloopError(
        'ValidationFailed',
        `A ${kind} job with id '${id}' already exists; delete it first or use another id.`,
      );
    }
    if ((await this.o.store.count(kind)) >= this.o.limits.maxJobs) {
      throw new TwinloopError(
        'JobLimitReached',
        `${this.o.limits.maxJobs} ${kind} jobs are kept already (jobs.maxJobs): delete finished ones first.`,
      );
    }
  }

  private async find(kind: JobKind, id: string): Promise<JobRecord> {
    const job = await this.findOrUndefined(kind, id);
    if (!job) {
      throw new TwinloopError(
        kind === 'import'
          ? 'ImportJobNotFound'
          : kind === 'delete'
            ? 'DeleteJobNotFound'
            : 'HistoryImportJobNotFound',
        `There is no ${kind} job with id '${id}'.`,
      );
    }
    return job;
  }

  private async findOrUndefined(kind: JobKind, id: string): Promise<JobRecord | undefined> {
    const job = await this.o.store.get(kind, id);
    return job && this.fresh(job);
  }

  private fresh(job: JobRecord): JobRecord {
    const c = this.current;
    return c && c.kind === job.kind && c.id === job.id ? c : job;
  }

  private enqueue(job: JobRecord): void {
    this.queue.push({ kind: job.kind, id: job.id });
    this.pump();
  }

  private pump(): void {
    if (this.pumping || this.stopping) return;
    this.pumping = (async () => {
      await Promise.resolve(); // so `pumping` is set before the loop can end and clear it
      try {
        while (!this.stopping) {
          const next = this.queue.shift();
          if (!next) break;
          try {
            await this.runOne(next.kind, next.id);
          } catch (e) {
            this.o.onError?.(e, next);
          }
        }
      } finally {
        this.pumping = undefined;
        this.current = undefined;
      }
    })();
  }

  private async runOne(kind: JobKind, id: string): Promise<void> {
    const stored = await this.o.store.get(kind, id);
    if (!stored || stored.status !== 'notstarted') return; // cancelled or deleted while queued
    const { retentionMs, progressEveryMs } = this.o.limits;
    this.cancelRequested = false;
    let job: JobRecord = applyJobEvent(stored, { type: 'start' }, this.now(), retentionMs);
    this.current = job;
    await this.o.store.put(job);
    let lastSaved = this.now();
    const save = async (progress: JobRecord['progress']): Promise<void> => {
      job = { ...(this.current ?? job), progress, lastActionAt: this.now() } as JobRecord;
      this.current = job;
      if (this.now() - lastSaved >= progressEveryMs) {
        lastSaved = this.now();
        await this.o.store.put(job);
      }
    };
    let event: JobEvent;
    try {
      event =
        job.kind === 'import'
          ? await this.runImportJob(job, save)
          : job.kind === 'delete'
            ? await this.runDeleteJob(job, save)
            : await this.runHistoryJob(job, save);
    } catch (e) {
      event = { type: 'fail', error: toJobError(e, 'The job stopped') };
      this.o.onError?.(e, { kind, id });
    }
    if (this.stopping && event.type === 'cancelled' && !this.cancelRequested) {
      event = {
        type: 'fail',
        error: {
          code: 'JobInterrupted',
          message: 'Twinloop was stopped while this job ran; what it wrote stays written.',
        },
      };
    }
    const base = this.current ?? job;
    const finished = applyJobEvent(base, event, this.now(), retentionMs);
    this.current = undefined;
    await this.o.store.put(finished);
  }

  private async runImportJob(
    job: ImportJobRecord,
    save: (p: ImportJobRecord['progress']) => Promise<void>,
  ): Promise<JobEvent> {
    const l = this.o.limits;
    let log;
    try {
      log = await this.o.io.openLog(job.id, job.outputBlobUri);
    } catch (e) {
      return { type: 'fail', error: toJobError(e, 'The output log could not be created') };
    }
    try {
      let input;
      try {
        input = await this.o.io.openInput(job.inputBlobUri);
      } catch (e) {
        const error = toJobError(e, 'The input could not be opened');
        await log.write({
          timestamp: new Date(this.now()).toISOString(),
          jobId: job.id,
          jobType: 'Import',
          logType: 'Error',
          details: { status: 'Failed', code: error.code, message: error.message },
        });
        return { type: 'fail', error };
      }
      try {
        const r = await runImport({
          jobId: job.id,
          input: input.stream,
          ...(input.totalBytes !== undefined ? { totalBytes: input.totalBytes } : {}),
          target: this.o.importTarget,
          log,
          batchSize: l.batchSize,
          sliceMs: l.sliceMs,
          maxLineBytes: l.maxLineBytes,
          maxModelBytes: l.maxModelBytes,
          maxLoggedErrors: l.maxLoggedErrors,
          yieldNow: this.o.yieldNow,
          cancelled: () => this.cancelRequested || this.stopping,
          onProgress: (p) => save({ ...p }),
          now: this.now,
        });
        if (r.status === 'failed') return { type: 'fail', error: r.error };
        return { type: r.status === 'succeeded' ? 'succeed' : 'cancelled' };
      } finally {
        input.close();
      }
    } finally {
      await log.close();
    }
  }

  private async runHistoryJob(
    job: HistoryImportJobRecord,
    save: (p: HistoryImportJobRecord['progress']) => Promise<void>,
  ): Promise<JobEvent> {
    if (!this.o.history) {
      return {
        type: 'fail',
        error: { code: 'ValidationFailed', message: 'History import jobs are not available on this node.' },
      };
    }
    return runHistoryImportJob(job, this.o.history, {
      maxRowBytes: this.o.limits.maxLineBytes,
      sliceMs: this.o.limits.sliceMs,
      yieldNow: this.o.yieldNow,
      cancelled: () => this.cancelRequested || this.stopping,
      save: (p) => save({ ...p }),
      now: this.now,
    });
  }

  private async runDeleteJob(
    job: DeleteJobRecord,
    save: (p: DeleteJobRecord['progress']) => Promise<void>,
  ): Promise<JobEvent> {
    const r = await runDelete({
      target: this.o.deleteTarget,
      batchSize: this.o.limits.batchSize,
      ...(job.timeoutMinutes !== undefined ? { deadline: job.createdAt + job.timeoutMinutes * 60_000 } : {}),
      yieldNow: this.o.yieldNow,
      interrupted: () => this.stopping,
      onProgress: (p) => save({ ...p, total: { ...p.total } }),
      now: this.now,
    });
    return r.status === 'succeeded' ? { type: 'succeed' } : { type: 'fail', error: r.error };
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
