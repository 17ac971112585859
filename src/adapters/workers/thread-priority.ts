/**
 * Lowers the priority of the calling thread, so the OS gives the CPU to the thread that acknowledges
 * devices first when both want it (a worker doing background analytics calls this for itself).
 *
 * Linux keeps a nice value per thread, so `setpriority(PRIO_PROCESS, 0, n)` — what
 * `os.setPriority(0, n)` calls — changes the calling thread only. Elsewhere (macOS, Windows) the
 * same call changes the whole process, the ingest thread included, so it is not made there.
 * Raising one's own nice value needs no privilege; lowering it back would.
 */
import { getPriority, setPriority } from 'node:os';

/** What lowerThreadPriority did. */
export type ThreadPriorityOutcome = { applied: true; nice: number } | { applied: false; reason: string };

/**
 * Sets the calling thread's nice value to `nice` (0–19; 0 leaves it alone).
 *
 * @example
 * // first thing in a worker thread's module
 * const outcome = lowerThreadPriority(10); // { applied: true, nice: 10 } on Linux
 */
export function lowerThreadPriority(
  nice: number,
  platform: NodeJS.Platform = process.platform,
): ThreadPriorityOutcome {
  if (!Number.isInteger(nice) || nice < 0 || nice > 19)
    return { applied: false, reason: `nice must be an integer from 0 to 19 (got ${nice})` };
  if (nice === 0) return { applied: false, reason: 'nice 0: left at the process priority' };
  if (platform !== 'linux')
    return { applied: false, reason: `per-thread priority is not available on ${platform}` };
  try {
    // Never raise the priority (a lower nice) of a thread that already runs below it.
    if (getPriority(0) >= nice) return { applied: true, nice: getPriority(0) };
    setPriority(0, nice);
    return { applied: true, nice: getPriority(0) };
  } catch (e) {
    return { applied: false, reason: e instanceof Error ? e.message : String(e) };
  }
}
