/**
 * A worker thread for thread-priority.test.ts: lowers its own priority to `workerData.nice`, or
 * with `workerData.idle` puts itself in SCHED_IDLE (through `workerData.chrt`, default chrt),
 * answers its outcome and its thread id, then stays alive until it is sent any message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { currentThreadId, idleThreadPolicy, lowerThreadPriority } from './thread-priority.js';

const d = workerData as { nice?: number; idle?: boolean; chrt?: string };
const outcome = d.idle ? idleThreadPolicy(process.platform, d.chrt) : lowerThreadPriority(d.nice ?? 0);
const tid = currentThreadId();
parentPort?.postMessage({ outcome, tid });
parentPort?.once('message', () => parentPort?.close());
