/**
 * One process per data folder: an OS-level lock taken by SQLite on a small file (`DATA/lock`).
 *
 * The connection runs in `locking_mode = EXCLUSIVE` and writes once, so it keeps SQLite's exclusive
 * lock (POSIX advisory record locks on Unix, LockFileEx on Windows) until it is closed. The OS
 * releases such locks when the process ends in any way, kill -9 included, so a crashed owner never
 * leaves a stale lock behind. Another process (or another connection of this one) gets SQLITE_BUSY.
 * The file is separate from the main database, whose WAL mode and readers stay as they are.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { storageError } from './sqlite-database.js';
import { PRIVATE_FILE_MODE } from './sqlite-file-checks.js';

/** File name of the lock inside the data folder. */
export const LOCK_FILE = 'lock';

/** A held lock; release() (idempotent) frees it, and so does the end of the process. */
export interface FolderLock {
  readonly file: string;
  release(): void;
}

/**
 * Takes the folder's lock without waiting.
 * @returns the lock, or undefined when another process (or connection) holds it.
 * @throws TwinloopError StorageError when the lock file cannot be created or written (not when busy).
 * @example
 *   const lock = tryLockFolder('./data');
 *   if (!lock) throw new Error('in use');
 */
export function tryLockFolder(dataDir: string, fileName = LOCK_FILE): FolderLock | undefined {
  const file = path.join(dataDir, fileName);
  let db: Database.Database;
  try {
    // Created private first: SQLite gives its journal the same mode.
    fs.closeSync(fs.openSync(file, 'a', PRIVATE_FILE_MODE));
    db = new Database(file);
  } catch (e) {
    throw storageError('Cannot open the lock file of the data folder', e, file);
  }
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('locking_mode = EXCLUSIVE');
    // A write takes the EXCLUSIVE lock; in this locking mode it is kept until close.
    db.exec('BEGIN EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS lock_owner (pid INTEGER NOT NULL, since TEXT NOT NULL)');
    db.exec('DELETE FROM lock_owner');
    db.prepare('INSERT INTO lock_owner VALUES (?, ?)').run(process.pid, new Date().toISOString());
    db.exec('COMMIT');
  } catch (e) {
    try {
      db.close();
    } catch {
      // closing after a failure: the first error is what matters
    }
    if ((e as { code?: unknown }).code === 'SQLITE_BUSY') return undefined;
    throw storageError('Cannot lock the data folder', e, file);
  }
  return {
    file,
    release: () => {
      if (db.open) db.close();
    },
  };
}
