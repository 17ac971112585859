/**
 * The job store: import and delete jobs, durable, so a job's status outlives a restart. Asynchronous
 * from the start (the PostgreSQL adapter comes next); the SQLite adapter resolves at once.
 * Every failure rejects with TwinloopError('StorageError').
 */
import type { JobKind, JobRecord } from '../jobs/job-state.js';

export interface JobStore {
  /** Inserts or replaces the job (by kind and id). */
  put(job: JobRecord): Promise<void>;
  /** The job, or undefined. */
  get(kind: JobKind, id: string): Promise<JobRecord | undefined>;
  /**
   * Jobs of one kind in creation order (then id), at most `limit`, starting after the job
   * `after` (an id from a previous page; a deleted one still works as a position).
   */
  list(
    kind: JobKind,
    options: { limit: number; after?: { createdAt: number; id: string } },
  ): Promise<JobRecord[]>;
  /** Jobs of any kind whose status is one of `statuses` (to recover after a restart). */
  withStatus(statuses: readonly string[]): Promise<JobRecord[]>;
  /** How many jobs of the kind are kept. */
  count(kind: JobKind): Promise<number>;
  /** Deletes the job; false when there was none. */
  delete(kind: JobKind, id: string): Promise<boolean>;
  /** Deletes finished jobs whose purge time is before `now`; returns how many. */
  purge(now: number): Promise<number>;
}
