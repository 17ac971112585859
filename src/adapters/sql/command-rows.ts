/**
 * What both SQL command stores share (adapters/sqlite/sqlite-command-store.ts,
 * adapters/postgres/pg-command-store.ts): the checks a command or a transition passes before it is
 * written, its JSON payloads as text, the row a record is read from, and the reason an expired
 * command is given.
 *
 * Payloads (request, response) are kept as JSON text: NULL in the column when absent, the text
 * `null` when the value is null. They are serialised when the caller hands them over, so a value
 * that is not JSON (a cycle, a BigInt, nesting too deep to serialise) rejects that caller only and
 * never the group commit it would have joined. Parsing gives plain data: a `__proto__` key is an own
 * property of the parsed object, never its prototype.
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type {
  CommandRecord,
  CommandState,
  CommandStep,
  CommandTransition,
  NewCommand,
} from '../../core/ports/command-store.js';
import { COMMAND_STATES } from '../../core/ports/command-store.js';

/** Largest page `list` answers (the port: adapters cap it at 1000). */
export const MAX_COMMAND_PAGE = 1000;

export { COMMAND_STATES };

const STATE_SET = new Set<string>(COMMAND_STATES);

/** The reason an open command is given when it expires: what it was still waiting for. */
export function expiredReason(state: CommandState): string {
  switch (state) {
    case 'queued':
      return 'Expired while queued: the device did not connect (or earlier commands of the twin were still open) before the expiry, so it was never sent.';
    case 'sent':
      return 'Expired while sent: no acknowledgement or response came from the device before the expiry (it may never have reached it).';
    default:
      return 'Expired while acknowledged: the device confirmed receipt but sent no final response before the expiry.';
  }
}

/** A new command checked and with its payload as JSON text (null: no request). */
export interface PreparedCommand {
  c: NewCommand;
  request: string | null;
}

/** A transition checked, with its response as JSON text (null: none given). */
export interface PreparedTransition {
  t: CommandTransition;
  response: string | null;
}

function bad(message: string, cause?: unknown): TwinloopError {
  return new TwinloopError('BadRequest', message, cause === undefined ? undefined : { cause });
}

function isString(v: unknown): v is string {
  return typeof v === 'string';
}

function checkTime(what: string, v: unknown, problems: string[]): void {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    problems.push(`${what} must be an integer (ms since epoch)`);
  }
}

function checkState(what: string, v: unknown, problems: string[]): void {
  if (!isString(v) || !STATE_SET.has(v)) problems.push(`${what} is not a command state`);
}

/**
 * The payload as JSON text. @throws BadRequest when it cannot be serialised (a cycle, a BigInt,
 * nesting too deep for the serialiser) or is not a JSON value at all (a function, a symbol).
 */
export function jsonText(what: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw bad(`The command's ${what} is not JSON: ${(e as Error).message.slice(0, 200)}`, e);
  }
  if (text === undefined) throw bad(`The command's ${what} is not a JSON value (${typeof value}).`);
  return text;
}

/** Checks a command before it is stored. @throws BadRequest naming every problem. */
export function prepareCommand(c: NewCommand): PreparedCommand {
  const problems: string[] = [];
  if (c === null || typeof c !== 'object') throw bad('A command must be an object.');
  for (const k of ['workspace', 'requestId', 'twinId', 'command'] as const) {
    if (!isString(c[k]) || c[k].length === 0) problems.push(`${k} must be a non-empty string`);
  }
  checkTime('createdAt', c.createdAt, problems);
  checkTime('expiresAt', c.expiresAt, problems);
  if (c.requestedBy !== undefined && !isString(c.requestedBy)) problems.push('requestedBy must be a string');
  if (problems.length) throw bad(`Cannot store the command: ${problems.join('; ')}.`);
  return { c, request: c.request === undefined ? null : jsonText('request', c.request) };
}

