/**
 * What a lagging subscriber is owed, kept per channel once its events no longer fit the channel's
 * log: the latest values per twin (and component) in stream order. Telemetry and property changes
 * merge into the update of their twin still held; lifecycle and membership events keep their place
 * and an update is never merged across one of its twin. Bounded: past `maxEvents` (+
 * `lifecycleReserve` for lifecycle events) what fits nowhere is counted as overflowed, never kept.
 */
import type { LiveDelivered } from './live-filters.js';
import { isMergeable } from './live-filters.js';
import { mergePatches } from './live-coalesce.js';

export interface CatchUpLimits {
  /** Updates held; a new twin's update beyond it overflows. */
  maxEvents: number;
  /** Extra room for lifecycle and membership events (never merged). */
  lifecycleReserve: number;
}

/** Merge key of telemetry without a component. */
const TELEMETRY_KEY = 't\u0000';

type Mergeable = Extract<LiveDelivered, { type: 'telemetry' | 'propertyChange' }>;

export class CatchUpQueue {
  /** Events held, in stream order (merged ones are copies this queue owns and may change). */
  private entries: LiveDelivered[] = [];
  /** Bumped by every fold: a serialised snapshot of this version is still current. */
  version = 0;
  /** Where a later update of a twin may merge: twin, then "t\0component" or "p". */
  private readonly mergeIndex = new Map<string, Map<string, Mergeable>>();
  /** Events that fitted nowhere, since this queue was created. */
  overflowed = 0;
  /** Events merged into an update already held. */
  coalesced = 0;

  constructor(private readonly limits: CatchUpLimits) {}

  get size(): number {
    return this.entries.length;
  }

  /** Folds events in; returns how many of them overflowed. O(1) per event apart from the merge itself. */
  fold(events: readonly LiveDelivered[]): number {
    this.version++;
    const before = this.overflowed;
    for (const ev of events) this.add(ev);
    return this.overflowed - before;
  }

  /**
   * The events held as one JSON array text: one JSON.stringify of the whole array. A snapshot is
   * made at most once per interval and, under a stream fast enough to make readers lag, nearly every
   * entry has merged again since the last one, so keeping each entry's JSON (one call per entry,
   * an index per merge to invalidate it) cost more than it saved.
   */
  serialise(): string {
    return JSON.stringify(this.entries);
  }

  private add(ev: LiveDelivered): void {
    if (isMergeable(ev)) {
      // No key string made per event for the usual telemetry without a component.
      const key =
        ev.type !== 'telemetry' ? 'p' : ev.component === undefined ? TELEMETRY_KEY : `t\u0000${ev.component}`;
      const pending = this.mergeIndex.get(ev.twinId)?.get(key);
      if (pending !== undefined) {
        if (pending.type === 'telemetry' && ev.type === 'telemetry') Object.assign(pending.values, ev.values);
        else if (pending.type === 'propertyChange' && ev.type === 'propertyChange')
          pending.patch = mergePatches(pending.patch, ev.patch);
        pending.time = Math.max(pending.time, ev.time);
        this.coalesced++;
        return;
      }
      if (this.entries.length >= this.limits.maxEvents) {
        this.overflowed++;
        return;
      }
      const own: Mergeable =
        ev.type === 'telemetry' ? { ...ev, values: { ...ev.values } } : { ...ev, patch: [...ev.patch] };
      this.entries.push(own);
      let byKey = this.mergeIndex.get(ev.twinId);
      if (byKey === undefined) this.mergeIndex.set(ev.twinId, (byKey = new Map()));
      byKey.set(key, own);
      return;
    }
    if (this.entries.length >= this.limits.maxEvents + this.limits.lifecycleReserve) {
      this.overflowed++;
      return;
    }
    // Nothing later merges across a lifecycle event of its twin.
    this.mergeIndex.delete(ev.twinId);
    this.entries.push(ev);
  }
}
