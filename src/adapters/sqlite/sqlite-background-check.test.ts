import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBackgroundIntegrityCheck } from './sqlite-background-check.js';
import { damageEnd } from './sqlite-fault-fixture.js';
import { openSqliteStorage } from './sqlite-storage.js';
import { tempDir } from './sqlite-test-fixture.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function folderWithHistory(): Promise<string> {
  const dataDir = tempDir();
  dirs.push(dataDir);
  const s = openSqliteStorage({ dataDir, synchronous: 'NORMAL' });
  await s.history.append(
    Array.from({ length: 60_000 }, (_, i) => ({
      workspace: 'default',
      twinId: `t${i % 20}`,
      path: 'x',
      kind: 'telemetry' as const,
      ts: 1.7e12 + i * 7,
      value: Math.sin(i),
    })),
  );
  await s.close();
  return dataDir;
}

describe('background integrity check', () => {
  it('finds a sound database sound, while the owner keeps writing', async () => {
    const dataDir = await folderWithHistory();
    const s = openSqliteStorage({ dataDir, synchronous: 'NORMAL' });
    try {
      const check = startBackgroundIntegrityCheck(s.file);
      await s.history.append([
        { workspace: 'default', twinId: 't1', path: 'x', kind: 'telemetry', ts: 1, value: 1 },
      ]);
      expect(await check.done).toEqual({ problems: [] });
    } finally {
      await s.close();
    }
  });

  it('finds the damage at the end of a database, and the storage turns unready for good', async () => {
    const dataDir = await folderWithHistory();
    damageEnd(path.join(dataDir, 'twinloop.db'));
    const s = openSqliteStorage({ dataDir, synchronous: 'NORMAL' }); // not checked at open
    try {
      expect(s.health.check()).toEqual({ ready: true });
      const told: unknown[] = [];
      const r = await s.checkInBackground((x) => told.push(x)).done;
      expect('problems' in r && r.problems.length).toBeGreaterThan(0);
      expect(told).toEqual([r]);
      expect(s.health.check()).toMatchObject({
        ready: false,
        reason: expect.stringMatching(/^The database is damaged: /),
      });
    } finally {
      await s.close().catch(() => undefined);
    }
  });

  it('says why when it cannot run, and stops on request', async () => {
    const missing = await startBackgroundIntegrityCheck('/nonexistent/twinloop.db').done;
    expect(missing).toMatchObject({
      error: expect.stringMatching(/unable to open|directory does not exist/),
    });
    const dataDir = await folderWithHistory();
    const check = startBackgroundIntegrityCheck(path.join(dataDir, 'twinloop.db'));
    await check.stop();
    expect(await check.done).toBeDefined();
  });
});
