/**
 * Lowers the priority of the calling thread, so the OS gives the CPU to the thread that acknowledges
 * devices first when both want it (a worker doing background analytics calls this for itself).
 *
 * Linux keeps a nice value per thread, so `setpriority(PRIO_PROCESS, 0, n)` — what
 * `os.setPriority(0, n)` calls — changes the calling thread only. Elsewhere (macOS, Windows) the
 * same call changes the whole process, the ingest thread included, so it is not made there.
 * Raising one's own nice value needs no privilege; lowering it back would.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
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

/** SCHED_IDLE in the `policy` field of /proc/<tid>/stat. */
const SCHED_IDLE = 5;

/** The scheduling policy of a thread (field 41 of /proc/<pid>/task/<tid>/stat), or undefined off Linux. */
export function threadPolicy(tid: string | number, pid: number = process.pid): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // Fields after the command (in parentheses, which may hold spaces) start at field 3.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);
  } catch {
    return undefined;
  }
}

/** The calling thread's id (Linux /proc/thread-self), or undefined. */
export function currentThreadId(): string | undefined {
  try {
    return readlinkSync('/proc/thread-self').split('/').pop();
  } catch {
    return undefined;
  }
}

/** What idleThreadPolicy did. */
export type IdlePolicyOutcome = { applied: true; tid: string } | { applied: false; reason: string };

/**
 * Puts the calling thread in Linux's SCHED_IDLE class: it runs only on CPU time no ordinary thread
 * wants, and an ordinary thread that wakes takes its core at once (with a nice value alone the
 * ingest thread still waited for the worker's time slice to end: up to a few ms, ~15 % of its time
 * at saturation in bench:analytics). Node has no call for sched_setscheduler, so util-linux's
 * `chrt --idle` sets it, once, for this thread id; the result is read back from /proc. Needs no
 * privilege (a thread may always lower itself). Not applied elsewhere than Linux, nor when `chrt`
 * is missing (the caller falls back to a nice value).
 *
 * @example
 * const idle = idleThreadPolicy(); // { applied: true, tid: '12345' } on Linux with util-linux
 * if (!idle.applied) lowerThreadPriority(10);
 */
export function idleThreadPolicy(
  platform: NodeJS.Platform = process.platform,
  chrt = 'chrt',
): IdlePolicyOutcome {
  if (platform !== 'linux')
    return { applied: false, reason: `SCHED_IDLE is Linux only (this is ${platform})` };
  const tid = currentThreadId();
  if (tid === undefined) return { applied: false, reason: '/proc/thread-self cannot be read' };
  if (threadPolicy(tid) === SCHED_IDLE) return { applied: true, tid };
  const r = spawnSync(chrt, ['--idle', '--pid', '0', tid], { encoding: 'utf8', timeout: 5000 });
  if (r.error) return { applied: false, reason: `${chrt}: ${r.error.message}` };
  if (r.status !== 0)
    return {
      applied: false,
      reason: `${chrt} exited with ${r.status}: ${(r.stderr || '').trim().slice(0, 200)}`,
    };
  const policy = threadPolicy(tid);
  return policy === SCHED_IDLE
    ? { applied: true, tid }
    : { applied: false, reason: `${chrt} ran but the thread's policy is ${policy}` };
}
