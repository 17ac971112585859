/**
 * The ports the twin and relationship services write through besides their stores: the models they
 * check against, the history of property changes, the live event bus, and the event-route journal.
 * (Declared in core/twins/twin-write-support.ts before; re-exported there.)
 */
import type { Change } from '../events/change-events.js';
import type { LiveEvent } from '../live/live-events.js';
import type { ModelLookup } from '../models/model-types.js';
import type { OutboxRow } from './event-routing.js';
import type { HistoryPoint } from './storage-ports.js';

/** What the twin service needs to know about models: the resolved interfaces and ADT's decommissioned flag. */
export interface TwinModelPort extends ModelLookup {
  isDecommissioned(id: string): boolean;
}

/** The part of the history store the twin service writes (property changes). */
export interface PropertyHistoryPort {
  append(points: readonly HistoryPoint[]): Promise<void>;
}

/** Where committed changes go (the LiveEventBus). */
export interface LiveEventSink {
  publish(events: readonly LiveEvent[]): void;
}

/**
 * Where changes are journaled for event routes: `outboxRowsOf` turns a change into the outbox rows
 * its events need (route filters, in memory, synchronously) before the commit, so they commit in
 * the write's own transaction (or neither does); `committed` is told after a commit that carried
 * rows (it wakes the delivery).
 */
export interface ChangeJournal {
  outboxRowsOf(change: Change): OutboxRow[];
  committed(): void;
}
