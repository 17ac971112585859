/**
 * Import and delete jobs (ADT's /jobs routes): through the same services as the REST API, one job
 * at a time, reading and writing files under the data folder (imports folder, job logs). Created
 * with the engine; `start()` runs them once everything is up, `close()` stops them at their next
 * batch (call it before HTTP closes).
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import type { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import { JobService } from '../../core/jobs/job-service.js';
import { serviceDeleteTarget, serviceImportTarget } from '../../core/jobs/service-targets.js';
import { serviceHistoryTarget } from '../../core/history-import/service-target.js';
import type { ModelService } from '../../core/models/model-service.js';
import type { TwinService } from '../../core/twins/twin-service.js';
import { FileImportIo } from '../../adapters/files/file-import-io.js';
import type { Storage } from '../../core/ports/storage.js';
import type { TwinloopConfig } from '../config.js';
import type { Subsystem } from './subsystem.js';

/**
 * Points per history append of a history import: large enough that a commit costs little per point,
 * small enough that one commit stays a few tens of ms: 5,000 beat 10,000 in both throughput and the
 * longest event-loop stall when measured (bench/import-history).
 */
export const HISTORY_BATCH_POINTS = 5_000;

export interface JobsSubsystem extends Subsystem {
  jobs: JobService;
  /** Where import jobs read and write (the imports folder, job logs). */
  importIo: FileImportIo;
  /** Starts running jobs (what a previous run left first). */
  start(): Promise<void>;
}

export function createJobs(o: {
  config: Readonly<Pick<TwinloopConfig, 'dataDir' | 'jobs'>>;
  logger: Logger;
  storage: Pick<Storage, 'twins' | 'jobs' | 'history'>;
  models: ModelService;
  twins: TwinService;
  graph: InMemoryTwinGraph;
  /** The workspace history imports write to. */
  workspace: string;
}): JobsSubsystem {
  const { config, logger, storage, models, twins, graph, workspace } = o;
  const importIo = new FileImportIo({
    importsDir: path.resolve(config.dataDir, config.jobs.importsFolder),
    logsDir: path.join(config.dataDir, 'jobs'),
    maxInputBytes: config.jobs.maxInputMiB * 1024 * 1024,
    httpInput: config.jobs.httpInput,
    httpTimeoutMs: config.jobs.httpTimeoutMs,
  });
  const jobTargets = { models, twins, graph };
  const jobLogger = logger.child({ component: 'jobs' });
  const jobs = new JobService({
    store: storage.jobs,
    io: importIo,
    importTarget: serviceImportTarget(jobTargets),
    deleteTarget: serviceDeleteTarget(jobTargets),
    // History imports (docs/history-import.md): CSV rows into twins' history, straight to the store.
    history: {
      target: serviceHistoryTarget({ workspace, models, graph, twins, history: storage.history }),
      io: importIo,
      batchPoints: HISTORY_BATCH_POINTS,
      maxBadRows: config.jobs.maxBadRows,
    },
    limits: {
      maxJobs: config.jobs.maxJobs,
      retentionMs: config.jobs.retentionDays * 86_400_000,
      batchSize: config.jobs.batchSize,
      sliceMs: config.jobs.sliceMs,
      maxLineBytes: config.jobs.maxLineKiB * 1024,
      maxModelBytes: config.jobs.maxModelMiB * 1024 * 1024,
      maxLoggedErrors: config.jobs.maxLoggedErrors,
      progressEveryMs: 1000,
    },
    yieldNow: () => new Promise((resolve) => setImmediate(resolve)),
    newId: randomUUID,
    onError: (err, job) => jobLogger.error({ err, job: job.id, kind: job.kind }, 'a job stopped on an error'),
  });
  let started = false;
  return {
    jobs,
    importIo,
    start: async () => {
      await jobs.start();
      started = true;
    },
    close: async () => {
      if (started) await jobs.stop();
    },
  };
}
