/**
 * The worker thread of one RUL training (rul-worker-trainer.ts): trains on the assets it is given
 * and posts progress, then the result or the error. Plain data in and out (structured clone).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { trainRul } from '../../analytics/rul/rul-train.js';
import type { RulAssetSeries, RulTrainingSpec } from '../../analytics/rul/rul-types.js';
import type { RulWorkerMessage } from './rul-worker-trainer.js';

const { assets, spec } = workerData as { assets: RulAssetSeries[]; spec: RulTrainingSpec };
const post = (m: RulWorkerMessage): void => parentPort!.postMessage(m);
try {
  let last = 0;
  const out = trainRul(assets, spec, (p) => {
    const t = Date.now();
    if (t - last < 200 && p.fraction < 1) return;
    last = t;
    post({ t: 'progress', progress: p });
  });
  post({ t: 'done', artefact: out.artefact, metrics: out.metrics });
} catch (err) {
  const e = err as { code?: unknown; message?: unknown };
  post({
    t: 'error',
    code: typeof e.code === 'string' ? e.code : 'InternalError',
    message: typeof e.message === 'string' ? e.message : String(err),
  });
}
