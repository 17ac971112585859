/**
 * The event outbox and its dead letters on PostgreSQL, in the database of the twins and history, so
 * an event commits with the write it describes:
 * - `insertRows(client, rows)` inserts in the caller's transaction (the twin store's commit);
 * - `insertHistoryRows(client, rows)` inserts the telemetry rows that appends carried, inside the
 *   history group commit that stores their points (both stored, or neither);
 * - the delivery side reads and moves rows in statements of its own.
 *
 * Sequence numbers follow commit order: every transaction that inserts outbox rows first takes one
 * transaction-scoped advisory lock, so a transaction with a lower seq can never commit after a
 * reader has seen a higher one (a reader that pages by `seq > afterSeq` never skips a row). That
 * serialises only the writes that carry routed events. Acknowledge and dead-letter are idempotent
 * (DELETE ... RETURNING moves a row once, whichever node gets there first); dead letters get
 * their ids in the order they are given, as on SQLite.
 */
import type pg from 'pg';
import type { RoutedEvent } from '../../core/events/change-events.js';
import type {
  EventOutbox,
  OutboxDelivery,
  OutboxRow,
  RouteDeadLetter,
  RouteDeadLetterQuery,
} from '../../core/ports/event-routing.js';
import type { PgComponentMigrations, PgDatabase } from './pg-database.js';
import { checkNoNul, jsonText } from './pg-values.js';

export const PG_EVENT_OUTBOX_MIGRATIONS: PgComponentMigrations = {
  component: 'event-outbox',
  migrations: [
    {
      version: 1,
      name: 'event outbox and dead letters',
      sql: `CREATE TABLE event_outbox (
              seq bigserial PRIMARY KEY,
              endpoint text NOT NULL,
              order_key text NOT NULL,
              event json NOT NULL,
              created bigint NOT NULL
            );
            CREATE TABLE event_dead_letters (
              id bigserial PRIMARY KEY,
              seq bigint NOT NULL,
              endpoint text NOT NULL,
              order_key text NOT NULL,
              event json NOT NULL,
              created bigint NOT NULL,
              dead_at bigint NOT NULL,
              attempts integer NOT NULL,
              reason text NOT NULL
            );
            CREATE INDEX event_dead_letters_by_endpoint ON event_dead_letters (endpoint, id);`,
    },
  ],
};

/** The advisory lock that orders outbox inserts ("outb"). */
const OUTBOX_LOCK = 0x6f757462;

interface OutboxRowDb {
  seq: number;
  endpoint: string;
  order_key: string;
  event: RoutedEvent;
  created: number;
}

interface DeadRowDb extends OutboxRowDb {
  id: number;
  dead_at: number;
  attempts: number;
  reason: string;
}

export class PgEventOutbox implements EventOutbox {
  /** Told after a history commit inserted the rows its appends carried (the commit may still be finishing: re-read). */
  onHistoryRows: (() => void) | undefined;

  constructor(private readonly db: PgDatabase) {}

  // ---------------------------------------------------------------- write side

  /** Inserts rows in the caller's transaction. @throws InvalidArgument (a NUL in a name), StorageError */
  async insertRows(client: pg.PoolClient, rows: readonly OutboxRow[]): Promise<void> {
    if (rows.length === 0) return;
    for (const r of rows) {
      checkNoNul('endpoint name', r.endpoint);
      checkNoNul('event order key', r.orderKey);
    }
    await client.query('SELECT pg_advisory_xact_lock($1)', [OUTBOX_LOCK]);
    await client.query(
      `INSERT INTO event_outbox (endpoint, order_key, event, created)
       SELECT endpoint, order_key, event, created
       FROM unnest($1::text[], $2::text[], $3::json[], $4::bigint[]) WITH ORDINALITY
         AS t(endpoint, order_key, event, created, n)
       ORDER BY n`,
      [
        rows.map((r) => r.endpoint),
        rows.map((r) => r.orderKey),
        rows.map((r) => jsonText(r.event)),
        rows.map((r) => r.created),
      ],
    );
  }

  /**
   * Inserts the event-route rows that the appends of a history group commit carried
   * (`HistoryAppendOptions.outbox`), in that commit's transaction: they are stored with their
   * points or not at all, and an outage retry carries them again with its appends.
   */
  async insertHistoryRows(client: pg.PoolClient, rows: readonly OutboxRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.insertRows(client, rows);
    this.onHistoryRows?.();
  }

  // ---------------------------------------------------------------- delivery side

  async pending(afterSeq: number, limit: number): Promise<OutboxDelivery[]> {
    const r = await this.db.query<OutboxRowDb>(
      'SELECT seq, endpoint, order_key, event, created FROM event_outbox WHERE seq > $1 ORDER BY seq LIMIT $2',
      [afterSeq, Math.max(1, Math.min(limit, 100_000))],
    );
    return r.rows.map((x) => ({
      seq: x.seq,
      endpoint: x.endpoint,
      orderKey: x.order_key,
      event: x.event,
      created: x.created,
    }));
  }

