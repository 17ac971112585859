import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startModuleWorker } from './module-worker.js';
import { lowerThreadPriority } from './thread-priority.js';

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
