import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startModuleWorker } from './module-worker.js';
import { idleThreadPolicy, lowerThreadPriority, threadPolicy } from './thread-priority.js';

/** The nice value of every thread of this process, by thread id (Linux /proc). */
function niceByThread(): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
    // Fields after the command (in parentheses, which may hold spaces): state is field 3, nice 19.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(t, Number(rest[16]));
  }
  return out;
}

describe('lowerThreadPriority', () => {
  it('refuses values outside 0–19 and leaves nice 0 alone', () => {
    expect(lowerThreadPriority(-1)).toMatchObject({
      applied: false,
      reason: expect.stringContaining('0 to 19'),
    });
    expect(lowerThreadPriority(20)).toMatchObject({ applied: false });
    expect(lowerThreadPriority(2.5)).toMatchObject({ applied: false });
    expect(lowerThreadPriority(0)).toMatchObject({
      applied: false,
      reason: expect.stringContaining('nice 0'),
    });
  });

  it('does nothing where the nice value is per process (it would slow the ingest thread too)', () => {
    expect(lowerThreadPriority(10, 'darwin')).toEqual({
      applied: false,
      reason: 'per-thread priority is not available on darwin',
    });
    expect(lowerThreadPriority(10, 'win32')).toMatchObject({ applied: false });
  });

  it.runIf(process.platform === 'linux')(
    'lowers the calling worker thread only, not the process',
    async () => {
      const before = niceByThread();
      const worker = startModuleWorker(import.meta.url, './thread-priority-test-fixture', {
        workerData: { nice: 7 },
      });
      const { outcome, tid } = await new Promise<{ outcome: unknown; tid: string }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      const after = niceByThread();
      worker.postMessage('stop');
      await worker.terminate();
      expect(outcome).toEqual({ applied: true, nice: 7 });
      expect(after.get(tid)).toBe(7);
      // Every other thread (the main thread included) kept its priority.
      for (const [t, nice] of after) if (t !== tid) expect(nice).toBe(before.get(t) ?? nice);
      expect(after.get(String(process.pid))).toBe(before.get(String(process.pid)));
    },
  );
});

/** Starts the fixture worker with `data`, answers its outcome and thread id, and how to end it. */
async function fixture(data: object): Promise<{ outcome: unknown; tid: string; end: () => Promise<void> }> {
  const worker = startModuleWorker(import.meta.url, './thread-priority-test-fixture', { workerData: data });
  const m = await new Promise<{ outcome: unknown; tid: string }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    ...m,
    end: async () => {
      worker.postMessage('stop');
      await worker.terminate();
    },
  };
}

describe('idleThreadPolicy', () => {
  it('is not applied off Linux', () => {
    expect(idleThreadPolicy('darwin')).toEqual({
      applied: false,
      reason: 'SCHED_IDLE is Linux only (this is darwin)',
    });
  });

  it.runIf(process.platform === 'linux')('says why when chrt is missing, and changes nothing', async () => {
    const w = await fixture({ idle: true, chrt: 'twinloop-no-such-chrt' });
    const policy = threadPolicy(w.tid);
    await w.end();
    expect(w.outcome).toMatchObject({
      applied: false,
      reason: expect.stringContaining('twinloop-no-such-chrt'),
    });
    expect(policy).toBe(0);
  });

  it.runIf(process.platform === 'linux')(
    'puts the calling worker thread in SCHED_IDLE, and no other thread',
    async () => {
      const before = new Map(readdirSync('/proc/self/task').map((t) => [t, threadPolicy(t)]));
      const w = await fixture({ idle: true });
      const policies = new Map(readdirSync('/proc/self/task').map((t) => [t, threadPolicy(t)]));
      await w.end();
      expect(w.outcome).toEqual({ applied: true, tid: w.tid });
      expect(policies.get(w.tid)).toBe(5); // SCHED_IDLE
      expect(policies.get(String(process.pid))).toBe(0); // the main thread: SCHED_OTHER
      for (const [t, p] of policies) if (t !== w.tid && before.has(t)) expect(p).toBe(before.get(t));
    },
  );
});
