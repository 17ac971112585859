/**
 * CommandStore on PostgreSQL: one row per command, payloads as JSON text (NULL when absent), steps
 * as a jsonb array appended to in place. Several nodes may share the table, so every state change
 * is one statement that checks and writes together: `UPDATE … WHERE state = ANY(from) RETURNING`.
 * Of two concurrent transitions of one command the second waits for the first's row lock, then
 * finds the state changed and updates nothing (READ COMMITTED re-checks the WHERE on the new row).
 *
 * Batching: concurrent calls are queued and run one batch at a time, in the order made (as the
 * SQLite store's group commit does): the add() calls of a batch are one INSERT (unnest, in the order
 * given) in one transaction, the transition() calls one UPDATE joined to the unnested transitions
 * (on distinct commands: a call touching a command already in the batch starts the next batch). A
 * call that moves one command more than once runs alone, its steps in order in one transaction. `expireDue()`
 * takes the due rows with FOR UPDATE SKIP LOCKED, so a sweep never waits for (nor undoes) a
 * transition under way: that command is swept next time if it is still open then.
 *
 * Text columns cannot hold a NUL: ids and names holding one are refused (BadRequest) and looked up
 * as absent; a reason keeps its text with U+FFFD for each NUL. JSON payloads keep NULs (JSON text
 * escapes them).
 */
import { TwinloopError } from '../../core/errors/errors.js';
import {
  OPEN_COMMAND_STATES,
  type CommandJournal,
  type CommandQuery,
  type CommandRecord,
  type CommandState,
  type CommandStore,
  type CommandTransition,
  type NewCommand,
} from '../../core/ports/command-store.js';
import {
  checkExpireArgs,
  checkText,
  commandFromRow,
  duplicateCommand,
  expiredReason,
  pageLimit,
  prepareCommand,
  prepareTransition,
  pruneBefore,
  stateFilter,
  type CommandRow,
  type PreparedCommand,
  type PreparedTransition,
} from '../sql/command-rows.js';
import type pg from 'pg';
import type { PgComponentMigrations, PgDatabase } from './pg-database.js';
import type { PgEventOutbox } from './pg-event-outbox.js';
import { anyNul, hasNul, refuseNul, withoutNul } from './pg-text.js';

export const PG_COMMAND_MIGRATIONS: PgComponentMigrations = {
  component: 'commands',
  migrations: [
    {
      version: 1,
      name: 'commands: durable commands to devices and their steps',
      sql: `
        -- One row per command (docs/control.md). request, response: JSON text (NULL when absent);
        -- steps: [{state, at}]; updated_at: the time of the last step (for prune).
        CREATE TABLE commands (
          seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          workspace text COLLATE "C" NOT NULL,
          request_id text COLLATE "C" NOT NULL,
          twin_id text COLLATE "C" NOT NULL,
          command text NOT NULL,
          request text,
          created_at bigint NOT NULL,
          expires_at bigint NOT NULL,
          requested_by text,
          state text NOT NULL,
          steps jsonb NOT NULL,
          status bigint,
          response text,
          reason text,
          updated_at bigint NOT NULL,
          UNIQUE (workspace, request_id)
        );
        CREATE INDEX commands_by_workspace ON commands (workspace, seq);
        CREATE INDEX commands_by_twin ON commands (workspace, twin_id, seq);
        CREATE INDEX commands_by_state ON commands (state, workspace, twin_id, seq);
        CREATE INDEX commands_open_by_expiry ON commands (expires_at, seq)
          WHERE state IN ('queued', 'sent', 'acknowledged');
        CREATE INDEX commands_done_by_time ON commands (updated_at)
          WHERE state IN ('succeeded', 'failed', 'expired', 'cancelled');
      `,
    },
  ],
};

const OPEN_SQL = "state IN ('queued', 'sent', 'acknowledged')";
const DONE_SQL = "state IN ('succeeded', 'failed', 'expired', 'cancelled')";
/** Deadlocks between batches that lock the same rows in another order: retried this many times. */
const DEADLOCK_RETRIES = 5;

/** The pg error under a StorageError (db.query wraps it). */
function sqlState(e: unknown): string | undefined {
  const cause = e instanceof TwinloopError ? (e as { cause?: unknown }).cause : e;
  const code = (cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

async function retryDeadlock<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (sqlState(e) !== '40P01' || attempt >= DEADLOCK_RETRIES) throw e;
    }
  }
}

type Row = CommandRow;

