/**
 * A worker thread for thread-priority.test.ts: lowers its own priority to `workerData.nice`, answers
 * its outcome and its thread id, then stays alive until it is sent any message.
 */
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { lowerThreadPriority } from './thread-priority.js';

const outcome = lowerThreadPriority((workerData as { nice: number }).nice);
const tid = readlinkSync('/proc/thread-self').split('/').pop();
parentPort?.postMessage({ outcome, tid });
parentPort?.once('message', () => parentPort?.close());
