/**
 * AlarmStore on SQLite: one row per alarm, the alarm itself as JSON beside the columns that lists,
 * the one-open-alarm rule (a partial unique index) and retention need. A write is one transaction
 * (durable as the database's `synchronous` setting says: FULL by default). Resolves synchronously
 * inside. Each change is written only over the revision its writer read (an UPDATE guarded by the
 * `revision` column, an INSERT only of a free id); one that finds the alarm moved on rolls the whole
 * transaction back with Conflict (AlarmChanged). The `revision` column is the truth: bodies written
 * before it existed have none and are read with the column's.
 */
import type Database from 'better-sqlite3';
import {
  ALARM_STATES,
  alarmChanged,
  checkAlarmWrites,
  clearedFirst,
  openAlarmConflict,
  type AlarmRecord,
  type AlarmState,
} from '../../core/alarms/alarm.js';
import { TwinloopError } from '../../core/errors/errors.js';
import type {
  AlarmChanges,
  AlarmQuery,
  AlarmReads,
  AlarmStore,
  AlarmWrite,
} from '../../core/ports/alarm-store.js';
import type { OutboxRow } from '../../core/ports/event-routing.js';
import { alarmRowValues } from '../sql/alarm-rows.js';
import { storageError } from './sqlite-database.js';
import type { SqliteEventOutbox } from './sqlite-event-outbox.js';

interface Row {
  body: string;
  revision: number;
}

export class SqliteAlarmStore implements AlarmStore {
  private readonly s: {
    insert: Database.Statement;
    update: Database.Statement;
    get: Database.Statement<[string, string], Row>;
    open: Database.Statement<[string, string, string], Row>;
    counts: Database.Statement<[string], { state: string; n: number }>;
    prune: Database.Statement<[number]>;
  };
  private readonly lists = new Map<string, Database.Statement<unknown[], Row>>();
  private readonly writeAll: (changes: readonly AlarmWrite[], outbox: readonly OutboxRow[]) => void;
  private readonly modifyAll: Database.Transaction<(reads: AlarmReads, change: Change) => void>;

  constructor(
    private readonly db: Database.Database,
    outbox?: SqliteEventOutbox,
  ) {
    this.s = {
      // DO NOTHING covers the primary key only: a second open alarm still fails on alarms_open_key.
      insert: db.prepare(
        `INSERT INTO alarms (workspace, id, twin_id, rule_id, severity, state, first_time, last_time, cleared_time, body, revision)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (workspace, id) DO NOTHING`,
      ),
      update: db.prepare(
        `UPDATE alarms SET twin_id = ?, rule_id = ?, severity = ?, state = ?, first_time = ?, last_time = ?,
           cleared_time = ?, body = ?, revision = ?
         WHERE workspace = ? AND id = ? AND revision = ?`,
      ),
      get: db.prepare('SELECT body, revision FROM alarms WHERE workspace = ? AND id = ?'),
      open: db.prepare(
        `SELECT body, revision FROM alarms WHERE workspace = ? AND twin_id = ? AND rule_id = ? AND state <> 'cleared'`,
      ),
      counts: db.prepare('SELECT state, count(*) AS n FROM alarms WHERE workspace = ? GROUP BY state'),
      prune: db.prepare(`DELETE FROM alarms WHERE state = 'cleared' AND cleared_time < ?`),
    };
    this.writeAll = db.transaction((changes: readonly AlarmWrite[], rows: readonly OutboxRow[]) => {
      for (const { alarm: a, expectedRevision } of clearedFirst(changes)) {
        const done =
          expectedRevision === 0
            ? this.s.insert.run(a.workspace, a.id, ...alarmRowValues(a))
            : this.s.update.run(...alarmRowValues(a), a.workspace, a.id, expectedRevision);
        // Thrown inside the transaction: better-sqlite3 rolls every statement of it back.
        if (done.changes !== 1) throw alarmChanged(a.workspace, a.id, expectedRevision);
      }
      if (rows.length) {
        if (!outbox) throw new Error('this alarm store has no event outbox');
        outbox.insertHistoryRows(rows);
      }
    });
    this.modifyAll = db.transaction((reads: AlarmReads, change: Change) => {
      const current = new Map<string, AlarmRecord>();
      const found = (a: AlarmRecord | undefined) => {
        if (a) current.set(`${a.workspace}\u0000${a.id}`, a);
      };
      for (const k of reads.keys) found(parse(this.s.open.get(k.workspace, k.twinId, k.ruleId)));
      for (const x of reads.ids) found(parse(this.s.get.get(x.workspace, x.id)));
      let out: AlarmChanges;
      try {
        out = change([...current.values()]);
      } catch (e) {
        throw new ChangeFailed(e);
      }
      checkAlarmWrites(out.changes);
      if (out.changes.length || out.outbox.length) this.writeAll(out.changes, out.outbox); // a savepoint
    });
  }