  async acknowledge(seqs: readonly number[]): Promise<void> {
    if (seqs.length === 0) return;
    await this.db.query('DELETE FROM event_outbox WHERE seq = ANY($1::bigint[])', [seqs]);
  }

  async deadLetter(
    items: readonly { seq: number; attempts: number; reason: string; at: number }[],
  ): Promise<void> {
    if (items.length === 0) return;
    await this.db.query(
      `WITH given AS (
         SELECT * FROM unnest($1::bigint[], $2::integer[], $3::text[], $4::bigint[]) WITH ORDINALITY
           AS g(seq, attempts, reason, dead_at, n)
       ), moved AS (
         DELETE FROM event_outbox o USING given g WHERE o.seq = g.seq
         RETURNING o.seq, o.endpoint, o.order_key, o.event, o.created, g.dead_at, g.attempts, g.reason, g.n
       )
       INSERT INTO event_dead_letters (seq, endpoint, order_key, event, created, dead_at, attempts, reason)
       SELECT seq, endpoint, order_key, event, created, dead_at, attempts, reason FROM moved ORDER BY n`,
      [
        items.map((i) => i.seq),
        items.map((i) => i.attempts),
        items.map((i) => i.reason.slice(0, 2000).replaceAll('\u0000', '\uFFFD')),
        items.map((i) => i.at),
      ],
    );
  }

  async listDeadLetters(q: RouteDeadLetterQuery): Promise<RouteDeadLetter[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.endpoint !== undefined) {
      checkNoNul('endpoint name', q.endpoint);
      args.push(q.endpoint);
      where.push(`endpoint = $${args.length}`);
    }
    if (q.beforeId !== undefined) {
      args.push(q.beforeId);
      where.push(`id < $${args.length}`);
    }
    args.push(Math.max(1, Math.min(q.limit, 10_000)));
    const r = await this.db.query<DeadRowDb>(
      `SELECT * FROM event_dead_letters ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY id DESC LIMIT $${args.length}`,
      args,
    );
    return r.rows.map(deadOf);
  }

  async countDeadLetters(endpoint?: string): Promise<number> {
    const r =
      endpoint === undefined
        ? await this.db.query<{ n: number }>('SELECT count(*)::bigint AS n FROM event_dead_letters')
        : await this.db.query<{ n: number }>(
            'SELECT count(*)::bigint AS n FROM event_dead_letters WHERE endpoint = $1',
            [endpoint],
          );
    return r.rows[0]!.n;
  }

  async replay(q: { endpoint: string; ids?: readonly number[]; to?: string }): Promise<number> {
    const to = q.to ?? q.endpoint;
    checkNoNul('endpoint name', to);
    return this.db.transaction(async (c) => {
      const taken = await c.query<DeadRowDb>(
        q.ids === undefined
          ? 'DELETE FROM event_dead_letters WHERE endpoint = $1 RETURNING *'
          : 'DELETE FROM event_dead_letters WHERE endpoint = $1 AND id = ANY($2::bigint[]) RETURNING *',
        q.ids === undefined ? [q.endpoint] : [q.endpoint, q.ids],
      );
      const rows = taken.rows.sort((a, b) => a.seq - b.seq || a.id - b.id);
      await this.insertRows(
        c,
        rows.map((r) => ({ endpoint: to, orderKey: r.order_key, event: r.event, created: r.created })),
      );
      return rows.length;
    });
  }

  async purgeDeadLetters(q: { endpoint: string; ids?: readonly number[] }): Promise<number> {
    const r =
      q.ids === undefined
        ? await this.db.query('DELETE FROM event_dead_letters WHERE endpoint = $1', [q.endpoint])
        : await this.db.query(
            'DELETE FROM event_dead_letters WHERE endpoint = $1 AND id = ANY($2::bigint[])',
            [q.endpoint, q.ids],
          );
    return r.rowCount ?? 0;
  }

  async backlog(): Promise<Map<string, { count: number; oldest: number }>> {
    const r = await this.db.query<{ endpoint: string; n: number; oldest: number }>(
      'SELECT endpoint, count(*)::bigint AS n, min(created) AS oldest FROM event_outbox GROUP BY endpoint',
    );
    return new Map(r.rows.map((x) => [x.endpoint, { count: x.n, oldest: x.oldest }]));
  }
}

function deadOf(r: DeadRowDb): RouteDeadLetter {
  return {
    id: r.id,
    endpoint: r.endpoint,
    orderKey: r.order_key,
    event: r.event,
    created: r.created,
    deadAt: r.dead_at,
    attempts: r.attempts,
    reason: r.reason,
  };
}
