/**
 * Opens Twinloop's embedded database: one SQLite file in the data folder, WAL mode, versioned schema
 * migrations (PRAGMA user_version), and every failure to open turned into a TwinloopError
 * ('StorageCorrupt' for a file that is not a database or is damaged, 'StorageError' otherwise).
 *
 * Durability: with WAL, synchronous=NORMAL survives a process crash (kill -9) but may lose the last
 * commits on an OS crash or power loss; synchronous=FULL fsyncs the WAL on every commit and survives
 * both. Group commit (see sqlite-group-commit.ts) makes one fsync serve many appends, so FULL is the
 * default.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { TwinloopError } from '../../core/errors/errors.js';
import { MIGRATIONS } from './sqlite-migrations.js';
import {
  checkIntegrity,
  ensureDataFolder,
  makePrivate,
  prepareDatabaseFile,
  requireWritable,
  type IntegrityCheckResult,
} from './sqlite-file-checks.js';

export type SqliteSynchronous = 'FULL' | 'NORMAL';

export interface SqliteDatabaseOptions {
  /** Folder holding the database; created when absent. */
  dataDir: string;
  /** File name inside dataDir (default "twinloop.db"). */
  fileName?: string;
  /** FULL (default): survives power loss. NORMAL: survives kill -9, not an OS crash. */
  synchronous?: SqliteSynchronous;
  /** ms to wait on a lock held by another connection (default 5000). */
  busyTimeoutMs?: number;
  /** Run PRAGMA quick_check at open (default false: it reads the whole file). */
  checkIntegrity?: boolean;
  /** With checkIntegrity: check only a file (with its WAL) up to this size, bytes (default: any size). */
  integrityCheckMaxBytes?: number;
  /**
   * The folder is known to hold data (e.g. it was seeded): a missing or zero-length database file is
   * then refused as damage instead of being taken for a new install (default false).
   */
  holdsData?: boolean;
  /** Migrate only up to this version (tests of older schemas); default: the latest. */
  targetVersion?: number;
}

/** An open database: the better-sqlite3 handle and its schema version. */
export interface SqliteDatabase {
  readonly db: Database.Database;
  readonly file: string;
  readonly schemaVersion: number;
  /** What the integrity check at open did (checked: false when it was off or the file too big). */
  readonly integrity: IntegrityCheckResult;
  close(): void;
}

/** The schema version this build writes. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.length;

const CORRUPT_CODES = new Set([
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
  'SQLITE_CORRUPT_INDEX',
  'SQLITE_CORRUPT_VTAB',
]);

/** True when a better-sqlite3 error says the file is damaged or not a database. */
export function isCorruptionError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (CORRUPT_CODES.has(code) || code.startsWith('SQLITE_CORRUPT'));
}

/** Wraps any error from SQLite as a TwinloopError (StorageCorrupt or StorageError). */
export function storageError(what: string, e: unknown, file?: string): TwinloopError {
  if (e instanceof TwinloopError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  const where = file ? ` (${file})` : '';
  return isCorruptionError(e)
    ? new TwinloopError(
        'StorageCorrupt',
        `${what}: the database file is corrupt or not a database${where}: ${msg}`,
        {
          cause: e,
          details: file ? { file } : undefined,
        },
      )
    : new TwinloopError('StorageError', `${what}${where}: ${msg}`, {
        cause: e,
        details: file ? { file } : undefined,
      });
}

/** Applies migrations in order from the current user_version up to `target`, each in its own transaction. */
export function migrate(db: Database.Database, target: number = LATEST_SCHEMA_VERSION): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > LATEST_SCHEMA_VERSION) {
    throw new TwinloopError(
      'StorageError',
      `The database has schema version ${current}, newer than this Twinloop (${LATEST_SCHEMA_VERSION}); upgrade Twinloop.`,
    );
  }
  for (let v = current; v < target; v++) {
    const m = MIGRATIONS[v];
    if (!m) break;
    db.transaction(() => {
      m.up(db);
      // user_version cannot be bound as a parameter; v + 1 is a number we computed.
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Opens (creating when absent) the database of a data folder and migrates it to the latest schema.
 * A new folder is created 0700 and the database files 0600; a read-only file is refused (a probe
 * write), and so is a missing or empty file where data is expected (see sqlite-file-checks.ts).
 * @throws TwinloopError StorageCorrupt when the file is not a database, is damaged, or is missing or
 *   empty in a folder that holds data; StorageError otherwise (read-only, data path is a file, ...).
 * @example
 *   const { db, close } = openSqliteDatabase({ dataDir: './data', synchronous: 'FULL' });
 */
export function openSqliteDatabase(options: SqliteDatabaseOptions): SqliteDatabase {
  const file = path.join(options.dataDir, options.fileName ?? 'twinloop.db');
  ensureDataFolder(options.dataDir);
  prepareDatabaseFile(file, options.holdsData ?? false);
  let db: Database.Database;
  try {
    db = new Database(file);
  } catch (e) {
    throw storageError('Cannot open the database', e, file);
  }
  try {
    // The first statements read the header: a non-database file fails here with SQLITE_NOTADB.
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') {
      throw new TwinloopError('StorageError', `Cannot switch ${file} to WAL mode (got ${String(mode)}).`);
    }
    db.pragma(`synchronous = ${options.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
    db.pragma('foreign_keys = ON');
    db.pragma('temp_store = MEMORY');
    // A bigger page cache and mmap make chunk reads of history queries cheap.
    db.pragma('cache_size = -65536');
    db.pragma('mmap_size = 268435456');
    // Checkpoint less often than the default 1000 pages: group commits write big log rows.
    db.pragma('wal_autocheckpoint = 4000');
    makePrivate(`${file}-wal`, `${file}-shm`);
    // Before any check that reads: a damaged file fails the check, not a misleading probe.
    const integrity = options.checkIntegrity
      ? checkIntegrity(db, file, options.integrityCheckMaxBytes ?? Infinity)
      : { checked: false, bytes: 0, ms: 0 };
    requireWritable(db, file);
    const version = migrate(db, options.targetVersion ?? LATEST_SCHEMA_VERSION);
    return {
      db,
      file,
      schemaVersion: version,
      integrity,
      close: () => {
        if (db.open) db.close();
      },
    };
  } catch (e) {
    try {
      db.close();
    } catch {
      // already failing; the original error is what matters
    }
    throw storageError('Cannot open the database', e, file);
  }
}