  write(changes: readonly AlarmWrite[], outbox: readonly OutboxRow[] = []): Promise<void> {
    if (changes.length === 0 && outbox.length === 0) return Promise.resolve();
    try {
      checkAlarmWrites(changes);
      this.writeAll(changes, outbox);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(refused(e));
    }
  }

  /** IMMEDIATE: the write lock is taken before the reads, so nothing changes them before the commit. */
  modify(reads: AlarmReads, change: (current: readonly AlarmRecord[]) => AlarmChanges): Promise<void> {
    try {
      this.modifyAll.immediate(reads, change);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e instanceof ChangeFailed ? e.error : refused(e));
    }
  }

  get(workspace: string, id: string): Promise<AlarmRecord | undefined> {
    return this.run('Cannot read an alarm', () => parse(this.s.get.get(workspace, id)));
  }

  open(workspace: string, twinId: string, ruleId: string): Promise<AlarmRecord | undefined> {
    return this.run('Cannot read an alarm', () => parse(this.s.open.get(workspace, twinId, ruleId)));
  }

  list(q: AlarmQuery): Promise<AlarmRecord[]> {
    return this.run('Cannot list alarms', () => {
      if (q.states?.length === 0 || q.severities?.length === 0) return [];
      const where = ['workspace = ?'];
      const args: unknown[] = [q.workspace];
      const add = (clause: string, ...values: unknown[]): void => {
        where.push(clause);
        args.push(...values);
      };
      if (q.twinId !== undefined) add('twin_id = ?', q.twinId);
      if (q.ruleId !== undefined) add('rule_id = ?', q.ruleId);
      if (q.states) add(`state IN (${q.states.map(() => '?').join(', ')})`, ...q.states);
      if (q.severities) add(`severity IN (${q.severities.map(() => '?').join(', ')})`, ...q.severities);
      if (q.since !== undefined) add('last_time >= ?', q.since);
      if (q.until !== undefined) add('first_time < ?', q.until);
      if (q.after)
        add(
          '(first_time < ? OR (first_time = ? AND id < ?))',
          q.after.firstTime,
          q.after.firstTime,
          q.after.id,
        );
      const sql = `SELECT body, revision FROM alarms WHERE ${where.join(' AND ')} ORDER BY first_time DESC, id DESC LIMIT ?`;
      let stmt = this.lists.get(sql);
      if (stmt === undefined) {
        stmt = this.db.prepare<unknown[], Row>(sql);
        if (this.lists.size < 256) this.lists.set(sql, stmt);
      }
      return stmt.all(...args, q.limit).map((r) => parse(r)!);
    });
  }

  countByState(workspace: string): Promise<Record<AlarmState, number>> {
    return this.run('Cannot count alarms', () => {
      const out = Object.fromEntries(ALARM_STATES.map((s) => [s, 0])) as Record<AlarmState, number>;
      for (const r of this.s.counts.all(workspace))
        if ((ALARM_STATES as readonly string[]).includes(r.state)) out[r.state as AlarmState] = r.n;
      return out;
    });
  }

  pruneCleared(before: number): Promise<number> {
    return this.run('Cannot prune alarms', () => this.s.prune.run(before).changes);
  }

  private run<T>(what: string, fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(storageError(what, e));
    }
  }
}

/** The stored alarm; the revision column is the truth (bodies written before revisions have none). */
type Change = (current: readonly AlarmRecord[]) => AlarmChanges;

/** What the caller's change threw (rethrown as is, never taken for a storage failure). */
class ChangeFailed {
  constructor(readonly error: unknown) {}
}

/** A failed write as the port says: Conflict for a second open alarm, else StorageError. */
function refused(e: unknown): unknown {
  if (e instanceof TwinloopError) return e;
  const code = (e as { code?: string }).code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' && /alarms\.twin_id/.test((e as Error).message))
    return openAlarmConflict(e);
  return storageError('Cannot store alarms', e);
}

function parse(r: Row | undefined): AlarmRecord | undefined {
  return r ? { ...(JSON.parse(r.body) as AlarmRecord), revision: r.revision } : undefined;
}
