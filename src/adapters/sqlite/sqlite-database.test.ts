import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { LATEST_SCHEMA_VERSION, migrate, openSqliteDatabase } from './sqlite-database.js';
import { MIGRATIONS } from './sqlite-migrations.js';
import { openSqliteStorage } from './sqlite-storage.js';
import { tempDir } from './sqlite-test-fixture.js';

const dirs: string[] = [];
function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tables(db: Database.Database): string[] {
  return (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[]
  ).filter((n) => !n.startsWith('sqlite_'));
}

describe('openSqliteDatabase', () => {
  it('creates the folder and the file, in WAL mode, with the chosen synchronous level', () => {
    const dataDir = path.join(dir(), 'nested', 'data');
    for (const [sync, level] of [
      ['FULL', 2],
      ['NORMAL', 1],
    ] as const) {
      const d = openSqliteDatabase({ dataDir, synchronous: sync });
      expect(fs.existsSync(d.file)).toBe(true);
      expect(d.db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(d.db.pragma('synchronous', { simple: true })).toBe(level);
      expect(d.schemaVersion).toBe(LATEST_SCHEMA_VERSION);
      d.close();
      d.close(); // idempotent
    }
  });

  it('migrates from empty and from every earlier version, keeping data', () => {
    expect(MIGRATIONS.length).toBe(LATEST_SCHEMA_VERSION);
    const fresh = openSqliteDatabase({ dataDir: dir() });
    const latestTables = tables(fresh.db);
    fresh.close();
    expect(latestTables).toEqual(
      expect.arrayContaining(['models', 'twins', 'series', 'history_chunks', 'dead_letters']),
    );
    for (let v = 0; v < LATEST_SCHEMA_VERSION; v++) {
      const dataDir = dir();
      const old = openSqliteDatabase({ dataDir, targetVersion: v });
      expect(old.schemaVersion).toBe(v);
      if (v >= 1) {
        old.db
          .prepare(
            "INSERT INTO models (workspace, id, definition, upload_time) VALUES ('w', 'dtmi:x;1', '{}', 1)",
          )
          .run();
      }
      old.close();
      const now = openSqliteDatabase({ dataDir });
      expect(now.schemaVersion).toBe(LATEST_SCHEMA_VERSION);
      expect(tables(now.db)).toEqual(latestTables);
      if (v >= 1) expect(now.db.prepare('SELECT count(*) AS n FROM models').get()).toEqual({ n: 1 });
      now.close();
    }
  });

  it('refuses a database written by a newer Twinloop', () => {
    const dataDir = dir();
    openSqliteDatabase({ dataDir }).close();
    const raw = new Database(path.join(dataDir, 'twinloop.db'));
    raw.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => openSqliteDatabase({ dataDir })).toThrow(/newer than this Twinloop/);
  });

  it('reports StorageCorrupt for a file that is not a database, never a raw crash', () => {
    const dataDir = dir();
    fs.writeFileSync(
      path.join(dataDir, 'twinloop.db'),
      'this is not a database, just some text '.repeat(200),
    );
    let err: unknown;
    try {
      openSqliteStorage({ dataDir });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TwinloopError);
    expect((err as TwinloopError).code).toBe('StorageCorrupt');
    expect((err as TwinloopError).message).toContain('twinloop.db');
  });

  it('reports StorageCorrupt for a damaged database', async () => {
    const dataDir = dir();
    const s = openSqliteStorage({ dataDir });
    await s.models.insert(
      Array.from({ length: 500 }, (_, i) => ({
        workspace: 'w',
        id: `dtmi:m${i};1`,
        definition: 'x'.repeat(500),
        uploadTime: i,
        decommissioned: false,
      })),
    );
    s.db.pragma('wal_checkpoint(TRUNCATE)');
    s.db.close();
    // Overwrite pages in the middle of the file (past the header page) with garbage.
    const file = path.join(dataDir, 'twinloop.db');
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.alloc(4096 * 20, 0xab), 0, 4096 * 20, 4096);
    fs.closeSync(fd);
    let err: unknown;
    try {
      const again = openSqliteStorage({ dataDir, checkIntegrity: true });
      await again.models.list('w');
      void again.close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TwinloopError);
    expect((err as TwinloopError).code).toBe('StorageCorrupt');
  });

  it('migrate() is a no-op at the latest version', () => {
    const d = openSqliteDatabase({ dataDir: dir() });
    expect(migrate(d.db)).toBe(LATEST_SCHEMA_VERSION);
    d.close();
  });
});
