/**
 * One call that opens Twinloop's storage on PostgreSQL: the pool (migrations applied at open, under
 * an advisory lock), then every store on it, wired so that what must commit together does: a twin
 * write with its outbox rows and the deletion of its history; a history group commit with the
 * telemetry events staged for routes. `health` says whether writes work now. close() commits what is
 * pending (history, dead letters) and ends the pool.
 */
import type { Storage } from '../../core/ports/storage.js';
import {
  PgBehaviourParameterStore,
  PG_BEHAVIOUR_PARAMETER_MIGRATIONS,
} from './pg-behaviour-parameter-store.js';
import { openPgDatabase, type PgComponentMigrations, type PgDatabase } from './pg-database.js';
import { PgDeadLetterStore, PG_DEAD_LETTER_MIGRATIONS } from './pg-dead-letter-store.js';
import { PgDeviceCredentialStore, PG_DEVICE_CREDENTIAL_MIGRATIONS } from './pg-device-credential-store.js';
import { PgEventOutbox, PG_EVENT_OUTBOX_MIGRATIONS } from './pg-event-outbox.js';
import { PgEventRouteStore, PG_EVENT_ROUTE_MIGRATIONS } from './pg-event-route-store.js';
import {
  deleteTwinIn,
  PgHistoryStore,
  PG_HISTORY_MIGRATIONS,
  type PgHistoryCommitInfo,
  type PgHistoryStoreOptions,
} from './pg-history-store.js';
import { PgAlarmStore, PG_ALARM_MIGRATIONS } from './pg-alarm-store.js';
import { PgCommandStore, PG_COMMAND_MIGRATIONS } from './pg-command-store.js';
import { PgJobStore, PG_JOB_MIGRATIONS } from './pg-job-store.js';
import { PgModelStore, PG_MODEL_MIGRATIONS } from './pg-model-store.js';
import { PgMlModelStore, PG_ML_MODEL_MIGRATIONS } from './pg-ml-model-store.js';
import { PgRuleStore, PG_RULE_MIGRATIONS, PG_SCENE_MIGRATIONS } from './pg-rule-store.js';
import { SCENE_TABLES } from '../../core/ports/rule-store.js';
import { PgNamedLeases, PgPartitionLeases, PG_LEASE_MIGRATIONS } from './pg-partition-leases.js';
import { PgTwinStore, PG_TWIN_MIGRATIONS } from './pg-twin-store.js';
import { PgWriteHealth } from './pg-write-health.js';

/** Every migration of Twinloop's PostgreSQL schema, in the order they are applied. */
export const PG_MIGRATIONS: readonly PgComponentMigrations[] = [
  PG_MODEL_MIGRATIONS,
  PG_TWIN_MIGRATIONS,
  PG_HISTORY_MIGRATIONS,
  PG_DEAD_LETTER_MIGRATIONS,
  PG_DEVICE_CREDENTIAL_MIGRATIONS,
  PG_BEHAVIOUR_PARAMETER_MIGRATIONS,
  PG_JOB_MIGRATIONS,
  PG_EVENT_OUTBOX_MIGRATIONS,
  PG_EVENT_ROUTE_MIGRATIONS,
  PG_LEASE_MIGRATIONS,
  PG_ALARM_MIGRATIONS,
  PG_RULE_MIGRATIONS,
  PG_SCENE_MIGRATIONS,
  PG_COMMAND_MIGRATIONS,
  PG_ML_MODEL_MIGRATIONS,
];

export interface PgStorageOptions {
  /** postgres://user:password@host:port/database[?schema=name] */
  url: string;
  /** Overrides the URL's schema (tests use one schema each). */
  schema?: string;
  poolSize?: number;
  /** Shown in pg_stat_activity: which node a connection belongs to. */
  applicationName?: string;
  connectTimeoutMs?: number;
  history?: PgHistoryStoreOptions;
  deadLetters?: { maxPayloadBytes?: number; maxBytes?: number };
  /** Told about dropped idle connections (a logger warning); never thrown. */
  onIdleError?: (err: Error) => void;
}

export interface PgStorage extends Storage {
  readonly kind: 'postgres';
  db: PgDatabase;
  history: PgHistoryStore;
  deadLetters: PgDeadLetterStore;
  commands: PgCommandStore;
  outbox: PgEventOutbox;
  /** Partition leases of the cluster's ingest workers. */
  leases: PgPartitionLeases;
  /** Named leases: the jobs one node runs at a time (event-route delivery). */
  clusterLeases: PgNamedLeases;
  health: PgWriteHealth;
}

/**
 * @example
 *   const storage = await openPgStorage({ url: 'postgres://postgres@127.0.0.1:5432/twinloop' });
 *   await storage.history.append(points);
 *   await storage.close();
 * @throws TwinloopError StorageError when the server cannot be reached or a migration fails.
 */
export async function openPgStorage(options: PgStorageOptions): Promise<PgStorage> {
  const db = await openPgDatabase({
    url: options.url,
    ...(options.schema !== undefined ? { schema: options.schema } : {}),
    poolSize: options.poolSize ?? 10,
    applicationName: options.applicationName ?? 'twinloop',
    ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
    migrations: PG_MIGRATIONS,
    ...(options.onIdleError ? { onIdleError: options.onIdleError } : {}),
  });
  let history: PgHistoryStore | undefined;
  // While commits wait out an outage, readiness says how much waits (docs/scaling.md).
  const health = new PgWriteHealth(db, {
    backlog: () => {
      const n = history?.unreachableSince ? history.bufferedPoints : 0;
      return n > 0 ? `ingest paused: ${n} history points wait to be committed` : undefined;
    },
  });
  const observe =
    <I extends { failed: boolean; error?: unknown }>(next?: (info: I) => void) =>
    (info: I) => {
      health.observe(info);
      next?.(info);
    };
  const outbox = new PgEventOutbox(db);
  let opened: PgHistoryStore;
  try {
    opened = history = await PgHistoryStore.open(db, {
      ...options.history,
      inCommit: (client, rows) => outbox.insertHistoryRows(client, rows),
      onCommit: observe((info: PgHistoryCommitInfo) => options.history?.onCommit?.(info)),
    });
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
  const deadLetters = new PgDeadLetterStore(db, {
    ...options.deadLetters,
    onCommit: observe(),
  });
  const twins = new PgTwinStore(db, {
    outbox,
    onDeleteTwin: deleteTwinIn,
    loadTelemetry: (workspace, ids) => opened.latestTelemetry(workspace, ids),
  });
  const commands = new PgCommandStore(db, {}, outbox);
  let closed = false;
  return {
    kind: 'postgres',
    where: db.where,
    db,
    models: new PgModelStore(db),
    twins,
    history: opened,
    deadLetters,
    behaviour: new PgBehaviourParameterStore(db),
    credentials: new PgDeviceCredentialStore(db),
    jobs: new PgJobStore(db),
    alarms: new PgAlarmStore(db, outbox),
    outbox,
    eventRoutes: new PgEventRouteStore(db),
    rules: new PgRuleStore(db),
    scenes: new PgRuleStore(db, SCENE_TABLES),
    commands,
    mlModels: new PgMlModelStore(db),
    leases: new PgPartitionLeases(db),
    clusterLeases: new PgNamedLeases(db),
    health,
    async close() {
      if (closed) return;
      closed = true;
      health.close();
      try {
        await deadLetters.flush();
        await commands.flush();
        await opened.close();
      } finally {
        await db.close();
      }
    },
  };
}
