/**
 * The event outbox and its dead letters on SQLite, in the database of the twins and history, so an
 * event commits with the write it describes:
 * - `insertRows` inserts in the caller's transaction (the twin store's commit);
 * - `insertHistoryRows` inserts the telemetry rows that appends carried, inside the history group
 *   commit that stores their points (both stored, or neither);
 * - the delivery side (pending, acknowledge, deadLetter, replay ...) is asynchronous as the port is,
 *   resolving synchronously inside.
 * Also the EventRouteStore (routes and endpoints; the endpoint's secret in its own column).
 */
import type Database from 'better-sqlite3';
import type { RoutedEvent } from '../../core/events/change-events.js';
import type {
  EventOutbox,
  EventRouteStore,
  OutboxDelivery,
  OutboxRow,
  RouteDeadLetter,
  RouteDeadLetterQuery,
  StoredEndpoint,
  StoredRoute,
} from '../../core/ports/event-routing.js';
import { storageError } from './sqlite-database.js';

interface OutboxRowDb {
  seq: number;
  endpoint: string;
  order_key: string;
  event: string;
  created: number;
}

interface DeadRowDb extends OutboxRowDb {
  id: number;
  dead_at: number;
  attempts: number;
  reason: string;
}

export class SqliteEventOutbox implements EventOutbox {
  /** Told (inside the commit's transaction) when a history commit inserted rows: defer any reading. */
  onHistoryRows: (() => void) | undefined;
  private readonly s: Record<string, Database.Statement>;

  constructor(private readonly db: Database.Database) {
    this.s = {
      insert: db.prepare(
        'INSERT INTO event_outbox (endpoint, order_key, event, created) VALUES (?, ?, ?, ?)',
      ),
      pending: db.prepare('SELECT * FROM event_outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
      ack: db.prepare('DELETE FROM event_outbox WHERE seq = ?'),
      get: db.prepare('SELECT * FROM event_outbox WHERE seq = ?'),
      dead: db.prepare(
        `INSERT INTO event_dead_letters (seq, endpoint, order_key, event, created, dead_at, attempts, reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      backlog: db.prepare(
        'SELECT endpoint, count(*) AS n, min(created) AS oldest FROM event_outbox GROUP BY endpoint',
      ),
    };
  }

  // ---------------------------------------------------------------- write side

  /** Inserts rows in the caller's transaction (the twin store's commit). @throws StorageError */
  insertRows(rows: readonly OutboxRow[]): void {
    try {
      for (const r of rows) this.s.insert!.run(r.endpoint, r.orderKey, JSON.stringify(r.event), r.created);
    } catch (e) {
      throw storageError('Cannot journal an event', e);
    }
  }

  /** Inserts the rows the appends of a history commit carried, inside that commit's transaction. */
  insertHistoryRows(rows: readonly OutboxRow[]): void {
    if (rows.length === 0) return;
    this.insertRows(rows);
    this.onHistoryRows?.();
  }

  // ---------------------------------------------------------------- delivery side

  async pending(afterSeq: number, limit: number): Promise<OutboxDelivery[]> {
    await Promise.resolve();
    const rows = this.run(
      'Cannot read the event outbox',
      () => this.s.pending!.all(afterSeq, limit) as OutboxRowDb[],
    );
    return rows.map((r) => ({
      seq: r.seq,
      endpoint: r.endpoint,
      orderKey: r.order_key,
      event: JSON.parse(r.event) as RoutedEvent,
      created: r.created,
    }));
  }

  async acknowledge(seqs: readonly number[]): Promise<void> {
    await Promise.resolve();
    this.run('Cannot acknowledge events', () =>
      this.db.transaction(() => {
        for (const s of seqs) this.s.ack!.run(s);
      })(),
    );
  }

  async deadLetter(
    items: readonly { seq: number; attempts: number; reason: string; at: number }[],
  ): Promise<void> {
    await Promise.resolve();
    this.run('Cannot dead-letter events', () =>
      this.db.transaction(() => {
        for (const it of items) {
          const r = this.s.get!.get(it.seq) as OutboxRowDb | undefined;
          if (!r) continue;
          this.s.dead!.run(
            r.seq,
            r.endpoint,
            r.order_key,
            r.event,
            r.created,
            it.at,
            it.attempts,
            it.reason.slice(0, 2000),
          );
          this.s.ack!.run(it.seq);
        }
      })(),
    );
  }

  async listDeadLetters(q: RouteDeadLetterQuery): Promise<RouteDeadLetter[]> {
    await Promise.resolve();
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.endpoint !== undefined) {
      where.push('endpoint = ?');
      args.push(q.endpoint);
    }
    if (q.beforeId !== undefined) {
      where.push('id < ?');
      args.push(q.beforeId);
    }
    const sql = `SELECT * FROM event_dead_letters ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    args.push(Math.max(1, Math.min(q.limit, 10_000)));
    const rows = this.run('Cannot list dead letters', () => this.db.prepare(sql).all(...args) as DeadRowDb[]);
    return rows.map(deadOf);
  }

  async countDeadLetters(endpoint?: string): Promise<number> {
    await Promise.resolve();
    return this.run('Cannot count dead letters', () =>
      endpoint === undefined
        ? (this.db.prepare('SELECT count(*) AS n FROM event_dead_letters').get() as { n: number }).n
        : (
            this.db
              .prepare('SELECT count(*) AS n FROM event_dead_letters WHERE endpoint = ?')
              .get(endpoint) as { n: number }
          ).n,
    );
  }

  async replay(q: { endpoint: string; ids?: readonly number[]; to?: string }): Promise<number> {
    await Promise.resolve();
    const to = q.to ?? q.endpoint;
    return this.run('Cannot replay dead letters', () =>
      this.db.transaction(() => {
        const rows = this.select(q.endpoint, q.ids);
        for (const r of rows) {
          this.s.insert!.run(to, r.order_key, r.event, r.created);
          this.db.prepare('DELETE FROM event_dead_letters WHERE id = ?').run(r.id);
        }
        return rows.length;
      })(),
    );
  }

  async purgeDeadLetters(q: { endpoint: string; ids?: readonly number[] }): Promise<number> {
    await Promise.resolve();
    return this.run('Cannot delete dead letters', () =>
      this.db.transaction(() => {
        const rows = this.select(q.endpoint, q.ids);
        const del = this.db.prepare('DELETE FROM event_dead_letters WHERE id = ?');
        for (const r of rows) del.run(r.id);
        return rows.length;
      })(),
    );
  }

  async backlog(): Promise<Map<string, { count: number; oldest: number }>> {
    await Promise.resolve();
    const rows = this.run(
      'Cannot read the event outbox',
      () => this.s.backlog!.all() as { endpoint: string; n: number; oldest: number }[],
    );
    return new Map(rows.map((r) => [r.endpoint, { count: r.n, oldest: r.oldest }]));
  }

  /** Dead letters of an endpoint (all, or these ids), oldest first. */
  private select(endpoint: string, ids?: readonly number[]): DeadRowDb[] {
    if (ids === undefined)
      return this.db
        .prepare('SELECT * FROM event_dead_letters WHERE endpoint = ? ORDER BY seq, id')
        .all(endpoint) as DeadRowDb[];
    const one = this.db.prepare('SELECT * FROM event_dead_letters WHERE endpoint = ? AND id = ?');
    const rows = ids
      .map((id) => one.get(endpoint, id) as DeadRowDb | undefined)
      .filter((r) => r !== undefined);
    return rows.sort((a, b) => a.seq - b.seq || a.id - b.id);
  }

  private run<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw storageError(what, e);
    }
  }
}

function deadOf(r: DeadRowDb): RouteDeadLetter {
  return {
    id: r.id,
    endpoint: r.endpoint,
    orderKey: r.order_key,
    event: JSON.parse(r.event) as RoutedEvent,
    created: r.created,
    deadAt: r.dead_at,
    attempts: r.attempts,
    reason: r.reason,
  };
}

export class SqliteEventRouteStore implements EventRouteStore {
  constructor(private readonly db: Database.Database) {}

