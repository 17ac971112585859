/**
 * The alarm store: alarms raised by rules, durable (a write resolves once committed, so an alarm
 * outlives kill -9), with at most one open (not cleared) alarm per (workspace, twin, rule), enforced
 * by the store itself. Lists are newest first (by first raise time, then id) and paged by position.
 * Writes are optimistic: each change names the revision its writer read, and a batch in which any
 * alarm moved on since is refused whole (several nodes may share one database).
 * Every method is asynchronous (a store may be remote); failures reject with StorageError.
 */
import type { AlarmRecord, AlarmSeverityName, AlarmState } from '../alarms/alarm.js';
import type { OutboxRow } from './event-routing.js';

export interface AlarmQuery {
  workspace: string;
  /** Only alarms in one of these states (absent: every state). */
  states?: readonly AlarmState[];
  twinId?: string;
  ruleId?: string;
  /** Only alarms of one of these severities (absent: every severity). */
  severities?: readonly AlarmSeverityName[];
  /** Only alarms raised or repeated at or after this time (lastTime ≥ since), ms. */
  since?: number;
  /** Only alarms first raised before this time (firstTime < until), ms. */
  until?: number;
  limit: number;
  /** Only alarms after this position of a previous page (the last alarm it held; a deleted one still works). */
  after?: { firstTime: number; id: string };
}

/** One alarm to store, and the revision its writer read it at. */
export interface AlarmWrite {
  /** The alarm as it is to be stored; its `revision` must be above `expectedRevision`. */
  alarm: AlarmRecord;
  /** The stored revision this change was made over; 0 for a new alarm (no alarm with its id stored). */
  expectedRevision: number;
}

/** What a batch reads: the open alarm of each key (if any), and alarms by id. */
export interface AlarmReads {
  keys: readonly { workspace: string; twinId: string; ruleId: string }[];
  ids: readonly { workspace: string; id: string }[];
}

/** What a read-change-write cycle writes (as `write` takes it). */
export interface AlarmChanges {
  changes: readonly AlarmWrite[];
  outbox: readonly OutboxRow[];
}

export interface AlarmStore {
  /**
   * Stores the alarms (by workspace and id) in one transaction, each only if the stored one is still
   * at its `expectedRevision` (a new one only if its id is free), with the event-route outbox rows of
   * their transitions (stored with them or not at all); resolves once durable.
   * @throws Conflict (nothing of the batch written): innerCode AlarmChanged when an alarm is no
   * longer at its expected revision (another writer changed it: read again and retry), AlarmAlreadyOpen
   * when an alarm would be a second open one of its (workspace, twin, rule); BadRequest when a field
   * cannot be stored or a revision does not move forward; StorageError
   */
  write(changes: readonly AlarmWrite[], outbox?: readonly OutboxRow[]): Promise<void>;
  /**
   * One read-change-write cycle in one transaction, for a writer that lost a race with `write`:
   * reads the alarms `reads` names, keeps those found locked against other writers until the commit,
   * calls `change` with them (synchronously: no I/O) and writes what it returns as `write` does.
   * Nothing is written when `change` throws; its error is rethrown as is.
   * @throws as `write` (Conflict AlarmAlreadyOpen stays possible: a key with no open alarm has no
   * row to lock); StorageError
   */
  modify(reads: AlarmReads, change: (current: readonly AlarmRecord[]) => AlarmChanges): Promise<void>;
  /** The alarm (with its stored revision), or undefined. @throws StorageError */
  get(workspace: string, id: string): Promise<AlarmRecord | undefined>;
  /** The open (active or acknowledged) alarm of the twin and rule, or undefined. @throws StorageError */
  open(workspace: string, twinId: string, ruleId: string): Promise<AlarmRecord | undefined>;
  /** Alarms matching the query, newest first (firstTime, then id, descending), at most `limit`. @throws StorageError */
  list(q: AlarmQuery): Promise<AlarmRecord[]>;
  /** How many alarms of the workspace are in each state. @throws StorageError */
  countByState(workspace: string): Promise<Record<AlarmState, number>>;
  /** Deletes cleared alarms (every workspace) cleared before `before` (ms); resolves to how many. @throws StorageError */
  pruneCleared(before: number): Promise<number>;
}
