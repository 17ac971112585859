import { describe, expect, it } from 'vitest';
import { describeHistoryStoreContract } from '../../core/ports/history-store.contract.js';
import type { HistoryPoint } from '../../core/ports/storage-ports.js';
import { tempStorage } from './sqlite-test-fixture.js';

describeHistoryStoreContract('sqlite', async () => {
  const fx = tempStorage();
  return {
    store: fx.storage.history,
    reopen: async () => (await fx.reopen()).history,
    cleanup: () => fx.cleanup(),
    failCommits: async () => {
      fx.storage.db.exec(
        "CREATE TRIGGER fail_log BEFORE INSERT ON history_log BEGIN SELECT RAISE(ABORT, 'disk says no'); END;",
      );
      return async () => {
        fx.storage.db.exec('DROP TRIGGER fail_log');
        await Promise.resolve();
      };
    },
  };
});

// A small chunk size makes the tests cross chunk boundaries and tier merges.
describeHistoryStoreContract('sqlite (tiny chunks)', async () => {
  const fx = tempStorage({ history: { chunkPoints: 8, compactMaxPoints: 16 } });
  return {
    store: fx.storage.history,
    reopen: async () => (await fx.reopen()).history,
    cleanup: () => fx.cleanup(),
    failCommits: async () => {
      fx.storage.db.exec(
        "CREATE TRIGGER fail_log BEFORE INSERT ON history_log BEGIN SELECT RAISE(ABORT, 'disk says no'); END;",
      );
      return async () => {
        fx.storage.db.exec('DROP TRIGGER fail_log');
        await Promise.resolve();
      };
    },
  };
});

const p = (twinId: string, ts: number, value: number): HistoryPoint => ({
  workspace: 'w',
  twinId,
  path: 'v',
  kind: 'telemetry',
  ts,
  value,
});