/**
 * @example
 *   const db = await openPgDatabase({ url, migrations: [PG_COMMAND_MIGRATIONS] });
 *   const commands = new PgCommandStore(db);
 *   const [c] = await commands.add([{ workspace, requestId: randomUUID(), twinId: 'pump-1',
 *     command: 'setRunning', request: false, createdAt: now, expiresAt: now + 600_000 }]);
 */
export interface PgCommandStoreOptions {
  /** Most commands or transitions in one batch of concurrent calls (default 1000). */
  maxBatch?: number;
}

/** One caller's add() or transition(), waiting for its batch. */
type Call =
  | {
      kind: 'add';
      items: PreparedCommand[];
      keys: string[];
      resolve: (r: CommandRecord[]) => void;
      reject: (e: unknown) => void;
    }
  | {
      kind: 'move';
      /** The transitions that can match (no NUL in the key), with their index in the call. */
      items: { p: PreparedTransition; i: number }[];
      total: number;
      keys: string[];
      /** Moves one command more than once: runs alone, step after step. */
      alone: boolean;
      resolve: (r: (CommandRecord | undefined)[]) => void;
      reject: (e: unknown) => void;
    };

const keyOf = (workspace: string, requestId: string): string => `${workspace}\u0000${requestId}`;

/**
 * @example
 *   const db = await openPgDatabase({ url, migrations: [PG_COMMAND_MIGRATIONS] });
 *   const commands = new PgCommandStore(db);
 *   const [c] = await commands.add([{ workspace, requestId: randomUUID(), twinId: 'pump-1',
 *     command: 'setRunning', request: false, createdAt: now, expiresAt: now + 600_000 }]);
 */
export class PgCommandStore implements CommandStore {
  private readonly maxBatch: number;
  private queue: Call[] = [];
  /** The drain under way (it never rejects: each call gets its own outcome). */
  private draining: Promise<void> | undefined;

  constructor(
    private readonly db: PgDatabase,
    options: PgCommandStoreOptions = {},
    /** Where journaled event-route rows go (setJournal). */
    private readonly outbox?: PgEventOutbox,
  ) {
    this.maxBatch = Math.max(1, options.maxBatch ?? 1000);
  }

  private journal: CommandJournal | undefined;

  setJournal(journal: CommandJournal | undefined): void {
    if (journal && !this.outbox) throw new Error('this command store has no event outbox');
    this.journal = journal;
  }

  /** Writes the event-route rows of these changes in the caller's transaction. */
  private async journalIn(
    client: pg.PoolClient,
    changed: readonly (CommandRecord | undefined)[],
  ): Promise<void> {
    if (!this.journal || !this.outbox) return;
    const done = changed.filter((c): c is CommandRecord => c !== undefined);
    if (done.length) await this.outbox.insertRows(client, this.journal(done));
  }

  /** @throws BadRequest (wrong types, a NUL in a text field); Conflict (requestId taken); StorageError */
  async add(commands: readonly NewCommand[]): Promise<CommandRecord[]> {
    if (!Array.isArray(commands)) throw new TwinloopError('BadRequest', 'add takes an array of commands.');
    if (commands.length === 0) return [];
    const items = commands.map(prepareCommand);
    const keys: string[] = [];
    const seen = new Set<string>();
    for (const { c } of items) {
      refuseNul('a command', {
        workspace: c.workspace,
        requestId: c.requestId,
        twinId: c.twinId,
        command: c.command,
        requestedBy: c.requestedBy,
      });
      const key = keyOf(c.workspace, c.requestId);
      if (seen.has(key)) throw duplicateCommand(c.workspace, c.requestId);
      seen.add(key);
      keys.push(key);
    }
    return new Promise<CommandRecord[]>((resolve, reject) =>
      this.enqueue({ kind: 'add', items, keys, resolve, reject }),
    );
  }

  /** @throws BadRequest (wrong types); StorageError */
  async transition(transitions: readonly CommandTransition[]): Promise<(CommandRecord | undefined)[]> {
    if (!Array.isArray(transitions)) {
      throw new TwinloopError('BadRequest', 'transition takes an array of transitions.');
    }
    if (transitions.length === 0) return [];
    const prepared = transitions.map(prepareTransition);
    // A NUL in the key: no stored command has one.
    const items = prepared.map((p, i) => ({ p, i })).filter(({ p }) => !anyNul(p.t.workspace, p.t.requestId));
    if (!items.length) return prepared.map(() => undefined);
    const keys = items.map(({ p }) => keyOf(p.t.workspace, p.t.requestId));
    return new Promise<(CommandRecord | undefined)[]>((resolve, reject) =>
      this.enqueue({
        kind: 'move',
        items,
        total: prepared.length,
        keys,
        alone: new Set(keys).size !== keys.length,
        resolve,
        reject,
      }),
    );
  }

