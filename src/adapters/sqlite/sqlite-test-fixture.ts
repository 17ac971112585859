/** Temp-folder fixtures for the SQLite adapter tests (used by *.test.ts only). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStorage, type SqliteStorage, type SqliteStorageOptions } from './sqlite-storage.js';

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'twinloop-sqlite-'));
}

/** Opens storage in a fresh temp folder; reopen() closes and opens the same folder again. */
export function tempStorage(options: Omit<SqliteStorageOptions, 'dataDir'> = {}) {
  const dataDir = tempDir();
  const fx = {
    dataDir,
    storage: openSqliteStorage({ dataDir, synchronous: 'NORMAL', ...options }) as SqliteStorage,
    async reopen(): Promise<SqliteStorage> {
      await fx.storage.close();
      fx.storage = openSqliteStorage({ dataDir, synchronous: 'NORMAL', ...options });
      return fx.storage;
    },
    async cleanup(): Promise<void> {
      await fx.storage.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return fx;
}
