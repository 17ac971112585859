/**
 * Import and delete jobs as ADT describes them (2023-10-31: ImportJob, DeleteJob), and the one
 * state machine both follow. Statuses: notstarted → running → succeeded | failed; an import job
 * can also be cancelled: notstarted → cancelled, running → cancelling → cancelled. Finished jobs
 * (succeeded, failed, cancelled) never change again. Pure: times are given by the caller.
 */
import { TwinloopError } from '../errors/errors.js';

export type JobStatus = 'notstarted' | 'running' | 'failed' | 'succeeded' | 'cancelling' | 'cancelled';
export type JobKind = 'import' | 'delete' | 'history-import';

export const FINISHED_STATUSES: ReadonlySet<JobStatus> = new Set(['failed', 'succeeded', 'cancelled']);

/** ADT's Error object as a job carries it. */
export interface JobError {
  code: string;
  message: string;
  details?: { code: string; message: string }[];
}

/** Twinloop's progress figure (an extension: ADT's job has none). */
export interface ImportProgress {
  /** Bytes of the input read so far, and its size when the source told it. */
  bytesRead: number;
  totalBytes?: number;
  /** Lines read so far. */
  lines: number;
  /** Items written so far, by kind. */
  models: number;
  twins: number;
  relationships: number;
  /** Lines or items refused (each one is a line in the output log). */
  errors: number;
  /** The section being read. */
  section?: string;
}

/** Progress of a history import (Twinloop's own job kind: CSV into twins' history). */
export interface HistoryImportProgress {
  bytesRead: number;
  totalBytes?: number;
  /** Lines read (a quoted field may span lines). */
  lines: number;
  /** Data rows read (the header not counted). */
  rows: number;
  /** Rows whose values are committed to history (rows with some bad values included). */
  rowsStored: number;
  /** Points committed (one value of one telemetry of one twin at one time). */
  points: number;
  /** Rows written to the bad-rows file. */
  badRows: number;
  twinsCreated: number;
  /** Rows read per second since the job started. */
  rowsPerSecond: number;
  elapsedMs: number;
}

export interface DeleteProgress {
  relationships: number;
  twins: number;
  models: number;
  /** What was there when the job started. */
  total: { relationships: number; twins: number; models: number };
}

interface JobBase {
  id: string;
  status: JobStatus;
  /** ms since epoch */
  createdAt: number;
  lastActionAt: number;
  finishedAt?: number;
  purgeAt: number;
  error?: JobError;
}

export interface ImportJobRecord extends JobBase {
  kind: 'import';
  inputBlobUri: string;
  outputBlobUri: string;
  progress: ImportProgress;
}

export interface DeleteJobRecord extends JobBase {
  kind: 'delete';
  /** timeoutInMinutes of the request (ADT: the job fails when it runs longer). */
  timeoutMinutes?: number;
  progress: DeleteProgress;
}

export interface HistoryImportJobRecord extends JobBase {
  kind: 'history-import';
  inputBlobUri: string;
  /** The file's name as reasons cite it (the uploaded file's own name). */
  fileName: string;
  /** The mapping as given (checked when the job was created, read again when it runs). */
  mapping: Record<string, unknown>;
  progress: HistoryImportProgress;
}

export type JobRecord = ImportJobRecord | DeleteJobRecord | HistoryImportJobRecord;

export type JobEvent =
  | { type: 'start' }
  | { type: 'progress' }
  | { type: 'cancel' }
  | { type: 'succeed' }
  | { type: 'fail'; error: JobError }
  | { type: 'cancelled' };

const TRANSITIONS: Record<JobStatus, Partial<Record<JobEvent['type'], JobStatus>>> = {
  notstarted: { start: 'running', cancel: 'cancelled', fail: 'failed' },
  running: {
    progress: 'running',
    cancel: 'cancelling',
    succeed: 'succeeded',
    fail: 'failed',
    cancelled: 'cancelled',
  },
  cancelling: {
    progress: 'cancelling',
    cancel: 'cancelling',
    cancelled: 'cancelled',
    succeed: 'succeeded',
    fail: 'failed',
  },
  failed: {},
  succeeded: {},
  cancelled: {},
};

/** True when the event applies to a job in this status. */
export function canApply(job: Pick<JobRecord, 'kind' | 'status'>, event: JobEvent['type']): boolean {
  if (event === 'cancel' && job.kind === 'delete') return false;
  return TRANSITIONS[job.status][event] !== undefined;
}