  async get(workspace: string, requestId: string): Promise<CommandRecord | undefined> {
    checkText({ workspace, requestId });
    if (anyNul(workspace, requestId)) return undefined;
    const r = await this.db.query<Row>('SELECT * FROM commands WHERE workspace = $1 AND request_id = $2', [
      workspace,
      requestId,
    ]);
    const row = r.rows[0];
    return row ? commandFromRow(row) : undefined;
  }

  async list(q: CommandQuery): Promise<CommandRecord[]> {
    checkText({ workspace: q.workspace, ...(q.twinId !== undefined ? { twinId: q.twinId } : {}) });
    const limit = pageLimit(q.limit);
    const states = stateFilter(q.states);
    if (states?.length === 0 || anyNul(q.workspace, q.twinId)) return [];
    const args: unknown[] = [q.workspace];
    const where = ['workspace = $1'];
    if (q.twinId !== undefined) {
      args.push(q.twinId);
      where.push(`twin_id = $${args.length}`);
    }
    if (states) {
      args.push(states);
      where.push(`state = ANY($${args.length}::text[])`);
    }
    if (q.beforeSeq !== undefined) {
      if (typeof q.beforeSeq !== 'number' || Number.isNaN(q.beforeSeq)) {
        throw new TwinloopError('BadRequest', 'beforeSeq must be a number.');
      }
      args.push(Math.min(Number.MAX_SAFE_INTEGER, Math.max(Number.MIN_SAFE_INTEGER, Math.ceil(q.beforeSeq))));
      where.push(`seq < $${args.length}`);
    }
    args.push(limit);
    const r = await this.db.query<Row>(
      `SELECT * FROM commands WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT $${args.length}`,
      args,
    );
    return r.rows.map(commandFromRow);
  }

  async pending(
    workspace: string,
    twinId: string,
    states: readonly CommandState[] = OPEN_COMMAND_STATES,
  ): Promise<CommandRecord[]> {
    checkText({ workspace, twinId });
    const wanted = stateFilter(states) ?? [];
    if (wanted.length === 0 || anyNul(workspace, twinId)) return [];
    const r = await this.db.query<Row>(
      `SELECT * FROM commands WHERE workspace = $1 AND twin_id = $2 AND state = ANY($3::text[]) ORDER BY seq`,
      [workspace, twinId, wanted],
    );
    return r.rows.map(commandFromRow);
  }

  async queuedTwins(): Promise<{ workspace: string; twinId: string }[]> {
    const r = await this.db.query<{ workspace: string; twin_id: string }>(
      "SELECT DISTINCT workspace, twin_id FROM commands WHERE state = 'queued' ORDER BY workspace, twin_id",
    );
    return r.rows.map((x) => ({ workspace: x.workspace, twinId: x.twin_id }));
  }

  async expireDue(now: number, limit: number): Promise<CommandRecord[]> {
    checkExpireArgs(now, limit);
    if (limit === 0) return [];
    const r = await retryDeadlock(() =>
      this.db.transaction(async (client) => {
        const res = await client.query<Row>(
          `WITH due AS (
           SELECT seq FROM commands WHERE ${OPEN_SQL} AND expires_at <= $1
           ORDER BY expires_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE commands c SET state = 'expired',
           steps = c.steps || jsonb_build_array(jsonb_build_object('state', 'expired', 'at', $1::bigint)),
           updated_at = $1,
           reason = CASE c.state WHEN 'queued' THEN $3 WHEN 'sent' THEN $4 ELSE $5 END
         FROM due WHERE c.seq = due.seq AND c.${OPEN_SQL}
         RETURNING c.*`,
          [now, limit, expiredReason('queued'), expiredReason('sent'), expiredReason('acknowledged')],
        );
        await this.journalIn(client, res.rows.map(commandFromRow));
        return res;
      }),
    );
    return r.rows.map(commandFromRow).sort((a, b) => a.expiresAt - b.expiresAt || a.seq - b.seq);
  }

