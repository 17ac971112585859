import { describe, expect, it } from 'vitest';
import { tempStorage } from '../../src/adapters/sqlite/sqlite-test-fixture.js';
import { TwinloopError } from '../../src/core/errors/errors.js';
import type { ImportIo, ImportLog } from '../../src/core/ports/import-io.js';
import type { DeleteTarget } from '../../src/core/jobs/delete-runner.js';
import type { ImportLogEntry, ImportTarget } from '../../src/core/jobs/import-runner.js';
import { JobService } from '../../src/core/jobs/job-service.js';
import { applyJobEvent, newImportJob } from '../../src/core/jobs/job-state.js';

const enc = new TextEncoder();
const FILE = [
  '{"Section": "Header"}',
  '{"fileVersion": "1.0.0"}',
  '{"Section": "Twins"}',
  ...Array.from({ length: 25 }, (_, i) => `{"$dtId": "t${i}", "$metadata": {"$model": "dtmi:a:B;1"}}`),
].join('\n');

function fakes(gate?: Promise<void>) {
  const twins: string[] = [];
  const logs: ImportLogEntry[] = [];
  const io: ImportIo = {
    checkUris: (input) => {
      if (!input.startsWith('mem:')) throw new TwinloopError('ValidationFailed', 'mem: only');
    },
    openInput: async () => {
      await Promise.resolve();
      return {
        stream: (async function* () {
          for (const line of FILE.split('\n')) {
            if (gate) await gate;
            yield enc.encode(`${line}\n`);
          }
        })(),
        close: () => undefined,
      };
    },
    openLog: async (): Promise<ImportLog> => {
      await Promise.resolve();
      return { write: async (e) => void logs.push(e), close: async () => undefined };
    },
    removeLog: async () => undefined,
  };
  const importTarget: ImportTarget = {
    hasModel: () => true,
    addModels: async () => undefined,
    createTwin: async (id) => void twins.push(id),
    createRelationship: async () => undefined,
  };
  const deleteTarget: DeleteTarget = {
    relationships: () => [],
    twinIds: () => [],
    modelIds: () => [],
    relationshipCount: () => 0,
    twinCount: () => 0,
    deleteRelationship: async () => undefined,
    deleteTwin: async () => undefined,
    deleteModel: async () => undefined,
  };
  return { twins, logs, io, importTarget, deleteTarget };
}

const limits = {
  maxJobs: 3,
  retentionMs: 86_400_000,
  batchSize: 10,
  sliceMs: 10,
  maxLineBytes: 1024,
  maxModelBytes: 1 << 20,
  maxLoggedErrors: 100,
  progressEveryMs: 0,
};

describe('JobService', () => {
  it('after a restart, marks running jobs failed and cancelling ones cancelled, and runs those not started', async () => {
    const fx = tempStorage();
    try {
      const store = fx.storage.jobs;
      const running = applyJobEvent(
        newImportJob('was-running', 'mem:a', 'mem:o', 1, 1000),
        { type: 'start' },
        2,
        1000,
      );
      const cancelling = applyJobEvent(
        applyJobEvent(newImportJob('was-cancelling', 'mem:a', 'mem:o', 1, 1000), { type: 'start' }, 2, 1000),
        { type: 'cancel' },
        3,
        1000,
      );
      await store.put(running);
      await store.put(cancelling);
      await store.put(newImportJob('queued', 'mem:a', 'mem:o', 4, 1000));
      const f = fakes();
      const jobs = new JobService({ store, ...f, limits, yieldNow: async () => undefined, newId: () => 'x' });
      await jobs.start();
      await jobs.idle();
      expect(await jobs.getImport('was-running')).toMatchObject({
        status: 'failed',
        error: { code: 'JobInterrupted' },
      });
      expect((await jobs.getImport('was-cancelling')).status).toBe('cancelled');
      expect(await jobs.getImport('queued')).toMatchObject({ status: 'succeeded', progress: { twins: 25 } });
      expect(f.twins).toHaveLength(25);
    } finally {
      await fx.cleanup();
    }
  });

  it('cancels a job not started at once, refuses a job past maxJobs, and deletes only finished jobs', async () => {
    const fx = tempStorage();
    try {
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      const f = fakes(gate);
      const jobs = new JobService({
        store: fx.storage.jobs,
        ...f,
        limits,
        yieldNow: async () => undefined,
        newId: () => 'x',
      });
      await jobs.start();
      await jobs.createImport('first', { inputBlobUri: 'mem:1', outputBlobUri: 'mem:o' });
      await jobs.createImport('second', { inputBlobUri: 'mem:2', outputBlobUri: 'mem:o' });
      await expect(
        jobs.createImport('bad', { inputBlobUri: 'file:///etc/passwd', outputBlobUri: 'mem:o' }),
      ).rejects.toMatchObject({ code: 'ValidationFailed' });
      expect((await jobs.cancelImport('second')).status).toBe('cancelled');
      await jobs.createImport('third', { inputBlobUri: 'mem:3', outputBlobUri: 'mem:o' });
      await expect(
        jobs.createImport('fourth', { inputBlobUri: 'mem:4', outputBlobUri: 'mem:o' }),
      ).rejects.toMatchObject({ code: 'JobLimitReached' });
      await expect(jobs.deleteImport('first')).rejects.toMatchObject({ code: 'ValidationFailed' });
      open();
      await jobs.idle();
      expect((await jobs.getImport('first')).status).toBe('succeeded');
      expect((await jobs.getImport('second')).status).toBe('cancelled');
      expect((await jobs.getImport('third')).status).toBe('succeeded');
      await jobs.deleteImport('first');
      await expect(jobs.getImport('first')).rejects.toMatchObject({ code: 'ImportJobNotFound' });
      await expect(jobs.cancelImport('third')).rejects.toMatchObject({ code: 'ValidationFailed' });
      await jobs.stop();
    } finally {
      await fx.cleanup();
    }
  });
});
