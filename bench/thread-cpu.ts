/**
 * CPU of this process's main thread (the ingest thread of a system under test) and of all its other
 * threads, and the time the main thread was ready to run but waited for a core, in ms, from
 * /proc/self/task/<tid>/schedstat (Linux with schedstats; undefined elsewhere). A saturated ingest
 * thread is either running or waiting: the waiting share is what other threads (a worker, a load
 * generator, GC helpers) take from it.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ThreadCpu {
  main: number;
  others: number;
  mainWaited: number;
}

export function threadCpuMs(): ThreadCpu | undefined {
  try {
    let main = 0;
    let others = 0;
    let mainWaited = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      // "<ns on a CPU> <ns waiting on a run queue> <time slices>"
      const [run = 0, wait = 0] = readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8')
        .trim()
        .split(' ')
        .map(Number);
      if (Number(tid) === process.pid) {
        main += run / 1e6;
        mainWaited += wait / 1e6;
      } else others += run / 1e6;
    }
    return { main, others, mainWaited };
  } catch {
    return undefined;
  }
}

/** The ingest thread over a window between two readings: µs of CPU per message, share running, share waiting. */
export function ingestThreadFigures(
  a: ThreadCpu | undefined,
  b: ThreadCpu | undefined,
  messages: number,
  windowMs: number,
): { ingestThreadUs: number; ingestThreadBusy: number; ingestThreadWaited: number } | undefined {
  if (!a || !b) return undefined;
  return {
    ingestThreadUs: ((b.main - a.main) * 1000) / Math.max(1, messages),
    ingestThreadBusy: (b.main - a.main) / windowMs,
    ingestThreadWaited: (b.mainWaited - a.mainWaited) / windowMs,
  };
}
