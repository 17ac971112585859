/**
 * AlarmStore on SQLite: one row per alarm, the alarm itself as JSON beside the columns that lists,
 * the one-open-alarm rule (a partial unique index) and retention need. A write is one transaction
 * (durable as the database's `synchronous` setting says: FULL by default). Resolves synchronously
 * inside.
 */
import type Database from 'better-sqlite3';
import {
  ALARM_STATES,
  clearedFirst,
  openAlarmConflict,
  type AlarmRecord,
  type AlarmState,
} from '../../core/alarms/alarm.js';
import type { AlarmQuery, AlarmStore } from '../../core/ports/alarm-store.js';
import type { OutboxRow } from '../../core/ports/event-routing.js';
import { storageError } from './sqlite-database.js';
import type { SqliteEventOutbox } from './sqlite-event-outbox.js';

interface Row {
  body: string;
}

export class SqliteAlarmStore implements AlarmStore {
  private readonly s: {
    put: Database.Statement;
    get: Database.Statement<[string, string], Row>;
    open: Database.Statement<[string, string, string], Row>;
    counts: Database.Statement<[string], { state: string; n: number }>;
    prune: Database.Statement<[number]>;
  };
  private readonly lists = new Map<string, Database.Statement<unknown[], Row>>();
  private readonly writeAll: (alarms: readonly AlarmRecord[], outbox: readonly OutboxRow[]) => void;

  constructor(
    private readonly db: Database.Database,
    outbox?: SqliteEventOutbox,
  ) {
    this.s = {
      put: db.prepare(
        `INSERT INTO alarms (workspace, id, twin_id, rule_id, severity, state, first_time, last_time, cleared_time, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (workspace, id) DO UPDATE SET twin_id = excluded.twin_id, rule_id = excluded.rule_id,
           severity = excluded.severity, state = excluded.state, first_time = excluded.first_time,
           last_time = excluded.last_time, cleared_time = excluded.cleared_time, body = excluded.body`,
      ),
      get: db.prepare('SELECT body FROM alarms WHERE workspace = ? AND id = ?'),
      open: db.prepare(
        `SELECT body FROM alarms WHERE workspace = ? AND twin_id = ? AND rule_id = ? AND state <> 'cleared'`,
      ),
      counts: db.prepare('SELECT state, count(*) AS n FROM alarms WHERE workspace = ? GROUP BY state'),
      prune: db.prepare(`DELETE FROM alarms WHERE state = 'cleared' AND cleared_time < ?`),
    };
    this.writeAll = db.transaction((alarms: readonly AlarmRecord[], rows: readonly OutboxRow[]) => {
      for (const a of clearedFirst(alarms)) {
        this.s.put.run(
          a.workspace,
          a.id,
          a.twinId,
          a.ruleId,
          a.severity,
          a.state,
          a.firstTime,
          a.lastTime,
          a.cleared?.time ?? null,
          JSON.stringify(a),
        );
      }
      if (rows.length) {
        if (!outbox) throw new Error('this alarm store has no event outbox');
        outbox.insertHistoryRows(rows);
      }
    });
  }

  write(alarms: readonly AlarmRecord[], outbox: readonly OutboxRow[] = []): Promise<void> {
    if (alarms.length === 0 && outbox.length === 0) return Promise.resolve();
    try {
      this.writeAll(alarms, outbox);
      return Promise.resolve();
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'SQLITE_CONSTRAINT_UNIQUE' && /alarms\.twin_id/.test((e as Error).message))
        return Promise.reject(openAlarmConflict(e));
      return Promise.reject(storageError('Cannot store alarms', e));
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
      const sql = `SELECT body FROM alarms WHERE ${where.join(' AND ')} ORDER BY first_time DESC, id DESC LIMIT ?`;
      let stmt = this.lists.get(sql);
      if (stmt === undefined) {
        stmt = this.db.prepare<unknown[], Row>(sql);
        if (this.lists.size < 256) this.lists.set(sql, stmt);
      }
      return stmt.all(...args, q.limit).map((r) => JSON.parse(r.body) as AlarmRecord);
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

function parse(r: Row | undefined): AlarmRecord | undefined {
  return r ? (JSON.parse(r.body) as AlarmRecord) : undefined;
}
