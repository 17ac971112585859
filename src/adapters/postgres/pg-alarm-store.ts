/**
 * AlarmStore on PostgreSQL: one row per alarm, the alarm as JSON text beside the columns that lists,
 * the one-open-alarm rule (a partial unique index) and retention need. A write is one transaction
 * (one multi-row upsert per state group). Ids are compared byte-wise (COLLATE "C") so pages come in
 * the same order as on SQLite. PostgreSQL text cannot hold NUL: a key with one is never found, a
 * write with one is refused with BadRequest.
 */
import {
  ALARM_STATES,
  clearedFirst,
  openAlarmConflict,
  type AlarmRecord,
  type AlarmState,
} from '../../core/alarms/alarm.js';
import type { AlarmQuery, AlarmStore } from '../../core/ports/alarm-store.js';
import { TwinloopError } from '../../core/errors/errors.js';
import type { OutboxRow } from '../../core/ports/event-routing.js';
import type { PgComponentMigrations, PgDatabase } from './pg-database.js';
import type { PgEventOutbox } from './pg-event-outbox.js';
import { anyNul, hasNul, refuseNul, withoutNul } from './pg-text.js';

export const PG_ALARM_MIGRATIONS: PgComponentMigrations = {
  component: 'alarms',
  migrations: [
    {
      version: 1,
      name: 'alarms: at most one open alarm per workspace, twin and rule',
      sql: `
        CREATE TABLE alarms (
          workspace text COLLATE "C" NOT NULL,
          id text COLLATE "C" NOT NULL,
          twin_id text COLLATE "C" NOT NULL,
          rule_id text COLLATE "C" NOT NULL,
          severity text NOT NULL,
          state text NOT NULL,
          first_time bigint NOT NULL,
          last_time bigint NOT NULL,
          cleared_time bigint,
          body text NOT NULL,
          PRIMARY KEY (workspace, id)
        );
        CREATE UNIQUE INDEX alarms_open_key ON alarms (workspace, twin_id, rule_id) WHERE state <> 'cleared';
        CREATE INDEX alarms_by_first ON alarms (workspace, first_time, id);
        CREATE INDEX alarms_by_twin ON alarms (workspace, twin_id, first_time, id);
        CREATE INDEX alarms_by_cleared ON alarms (cleared_time) WHERE state = 'cleared';
      `,
    },
  ],
};

interface Row {
  body: string;
}

const parse = (r: Row | undefined): AlarmRecord | undefined =>
  r ? (JSON.parse(r.body) as AlarmRecord) : undefined;

const COLUMNS = 10;

/**
 * @example
 *   const db = await openPgDatabase({ url, migrations: [PG_ALARM_MIGRATIONS] });
 *   const alarms = new PgAlarmStore(db);
 *   await alarms.write([newAlarm(randomUUID(), raise)]);
 */
export class PgAlarmStore implements AlarmStore {
  constructor(
    private readonly db: PgDatabase,
    private readonly outbox?: PgEventOutbox,
  ) {}

