/**
 * Backtests as jobs: started, followed by their progress, answered with their result. Kept in memory
 * (a backtest is a question, not data: rerun it after a restart), at most `maxJobs` (oldest finished
 * ones dropped) and at most `maxRunning` at a time (more is TooManyRequests).
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { BacktestProgress, BacktestResult } from './backtest.js';

export interface BacktestJob {
  id: string;
  ruleId: string;
  status: 'running' | 'succeeded' | 'failed' | 'cancelled';
  createdAt: number;
  finishedAt?: number;
  progress: BacktestProgress;
  result?: BacktestResult;
  error?: { code: string; message: string };
}

export interface BacktestJobsOptions {
  maxJobs?: number;
  maxRunning?: number;
}

type Run = (onProgress: (p: BacktestProgress) => void, cancelled: () => boolean) => Promise<BacktestResult>;

export class BacktestJobs {
  private readonly jobs = new Map<string, BacktestJob & { cancel: boolean }>();
  private seq = 0;

  constructor(private readonly o: BacktestJobsOptions = {}) {}

  /** Starts a run. @throws TooManyRequests when maxRunning runs are going already. */
  start(ruleId: string, run: Run): BacktestJob {
    const running = [...this.jobs.values()].filter((j) => j.status === 'running').length;
    if (running >= (this.o.maxRunning ?? 2))
      throw new TwinloopError('TooManyRequests', `${running} backtests are running; wait for one to finish.`);
    const id = `bt-${Date.now().toString(36)}-${(++this.seq).toString(36)}`;
    const job: BacktestJob & { cancel: boolean } = {
      id,
      ruleId,
      status: 'running',
      createdAt: Date.now(),
      progress: { twinsDone: 0, twins: 0, points: 0, fraction: 0 },
      cancel: false,
    };
    this.jobs.set(id, job);
    this.trim();
    void run(
      (p) => (job.progress = p),
      () => job.cancel,
    ).then(
      (result) => {
        job.result = result;
        job.status = result.cancelled ? 'cancelled' : 'succeeded';
        job.progress = { ...job.progress, fraction: result.cancelled ? job.progress.fraction : 1 };
        job.finishedAt = Date.now();
      },
      (e: unknown) => {
        job.status = 'failed';
        job.error =
          e instanceof TwinloopError
            ? { code: e.code, message: e.message }
            : { code: 'InternalError', message: 'The backtest failed.' };
        job.finishedAt = Date.now();
      },
    );
    return this.view(job);
  }

  get(id: string): BacktestJob | undefined {
    const j = this.jobs.get(id);
    return j && this.view(j);
  }

  /** Asks a running job to stop; false when there is no such job running. */
  cancel(id: string): boolean {
    const j = this.jobs.get(id);
    if (!j || j.status !== 'running') return false;
    j.cancel = true;
    return true;
  }

  private view(j: BacktestJob & { cancel: boolean }): BacktestJob {
    const { cancel: _cancel, ...rest } = j;
    return rest;
  }

  private trim(): void {
    const max = this.o.maxJobs ?? 50;
    for (const [id, j] of this.jobs) {
      if (this.jobs.size <= max) break;
      if (j.status !== 'running') this.jobs.delete(id);
    }
  }
}
