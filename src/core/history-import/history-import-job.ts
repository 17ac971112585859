/**
 * One history import job as the job service runs it: opens the input and the bad-rows file, reads
 * the job's mapping again (it was checked when the job was created) and runs the import, turning
 * its outcome into the job's event. Kept apart from JobService so that file stays about queueing.
 */
import type { JobEvent, HistoryImportJobRecord, HistoryImportProgress } from '../jobs/job-state.js';
import type { HistoryImportIo } from '../ports/import-io.js';
import { runHistoryImport, type HistoryImportTarget } from './history-import-runner.js';
import { parseHistoryMapping } from './history-mapping.js';
import { isTwinloopError } from '../errors/errors.js';

/** What history import jobs need from the composition root. */
export interface HistoryImportJobs {
  target: HistoryImportTarget;
  io: HistoryImportIo;
  /** Points per history append (5,000–20,000 keeps commits large and pauses short). */
  batchPoints: number;
  /** More bad rows than this fail a job. */
  maxBadRows: number;
}

export interface HistoryImportJobRun {
  maxRowBytes: number;
  sliceMs: number;
  yieldNow: () => Promise<void>;
  cancelled: () => boolean;
  save: (p: HistoryImportProgress) => Promise<void>;
  now: () => number;
}

export async function runHistoryImportJob(
  job: HistoryImportJobRecord,
  h: HistoryImportJobs,
  r: HistoryImportJobRun,
): Promise<JobEvent> {
  const fail = (e: unknown, what: string): JobEvent => ({
    type: 'fail',
    error: isTwinloopError(e)
      ? { code: e.code, message: e.message }
      : { code: 'InternalError', message: `${what}: ${e instanceof Error ? e.message : String(e)}` },
  });
  let mapping;
  try {
    mapping = parseHistoryMapping(job.mapping);
  } catch (e) {
    return fail(e, 'The mapping is not valid');
  }
  let badRows;
  try {
    badRows = await h.io.openBadRows(job.id);
  } catch (e) {
    return fail(e, 'The bad-rows file could not be created');
  }
  try {
    let input;
    try {
      input = await h.io.openInput(job.inputBlobUri);
    } catch (e) {
      return fail(e, 'The input could not be opened');
    }
    try {
      const out = await runHistoryImport({
        fileName: job.fileName,
        input: input.stream,
        ...(input.totalBytes !== undefined ? { totalBytes: input.totalBytes } : {}),
        mapping,
        target: h.target,
        badRows,
        batchPoints: h.batchPoints,
        maxRowBytes: r.maxRowBytes,
        sliceMs: r.sliceMs,
        maxBadRows: h.maxBadRows,
        yieldNow: r.yieldNow,
        cancelled: r.cancelled,
        onProgress: r.save,
        now: r.now,
      });
      await r.save(out.progress);
      if (out.status === 'failed') return { type: 'fail', error: out.error };
      return { type: out.status === 'succeeded' ? 'succeed' : 'cancelled' };
    } finally {
      input.close();
    }
  } finally {
    await badRows.close();
  }
}
