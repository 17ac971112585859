/**
 * The storage a Twinloop process runs on, as one object: every store port, the readiness of writes,
 * and close. Two adapters build it: the embedded SQLite database of a data folder
 * (adapters/sqlite/sqlite-storage.ts, the default) and a PostgreSQL database shared by a cluster
 * (adapters/postgres/pg-storage.ts). The composition root picks one from `storage.url` and the rest
 * of the system sees only this.
 */
import type { AlarmStore } from './alarm-store.js';
import type { BehaviourParameterStore } from './behaviour-parameter-store.js';
import type { CommandStore } from './command-store.js';
import type { DeviceCredentialStore } from './device-credential-store.js';
import type { EventOutbox, EventRouteStore } from './event-routing.js';
import type { NamedLeases } from './cluster.js';
import type { JobStore } from './job-store.js';
import type { MlModelStore } from './ml-model-store.js';
import type { RuleStore } from './rule-store.js';
import type { DeadLetterStore, HistoryStore, ModelStore, TwinStore } from './storage-ports.js';

/** Whether writes work now (readiness): ready, or why not and since when. */
export interface StorageHealthState {
  ready: boolean;
  reason?: string;
  since?: number;
}

export interface Storage {
  readonly kind: 'sqlite' | 'postgres';
  /** Where the data is, for logs and the banner: a file path, or host:port/database (never a password). */
  readonly where: string;
  models: ModelStore;
  twins: TwinStore;
  history: HistoryStore & {
    /** Points accepted but not yet committed (a gauge). */
    readonly bufferedPoints?: number;
  };
  deadLetters: DeadLetterStore;
  behaviour: BehaviourParameterStore;
  credentials: DeviceCredentialStore;
  jobs: JobStore;
  /** Commands sent to devices, with their lifecycle (docs/control.md). */
  commands: CommandStore;
  /** Alarms raised by rules (active, acknowledged, cleared). */
  alarms: AlarmStore;
  /** Event routes: the outbox (written in the twin and history commits) and its dead letters. */
  outbox: EventOutbox & {
    /** Told after a history commit inserted the rows its appends carried (wakes the delivery). */
    onHistoryRows: (() => void) | undefined;
  };
  eventRoutes: EventRouteStore;
  /** Rule documents, versioned (docs/rules.md). */
  rules: RuleStore;
  /** Scene bindings (docs/scenes.md), versioned like rules in their own tables. */
  scenes: RuleStore;
  /** Trained ML models (RUL), versioned, with their activation log (docs/ml-models.md). */
  mlModels: MlModelStore;
  /**
   * Leases for the jobs one node of a cluster runs at a time (event-route delivery). Present when
   * several processes share the store (PostgreSQL); absent on SQLite (one process per data folder).
   */
  clusterLeases?: NamedLeases;
  /** Whether writes work now; answers at once (probes in the background). */
  health: { check(): StorageHealthState };
  /** Commits what is pending and closes. */
  close(): Promise<void>;
}
