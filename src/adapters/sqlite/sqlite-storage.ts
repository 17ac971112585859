/**
 * One call that opens the embedded storage of a data folder: the database (migrated), then the
 * history store (which replays its log), then the model, twin, dead-letter and behaviour parameter
 * stores on the same connection. close() commits what is pending and closes the file.
 */
import { openSqliteDatabase, type SqliteDatabaseOptions } from './sqlite-database.js';
import type Database from 'better-sqlite3';
import { SqliteBehaviourParameterStore } from './sqlite-behaviour-parameter-store.js';
import { SqliteDeviceCredentialStore } from './sqlite-device-credential-store.js';
import { SqliteDeadLetterStore, type SqliteDeadLetterStoreOptions } from './sqlite-dead-letter-store.js';
import { SqliteHistoryStore, type SqliteHistoryStoreOptions } from './sqlite-history-store.js';
import { SqliteModelStore } from './sqlite-model-store.js';
import { SqliteTwinStore } from './sqlite-twin-store.js';

export interface SqliteStorageOptions extends SqliteDatabaseOptions {
  history?: SqliteHistoryStoreOptions;
  deadLetters?: SqliteDeadLetterStoreOptions;
}

export interface SqliteStorage {
  db: Database.Database;
  file: string;
  models: SqliteModelStore;
  twins: SqliteTwinStore;
  history: SqliteHistoryStore;
  deadLetters: SqliteDeadLetterStore;
  /** Behaviour parameters applied to twins, and calibrations. */
  behaviour: SqliteBehaviourParameterStore;
  /** Device credentials (tokens scoped to one twin, stored hashed). */
  credentials: SqliteDeviceCredentialStore;
  /** Flushes history and dead letters, then closes the database. */
  close(): Promise<void>;
}

/**
 * @example
 *   const storage = openSqliteStorage({ dataDir: './data', synchronous: 'FULL' });
 *   await storage.history.append(points);
 *   await storage.close();
 * @throws TwinloopError StorageCorrupt / StorageError when the database cannot be opened.
 */
export function openSqliteStorage(options: SqliteStorageOptions): SqliteStorage {
  const database = openSqliteDatabase(options);
  let history: SqliteHistoryStore;
  try {
    history = new SqliteHistoryStore(database.db, options.history);
  } catch (e) {
    database.close();
    throw e;
  }
  const deadLetters = new SqliteDeadLetterStore(database.db, options.deadLetters);
  let closed = false;
  return {
    db: database.db,
    file: database.file,
    models: new SqliteModelStore(database.db),
    twins: new SqliteTwinStore(database.db, { history }),
    history,
    deadLetters,
    behaviour: new SqliteBehaviourParameterStore(database.db),
    credentials: new SqliteDeviceCredentialStore(database.db),
    close: async () => {
      if (closed) return;
      closed = true;
      try {
        deadLetters.flush();
        await history.close();
      } finally {
        database.close();
      }
    },
  };
}
