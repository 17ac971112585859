/**
 * AlarmStore on PostgreSQL: one row per alarm, the alarm as JSON text beside the columns that lists,
 * the one-open-alarm rule (a partial unique index) and retention need. A write is one transaction.
 * Ids are compared byte-wise (COLLATE "C") so pages come in the same order as on SQLite. PostgreSQL
 * text cannot hold NUL: a key with one is never found, a write with one is refused with BadRequest.
 *
 * Several nodes may write the same alarms (a cluster on one database): a write first locks the rows
 * it changes, in one order every node uses (so two writers never deadlock), checks each is still at
 * the revision its writer read, and refuses the whole batch with Conflict (AlarmChanged) otherwise;
 * new alarms are inserted only where their id is free. The `revision` column is the truth: bodies
 * written before it existed have none and are read with the column's.
 */
import {
  ALARM_STATES,
  alarmChanged,
  checkAlarmWrites,
  clearedFirst,
  openAlarmConflict,
  type AlarmRecord,
  type AlarmState,
} from '../../core/alarms/alarm.js';
import type {
  AlarmChanges,
  AlarmQuery,
  AlarmReads,
  AlarmStore,
  AlarmWrite,
} from '../../core/ports/alarm-store.js';
import { TwinloopError } from '../../core/errors/errors.js';
import type { OutboxRow } from '../../core/ports/event-routing.js';
import type { PgComponentMigrations, PgDatabase } from './pg-database.js';
import type { PgEventOutbox } from './pg-event-outbox.js';
import { anyNul, hasNul, refuseNul, withoutNul } from './pg-text.js';
import { alarmChangeValues, alarmRowValues } from '../sql/alarm-rows.js';

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
    {
      version: 2,
      name: 'alarms: a revision per alarm (writes only over the revision their writer read)',
      // A constant default: no table rewrite; alarms stored before have revision 1.
      sql: `ALTER TABLE alarms ADD COLUMN revision bigint NOT NULL DEFAULT 1;`,
    },
  ],
};

interface Row {
  body: string;
  revision: number;
}

/** The stored alarm; the revision column is the truth (bodies written before revisions have none). */
const parse = (r: Row | undefined): AlarmRecord | undefined =>
  r ? { ...(JSON.parse(r.body) as AlarmRecord), revision: r.revision } : undefined;

/** Rows per statement (11 parameters each, well under PostgreSQL's 65,535). */
const CHUNK = 500;

/** One order for every node: rows locked, and alarms inserted, in it (no deadlock between writers). */
const byKey = (x: AlarmWrite, y: AlarmWrite): number => {
  const a = `${x.alarm.workspace}\u0000${x.alarm.twinId}\u0000${x.alarm.ruleId}\u0000${x.alarm.id}`;
  const b = `${y.alarm.workspace}\u0000${y.alarm.twinId}\u0000${y.alarm.ruleId}\u0000${y.alarm.id}`;
  return a < b ? -1 : a > b ? 1 : 0;
};

/**
 * @example
 *   const db = await openPgDatabase({ url, migrations: [PG_ALARM_MIGRATIONS] });
 *   const alarms = new PgAlarmStore(db);
 *   await alarms.write([{ alarm: newAlarm(randomUUID(), raise), expectedRevision: 0 }]);
 */
export class PgAlarmStore implements AlarmStore {
  constructor(
    private readonly db: PgDatabase,
    private readonly outbox?: PgEventOutbox,
  ) {}

  /**
   * @throws Conflict (AlarmChanged: an alarm moved on since it was read; AlarmAlreadyOpen: a second
   * open alarm of a twin and rule), nothing written; BadRequest (a NUL, a revision not moving
   * forward); StorageError
   */
  async write(changes: readonly AlarmWrite[], outbox: readonly OutboxRow[] = []): Promise<void> {
    if (changes.length === 0 && outbox.length === 0) return;
    this.check(changes, outbox);
    try {
      await this.db.transaction((client) => this.writeIn(client, changes, outbox));
    } catch (e) {
      throw refused(e);
    }
  }

