/**
 * Checks of the database file made before and right after it is opened, so a damaged or unusable
 * file stops the start with a clear error instead of being silently reset or acknowledging writes
 * that can never be read back:
 *
 * - the data path must be a folder (created 0700 when absent);
 * - a missing or zero-length database in a folder that holds data is refused (never a new install);
 * - files are private: the database, its -wal and -shm (SQLite gives them the database's mode) 0600;
 * - a probe write (rolled back) fails on a read-only file, which SQLite otherwise opens read-only
 *   without a word;
 * - a file shorter than its header says (truncated) is refused, whatever its size (reads 100
 *   bytes; only without a write-ahead log, whose frames may legitimately hold the missing pages);
 * - PRAGMA quick_check, bounded by the file's size (it reads every page: measured 0.3 ms/MB with
 *   the file in the page cache, 1.7 ms/MB from a cold page cache: bench:storage).
 */
import fs from 'node:fs';
import type Database from 'better-sqlite3';
import { TwinloopError } from '../../core/errors/errors.js';

/** Mode of every file Twinloop creates in a data folder. */
export const PRIVATE_FILE_MODE = 0o600;
/** Mode of a data folder Twinloop creates. */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Creates the data folder (0700) when absent.
 * @throws TwinloopError StorageError when the path is a file or cannot be created, with the way out.
 */
export function ensureDataFolder(dataDir: string): void {
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(dataDir);
  } catch {
    st = undefined;
  }
  if (st && !st.isDirectory()) {
    throw new TwinloopError(
      'StorageError',
      `The data path ${dataDir} is a file, not a folder. Give --data (or TWINLOOP_DATA) a folder: an existing one, or a path where one can be created.`,
      { details: { dataDir } },
    );
  }
  if (st) return;
  try {
    fs.mkdirSync(dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOTDIR' || code === 'EEXIST'
        ? 'a part of the path is a file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : (e as Error).message;
    throw new TwinloopError(
      'StorageError',
      `Cannot create the data folder ${dataDir}: ${why}. Give --data (or TWINLOOP_DATA) a folder you can write to.`,
      { cause: e, details: { dataDir } },
    );
  }
}

function sizeOf(file: string): number | undefined {
  try {
    return fs.statSync(file).size;
  } catch {
    return undefined;
  }
}

/**
 * Before SQLite opens `file`: refuses a missing or empty file where data is expected, creates a new
 * one 0600 (SQLite then creates -wal and -shm with the same mode), and makes existing files 0600.
 * @param holdsData the caller knows this folder was used before (a missing or empty database is then
 *   damage, not a new install)
 * @throws TwinloopError StorageCorrupt, with the way out
 */
export function prepareDatabaseFile(file: string, holdsData: boolean): void {
  const size = sizeOf(file);
  const walSize = sizeOf(`${file}-wal`) ?? 0;
  const wayOut = `Nothing was changed. Restore the file from a backup; to start afresh instead, move the data folder away (or start with another --data).`;
  if (size === undefined && holdsData) {
    throw new TwinloopError(
      'StorageCorrupt',
      `The database ${file} is missing, but this data folder holds data (it was seeded before). ${wayOut}`,
      { details: { file } },
    );
  }
  if (size === 0 && (holdsData || walSize > 0)) {
    throw new TwinloopError(
      'StorageCorrupt',
      `The database ${file} is empty (0 bytes), but ${holdsData ? 'this data folder holds data (it was seeded before)' : `its write-ahead log holds ${walSize} bytes`}: the file was probably truncated. ${wayOut}`,
      { details: { file } },
    );
  }
  // With frames in the WAL (a crash mid-checkpoint) the file may lag its header: SQLite reads those
  // pages from the WAL, so the check is only made on a file without one.
  if (size !== undefined && size > 0 && walSize === 0) checkNotTruncated(file, size, wayOut);
  if (size === undefined) {
    try {
      fs.closeSync(fs.openSync(file, 'wx', PRIVATE_FILE_MODE));
    } catch {
      // SQLite reports why it cannot create the file, in its own words
    }
    return;
  }
  makePrivate(file, `${file}-wal`, `${file}-shm`);
}

/**
 * Compares the file's size with the page count of its header (bytes 28-31, valid when the change
 * counter at 24 equals "version-valid-for" at 92) times the page size (bytes 16-17): a shorter file
 * was cut, and SQLite would read zeros past its end. Files that are not databases are left to SQLite.
 */
