/**
 * The ports the twin and relationship services write through besides their stores: the models they
 * check against, the history of property changes, the live event bus, and the event-route journal.
 * (Declared in core/twins/twin-write-support.ts before; re-exported there.)
 */
import type { Change } from '../events/change-events.js';
import type { LiveEvent } from '../live/live-events.js';
import type { ModelLookup } from '../models/model-types.js';
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
 * Where committed changes are journaled for event routes: `record` runs inside the store
 * transaction of the write (so the event commits with it, or neither does). @throws StorageError
 */
export interface ChangeJournal {
  record(change: Change): void;
}