  /**
   * Reads with SELECT … FOR UPDATE (one statement, rows locked in the one order), changes, writes,
   * commits: no other writer changes what was read before this commit.
   * @throws as write; what `change` throws, as is
   */
  async modify(reads: AlarmReads, change: (current: readonly AlarmRecord[]) => AlarmChanges): Promise<void> {
    const keys = reads.keys.filter((k) => !anyNul(k.workspace, k.twinId, k.ruleId));
    const ids = reads.ids.filter((x) => !anyNul(x.workspace, x.id));
    let failed: { error: unknown } | undefined;
    try {
      await this.db.transaction(async (client) => {
        const r = await client.query<Row>(
          // The ids first (the open alarm of each key through the partial index, plus the ids
          // asked for), then one locking read by primary key: an OR of both scans the whole table.
          `SELECT body, revision FROM alarms
           WHERE (workspace, id) IN (
             SELECT a.workspace, a.id
             FROM alarms a JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(w, t, r)
               ON a.workspace = k.w AND a.twin_id = k.t AND a.rule_id = k.r AND a.state <> 'cleared'
             UNION SELECT * FROM unnest($4::text[], $5::text[]))
           ORDER BY workspace, id FOR UPDATE`,
          [
            keys.map((k) => k.workspace),
            keys.map((k) => k.twinId),
            keys.map((k) => k.ruleId),
            ids.map((x) => x.workspace),
            ids.map((x) => x.id),
          ],
        );
        let out: AlarmChanges;
        try {
          out = change(r.rows.map((row) => parse(row)!));
        } catch (e) {
          failed = { error: e };
          throw e;
        }
        if (out.changes.length === 0 && out.outbox.length === 0) return;
        this.check(out.changes, out.outbox);
        await this.writeIn(client, out.changes, out.outbox);
      });
    } catch (e) {
      if (failed) throw failed.error;
      throw refused(e);
    }
  }

  /** @throws BadRequest; StorageError (outbox rows without an outbox) */
  private check(changes: readonly AlarmWrite[], outbox: readonly OutboxRow[]): void {
    if (outbox.length && !this.outbox)
      throw new TwinloopError('StorageError', 'This alarm store has no event outbox.');
    checkAlarmWrites(changes);
    for (const c of changes) refuseNul('an alarm', { ...c.alarm });
  }

  /** The statements of a write, on the transaction's connection. */
  private async writeIn(
    client: PgClient,
    changes: readonly AlarmWrite[],
    outbox: readonly OutboxRow[],
  ): Promise<void> {
    const updates = changes.filter((c) => c.expectedRevision > 0);
    // Cleared ones first, each kind in its own statements: a batch may clear an alarm and open its
    // successor, and PostgreSQL checks the open-alarm index row by row.
    const steps = clearedFirst([...changes].sort(byKey));
    const groups = [
      steps.filter((c) => c.alarm.state === 'cleared' && c.expectedRevision > 0),
      steps.filter((c) => c.alarm.state === 'cleared' && c.expectedRevision === 0),
      steps.filter((c) => c.alarm.state !== 'cleared' && c.expectedRevision > 0),
      steps.filter((c) => c.alarm.state !== 'cleared' && c.expectedRevision === 0),
    ];
    if (updates.length) await this.lockAt(client, updates);
    for (const [i, group] of groups.entries()) {
      for (let j = 0; j < group.length; j += CHUNK) {
        const part = group.slice(j, j + CHUNK);
        if (i % 2 === 0) await this.update(client, part);
        else await this.insert(client, part);
      }
    }
    if (outbox.length) await this.outbox!.insertHistoryRows(client, outbox);
  }

  /** Locks the rows to be changed (sorted) and refuses the batch unless each is at its expected revision. */
  private async lockAt(client: PgClient, updates: readonly AlarmWrite[]): Promise<void> {
    const r = await client.query<{ workspace: string; id: string; revision: number }>(
      `SELECT workspace, id, revision FROM alarms
       WHERE (workspace, id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
       ORDER BY workspace, id FOR UPDATE`,
      [updates.map((c) => c.alarm.workspace), updates.map((c) => c.alarm.id)],
    );
    const stored = new Map(r.rows.map((x) => [`${x.workspace}\u0000${x.id}`, x.revision]));
    for (const c of updates)
      if (stored.get(`${c.alarm.workspace}\u0000${c.alarm.id}`) !== c.expectedRevision)
        throw alarmChanged(c.alarm.workspace, c.alarm.id, c.expectedRevision);
  }

