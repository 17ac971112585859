/**
 * One call that opens the embedded storage of a data folder: the database (migrated), then the
 * history store (which replays its log), then the model, twin, dead-letter, behaviour parameter,
 * command and other stores on the same connection. close() commits what is pending and closes the file. `health`
 * says whether writes work now (readiness), from the group commits and a probe write.
 */
import type { Storage } from '../../core/ports/storage.js';
import { SqliteAlarmStore } from './sqlite-alarm-store.js';
import { SqliteCommandStore, type SqliteCommandStoreOptions } from './sqlite-command-store.js';
import { SqliteJobStore } from './sqlite-job-store.js';
import { openSqliteDatabase, type SqliteDatabaseOptions } from './sqlite-database.js';
import type Database from 'better-sqlite3';
import type { GroupCommitOptions } from './sqlite-group-commit.js';
import { SqliteBehaviourParameterStore } from './sqlite-behaviour-parameter-store.js';
import { SqliteDeviceCredentialStore } from './sqlite-device-credential-store.js';
import { SqliteRuleStore } from './sqlite-rule-store.js';
import { SqliteMlModelStore } from './sqlite-ml-model-store.js';
import { SCENE_TABLES } from '../../core/ports/rule-store.js';
import { SqliteDeadLetterStore, type SqliteDeadLetterStoreOptions } from './sqlite-dead-letter-store.js';
import { SqliteHistoryStore, type SqliteHistoryStoreOptions } from './sqlite-history-store.js';
import { SqliteModelStore } from './sqlite-model-store.js';
import { SqliteTwinStore } from './sqlite-twin-store.js';
import { SqliteEventOutbox, SqliteEventRouteStore } from './sqlite-event-outbox.js';
import type { IntegrityCheckResult } from './sqlite-file-checks.js';
import { SqliteWriteHealth } from './sqlite-write-health.js';
import {
  startBackgroundIntegrityCheck,
  type BackgroundCheck,
  type BackgroundCheckResult,
} from './sqlite-background-check.js';

export interface SqliteStorageOptions extends SqliteDatabaseOptions {
  history?: SqliteHistoryStoreOptions;
  deadLetters?: SqliteDeadLetterStoreOptions;
  /** Group commit of command adds and transitions. */
  commands?: SqliteCommandStoreOptions;
}

export interface SqliteStorage extends Storage {
  readonly kind: 'sqlite';
  db: Database.Database;
  file: string;
  /** What the integrity check at open did. */
  integrity: IntegrityCheckResult;
  /** Whether writes work now (readiness). */
  health: SqliteWriteHealth;
  /**
   * Checks the file in a worker thread (for a file too big to check at open); damage marks `health`
   * unready for good. `onResult` is told what the check found (or why it could not run).
   */
  checkInBackground(onResult?: (r: BackgroundCheckResult) => void): BackgroundCheck;
  models: SqliteModelStore;
  twins: SqliteTwinStore;
  history: SqliteHistoryStore;
  deadLetters: SqliteDeadLetterStore;
  /** Behaviour parameters applied to twins, and calibrations. */
  behaviour: SqliteBehaviourParameterStore;
  /** Device credentials (tokens scoped to one twin, stored hashed). */
  credentials: SqliteDeviceCredentialStore;
  /** Import and delete jobs (ADT's /jobs routes). */
  jobs: SqliteJobStore;
  /** Alarms raised by rules. */
  alarms: SqliteAlarmStore;
  /** Event routes: the outbox (written in the twin and history transactions) and its dead letters. */
  outbox: SqliteEventOutbox;
  /** Event routes and endpoints. */
  eventRoutes: SqliteEventRouteStore;
  /** Rule documents, versioned. */
  rules: SqliteRuleStore;
  /** Scene bindings, versioned like rules (their own tables). */
  scenes: SqliteRuleStore;
  /** Commands sent to devices, with their lifecycle. */
  commands: SqliteCommandStore;
  /** Trained ML models (docs/ml-models.md). */
  mlModels: SqliteMlModelStore;
  /** Flushes history, dead letters and commands, then closes the database. */
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
  const health = new SqliteWriteHealth(database.db);
  const observe =
    (next: GroupCommitOptions['onCommit']): GroupCommitOptions['onCommit'] =>
    (info) => {
      health.observe(info);
      next?.(info);
    };
  let history: SqliteHistoryStore;
  let deadLetters: SqliteDeadLetterStore;
  let outbox: SqliteEventOutbox;
  let commands: SqliteCommandStore;
  try {
    outbox = new SqliteEventOutbox(database.db);
    const o = outbox;
    history = new SqliteHistoryStore(database.db, {
      ...options.history,
      onCommit: observe(options.history?.onCommit),
      inCommit: (rows) => o.insertHistoryRows(rows),
    });
    deadLetters = new SqliteDeadLetterStore(database.db, {
      ...options.deadLetters,
      onCommit: observe(options.deadLetters?.onCommit),
    });
    commands = new SqliteCommandStore(
      database.db,
      // 2 ms gathers the commands of many concurrent requests into one commit (one fsync).
      { delayMs: 2, ...options.commands, onCommit: observe(options.commands?.onCommit) },
      outbox,
    );
  } catch (e) {
    database.close();
    throw e;
  }
  let closed = false;
  return {
    kind: 'sqlite',
    where: database.file,
    db: database.db,
    file: database.file,
    integrity: database.integrity,
    health,
    checkInBackground: (onResult) => {
      const check = startBackgroundIntegrityCheck(database.file);
      void check.done.then((r) => {
        if ('problems' in r && r.problems.length)
          health.markDamaged(`The database is damaged: ${r.problems.slice(0, 3).join('; ')}`);
        onResult?.(r);
      });
      return check;
    },
    models: new SqliteModelStore(database.db),
    twins: new SqliteTwinStore(database.db, {
      history,
      outbox,
      onWriteError: (e) => health.writeFailed(e),
    }),
    history,
    deadLetters,
    behaviour: new SqliteBehaviourParameterStore(database.db),
    credentials: new SqliteDeviceCredentialStore(database.db),
    jobs: new SqliteJobStore(database.db),
    alarms: new SqliteAlarmStore(database.db, outbox),
    outbox,
    eventRoutes: new SqliteEventRouteStore(database.db),
    rules: new SqliteRuleStore(database.db),
    scenes: new SqliteRuleStore(database.db, SCENE_TABLES),
    commands,
    mlModels: new SqliteMlModelStore(database.db),
    close: async () => {
      if (closed) return;
      closed = true;
      try {
        deadLetters.flush();
        commands.flush();
        await history.close();
      } finally {
        database.close();
      }
    },
  };
}