function checkNotTruncated(file: string, size: number, wayOut: string): void {
  const header = Buffer.alloc(100);
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    if (fs.readSync(fd, header, 0, 100, 0) < 100) return;
  } catch {
    return; // SQLite reports what is wrong with the file
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  if (header.toString('latin1', 0, 16) !== 'SQLite format 3\0') return;
  const rawPageSize = header.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  const pages = header.readUInt32BE(28);
  if (pages === 0 || header.readUInt32BE(24) !== header.readUInt32BE(92)) return;
  const expected = pages * pageSize;
  if (size < expected) {
    throw new TwinloopError(
      'StorageCorrupt',
      `The database ${file} is truncated: ${size} bytes where its header says ${expected}. ${wayOut}`,
      { details: { file, bytes: size, expectedBytes: expected } },
    );
  }
}

/** chmod 0600 the files that exist (best effort: a file we may not chmod is reported by SQLite if it matters). */
export function makePrivate(...files: string[]): void {
  for (const f of files) {
    try {
      if ((fs.statSync(f).mode & 0o777) !== PRIVATE_FILE_MODE) fs.chmodSync(f, PRIVATE_FILE_MODE);
    } catch {
      // absent, or not ours to change
    }
  }
}

/**
 * A write that is rolled back: fails (SQLITE_READONLY, SQLITE_IOERR ...) when the database cannot
 * be written. Touches no data. Not run inside another transaction (it would be skipped).
 * @throws the SQLite error
 */
export function probeWrite(db: Database.Database): void {
  if (db.inTransaction) return;
  const version = db.pragma('user_version', { simple: true }) as number;
  db.exec('BEGIN IMMEDIATE');
  try {
    // Rewrites page 1 with the same value: needs a writable file and a write lock, changes nothing.
    db.pragma(`user_version = ${Math.trunc(version)}`);
  } finally {
    db.exec('ROLLBACK');
  }
}

/**
 * Refuses a read-only database at open.
 * @throws TwinloopError StorageError naming the file and the way out
 */
export function requireWritable(db: Database.Database, file: string): void {
  try {
    probeWrite(db);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const readOnly = typeof code === 'string' && code.startsWith('SQLITE_READONLY');
    throw new TwinloopError(
      'StorageError',
      readOnly
        ? `The database ${file} is read-only: Twinloop could take no write. Make the file and its folder writable by this user (check the mode, the owner, a read-only mount), then start again.`
        : `The database ${file} cannot be written: ${(e as Error).message}. Check the disk (space, errors) and the file's permissions, then start again.`,
      { cause: e, details: { file } },
    );
  }
}

/** What checkIntegrity did at open. */
export interface IntegrityCheckResult {
  checked: boolean;
  /** The file's size, bytes. */
  bytes: number;
  ms: number;
}

/**
 * Runs PRAGMA quick_check when the file is at most `maxBytes` (the check reads every page).
 * @throws TwinloopError StorageCorrupt listing the first problems and the way out
 */
export function checkIntegrity(db: Database.Database, file: string, maxBytes: number): IntegrityCheckResult {
  const bytes = (sizeOf(file) ?? 0) + (sizeOf(`${file}-wal`) ?? 0);
  if (bytes > maxBytes) return { checked: false, bytes, ms: 0 };
  const t0 = performance.now();
  let bad: string[];
  try {
    const rows = db.pragma('quick_check(20)') as { quick_check: string }[];
    bad = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
  } catch (e) {
    // A page too damaged to walk fails the check itself (SQLITE_CORRUPT): the same verdict.
    const code = String((e as { code?: unknown }).code);
    if (!code.startsWith('SQLITE_CORRUPT') && code !== 'SQLITE_NOTADB') throw e;
    bad = [(e as Error).message];
  }
  if (bad.length) {
    throw new TwinloopError(
      'StorageCorrupt',
      `The database ${file} is damaged (${bad.slice(0, 3).join('; ')}). Nothing was written to it. Stop here: restore it from a backup, or save what is readable with "sqlite3 ${file} .recover" into a new file. Twinloop never repairs or resets a database by itself.`,
      { details: { file, problems: bad } },
    );
  }
  return { checked: true, bytes, ms: performance.now() - t0 };
}