describe('SqliteHistoryStore internals', () => {
  it('commits appends of one tick as one log row (one transaction)', async () => {
    const fx = tempStorage();
    try {
      const { history, db } = fx.storage;
      const before = (db.prepare('SELECT count(*) AS n FROM history_log').get() as { n: number }).n;
      await Promise.all(Array.from({ length: 20 }, (_, i) => history.append([p('a', i, i)])));
      const after = (db.prepare('SELECT count(*) AS n FROM history_log').get() as { n: number }).n;
      expect(after - before).toBe(1);
      await Promise.all([history.append([p('a', 100, 1)]), history.append([p('b', 100, 1)])]);
      expect((db.prepare('SELECT count(*) AS n FROM history_log').get() as { n: number }).n).toBe(2);
      history.compactNow();
      expect((db.prepare('SELECT count(*) AS n FROM history_log').get() as { n: number }).n).toBe(0);
      expect(history.bufferedPoints).toBe(0);
    } finally {
      await fx.cleanup();
    }
  });

  it('rejects every append of a failed commit and keeps working after', async () => {
    const fx = tempStorage();
    try {
      const { history, db } = fx.storage;
      // Make the commit fail: a trigger aborts inserts into the log.
      db.exec(
        "CREATE TRIGGER fail_log BEFORE INSERT ON history_log BEGIN SELECT RAISE(ABORT, 'disk says no'); END;",
      );
      const a = history.append([p('x', 1, 1)]);
      const b = history.append([p('y', 1, 2)]);
      await expect(a).rejects.toMatchObject({ code: 'StorageError' });
      await expect(b).rejects.toMatchObject({ code: 'StorageError' });
      expect(
        (await history.queryRaw({ workspace: 'w', twinId: 'x', path: 'v', from: 0, to: 10, limit: 10 }))
          .points,
      ).toEqual([]);
      db.exec('DROP TRIGGER fail_log');
      await history.append([p('x', 2, 3)]);
      expect(
        (await history.queryRaw({ workspace: 'w', twinId: 'x', path: 'v', from: 0, to: 10, limit: 10 }))
          .points,
      ).toEqual([{ ts: 2, value: 3 }]);
    } finally {
      await fx.cleanup();
    }
  });

  it('rejects a point that cannot be stored without failing the other appends of its commit', async () => {
    const fx = tempStorage();
    try {
      const { history } = fx.storage;
      const good = history.append([p('ok', 1, 1)]);
      const bigint = history.append([{ ...p('bad', 1, 1), value: { n: 10n } as unknown as number }]);
      const noTwin = history.append([p('', 1, 1)]);
      await expect(bigint).rejects.toMatchObject({
        code: 'InvalidTelemetry',
        problems: [{ pointer: '/0/value' }],
      });
      await expect(noTwin).rejects.toMatchObject({
        code: 'InvalidTelemetry',
        problems: [{ pointer: '/0/twinId' }],
      });
      await good;
      expect(
        (await history.queryRaw({ workspace: 'w', twinId: 'ok', path: 'v', from: 0, to: 10, limit: 10 }))
          .points,
      ).toHaveLength(1);
    } finally {
      await fx.cleanup();
    }
  });

  it('compacts in slices; queries see points mid-pass; a crash mid-pass neither loses nor duplicates', async () => {
    const fx = tempStorage({ history: { compactMaxPoints: 30, compactSlicePoints: 1 } });
    const { history, db } = fx.storage;
    const count = (sql: string): number => (db.prepare(sql).get() as { n: number }).n;
    await history.append(
      ['a', 'b', 'c', 'd'].flatMap((twin) => Array.from({ length: 10 }, (_, i) => p(twin, i, i))),
    );
    // The pass started on reaching 30 points; one series per slice, one slice per event-loop turn.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(count('SELECT count(*) AS n FROM history_compacted')).toBeGreaterThan(0);
    expect(count('SELECT count(*) AS n FROM history_compacted')).toBeLessThan(4);
    expect(count('SELECT count(*) AS n FROM history_log')).toBe(1);
    for (const twin of ['a', 'b', 'c', 'd']) {
      const [b] = await history.queryAggregate({
        workspace: 'w',
        twinId: twin,
        path: 'v',
        from: 0,
        to: 10,
        interval: 10,
        fns: ['sum'],
      });
      expect(b).toEqual({ start: 0, count: 10, sum: 45 });
    }
    // Crash now: the file is closed mid-pass, with some series written and the log still there.
    db.close();
    const { openSqliteStorage } = await import('./sqlite-storage.js');
    const again = openSqliteStorage({ dataDir: fx.dataDir });
    fx.storage = again;
    try {
      for (const twin of ['a', 'b', 'c', 'd']) {
        const page = await again.history.queryRaw({
          workspace: 'w',
          twinId: twin,
          path: 'v',
          from: 0,
          to: 100,
          limit: 100,
        });
        expect(page.points.map((x) => x.value)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      }
      expect((again.db.prepare('SELECT count(*) AS n FROM history_log').get() as { n: number }).n).toBe(0);
      expect((again.db.prepare('SELECT count(*) AS n FROM history_compacted').get() as { n: number }).n).toBe(
        0,
      );
    } finally {
      await fx.cleanup();
    }
  });

  it('merges the small chunks of a slow series in tiers', async () => {
    const fx = tempStorage({ history: { chunkPoints: 4096 } });
    try {
      const { history, db } = fx.storage;
      for (let i = 0; i < 64; i++) {
        await history.append([p('slow', i, i)]);
        history.compactNow();
      }
      const chunks = (db.prepare('SELECT count(*) AS n FROM history_chunks').get() as { n: number }).n;
      // 64 one-point compactions: 8 merge into one (level 1), 8 of those into one (level 2).
      expect(chunks).toBe(1);
      const [b] = await history.queryAggregate({
        workspace: 'w',
        twinId: 'slow',
        path: 'v',
        from: 0,
        to: 64,
        interval: 64,
        fns: ['sum'],
      });
      expect(b).toEqual({ start: 0, count: 64, sum: (63 * 64) / 2 });
    } finally {
      await fx.cleanup();
    }
  });

  it('replays the log of a store that was not closed', async () => {
    const fx = tempStorage();
    const dataDir = fx.dataDir;
    const { history } = fx.storage;
    await history.append([p('r', 1, 10), p('r', 2, 20)]);
    // Simulate a crash: close the file without compacting (the log row stays).
    fx.storage.db.close();
    const { openSqliteStorage } = await import('./sqlite-storage.js');
    const again = openSqliteStorage({ dataDir });
    try {
      expect(
        (await again.history.queryRaw({ workspace: 'w', twinId: 'r', path: 'v', from: 0, to: 10, limit: 10 }))
          .points,
      ).toEqual([
        { ts: 1, value: 10 },
        { ts: 2, value: 20 },
      ]);
      expect(await again.history.listSeries('w', 'r')).toEqual([
        { workspace: 'w', twinId: 'r', path: 'v', kind: 'telemetry', lastTs: 2, lastValue: 20 },
      ]);
    } finally {
      await again.close();
      fx.storage = again;
      await fx.cleanup().catch(() => undefined);
    }
  });
});
