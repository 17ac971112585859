import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { allowWrites, deniesOpenWriters, denyWrites } from './sqlite-fault-fixture.js';
import { openSqliteStorage, type SqliteStorage } from './sqlite-storage.js';
import { tempDir } from './sqlite-test-fixture.js';

const point = (ts: number) => ({
  workspace: 'default',
  twinId: 't1',
  path: 'x',
  kind: 'telemetry' as const,
  ts,
  value: ts,
});

let dataDir = '';
let storage: SqliteStorage | undefined;
afterEach(async () => {
  allowWrites(path.join(dataDir, 'twinloop.db-wal'));
  await storage?.close().catch(() => undefined);
  storage = undefined;
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('storage readiness (write health)', () => {
  it('is ready when writes work', async () => {
    dataDir = tempDir();
    storage = openSqliteStorage({ dataDir, synchronous: 'NORMAL' });
    await storage.history.append([point(1)]);
    expect(storage.health.check()).toEqual({ ready: true });
  });

  it('is not ready after a closed database, with the reason', async () => {
    dataDir = tempDir();
    storage = openSqliteStorage({ dataDir, synchronous: 'NORMAL' });
    await storage.close();
    expect(storage.health.check()).toMatchObject({ ready: false, reason: expect.stringMatching(/closed/) });
  });

  // Only an immutable file (chattr, as root) stops writes through a descriptor already open.
  it.runIf(deniesOpenWriters)(
    'fails when a commit fails (writes refused by the file system), and recovers once writes work again',
    async () => {
      dataDir = tempDir();
      storage = openSqliteStorage({ dataDir, synchronous: 'NORMAL' });
      await storage.history.append([point(1)]);
      const wal = path.join(dataDir, 'twinloop.db-wal');
      denyWrites(wal);
      await expect(storage.history.append([point(2)])).rejects.toMatchObject({ code: 'StorageError' });
      const h = storage.health.check();
      expect(h.ready).toBe(false);
      expect(h.reason).toMatch(/I\/O error/);
      expect(h.since).toBeTypeOf('number');
      allowWrites(wal);
      // The next probe (at most once a second) commits a no-op write and finds writes work again.
      await new Promise((r) => setTimeout(r, 1100));
      expect(storage.health.check()).toEqual({ ready: true });
      await storage.history.append([point(3)]);
    },
  );

  it.runIf(deniesOpenWriters)('fails when a twin write fails', async () => {
    dataDir = tempDir();
    storage = openSqliteStorage({ dataDir, synchronous: 'NORMAL' });
    const twin = {
      id: 't1',
      modelId: 'dtmi:x:M;1',
      workspace: 'default',
      etag: 'W/"1"',
      lastUpdateTime: 1,
      contents: {},
      propertyTimes: {},
      telemetry: {},
    };
    await storage.twins.commit([{ ops: [{ op: 'putTwin', twin }] }]);
    expect(storage.health.check()).toEqual({ ready: true });
    denyWrites(path.join(dataDir, 'twinloop.db-wal'));
    await expect(
      storage.twins.commit([{ ops: [{ op: 'putTwin', twin: { ...twin, etag: 'W/"2"' } }] }]),
    ).rejects.toThrow(/I\/O error/);
    expect(storage.health.check()).toMatchObject({
      ready: false,
      reason: expect.stringMatching(/I\/O error/),
    });
  });
});