  /** @throws Conflict (a second open alarm of a twin and rule); BadRequest (a NUL); StorageError */
  async write(alarms: readonly AlarmRecord[], outbox: readonly OutboxRow[] = []): Promise<void> {
    if (alarms.length === 0 && outbox.length === 0) return;
    if (outbox.length && !this.outbox)
      throw new TwinloopError('StorageError', 'This alarm store has no event outbox.');
    for (const a of alarms) refuseNul('an alarm', { ...a });
    const ordered = clearedFirst(alarms);
    // Cleared rows go first in their own statement: a batch may clear an alarm and open its successor,
    // and one statement checks the unique index against its own rows all at once.
    const groups = [
      ordered.filter((a) => a.state === 'cleared'),
      ordered.filter((a) => a.state !== 'cleared'),
    ];
    try {
      await this.db.transaction(async (client) => {
        for (const group of groups) {
          for (let i = 0; i < group.length; i += 500) {
            const part = group.slice(i, i + 500);
            const values: unknown[] = [];
            const rows = part.map((a, j) => {
              values.push(
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
              const b = j * COLUMNS;
              return `(${Array.from({ length: COLUMNS }, (_, k) => `$${b + k + 1}`).join(', ')})`;
            });
            await client.query(
              `INSERT INTO alarms (workspace, id, twin_id, rule_id, severity, state, first_time, last_time, cleared_time, body)
               VALUES ${rows.join(', ')}
               ON CONFLICT (workspace, id) DO UPDATE SET twin_id = excluded.twin_id, rule_id = excluded.rule_id,
                 severity = excluded.severity, state = excluded.state, first_time = excluded.first_time,
                 last_time = excluded.last_time, cleared_time = excluded.cleared_time, body = excluded.body`,
              values,
            );
          }
        }
        if (outbox.length) await this.outbox!.insertHistoryRows(client, outbox);
      });
    } catch (e) {
      if (isOpenKeyViolation(e)) throw openAlarmConflict(e);
      throw e;
    }
  }

  async get(workspace: string, id: string): Promise<AlarmRecord | undefined> {
    if (anyNul(workspace, id)) return undefined;
    const r = await this.db.query<Row>('SELECT body FROM alarms WHERE workspace = $1 AND id = $2', [
      workspace,
      id,
    ]);
    return parse(r.rows[0]);
  }

  async open(workspace: string, twinId: string, ruleId: string): Promise<AlarmRecord | undefined> {
    if (anyNul(workspace, twinId, ruleId)) return undefined;
    const r = await this.db.query<Row>(
      `SELECT body FROM alarms WHERE workspace = $1 AND twin_id = $2 AND rule_id = $3 AND state <> 'cleared'`,
      [workspace, twinId, ruleId],
    );
    return parse(r.rows[0]);
  }

  async list(q: AlarmQuery): Promise<AlarmRecord[]> {
    if (q.states?.length === 0 || q.severities?.length === 0) return [];
    if (anyNul(q.workspace, q.twinId, q.ruleId)) return [];
    const args: unknown[] = [q.workspace];
    const arg = (v: unknown) => `$${args.push(v)}`;
    const where = ['workspace = $1'];
    if (q.twinId !== undefined) where.push(`twin_id = ${arg(q.twinId)}`);
    if (q.ruleId !== undefined) where.push(`rule_id = ${arg(q.ruleId)}`);
    if (q.states) where.push(`state = ANY(${arg([...q.states])}::text[])`);
    if (q.severities) where.push(`severity = ANY(${arg([...q.severities])}::text[])`);
    if (q.since !== undefined) where.push(`last_time >= ${arg(q.since)}`);
    if (q.until !== undefined) where.push(`first_time < ${arg(q.until)}`);
    // A position is compared only: U+FFFD sorts after every id that ends where the NUL was.
    if (q.after) where.push(`(first_time, id) < (${arg(q.after.firstTime)}, ${arg(withoutNul(q.after.id))})`);
    const r = await this.db.query<Row>(
      `SELECT body FROM alarms WHERE ${where.join(' AND ')} ORDER BY first_time DESC, id DESC LIMIT ${arg(q.limit)}`,
      args,
    );
    return r.rows.map((row) => JSON.parse(row.body) as AlarmRecord);
  }

  async countByState(workspace: string): Promise<Record<AlarmState, number>> {
    const out = Object.fromEntries(ALARM_STATES.map((s) => [s, 0])) as Record<AlarmState, number>;
    if (hasNul(workspace)) return out;
    const r = await this.db.query<{ state: string; n: number }>(
      'SELECT state, count(*)::int AS n FROM alarms WHERE workspace = $1 GROUP BY state',
      [workspace],
    );
    for (const row of r.rows)
      if ((ALARM_STATES as readonly string[]).includes(row.state)) out[row.state as AlarmState] = row.n;
    return out;
  }

  async pruneCleared(before: number): Promise<number> {
    const r = await this.db.query(`DELETE FROM alarms WHERE state = 'cleared' AND cleared_time < $1`, [
      before,
    ]);
    return r.rowCount ?? 0;
  }
}

function isOpenKeyViolation(e: unknown): boolean {
  const seen = new Set<unknown>();
  for (let x: unknown = e; x && typeof x === 'object' && !seen.has(x); x = (x as { cause?: unknown }).cause) {
    seen.add(x);
    const c = x as { code?: string; constraint?: string };
    if (c.code === '23505' && c.constraint === 'alarms_open_key') return true;
  }
  return false;
}
