/**
 * What the benchmark runners share to drive their processes (a system under test, a load
 * generator, a receiver): forked with tsx over IPC, typed messages awaited with a timeout, stopped
 * with a 'stop' message. The system under test gets the server's Node flags, and with
 * BENCH_CPU_PROF=dir a CPU profile (node --cpu-prof) to see where its time goes.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { serverNodeFlags } from './server-flags.js';

/** Forks `dir/script` under tsx with an IPC channel; `server`: the system under test. */
export function forkChild(dir: string, script: string, args: string[], server = false): ChildProcess {
  const profDir = process.env.BENCH_CPU_PROF;
  const prof = server && profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
  return fork(join(dir, script), args, {
    execArgv: ['--import', 'tsx', ...(server ? serverNodeFlags() : []), ...prof],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
}

/** The next message of `type` from a child; rejects after `timeoutMs`. */
export function nextMessage<T>(c: ChildProcess, type: string, timeoutMs = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for '${type}'`)), timeoutMs);
    const on = (m: { type: string }) => {
      if (m.type !== type) return;
      clearTimeout(t);
      c.off('message', on);
      resolve(m as T);
    };
    c.on('message', on);
  });
}

/** Asks a child to stop ('stop' message) and waits for it to exit. */
export async function stopChild(c: ChildProcess): Promise<void> {
  c.send({ type: 'stop' });
  await new Promise((r) => c.once('exit', r));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
