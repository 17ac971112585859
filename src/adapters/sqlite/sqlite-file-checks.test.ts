import fs, { statSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteDatabase } from './sqlite-database.js';
import { allowWrites, damageEnd, denyWrites } from './sqlite-fault-fixture.js';
import { openSqliteStorage } from './sqlite-storage.js';
import { tempDir } from './sqlite-test-fixture.js';
import { caughtSync } from '../../../test/support/caught.js';

const dirs: string[] = [];
const locked: string[] = [];
function dir(): string {
  const d = tempDir();
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const f of locked.splice(0)) allowWrites(f);
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A folder with a database holding history (about 1.5 MB). */
async function folderWithHistory(): Promise<string> {
  const dataDir = dir();
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

const mode = (f: string) => fs.statSync(f).mode & 0o777;

describe('database file checks at open', () => {
  it('creates a new folder 0700 and the database, -wal and -shm 0600', () => {
    const dataDir = path.join(dir(), 'new');
    const d = openSqliteDatabase({ dataDir });
    try {
      expect(mode(dataDir)).toBe(0o700);
      for (const f of [d.file, `${d.file}-wal`, `${d.file}-shm`]) expect(mode(f)).toBe(0o600);
    } finally {
      d.close();
    }
  });

  it('makes the files of an existing folder private (0600)', () => {
    const dataDir = dir();
    openSqliteDatabase({ dataDir }).close();
    const file = path.join(dataDir, 'twinloop.db');
    fs.chmodSync(file, 0o644);
    const d = openSqliteDatabase({ dataDir });
    try {
      expect(mode(file)).toBe(0o600);
      expect(mode(`${file}-wal`)).toBe(0o600);
    } finally {
      d.close();
    }
  });

  it('says clearly that a data path which is a file is not a folder', () => {
    const file = path.join(dir(), 'data');
    fs.writeFileSync(file, 'not a folder');
    const e = caughtSync(() => openSqliteDatabase({ dataDir: file }));
    expect(e.code).toBe('StorageError');
    expect(e.message).toMatch(/is a file, not a folder.*--data/);
    const below = caughtSync(() => openSqliteDatabase({ dataDir: path.join(file, 'sub') }));
    expect(below.message).toMatch(/a part of the path is a file/);
  });

  it('refuses a zero-length database in a folder that holds data, and takes it for new otherwise', async () => {
    const dataDir = await folderWithHistory();
    const file = path.join(dataDir, 'twinloop.db');
    fs.truncateSync(file, 0);
    const e = caughtSync(() => openSqliteStorage({ dataDir, holdsData: true }));
    expect(e.code).toBe('StorageCorrupt');
    expect(e.message).toMatch(/is empty \(0 bytes\).*truncated.*Restore the file from a backup/);
    expect(fs.statSync(file).size).toBe(0); // nothing was changed
    // A zero-length file left by a first start that died before writing: a new install.
    const fresh = dir();
    fs.writeFileSync(path.join(fresh, 'twinloop.db'), '');
    const d = openSqliteDatabase({ dataDir: fresh });
    expect(d.schemaVersion).toBeGreaterThan(0);
    d.close();
  });

  it('refuses a zero-length database whose write-ahead log holds data', () => {
    const dataDir = dir();
    const file = path.join(dataDir, 'twinloop.db');
    fs.writeFileSync(file, '');
    fs.writeFileSync(`${file}-wal`, Buffer.alloc(4096, 1));
    expect(caughtSync(() => openSqliteDatabase({ dataDir })).message).toMatch(
      /write-ahead log holds 4096 bytes/,
    );
  });

  it('refuses a missing database in a folder that holds data', () => {
    const e = caughtSync(() => openSqliteDatabase({ dataDir: dir(), holdsData: true }));
    expect(e.code).toBe('StorageCorrupt');
    expect(e.message).toMatch(/is missing.*move the data folder away/);
  });

  it('detects damage at the end of the file at open, before anything is acknowledged', async () => {
    const dataDir = await folderWithHistory();
    damageEnd(path.join(dataDir, 'twinloop.db'));
    const e = caughtSync(() => openSqliteStorage({ dataDir, checkIntegrity: true }));
    expect(e.code).toBe('StorageCorrupt');
    expect(e.message).toMatch(/is damaged.*\.recover/);
  });

  it('refuses a truncated database of any size, without reading it all', async () => {
    const dataDir = await folderWithHistory();
    const file = path.join(dataDir, 'twinloop.db');
    truncateSync(file, statSync(file).size - 3 * 4096);
    const e = caughtSync(() =>
      openSqliteStorage({ dataDir, checkIntegrity: true, integrityCheckMaxBytes: 0 }),
    );
    expect(e.code).toBe('StorageCorrupt');
    expect(e.message).toMatch(/is truncated: \d+ bytes where its header says \d+/);
  });

  it('skips the integrity check of a file above the size bound, and says so', async () => {
    const dataDir = await folderWithHistory();
    const small = openSqliteDatabase({ dataDir, checkIntegrity: true, integrityCheckMaxBytes: 1024 });
    expect(small.integrity).toMatchObject({ checked: false });
    expect(small.integrity.bytes).toBeGreaterThan(1024);
    small.close();
    const big = openSqliteDatabase({ dataDir, checkIntegrity: true, integrityCheckMaxBytes: 1e9 });
    expect(big.integrity.checked).toBe(true);
    big.close();
  });

  it('refuses a read-only database instead of starting without a word', () => {
    const dataDir = dir();
    openSqliteDatabase({ dataDir }).close();
    const file = path.join(dataDir, 'twinloop.db');
    denyWrites(file);
    locked.push(file);
    const e = caughtSync(() => openSqliteDatabase({ dataDir }));
    expect(e.code).toBe('StorageError');
    expect(e.message).toMatch(/is read-only.*Make the file and its folder writable/);
  });
});
