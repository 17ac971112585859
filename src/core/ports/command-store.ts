/**
 * Durable commands (docs/control.md): every command sent to a twin's device is stored with its
 * lifecycle, so a restart (or a `kill -9`) loses none and sends none twice.
 *
 *   queued ──► sent ──► acknowledged ──► succeeded | failed
 *     │         │            │
 *     └─────────┴────────────┴──► expired (its expiry passed) ; queued ──► cancelled
 *
 * - queued: stored, not yet handed to the device (it is offline, or earlier commands are ahead);
 * - sent: handed to the broker for the device's session. Stored *before* it is published: delivery
 *   is at most once (a crash right after storing loses that one command: it expires unanswered);
 * - acknowledged: the device confirmed receipt (a 202 response or, on the embedded broker with a
 *   persistent session, its MQTT PUBACK);
 * - succeeded / failed: the device's final response (status, payload), or why it is failed;
 * - expired / cancelled: no answer before its expiry; cancelled by a user while still queued.
 *
 * Adapters: SQLite (adapters/sqlite/sqlite-command-store.ts) and PostgreSQL, both checked by
 * command-store.contract.ts.
 */

import type { OutboxRow } from './event-routing.js';

import type { CommandState } from './command-state.js';

export type { CommandState };
export { COMMAND_STATES } from './command-state.js';

/** States a command can still leave. */
export const OPEN_COMMAND_STATES: readonly CommandState[] = ['queued', 'sent', 'acknowledged'];

/** States it never leaves. */
export const FINAL_COMMAND_STATES: readonly CommandState[] = ['succeeded', 'failed', 'expired', 'cancelled'];

export function isOpenCommandState(s: CommandState): boolean {
  return s === 'queued' || s === 'sent' || s === 'acknowledged';
}

/** One state the command reached, and when (ms since epoch). */
export interface CommandStep {
  state: CommandState;
  at: number;
}

/** A command as it is about to be stored (state queued). */
export interface NewCommand {
  workspace: string;
  /** A UUID made by the caller (it is also the MQTT 5 correlation data). */
  requestId: string;
  twinId: string;
  /** The command's name (a component's command: `component/name`). */
  command: string;
  /** The request payload as validated against the model; absent when the command takes none. */
  request?: unknown;
  /** ms since epoch. */
  createdAt: number;
  /** When it expires unless finished, ms since epoch. */
  expiresAt: number;
  /** Who asked (a user name, `cli`, `api`, a rule id): shown with the command. */
  requestedBy?: string;
}

export interface CommandRecord extends NewCommand {
  /** Increasing per store: the order commands of one twin are sent in. */
  seq: number;
  state: CommandState;
  /** Every state reached, oldest first (the first is always queued, at createdAt). */
  steps: CommandStep[];
  /** The device's HTTP-like status (from its response). */
  status?: number;
  /** The device's response payload. */
  response?: unknown;
  /** Why it failed, expired or was cancelled (human-readable). */
  reason?: string;
}

/**
 * A compare-and-set step: applied only when the command's current state is one of `from` (so
 * concurrent answers, a late response after expiry, or a duplicate, change nothing).
 */
export interface CommandTransition {
  workspace: string;
  requestId: string;
  from: readonly CommandState[];
  to: CommandState;
  /** ms since epoch; appended to steps. */
  at: number;
  status?: number;
  response?: unknown;
  reason?: string;
}

export interface CommandQuery {
  workspace: string;
  twinId?: string;
  /** Only commands in these states. */
  states?: readonly CommandState[];
  /** Newest first; at most this many (adapters cap it at 1000). */
  limit: number;
  /** Only commands with a smaller seq (paging back). */
  beforeSeq?: number;
}

/** Event-route rows for commands just changed (computed inside the store's transaction). */
export type CommandJournal = (changed: readonly CommandRecord[]) => readonly OutboxRow[];

export interface CommandStore {
  /**
   * Journals every change (add, transition, expiry) for event routes: the rows `journal` gives are
   * written in the same transaction as the change, so a route sees every step of every command
   * that was stored, and none that was not. Undefined: nothing is journaled.
   */
  setJournal(journal: CommandJournal | undefined): void;
  /** Stores new commands as queued, in the order given; resolves on commit to the stored records. */
  add(commands: readonly NewCommand[]): Promise<CommandRecord[]>;
  /**
   * Applies transitions in the order given, each atomically (compare-and-set on `from`); resolves
   * on commit to the updated record, or undefined where the command is absent or not in `from`.
   * Concurrent calls may share one commit.
   */
  transition(transitions: readonly CommandTransition[]): Promise<(CommandRecord | undefined)[]>;
  get(workspace: string, requestId: string): Promise<CommandRecord | undefined>;
  /** Newest first. */
  list(q: CommandQuery): Promise<CommandRecord[]>;
  /** One twin's commands in these states (default: the open ones), oldest first (by seq). */
  pending(workspace: string, twinId: string, states?: readonly CommandState[]): Promise<CommandRecord[]>;
  /** Every twin with at least one queued command (for the drain when its device connects). */
  queuedTwins(): Promise<{ workspace: string; twinId: string }[]>;
  /**
   * Moves open commands whose expiresAt ≤ now to expired (reason: what it was waiting for), at most
   * `limit` of them, oldest expiry first; resolves to them as updated.
   */
  expireDue(now: number, limit: number): Promise<CommandRecord[]>;
  /** Open commands per state in a workspace (for metrics and the status page). */
  countOpen(workspace: string): Promise<Record<'queued' | 'sent' | 'acknowledged', number>>;
  /** Deletes finished commands whose last step is older than `before` (ms); resolves to how many. */
  prune(before: number): Promise<number>;
}
