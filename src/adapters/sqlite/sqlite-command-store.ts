/**
 * CommandStore on SQLite: one row per command (payloads and steps as JSON text). `add()` and
 * `transition()` are group-committed: calls made in the same tick share one transaction (one
 * fsync), which is what lets thousands of commands a second be stored and moved. Each call runs in
 * a savepoint of its own, so a call that fails (a requestId already stored) is rolled back and
 * rejected alone while the others in the commit go through.
 *
 * A transition is one `UPDATE … WHERE state IN (from) RETURNING`: the compare-and-set and the step
 * appended to the JSON array happen together. Every other method first commits what is queued, so
 * the store acts in the order it is called.
 */
import type Database from 'better-sqlite3';
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
import { storageError } from './sqlite-database.js';
import type { SqliteEventOutbox } from './sqlite-event-outbox.js';
import { GroupCommitter, type GroupCommitOptions } from './sqlite-group-commit.js';

export type SqliteCommandStoreOptions = GroupCommitOptions;

/** One caller's request in a group commit, with what it got. */
type Op =
  | { kind: 'add'; items: PreparedCommand[]; out: CommandRecord[]; error?: unknown }
  | { kind: 'transition'; items: PreparedTransition[]; out: (CommandRecord | undefined)[]; error?: unknown };

const OPEN_SQL = "state IN ('queued', 'sent', 'acknowledged')";
const DONE_SQL = "state IN ('succeeded', 'failed', 'expired', 'cancelled')";

