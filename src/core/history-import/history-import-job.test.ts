// History import jobs in the job service, on real parts (SQLite job store and history, the twin
// service, the file adapter): the body is checked, a restart marks a running job failed and runs a
// queued one, a running job is cancelled at its next chunk, and only finished jobs are deleted.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openTestWorkspace, type TestWorkspace } from '../../../test/adt-sdk/workspace-fixture.js';
import { FileImportIo } from '../../adapters/files/file-import-io.js';
import { JobService } from '../jobs/job-service.js';
import { applyJobEvent, newHistoryImportJob } from '../jobs/job-state.js';
import type { ImportTarget } from '../jobs/import-runner.js';
import type { DeleteTarget } from '../jobs/delete-runner.js';
import { serviceHistoryTarget } from './service-target.js';

const MODEL = {
  '@id': 'dtmi:test:M;1',
  '@type': 'Interface',
  '@context': 'dtmi:dtdl:context;3',
  contents: [{ '@type': 'Telemetry', name: 'v', schema: 'double' }],
};
const MAPPING = {
  twin: { template: 'm-{id}' },
  time: { column: 't', format: 'epoch-s' },
  createTwins: { model: 'dtmi:test:M;1' },
};
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

describe('history import jobs', () => {
  let w: TestWorkspace;
  let io: FileImportIo;
  let file: string;
  beforeEach(async () => {
    w = await openTestWorkspace();
    await w.models.add([MODEL]);
    io = new FileImportIo({
      importsDir: path.join(w.dir, 'imports'),
      logsDir: path.join(w.dir, 'jobs'),
      maxInputBytes: 1 << 30,
      httpInput: false,
      httpTimeoutMs: 1000,
    });
    file = path.join(io.folder, 'h.csv');
    const rows = ['id,t,v'];
    for (let i = 0; i < 3000; i++) rows.push(`${i % 3},${1_700_000_000 + i},${i}`);
    fs.writeFileSync(file, `${rows.join('\n')}\n`);
  });
  afterEach(async () => {
    await w.close();
  });

  function service(yieldNow: () => Promise<void> = () => new Promise((r) => setImmediate(r))) {
    return new JobService({
      store: w.storage.jobs,
      io,
      importTarget: {} as ImportTarget,
      deleteTarget: {} as DeleteTarget,
      history: {
        target: serviceHistoryTarget({
          workspace: 'default',
          models: w.models,
          graph: w.graph,
          twins: w.twins,
          history: w.storage.history,
        }),
        io,
        batchPoints: 500,
        maxBadRows: 100,
      },
      limits,
      yieldNow,
      newId: () => 'x',
    });
  }
  const uri = () => pathToFileURL(file).href;

  it('checks the body: input, mapping (every problem), model, file name, id', async () => {
    const jobs = service();
    await expect(jobs.createHistoryImport('a', { mapping: MAPPING })).rejects.toThrow(/inputBlobUri/);
    await expect(
      jobs.createHistoryImport('a', { inputBlobUri: uri(), mapping: { time: 1 } }),
    ).rejects.toMatchObject({
      code: 'ValidationFailed',
      problems: [{ pointer: '/twin' }, { pointer: '/time' }],
    });
    await expect(
      jobs.createHistoryImport('a', {
        inputBlobUri: uri(),
        mapping: { ...MAPPING, createTwins: { model: 'dtmi:x:No;1' } },
      }),
    ).rejects.toThrow(/no model/);
    await expect(
      jobs.createHistoryImport('a', { inputBlobUri: uri(), mapping: MAPPING, fileName: 'a\nb' }),
    ).rejects.toThrow(/fileName/);
    await expect(jobs.createHistoryImport('a/b', { inputBlobUri: uri(), mapping: MAPPING })).rejects.toThrow(
      /id/,
    );
    await expect(jobs.createHistoryImport('a', [])).rejects.toThrow(/inputBlobUri/);
  });

  it('after a restart marks a running job failed and runs a queued one; refuses past maxJobs', async () => {
    const running = applyJobEvent(
      newHistoryImportJob(
        'was-running',
        { inputBlobUri: uri(), fileName: 'h.csv', mapping: MAPPING },
        1,
        1000,
      ),
      { type: 'start' },
      2,
      1000,
    );
    await w.storage.jobs.put(running);
    await w.storage.jobs.put(
      newHistoryImportJob('queued', { inputBlobUri: uri(), fileName: 'h.csv', mapping: MAPPING }, 3, 1000),
    );
    const jobs = service();
    await jobs.start();
    await jobs.idle();
    expect(await jobs.getHistoryImport('was-running')).toMatchObject({
      status: 'failed',
      error: { code: 'JobInterrupted' },
    });
    expect(await jobs.getHistoryImport('queued')).toMatchObject({
      status: 'succeeded',
      progress: { rows: 3000, rowsStored: 3000, points: 3000, twinsCreated: 3 },
    });
    await jobs.createHistoryImport('third', { inputBlobUri: uri(), mapping: MAPPING });
    await expect(
      jobs.createHistoryImport('fourth', { inputBlobUri: uri(), mapping: MAPPING }),
    ).rejects.toMatchObject({
      code: 'JobLimitReached',
    });
    await jobs.idle();
    await jobs.stop();
  });

  it('cancels a running job at its next chunk, keeps what it stored, and deletes only a finished job', async () => {
    // A file of several chunks, and a yield that waits for the test to look.
    const rows = ['id,t,v'];
    for (let i = 0; i < 60_000; i++) rows.push(`${i % 3},${1_700_000_000 + i},${i}`);
    fs.writeFileSync(file, `${rows.join('\n')}\n`);
    let release: () => void = () => undefined;
    let yields = 0;
    const jobs = service(async () => {
      if (++yields === 5) await new Promise<void>((r) => (release = r));
      await new Promise((r) => setImmediate(r));
    });
    await jobs.start();
    await jobs.createHistoryImport('c', { inputBlobUri: uri(), mapping: MAPPING });
    while (yields < 5) await new Promise((r) => setTimeout(r, 5));
    expect((await jobs.getHistoryImport('c')).status).toBe('running');
    await expect(jobs.deleteHistoryImport('c')).rejects.toThrow(/running: cancel it/);
    expect((await jobs.cancelHistoryImport('c')).status).toBe('cancelling');
    release();
    await jobs.idle();
    const done = await jobs.getHistoryImport('c');
    expect(done.status).toBe('cancelled');
    expect(done.progress.rows).toBeGreaterThan(0);
    expect(done.progress.rows).toBeLessThan(60_000);
    const stored = await w.storage.history.queryRaw({
      workspace: 'default',
      twinId: 'm-0',
      path: 'v',
      from: 0,
      to: 4e12,
      limit: 100_000,
    });
    expect(done.progress.rowsStored).toBe(done.progress.rows); // the rows read before the stop are stored
    expect(stored.points.length).toBe(Math.ceil(done.progress.rowsStored / 3));
    expect(fs.existsSync(io.badRowsPath('c'))).toBe(true);
    await jobs.deleteHistoryImport('c');
    await expect(jobs.getHistoryImport('c')).rejects.toMatchObject({ code: 'HistoryImportJobNotFound' });
    expect(fs.existsSync(io.badRowsPath('c'))).toBe(false);
    await jobs.stop();
  });
});
