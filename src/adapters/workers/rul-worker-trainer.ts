/**
 * A RulTrainer that trains in a worker thread (rul-train-worker.ts), so a training of minutes never
 * delays the thread that acknowledges devices. The assets' arrays are transferred, not copied.
 * Cancelling terminates the worker.
 */
import { TwinloopError, type ErrorCode, ERROR_STATUS } from '../../core/errors/errors.js';
import type { RulTrainer } from '../../analytics/rul/rul-training-service.js';
import type { RulArtefact, RulMetrics, RulTrainingProgress } from '../../analytics/rul/rul-types.js';
import { startModuleWorker } from './module-worker.js';

export type RulWorkerMessage =
  | { t: 'progress'; progress: RulTrainingProgress }
  | { t: 'done'; artefact: RulArtefact; metrics: RulMetrics }
  | { t: 'error'; code: string; message: string };

export interface WorkerTrainerOptions {
  /** The worker's heap limit, MB (default 2048). */
  maxHeapMb?: number;
}

export function workerRulTrainer(options: WorkerTrainerOptions = {}): RulTrainer {
  return {
    train(assets, spec, onProgress, signal) {
      return new Promise((resolve, reject) => {
        if (signal.aborted) {
          reject(new TwinloopError('ServiceUnavailable', 'The training was cancelled.'));
          return;
        }
        const transfer = assets.flatMap((a) => [
          a.steps.buffer,
          ...Object.values(a.columns).map((c) => c.buffer),
        ]);
        const worker = startModuleWorker(import.meta.url, './rul-train-worker', {
          workerData: { assets, spec },
          transferList: transfer as ArrayBuffer[],
          name: 'rul-training',
          resourceLimits: { maxOldGenerationSizeMb: options.maxHeapMb ?? 2048 },
        });
        let settled = false;
        const settle = (fn: () => void): void => {
          if (settled) return;
          settled = true;
          signal.removeEventListener('abort', onAbort);
          fn();
        };
        const onAbort = (): void => {
          settle(() => reject(new TwinloopError('ServiceUnavailable', 'The training was cancelled.')));
          void worker.terminate();
        };
        signal.addEventListener('abort', onAbort, { once: true });
        worker.on('message', (m: RulWorkerMessage) => {
          if (m.t === 'progress') onProgress(m.progress);
          else if (m.t === 'done') settle(() => resolve({ artefact: m.artefact, metrics: m.metrics }));
          else {
            const code = (m.code in ERROR_STATUS ? m.code : 'InternalError') as ErrorCode;
            settle(() => reject(new TwinloopError(code, m.message)));
          }
        });
        worker.on('error', (err) =>
          settle(() =>
            reject(
              new TwinloopError('InternalError', `The training worker failed: ${err.message}`, {
                cause: err,
              }),
            ),
          ),
        );
        worker.on('exit', (code) =>
          settle(() =>
            reject(
              new TwinloopError(
                'InternalError',
                `The training worker stopped (exit code ${code}) before it finished.`,
              ),
            ),
          ),
        );
      });
    },
  };
}
