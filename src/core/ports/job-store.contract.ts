/**
 * The contract every JobStore adapter passes: call describeJobStoreContract from the adapter's test
 * file with a factory for a fresh, empty store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyJobEvent, newDeleteJob, newHistoryImportJob, newImportJob } from '../jobs/job-state.js';
import type { JobStore } from './job-store.js';

export interface JobStoreFixture {
  store: JobStore;
  /** Closes the current store and opens a new one on the same data. */
  reopen(): Promise<JobStore>;
  cleanup(): Promise<void>;
}

const DAY = 86_400_000;

export function describeJobStoreContract(name: string, make: () => Promise<JobStoreFixture>): void {
  describe(`JobStore contract: ${name}`, () => {
    let fx: JobStoreFixture;
    let store: JobStore;
    beforeEach(async () => {
      fx = await make();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('keeps jobs of each kind apart, replaces by id, and keeps them across reopen', async () => {
      const a = newImportJob('j1', 'file:///in', 'file:///out', 1000, DAY);
      const d = newDeleteJob('j1', 2000, DAY, 5);
      await store.put(a);
      await store.put(d);
      const running = applyJobEvent(a, { type: 'start' }, 1500, DAY);
      running.progress = { ...running.progress, twins: 7, bytesRead: 99 };
      await store.put(running);
      store = await fx.reopen();
      expect(await store.get('import', 'j1')).toEqual(running);
      expect(await store.get('delete', 'j1')).toEqual(d);
      expect(await store.get('import', 'nope')).toBeUndefined();
      expect(await store.count('import')).toBe(1);
      expect(await store.count('delete')).toBe(1);
    });

    it('keeps history import jobs (their mapping and progress) apart from import jobs of the same id', async () => {
      const mapping = {
        twin: { template: 'e-{unit}' },
        time: { column: 't', format: 'iso' },
        telemetry: { 'a b': 's1' },
      };
      const h = newHistoryImportJob(
        'j1',
        { inputBlobUri: 'file:///in.csv', fileName: 'in.csv', mapping },
        1000,
        DAY,
      );
      await store.put(newImportJob('j1', 'file:///in', 'file:///out', 900, DAY));
      await store.put(h);
      const running = applyJobEvent(h, { type: 'start' }, 1500, DAY);
      running.progress = {
        ...running.progress,
        rows: 12,
        rowsStored: 11,
        points: 264,
        badRows: 1,
        totalBytes: 4096,
      };
      await store.put(running);
      store = await fx.reopen();
      expect(await store.get('history-import', 'j1')).toEqual(running);
      expect((await store.get('import', 'j1'))?.kind).toBe('import');
      expect((await store.list('history-import', { limit: 10 })).map((j) => j.kind)).toEqual([
        'history-import',
      ]);
      expect((await store.withStatus(['running'])).map((j) => j.kind)).toEqual(['history-import']);
      expect(await store.delete('history-import', 'j1')).toBe(true);
      expect(await store.count('import')).toBe(1);
    });

    it('lists in creation order, paged by position, and finds jobs by status', async () => {
      for (let i = 0; i < 7; i++) await store.put(newImportJob(`job-${6 - i}`, 'a', 'b', 100 + i, DAY));
      const first = await store.list('import', { limit: 3 });
      expect(first.map((j) => j.id)).toEqual(['job-6', 'job-5', 'job-4']);
      const last = first[2]!;
      expect(await store.delete('import', last.id)).toBe(true);
      const next = await store.list('import', {
        limit: 10,
        after: { createdAt: last.createdAt, id: last.id },
      });
      expect(next.map((j) => j.id)).toEqual(['job-3', 'job-2', 'job-1', 'job-0']);
      expect(await store.list('delete', { limit: 10 })).toEqual([]);
      const started = applyJobEvent((await store.get('import', 'job-1'))!, { type: 'start' }, 200, DAY);
      await store.put(started);
      expect((await store.withStatus(['running'])).map((j) => j.id)).toEqual(['job-1']);
      expect(await store.delete('import', 'job-4')).toBe(false);
    });

    it('purges finished jobs past their purge time only', async () => {
      const done = applyJobEvent(
        applyJobEvent(newImportJob('old', 'a', 'b', 0, DAY), { type: 'start' }, 1, DAY),
        { type: 'succeed' },
        2,
        DAY,
      );
      await store.put(done);
      await store.put(newImportJob('waiting', 'a', 'b', 0, 10)); // not finished: never purged
      expect(await store.purge(DAY + 1)).toBe(0);
      expect(await store.purge(DAY + 3)).toBe(1);
      expect(await store.get('import', 'old')).toBeUndefined();
      expect(await store.get('import', 'waiting')).toBeDefined();
    });

    it('keeps odd ids and texts as given', async () => {
      const id = 'ünï "code" \' ; DROP TABLE jobs; --';
      const j = newImportJob(id, 'file:///x y', 'https://h/o?a=1', 5, DAY);
      await store.put(applyJobEvent(j, { type: 'fail', error: { code: 'X', message: '√ ✓' } }, 6, DAY));
      expect((await store.get('import', id))?.error).toEqual({ code: 'X', message: '√ ✓' });
    });

    it('keeps a NUL in an error message; a NUL in an id is kept or refused with BadRequest', async () => {
      const j = newImportJob('nul-msg', 'a', 'b', 5, DAY);
      const error = { code: 'InvalidLine', message: 'line 3: \u0000 is not JSON' };
      await store.put(applyJobEvent(j, { type: 'fail', error }, 6, DAY));
      expect((await store.get('import', 'nul-msg'))?.error).toEqual(error);
      const odd = newImportJob('a\u0000b', 'a', 'b', 7, DAY);
      try {
        await store.put(odd);
        expect(await store.get('import', 'a\u0000b')).toEqual(odd);
      } catch (e) {
        expect((e as { code?: string }).code).toBe('BadRequest');
        expect((e as Error).message).toMatch(/NUL/);
        expect(await store.get('import', 'a\u0000b')).toBeUndefined();
        expect(await store.delete('import', 'a\u0000b')).toBe(false);
      }
      expect(await store.count('import')).toBeGreaterThanOrEqual(1);
    });
  });
}