/** Checks a transition before it is applied. @throws BadRequest naming every problem. */
export function prepareTransition(t: CommandTransition): PreparedTransition {
  const problems: string[] = [];
  if (t === null || typeof t !== 'object') throw bad('A command transition must be an object.');
  if (!isString(t.workspace)) problems.push('workspace must be a string');
  if (!isString(t.requestId)) problems.push('requestId must be a string');
  if (!Array.isArray(t.from)) problems.push('from must be an array of command states');
  else t.from.forEach((s, i) => checkState(`from[${i}]`, s, problems));
  checkState('to', t.to, problems);
  checkTime('at', t.at, problems);
  if (t.status !== undefined && (typeof t.status !== 'number' || !Number.isSafeInteger(t.status))) {
    problems.push('status must be an integer');
  }
  if (t.reason !== undefined && !isString(t.reason)) problems.push('reason must be a string');
  if (problems.length) throw bad(`Cannot apply the command transition: ${problems.join('; ')}.`);
  return { t, response: t.response === undefined ? null : jsonText('response', t.response) };
}

/** A command's row as both stores read it (steps: JSON text in SQLite, parsed jsonb in PostgreSQL). */
export interface CommandRow {
  seq: number;
  workspace: string;
  request_id: string;
  twin_id: string;
  command: string;
  request: string | null;
  created_at: number;
  expires_at: number;
  requested_by: string | null;
  state: string;
  steps: string | CommandStep[];
  status: number | null;
  response: string | null;
  reason: string | null;
}

export function commandFromRow(r: CommandRow): CommandRecord {
  const rec: CommandRecord = {
    workspace: r.workspace,
    requestId: r.request_id,
    twinId: r.twin_id,
    command: r.command,
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    seq: Number(r.seq),
    state: r.state as CommandState,
    steps: typeof r.steps === 'string' ? (JSON.parse(r.steps) as CommandStep[]) : r.steps,
  };
  if (r.request !== null) rec.request = JSON.parse(r.request) as unknown;
  if (r.requested_by !== null) rec.requestedBy = r.requested_by;
  if (r.status !== null) rec.status = Number(r.status);
  if (r.response !== null) rec.response = JSON.parse(r.response) as unknown;
  if (r.reason !== null) rec.reason = r.reason;
  return rec;
}

/** Checks a list's limit and caps it. @throws BadRequest when it is not a positive integer. */
export function pageLimit(limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
    throw bad(`limit must be a positive integer (got ${String(limit).slice(0, 40)}).`);
  }
  return Math.min(limit, MAX_COMMAND_PAGE);
}

/** Checks a state filter. @throws BadRequest when it holds something that is not a state. */
export function stateFilter(states: readonly CommandState[] | undefined): CommandState[] | undefined {
  if (states === undefined) return undefined;
  const problems: string[] = [];
  if (!Array.isArray(states)) throw bad('states must be an array of command states.');
  states.forEach((s, i) => checkState(`states[${i}]`, s, problems));
  if (problems.length) throw bad(`Cannot filter commands: ${problems.join('; ')}.`);
  return [...new Set(states)];
}

/** Checks expireDue's arguments. @throws BadRequest */
export function checkExpireArgs(now: number, limit: number): void {
  const problems: string[] = [];
  checkTime('now', now, problems);
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0) {
    problems.push('limit must be a non-negative integer');
  }
  if (problems.length) throw bad(`Cannot expire commands: ${problems.join('; ')}.`);
}

/** The error for a requestId already stored in the workspace (or given twice in one call). */
export function duplicateCommand(workspace: string, requestId: string): TwinloopError {
  return new TwinloopError(
    'Conflict',
    `A command with requestId '${requestId.slice(0, 200)}' is already stored in workspace '${workspace.slice(0, 200)}'.`,
  );
}

/**
 * Prune's argument as an integer that selects the same commands (step times are integers), within
 * the safe range. @throws BadRequest when it is not a number.
 */
export function pruneBefore(before: number): number {
  if (typeof before !== 'number' || Number.isNaN(before)) {
    throw bad('Cannot prune commands: before must be a number (ms since epoch).');
  }
  return Math.min(Number.MAX_SAFE_INTEGER, Math.max(Number.MIN_SAFE_INTEGER, Math.ceil(before)));
}

/** Checks the string arguments of a read (workspace, requestId, twinId). @throws BadRequest */
export function checkText(fields: Record<string, unknown>): void {
  const wrong = Object.entries(fields)
    .filter(([, v]) => typeof v !== 'string')
    .map(([k]) => k);
  if (wrong.length) throw bad(`${wrong.join(', ')} must be ${wrong.length > 1 ? 'strings' : 'a string'}.`);
}