  private async update(client: PgClient, part: readonly AlarmWrite[]): Promise<void> {
    const values: unknown[] = [];
    const rows = part.map(({ alarm: a, expectedRevision }) => {
      const b = values.length;
      values.push(a.workspace, a.id, expectedRevision, ...alarmChangeValues(a));
      return `($${b + 1}::text, $${b + 2}::text, $${b + 3}::bigint, $${b + 4}::text, $${b + 5}::text, $${b + 6}::bigint, $${b + 7}::bigint, $${b + 8}::bigint, $${b + 9}::text, $${b + 10}::bigint)`;
    });
    // The rows are locked and checked already; the revision guard stays, and the count is checked.
    const r = await client.query<{ id: string; workspace: string }>(
      `UPDATE alarms AS a SET severity = v.severity, state = v.state, first_time = v.first_time,
         last_time = v.last_time, cleared_time = v.cleared_time, body = v.body, revision = v.revision
       FROM (VALUES ${rows.join(', ')})
         AS v(workspace, id, expected, severity, state, first_time, last_time, cleared_time, body, revision)
       WHERE a.workspace = v.workspace AND a.id = v.id AND a.revision = v.expected
       RETURNING a.workspace, a.id`,
      values,
    );
    if (r.rows.length !== part.length) throw changedOf(part, r.rows);
  }

  private async insert(client: PgClient, part: readonly AlarmWrite[]): Promise<void> {
    const values: unknown[] = [];
    const rows = part.map(({ alarm: a }) => {
      const b = values.length;
      values.push(a.workspace, a.id, ...alarmRowValues(a));
      return `(${Array.from({ length: 11 }, (_, k) => `$${b + k + 1}`).join(', ')})`;
    });
    // DO NOTHING covers the primary key only: a second open alarm still fails on alarms_open_key.
    const r = await client.query<{ id: string; workspace: string }>(
      `INSERT INTO alarms (workspace, id, twin_id, rule_id, severity, state, first_time, last_time, cleared_time, body, revision)
       VALUES ${rows.join(', ')}
       ON CONFLICT (workspace, id) DO NOTHING
       RETURNING workspace, id`,
      values,
    );
    if (r.rows.length !== part.length) throw changedOf(part, r.rows);
  }

  async get(workspace: string, id: string): Promise<AlarmRecord | undefined> {
    if (anyNul(workspace, id)) return undefined;
    const r = await this.db.query<Row>('SELECT body, revision FROM alarms WHERE workspace = $1 AND id = $2', [
      workspace,
      id,
    ]);
    return parse(r.rows[0]);
  }

  async open(workspace: string, twinId: string, ruleId: string): Promise<AlarmRecord | undefined> {
    if (anyNul(workspace, twinId, ruleId)) return undefined;
    const r = await this.db.query<Row>(
      `SELECT body, revision FROM alarms WHERE workspace = $1 AND twin_id = $2 AND rule_id = $3 AND state <> 'cleared'`,
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
      `SELECT body, revision FROM alarms WHERE ${where.join(' AND ')} ORDER BY first_time DESC, id DESC LIMIT ${arg(q.limit)}`,
      args,
    );
    return r.rows.map((row) => parse(row)!);
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

type PgClient = Parameters<Parameters<PgDatabase['transaction']>[0]>[0];

/** The Conflict naming the first change a statement did not write. */
function changedOf(part: readonly AlarmWrite[], written: readonly { workspace: string; id: string }[]) {
  const done = new Set(written.map((x) => `${x.workspace}\u0000${x.id}`));
  const missed = part.find((c) => !done.has(`${c.alarm.workspace}\u0000${c.alarm.id}`)) ?? part[0]!;
  return alarmChanged(missed.alarm.workspace, missed.alarm.id, missed.expectedRevision);
}

/** A failed write as the port says: Conflict for a second open alarm or a lost race, else as thrown. */
function refused(e: unknown): unknown {
  if (isOpenKeyViolation(e)) return openAlarmConflict(e);
  if (isDeadlock(e))
    return new TwinloopError(
      'Conflict',
      'Cannot store the alarms: another writer was storing the same alarms at the same time; nothing was written.',
      { cause: e, innerCode: 'AlarmChanged' },
    );
  return e;
}

/** A deadlock (40P01) or serialization failure (40001): another writer's transaction won. */
function isDeadlock(e: unknown): boolean {
  return causes(e).some((c) => c.code === '40P01' || c.code === '40001');
}

function causes(e: unknown): { code?: string; constraint?: string }[] {
  const out: { code?: string; constraint?: string }[] = [];
  const seen = new Set<unknown>();
  for (let x: unknown = e; x && typeof x === 'object' && !seen.has(x); x = (x as { cause?: unknown }).cause) {
    seen.add(x);
    out.push(x as { code?: string; constraint?: string });
  }
  return out;
}

function isOpenKeyViolation(e: unknown): boolean {
  return causes(e).some((c) => c.code === '23505' && c.constraint === 'alarms_open_key');
}