  async listRoutes(): Promise<StoredRoute[]> {
    await Promise.resolve();
    const rows = this.run(
      () =>
        this.db.prepare('SELECT * FROM event_routes ORDER BY id').all() as {
          id: string;
          endpoint_name: string;
          filter: string;
        }[],
    );
    return rows.map((r) => ({ id: r.id, endpointName: r.endpoint_name, filter: r.filter }));
  }

  async putRoute(r: StoredRoute): Promise<void> {
    await Promise.resolve();
    this.run(() =>
      this.db
        .prepare('INSERT OR REPLACE INTO event_routes (id, endpoint_name, filter) VALUES (?, ?, ?)')
        .run(r.id, r.endpointName, r.filter),
    );
  }

  async deleteRoute(id: string): Promise<boolean> {
    await Promise.resolve();
    return this.run(() => this.db.prepare('DELETE FROM event_routes WHERE id = ?').run(id).changes > 0);
  }

  async listEndpoints(): Promise<StoredEndpoint[]> {
    await Promise.resolve();
    const rows = this.run(
      () =>
        this.db.prepare('SELECT * FROM event_endpoints ORDER BY name').all() as {
          name: string;
          spec: string;
          secret: string | null;
        }[],
    );
    return rows.map((r) => ({
      name: r.name,
      spec: JSON.parse(r.spec) as Record<string, unknown>,
      ...(r.secret !== null ? { secret: r.secret } : {}),
    }));
  }

  async putEndpoint(e: StoredEndpoint): Promise<void> {
    await Promise.resolve();
    this.run(() =>
      this.db
        .prepare('INSERT OR REPLACE INTO event_endpoints (name, spec, secret) VALUES (?, ?, ?)')
        .run(e.name, JSON.stringify(e.spec), e.secret ?? null),
    );
  }

  async deleteEndpoint(name: string): Promise<boolean> {
    await Promise.resolve();
    return this.run(
      () => this.db.prepare('DELETE FROM event_endpoints WHERE name = ?').run(name).changes > 0,
    );
  }

  private run<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw storageError('Cannot store event routes', e);
    }
  }
}
