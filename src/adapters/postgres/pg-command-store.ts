/**
 * CommandStore on PostgreSQL: one row per command, payloads as JSON text (NULL when absent), steps
 * as a jsonb array appended to in place. Several nodes may share the table, so every state change
 * is one statement that checks and writes together: `UPDATE … WHERE state = ANY(from) RETURNING`.
 * Of two concurrent transitions of one command the second waits for the first's row lock, then
 * finds the state changed and updates nothing (READ COMMITTED re-checks the WHERE on the new row).
 *
 * Batching: an `add()` call is one INSERT of all its commands (unnest, in the order given); a
 * `transition()` call on distinct commands is one UPDATE joined to the unnested transitions; one
 * that moves a command more than once runs its steps in order in one transaction. `expireDue()`
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
  type CommandQuery,
  type CommandRecord,
  type CommandState,
  type CommandStore,
  type CommandTransition,
  type NewCommand,
} from '../../core/ports/command-store.js';
import {
  checkExpireArgs,
  commandFromRow,
  duplicateCommand,
  expiredReason,
  pageLimit,
  prepareCommand,
  prepareTransition,
  pruneBefore,
  stateFilter,
  type CommandRow,
  type PreparedTransition,
} from '../sql/command-rows.js';
import type { PgComponentMigrations, PgDatabase } from './pg-database.js';
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
export class PgCommandStore implements CommandStore {
  constructor(private readonly db: PgDatabase) {}

  /** @throws BadRequest (wrong types, a NUL in a text field); Conflict (requestId taken); StorageError */
  async add(commands: readonly NewCommand[]): Promise<CommandRecord[]> {
    if (!Array.isArray(commands)) throw new TwinloopError('BadRequest', 'add takes an array of commands.');
    if (commands.length === 0) return [];
    const prepared = commands.map(prepareCommand);
    const seen = new Set<string>();
    for (const { c } of prepared) {
      refuseNul('a command', {
        workspace: c.workspace,
        requestId: c.requestId,
        twinId: c.twinId,
        command: c.command,
        requestedBy: c.requestedBy,
      });
      const key = `${c.workspace}\u0000${c.requestId}`;
      if (seen.has(key)) throw duplicateCommand(c.workspace, c.requestId);
      seen.add(key);
    }
    const col = <T>(f: (p: (typeof prepared)[number]) => T): T[] => prepared.map(f);
    let rows: Row[];
    try {
      const r = await this.db.query<Row>(
        `INSERT INTO commands (workspace, request_id, twin_id, command, request, created_at, expires_at,
                               requested_by, state, steps, updated_at)
         SELECT w, r, t, c, q, ca, ea, rb, 'queued',
                jsonb_build_array(jsonb_build_object('state', 'queued', 'at', ca)), ca
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
                     $8::text[]) WITH ORDINALITY AS x(w, r, t, c, q, ca, ea, rb, ord)
         ORDER BY ord
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
      rows = r.rows;
    } catch (e) {
      if (sqlState(e) === '23505')
        throw await this.whichDuplicate(
          prepared.map((p) => p.c),
          e,
        );
      throw e;
    }
    const byId = new Map(rows.map((r) => [`${r.workspace}\u0000${r.request_id}`, r]));
    return prepared.map((p) => {
      const r = byId.get(`${p.c.workspace}\u0000${p.c.requestId}`);
      if (!r) throw new TwinloopError('StorageError', 'PostgreSQL did not return a command it stored.');
      return commandFromRow(r);
    });
  }

  /** @throws BadRequest (wrong types); StorageError */
  async transition(transitions: readonly CommandTransition[]): Promise<(CommandRecord | undefined)[]> {
    if (!Array.isArray(transitions)) {
      throw new TwinloopError('BadRequest', 'transition takes an array of transitions.');
    }
    if (transitions.length === 0) return [];
    const prepared = transitions.map(prepareTransition);
    // A NUL in the key: no stored command has one.
    const live = prepared.map((p, i) => ({ p, i })).filter(({ p }) => !anyNul(p.t.workspace, p.t.requestId));
    const out: (CommandRecord | undefined)[] = prepared.map(() => undefined);
    if (!live.length) return out;
    const keys = new Set(live.map(({ p }) => `${p.t.workspace}\u0000${p.t.requestId}`));
    if (keys.size === live.length) {
      // Distinct commands: one statement, whatever their number.
      const rows = await retryDeadlock(() => this.moveMany(live.map(({ p }) => p)));
      for (const r of rows) {
        const at = live[Number(r.ord) - 1];
        if (at) out[at.i] = commandFromRow(r);
      }
      return out;
    }
    // One command moved more than once: in order, each step seeing the one before, all or nothing.
    await retryDeadlock(() =>
      this.db.transaction(async (client) => {
        for (const { p, i } of live) {
          const r = await client.query<Row>(MOVE_ONE, moveOneArgs(p));
          const row = r.rows[0];
          out[i] = row ? commandFromRow(row) : undefined;
        }
      }),
    );
    return out;
  }

  async get(workspace: string, requestId: string): Promise<CommandRecord | undefined> {
    if (anyNul(workspace, requestId)) return undefined;
    const r = await this.db.query<Row>('SELECT * FROM commands WHERE workspace = $1 AND request_id = $2', [
      workspace,
      requestId,
    ]);
    const row = r.rows[0];
    return row ? commandFromRow(row) : undefined;
  }

  async list(q: CommandQuery): Promise<CommandRecord[]> {
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
      this.db.query<Row>(
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
      ),
    );
    return r.rows.map(commandFromRow).sort((a, b) => a.expiresAt - b.expiresAt || a.seq - b.seq);
  }

  async countOpen(workspace: string): Promise<Record<'queued' | 'sent' | 'acknowledged', number>> {
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

  /** Transitions of distinct commands in one UPDATE; rows carry `ord`, the 1-based index in `ps`. */
  private async moveMany(ps: readonly PreparedTransition[]): Promise<(Row & { ord: number })[]> {
    const col = <T>(f: (p: PreparedTransition) => T): T[] => ps.map(f);
    const r = await this.db.query<Row & { ord: number }>(
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
    return r.rows;
  }

  /** The Conflict for an add that hit the unique key: names a requestId already stored. */
  private async whichDuplicate(cs: readonly NewCommand[], e: unknown): Promise<TwinloopError> {
    try {
      const r = await this.db.query<{ workspace: string; request_id: string }>(
        `SELECT c.workspace, c.request_id FROM commands c
         JOIN unnest($1::text[], $2::text[]) AS x(w, r) ON c.workspace = x.w AND c.request_id = x.r LIMIT 1`,
        [cs.map((c) => c.workspace), cs.map((c) => c.requestId)],
      );
      const hit = r.rows[0];
      if (hit) return duplicateCommand(hit.workspace, hit.request_id);
    } catch {
      // fall through: the original error says enough
    }
    return new TwinloopError('Conflict', 'A command with one of these requestIds is already stored.', {
      cause: e,
    });
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