/**
 * The job after `event` at time `now` (a new object).
 * @throws ValidationFailed when the event does not apply (e.g. cancel of a finished job)
 */
export function applyJobEvent<J extends JobRecord>(
  job: J,
  event: JobEvent,
  now: number,
  retentionMs: number,
): J {
  const next = canApply(job, event.type) ? TRANSITIONS[job.status][event.type] : undefined;
  if (!next) {
    throw new TwinloopError(
      'ValidationFailed',
      event.type === 'cancel'
        ? `The ${job.kind} job '${job.id}' is ${job.status}: ${job.kind === 'delete' ? 'delete jobs cannot be cancelled' : 'only a job that has not finished can be cancelled'}.`
        : `The ${job.kind} job '${job.id}' is ${job.status}; it cannot ${event.type}.`,
    );
  }
  const out: J = { ...job, status: next, lastActionAt: now };
  if (event.type === 'fail') out.error = event.error;
  if (FINISHED_STATUSES.has(next)) {
    out.finishedAt = now;
    out.purgeAt = now + retentionMs;
  }
  return out;
}

/** A new import job, not started. */
export function newImportJob(
  id: string,
  inputBlobUri: string,
  outputBlobUri: string,
  now: number,
  retentionMs: number,
): ImportJobRecord {
  return {
    kind: 'import',
    id,
    inputBlobUri,
    outputBlobUri,
    status: 'notstarted',
    createdAt: now,
    lastActionAt: now,
    purgeAt: now + retentionMs,
    progress: { bytesRead: 0, lines: 0, models: 0, twins: 0, relationships: 0, errors: 0 },
  };
}

/** A new history import job, not started. */
export function newHistoryImportJob(
  id: string,
  input: { inputBlobUri: string; fileName: string; mapping: Record<string, unknown> },
  now: number,
  retentionMs: number,
): HistoryImportJobRecord {
  return {
    kind: 'history-import',
    id,
    ...input,
    status: 'notstarted',
    createdAt: now,
    lastActionAt: now,
    purgeAt: now + retentionMs,
    progress: {
      bytesRead: 0,
      lines: 0,
      rows: 0,
      rowsStored: 0,
      points: 0,
      badRows: 0,
      twinsCreated: 0,
      rowsPerSecond: 0,
      elapsedMs: 0,
    },
  };
}

/** A new delete job, not started. */
export function newDeleteJob(
  id: string,
  now: number,
  retentionMs: number,
  timeoutMinutes?: number,
): DeleteJobRecord {
  const job: DeleteJobRecord = {
    kind: 'delete',
    id,
    status: 'notstarted',
    createdAt: now,
    lastActionAt: now,
    purgeAt: now + retentionMs,
    progress: { relationships: 0, twins: 0, models: 0, total: { relationships: 0, twins: 0, models: 0 } },
  };
  if (timeoutMinutes !== undefined) job.timeoutMinutes = timeoutMinutes;
  return job;
}

/** The job id rules: 1 to 128 characters without control characters or '/'. */
export function checkJobId(kind: JobKind, id: string): void {
  // eslint-disable-next-line no-control-regex
  if (id.length === 0 || id.length > 128 || /[\u0000-\u001f\u007f/]/.test(id)) {
    throw new TwinloopError(
      'ValidationFailed',
      `The ${kind} job id must be 1 to 128 characters without control characters or '/'.`,
    );
  }
}

/** ADT's JSON of a job: RFC 3339 times, with Twinloop's `progress` as an extension. */
export function jobToJson(job: JobRecord): Record<string, unknown> {
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  const out: Record<string, unknown> = { id: job.id };
  if (job.kind === 'import') {
    out.inputBlobUri = job.inputBlobUri;
    out.outputBlobUri = job.outputBlobUri;
  }
  if (job.kind === 'history-import') {
    out.inputBlobUri = job.inputBlobUri;
    out.fileName = job.fileName;
    out.mapping = job.mapping;
  }
  out.status = job.status;
  out.createdDateTime = iso(job.createdAt);
  if (job.kind !== 'delete') out.lastActionDateTime = iso(job.lastActionAt);
  if (job.finishedAt !== undefined) out.finishedDateTime = iso(job.finishedAt);
  out.purgeDateTime = iso(job.purgeAt);
  if (job.error) out.error = job.error;
  out.progress = job.progress;
  return out;
}
