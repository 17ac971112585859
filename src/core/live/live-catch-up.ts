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

type Mergeable = Extract<LiveDelivered, { type: 'telemetry' | 'propertyChange' }>;

export class CatchUpQueue {
  /** Events held, in stream order (merged ones are copies this queue owns and may change). */
  private entries: LiveDelivered[] = [];
  /** Each entry's JSON, made when a snapshot is serialised; cleared when a merge changes the entry. */
  private json: (string | undefined)[] = [];
  private readonly indexOf = new Map<LiveDelivered, number>();
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

  /** The events held as JSON, comma-separated; only entries changed since the last call are serialised. */
  serialise(): string {
    for (let i = 0; i < this.entries.length; i++) this.json[i] ??= JSON.stringify(this.entries[i]);
    return this.json.join(',');
  }

  private add(ev: LiveDelivered): void {
    if (isMergeable(ev)) {
      const key = ev.type === 'telemetry' ? `t\u0000${ev.component ?? ''}` : 'p';
      const pending = this.mergeIndex.get(ev.twinId)?.get(key);
      if (pending !== undefined) {
        if (pending.type === 'telemetry' && ev.type === 'telemetry') Object.assign(pending.values, ev.values);
        else if (pending.type === 'propertyChange' && ev.type === 'propertyChange')
          pending.patch = mergePatches(pending.patch, ev.patch);
        pending.time = Math.max(pending.time, ev.time);
        this.json[this.indexOf.get(pending) as number] = undefined;
        this.coalesced++;
        return;
      }
      if (this.entries.length >= this.limits.maxEvents) {
        this.overflowed++;
        return;
      }
      const own: Mergeable =
        ev.type === 'telemetry' ? { ...ev, values: { ...ev.values } } : { ...ev, patch: [...ev.patch] };
      this.indexOf.set(own, this.entries.length);
      this.entries.push(own);
      this.json.push(undefined);
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
    this.json.push(undefined);
  }
}