  async countOpen(workspace: string): Promise<Record<'queued' | 'sent' | 'acknowledged', number>> {
    checkText({ workspace });
    const out = { queued: 0, sent: 0, acknowledged: 0 };
    if (hasNul(workspace)) return out;
    const r = await this.db.query<{ state: string; n: number }>(
      `SELECT state, count(*)::bigint AS n FROM commands WHERE ${OPEN_SQL} AND workspace = $1 GROUP BY state`,
      [workspace],
    );
    for (const x of r.rows) {
      if (x.state === 'queued' || x.state === 'sent' || x.state === 'acknowledged')
        out[x.state] = Number(x.n);
    }
    return out;
  }

  async prune(before: number): Promise<number> {
    const b = pruneBefore(before);
    const r = await this.db.query(`DELETE FROM commands WHERE ${DONE_SQL} AND updated_at < $1`, [b]);
    return r.rowCount ?? 0;
  }

  /** Resolves when every call made so far has its outcome (before closing the pool). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private enqueue(call: Call): void {
    this.queue.push(call);
    if (!this.draining) {
      this.draining = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain());
    }
  }

  /**
   * Runs the queued calls batch after batch, one batch at a time, so calls take effect in the order
   * made: a batch is a run of calls of one kind on distinct commands (a call that touches a command
   * already in the batch starts the next one).
   */
  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const batch = this.takeBatch();
        try {
          if (batch[0]!.kind === 'add') {
            const adds = batch as Extract<Call, { kind: 'add' }>[];
            const outcomes = await retryDeadlock(() => this.insertBatch(adds));
            adds.forEach((c, k) => {
              const o = outcomes[k]!;
              if (o instanceof TwinloopError) c.reject(o);
              else c.resolve(o);
            });
          } else {
            const moves = batch as Extract<Call, { kind: 'move' }>[];
            const outs = await retryDeadlock(() =>
              moves.length === 1 && moves[0]!.alone ? this.moveAlone(moves[0]!) : this.moveBatch(moves),
            );
            moves.forEach((c, k) => c.resolve(outs[k]!));
          }
        } catch (e) {
          for (const c of batch) c.reject(e);
        }
      }
    } finally {
      this.draining = undefined;
    }
  }

  private takeBatch(): Call[] {
    const first = this.queue.shift()!;
    const batch: Call[] = [first];
    if (first.kind === 'move' && first.alone) return batch;
    const keys = new Set(first.keys);
    let items = first.items.length;
    for (;;) {
      const next = this.queue[0];
      if (!next || next.kind !== first.kind || (next.kind === 'move' && next.alone)) break;
      if (items + next.items.length > this.maxBatch || next.keys.some((k) => keys.has(k))) break;
      this.queue.shift();
      batch.push(next);
      for (const k of next.keys) keys.add(k);
      items += next.items.length;
    }
    return batch;
  }

  /**
   * Inserts the commands of several add() calls in one statement, in one transaction; a call that
   * meets a requestId already stored gets Conflict and its other commands are deleted again before
   * the commit (so nobody ever sees part of a refused call).
   */
  private insertBatch(
    calls: readonly Extract<Call, { kind: 'add' }>[],
  ): Promise<(CommandRecord[] | TwinloopError)[]> {
    const all = calls.flatMap((c) => c.items);
    const col = <T>(f: (p: PreparedCommand) => T): T[] => all.map(f);
    return this.db.transaction(async (client) => {
      const r = await client.query<Row>(
        `INSERT INTO commands (workspace, request_id, twin_id, command, request, created_at, expires_at,
                               requested_by, state, steps, updated_at)
         SELECT w, r, t, c, q, ca, ea, rb, 'queued',
                jsonb_build_array(jsonb_build_object('state', 'queued', 'at', ca)), ca
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
                     $8::text[]) WITH ORDINALITY AS x(w, r, t, c, q, ca, ea, rb, ord)
         ORDER BY ord
         ON CONFLICT (workspace, request_id) DO NOTHING
         RETURNING *`,
        [
          col((p) => p.c.workspace),
          col((p) => p.c.requestId),
          col((p) => p.c.twinId),
          col((p) => p.c.command),
          col((p) => p.request),
          col((p) => p.c.createdAt),
          col((p) => p.c.expiresAt),
          col((p) => p.c.requestedBy ?? null),
        ],
      );
      const byKey = new Map(r.rows.map((row) => [keyOf(row.workspace, row.request_id), row]));
      const undo: number[] = [];
      const outcomes = calls.map((call) => {
        const missing = call.items.find(({ c }) => !byKey.has(keyOf(c.workspace, c.requestId)));
        if (!missing) return call.keys.map((k) => commandFromRow(byKey.get(k)!));
        for (const k of call.keys) {
          const row = byKey.get(k);
          if (row) undo.push(Number(row.seq));
        }
        return duplicateCommand(missing.c.workspace, missing.c.requestId);
      });
      if (undo.length) await client.query('DELETE FROM commands WHERE seq = ANY($1::bigint[])', [undo]);
      await this.journalIn(
        client,
        outcomes.flatMap((o) => (o instanceof TwinloopError ? [] : o)),
      );
      return outcomes;
    });
  }

  /** The transitions of several calls on distinct commands in one UPDATE (one statement, atomic). */
  private async moveBatch(
    calls: readonly Extract<Call, { kind: 'move' }>[],
  ): Promise<(CommandRecord | undefined)[][]> {
    const all = calls.flatMap((c) => c.items.map(({ p }) => p));
    const col = <T>(f: (p: PreparedTransition) => T): T[] => all.map(f);
    // One statement; in a transaction with the journal's rows when a journal is set.
    const run = async (client: {
      query: <R extends pg.QueryResultRow>(sql: string, params: unknown[]) => Promise<pg.QueryResult<R>>;
    }) => {
      const res = await client.query<Row & { ord: number }>(
        `UPDATE commands c SET state = x.to_state,
         steps = c.steps || jsonb_build_array(jsonb_build_object('state', x.to_state, 'at', x.at)),
         updated_at = x.at, status = coalesce(x.status, c.status), response = coalesce(x.response, c.response),
         reason = coalesce(x.reason, c.reason)
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[],
                   $8::text[]) WITH ORDINALITY AS x(workspace, request_id, from_states, to_state, at, status,
                                                   response, reason, ord)
       WHERE c.workspace = x.workspace AND c.request_id = x.request_id
         AND c.state = ANY(string_to_array(x.from_states, ','))
       RETURNING c.*, x.ord`,
        [
          col((p) => p.t.workspace),
          col((p) => p.t.requestId),
          col((p) => p.t.from.join(',')),
          col((p) => p.t.to),
          col((p) => p.t.at),
          col((p) => p.t.status ?? null),
          col((p) => p.response),
          col((p) => (p.t.reason === undefined ? null : withoutNul(p.t.reason))),
        ],
      );
      return res;
    };
    const r = this.journal
      ? await this.db.transaction(async (client) => {
          const res = await run(client);
          await this.journalIn(
            client,
            [...res.rows].sort((a, b) => Number(a.ord) - Number(b.ord)).map(commandFromRow),
          );
          return res;
        })
      : await run(this.db);
    const byOrd = new Map(r.rows.map((row) => [Number(row.ord), row]));
    let ord = 0;
    return calls.map((call) => {
      const out: (CommandRecord | undefined)[] = Array.from({ length: call.total }, () => undefined);
      for (const { i } of call.items) {
        const row = byOrd.get(++ord);
        if (row) out[i] = commandFromRow(row);
      }
      return out;
    });
  }

  /** A call that moves one command more than once: step after step in one transaction. */
  private async moveAlone(call: Extract<Call, { kind: 'move' }>): Promise<(CommandRecord | undefined)[][]> {
    const out: (CommandRecord | undefined)[] = Array.from({ length: call.total }, () => undefined);
    await this.db.transaction(async (client) => {
      for (const { p, i } of call.items) {
        const r = await client.query<Row>(MOVE_ONE, moveOneArgs(p));
        const row = r.rows[0];
        out[i] = row ? commandFromRow(row) : undefined;
      }
      await this.journalIn(client, out);
    });
    return [out];
  }
}

const MOVE_ONE = `UPDATE commands SET state = $3,
    steps = steps || jsonb_build_array(jsonb_build_object('state', $3::text, 'at', $4::bigint)),
    updated_at = $4, status = coalesce($5, status), response = coalesce($6, response),
    reason = coalesce($7, reason)
  WHERE workspace = $1 AND request_id = $2 AND state = ANY($8::text[])
  RETURNING *`;

function moveOneArgs(p: PreparedTransition): unknown[] {
  return [
    p.t.workspace,
    p.t.requestId,
    p.t.to,
    p.t.at,
    p.t.status ?? null,
    p.response,
    p.t.reason === undefined ? null : withoutNul(p.t.reason),
    [...p.t.from],
  ];
}