function isUnique(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * @example
 *   const commands = new SqliteCommandStore(db);
 *   const [c] = await commands.add([{ workspace, requestId: randomUUID(), twinId: 'pump-1',
 *     command: 'setRunning', request: false, createdAt: now, expiresAt: now + 600_000 }]);
 *   await commands.transition([{ workspace, requestId: c.requestId, from: ['queued'], to: 'sent', at: Date.now() }]);
 */
export class SqliteCommandStore implements CommandStore {
  private readonly committer: GroupCommitter<Op>;
  private readonly s: {
    insert: Database.Statement<unknown[], { seq: number }>;
    transition: Database.Statement<[Record<string, unknown>], CommandRow>;
    get: Database.Statement<[string, string], CommandRow>;
    due: Database.Statement<[number, number], { seq: number; state: CommandState }>;
    expire: Database.Statement<[Record<string, unknown>], CommandRow>;
    queuedTwins: Database.Statement<[], { workspace: string; twin_id: string }>;
    countOpen: Database.Statement<[string], { state: CommandState; n: number }>;
    prune: Database.Statement<[number]>;
  };
  /** Statements of list() and pending(), by their SQL (a handful of shapes). */
  private readonly shapes = new Map<string, Database.Statement<unknown[], CommandRow>>();

  private journal: CommandJournal | undefined;

  constructor(
    private readonly db: Database.Database,
    options: SqliteCommandStoreOptions = {},
    /** Where journaled event-route rows go (setJournal). */
    private readonly outbox?: SqliteEventOutbox,
  ) {
    this.s = {
      insert: db.prepare(
        `INSERT INTO commands (workspace, request_id, twin_id, command, request, created_at, expires_at,
                               requested_by, state, steps, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?) RETURNING seq`,
      ),
      transition: db.prepare(
        `UPDATE commands SET state = @to,
           steps = json_insert(steps, '$[#]', json_object('state', @to, 'at', @at)),
           updated_at = @at, status = coalesce(@status, status), response = coalesce(@response, response),
           reason = coalesce(@reason, reason)
         WHERE workspace = @workspace AND request_id = @requestId AND state IN (SELECT value FROM json_each(@from))
         RETURNING *`,
      ),
      get: db.prepare('SELECT * FROM commands WHERE workspace = ? AND request_id = ?'),
      due: db.prepare(
        `SELECT seq, state FROM commands WHERE ${OPEN_SQL} AND expires_at <= ? ORDER BY expires_at, seq LIMIT ?`,
      ),
      expire: db.prepare(
        `UPDATE commands SET state = 'expired',
           steps = json_insert(steps, '$[#]', json_object('state', 'expired', 'at', @at)),
           updated_at = @at, reason = @reason
         WHERE seq = @seq AND ${OPEN_SQL} RETURNING *`,
      ),
      queuedTwins: db.prepare(
        "SELECT DISTINCT workspace, twin_id FROM commands WHERE state = 'queued' ORDER BY workspace, twin_id",
      ),
      countOpen: db.prepare(
        `SELECT state, count(*) AS n FROM commands WHERE state IN ('queued', 'sent', 'acknowledged') AND workspace = ?
         GROUP BY state`,
      ),
      prune: db.prepare(`DELETE FROM commands WHERE ${DONE_SQL} AND updated_at < ?`),
    };
    this.committer = new GroupCommitter((ops) => this.commit(ops), options);
  }

  setJournal(journal: CommandJournal | undefined): void {
    if (journal && !this.outbox) throw new Error('this command store has no event outbox');
    this.journal = journal;
  }

  /** Writes the event-route rows of these changes (inside the caller's transaction). */
  private journalIn(changed: readonly (CommandRecord | undefined)[]): void {
    if (!this.journal || !this.outbox) return;
    const done = changed.filter((c): c is CommandRecord => c !== undefined);
    if (done.length) this.outbox.insertHistoryRows(this.journal(done));
  }

  async add(commands: readonly NewCommand[]): Promise<CommandRecord[]> {
    if (!Array.isArray(commands)) throw new TwinloopError('BadRequest', 'add takes an array of commands.');
    if (commands.length === 0) return [];
    const op: Op = { kind: 'add', items: commands.map(prepareCommand), out: [] };
    await this.committer.submit([op]);
    if (op.error !== undefined) throw op.error;
    return op.out;
  }

  async transition(transitions: readonly CommandTransition[]): Promise<(CommandRecord | undefined)[]> {
    if (!Array.isArray(transitions)) {
      throw new TwinloopError('BadRequest', 'transition takes an array of transitions.');
    }
    if (transitions.length === 0) return [];
    const op: Op = { kind: 'transition', items: transitions.map(prepareTransition), out: [] };
    await this.committer.submit([op]);
    if (op.error !== undefined) throw op.error;
    return op.out;
  }

  async get(workspace: string, requestId: string): Promise<CommandRecord | undefined> {
    checkText({ workspace, requestId });
    return this.read('Cannot read a command', () => {
      const r = this.s.get.get(workspace, requestId);
      return r ? commandFromRow(r) : undefined;
    });
  }

  async list(q: CommandQuery): Promise<CommandRecord[]> {
    checkText({ workspace: q.workspace, ...(q.twinId !== undefined ? { twinId: q.twinId } : {}) });
    const limit = pageLimit(q.limit);
    const states = stateFilter(q.states);
    if (states?.length === 0) return [];
    const where = ['workspace = ?'];
    const args: unknown[] = [q.workspace];
    if (q.twinId !== undefined) {
      where.push('twin_id = ?');
      args.push(q.twinId);
    }
    if (states) {
      where.push(`state IN (${states.map(() => '?').join(', ')})`);
      args.push(...states);
    }
    if (q.beforeSeq !== undefined) {
      if (typeof q.beforeSeq !== 'number' || Number.isNaN(q.beforeSeq)) {
        throw new TwinloopError('BadRequest', 'beforeSeq must be a number.');
      }
      where.push('seq < ?');
      args.push(q.beforeSeq);
    }
    args.push(limit);
    return this.read('Cannot list commands', () =>
      this.shape(`SELECT * FROM commands WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?`)
        .all(...args)
        .map(commandFromRow),
    );
  }

  async pending(
    workspace: string,
    twinId: string,
    states: readonly CommandState[] = OPEN_COMMAND_STATES,
  ): Promise<CommandRecord[]> {
    checkText({ workspace, twinId });
    const wanted = stateFilter(states) ?? [];
    if (wanted.length === 0) return [];
    return this.read('Cannot read pending commands', () =>
      this.shape(
        `SELECT * FROM commands WHERE workspace = ? AND twin_id = ? AND state IN (${wanted.map(() => '?').join(', ')})
         ORDER BY seq`,
      )
        .all(workspace, twinId, ...wanted)
        .map(commandFromRow),
    );
  }

  async queuedTwins(): Promise<{ workspace: string; twinId: string }[]> {
    return this.read('Cannot read queued commands', () =>
      this.s.queuedTwins.all().map((r) => ({ workspace: r.workspace, twinId: r.twin_id })),
    );
  }

  async expireDue(now: number, limit: number): Promise<CommandRecord[]> {
    checkExpireArgs(now, limit);
    if (limit === 0) return [];
    return this.read('Cannot expire commands', () =>
      this.db.transaction(() => {
        const out: CommandRecord[] = [];
        for (const d of this.s.due.all(now, limit)) {
          const r = this.s.expire.get({ at: now, reason: expiredReason(d.state), seq: d.seq });
          if (r) out.push(commandFromRow(r));
        }
        this.journalIn(out);
        return out;
      })(),
    );
  }

  async countOpen(workspace: string): Promise<Record<'queued' | 'sent' | 'acknowledged', number>> {
    checkText({ workspace });
    return this.read('Cannot count commands', () => {
      const out = { queued: 0, sent: 0, acknowledged: 0 };
      for (const r of this.s.countOpen.all(workspace)) {
        if (r.state === 'queued' || r.state === 'sent' || r.state === 'acknowledged') out[r.state] = r.n;
      }
      return out;
    });
  }

  async prune(before: number): Promise<number> {
    const b = pruneBefore(before);
    return this.read('Cannot prune commands', () => this.s.prune.run(b).changes);
  }

  /** Commits what is queued now (before closing). */
  flush(): void {
    this.committer.flush();
  }

  /** Runs fn after committing what is queued (so calls take effect in the order made). */
  private read<T>(what: string, fn: () => T): T {
    this.committer.flush();
    try {
      return fn();
    } catch (e) {
      throw storageError(what, e);
    }
  }

  private shape(sql: string): Database.Statement<unknown[], CommandRow> {
    let st = this.shapes.get(sql);
    if (!st) {
      st = this.db.prepare<unknown[], CommandRow>(sql);
      this.shapes.set(sql, st);
    }
    return st;
  }

  /** One transaction for every queued call; each call in a savepoint, failing alone. */
  private commit(ops: Op[]): void {
    try {
      this.db.transaction(() => {
        for (const op of ops) {
          try {
            this.db.transaction(() => {
              if (op.kind === 'add') this.insert(op);
              else this.move(op);
              this.journalIn(op.out);
            })();
          } catch (e) {
            op.out = [];
            op.error = e instanceof TwinloopError ? e : storageError('Cannot store commands', e);
          }
        }
      })();
    } catch (e) {
      throw storageError('Cannot store commands', e);
    }
  }

  private insert(op: Extract<Op, { kind: 'add' }>): void {
    const out: CommandRecord[] = [];
    for (const { c, request } of op.items) {
      const steps = JSON.stringify([{ state: 'queued', at: c.createdAt }]);
      let seq: number;
      try {
        seq = this.s.insert.get(
          c.workspace,
          c.requestId,
          c.twinId,
          c.command,
          request,
          c.createdAt,
          c.expiresAt,
          c.requestedBy ?? null,
          steps,
          c.createdAt,
        )!.seq;
      } catch (e) {
        if (isUnique(e)) throw duplicateCommand(c.workspace, c.requestId);
        throw e;
      }
      out.push(
        commandFromRow({
          seq,
          workspace: c.workspace,
          request_id: c.requestId,
          twin_id: c.twinId,
          command: c.command,
          request,
          created_at: c.createdAt,
          expires_at: c.expiresAt,
          requested_by: c.requestedBy ?? null,
          state: 'queued',
          steps,
          status: null,
          response: null,
          reason: null,
        }),
      );
    }
    op.out = out;
  }

  private move(op: Extract<Op, { kind: 'transition' }>): void {
    op.out = op.items.map(({ t, response }) => {
      const r = this.s.transition.get({
        to: t.to,
        at: t.at,
        status: t.status ?? null,
        response,
        reason: t.reason ?? null,
        workspace: t.workspace,
        requestId: t.requestId,
        from: JSON.stringify(t.from),
      });
      return r ? commandFromRow(r) : undefined;
    });
  }
}
