/**
 * One subscriber's bounded outgoing queue. Events are appended as they are routed and sent as
 * frames (one per subscription per flush) while the transport keeps up. When it falls behind
 * (its buffered bytes above the high-water mark, or the queue full), telemetry and property
 * changes are coalesced per twin (and component) into the update still waiting; what cannot be
 * kept is counted and reported to the client as a `dropped` notice, never silently lost.
 */
import type { LiveDelivered } from './live-filters.js';
import { isMergeable } from './live-filters.js';
import { mergePropertyChanges, mergeTelemetry } from './live-coalesce.js';

/** Where a session's frames go (a WebSocket in production). */
export interface LiveSink {
  /** Bytes accepted by send() and not yet written out (WebSocket `bufferedAmount`). */
  readonly bufferedAmount: number;
  /** Sends one text frame; must not throw (transports report their errors themselves). */
  send(frame: string): void;
}

export interface LiveSessionLimits {
  /** Events a session may hold before it is considered behind; mergeable events beyond it are dropped. */
  maxQueue: number;
  /** Extra room for lifecycle and membership events beyond maxQueue (they are never coalesced). */
  lifecycleReserve: number;
  /** Transport bytes in flight above which nothing more is sent and updates are coalesced. */
  highWaterBytes: number;
  /** Most events taken from the queue for one round of frames. */
  maxFrameEvents: number;
}

/** Counts kept per session and summed over the hub (for metrics). */
export interface LiveCounters {
  /** Events handed to the transport. */
  delivered: number;
  /** Events merged into an earlier, still-queued update of the same twin. */
  coalesced: number;
  /** Events discarded because the queue was full (lifecycle ones included). */
  dropped: number;
  framesSent: number;
}

export function emptyCounters(): LiveCounters {
  return { delivered: 0, coalesced: 0, dropped: 0, framesSent: 0 };
}

interface Entry {
  sub: string;
  ev: LiveDelivered;
  /** The event's JSON, shared by every session that got the event unchanged; undefined once merged. */
  json: string | undefined;
  /** Coalescing key within its twin ("telemetry\0component" or "propertyChange"), for mergeable events. */
  key: string | undefined;
  twinKey: string;
}

export class LiveSession {
  readonly counters: LiveCounters = emptyCounters();
  private queue: Entry[] = [];
  private head = 0;
  /** Pending mergeable entries by sub+twin, then by kind+component: where a later update may merge. */
  private readonly mergeIndex = new Map<string, Map<string, Entry>>();
  private noticeCoalesced = 0;
  private noticeDropped = 0;
  private closed = false;

  constructor(
    readonly sink: LiveSink,
    private readonly limits: LiveSessionLimits,
    /** The hub's totals, updated together with this session's counters. */
    private readonly totals: LiveCounters,
  ) {}

  get queued(): number {
    return this.queue.length - this.head;
  }

  /** True when the transport or the queue is saturated: updates are then coalesced. */
  get behind(): boolean {
    return this.sink.bufferedAmount > this.limits.highWaterBytes || this.queued >= this.limits.maxQueue;
  }

  /**
   * Queues one event for subscription `sub`. O(1) apart from a merge of the event's values.
   * `json` is the event's shared serialisation (omit it for an event built for this session only).
   */
  enqueue(sub: string, ev: LiveDelivered, json?: string): void {
    if (this.closed) return;
    const twinKey = `${sub}\u0000${ev.twinId}`;
    if (isMergeable(ev)) {
      const key = ev.type === 'telemetry' ? `t\u0000${ev.component ?? ''}` : 'p';
      const pending = this.mergeIndex.get(twinKey)?.get(key);
      if (pending !== undefined && this.behind) {
        pending.ev =
          ev.type === 'telemetry'
            ? mergeTelemetry(pending.ev as typeof ev, ev)
            : mergePropertyChanges(pending.ev as typeof ev, ev);
        pending.json = undefined;
        this.count('coalesced');
        return;
      }
      if (this.queued >= this.limits.maxQueue) {
        this.count('dropped');
        return;
      }
      const entry: Entry = { sub, ev, json, key, twinKey };
      this.push(entry);
      let byKey = this.mergeIndex.get(twinKey);
      if (byKey === undefined) this.mergeIndex.set(twinKey, (byKey = new Map()));
      byKey.set(key, entry);
      return;
    }
    // Lifecycle and membership events keep their place in the stream: nothing later merges across them.
    if (this.queued >= this.limits.maxQueue + this.limits.lifecycleReserve) {
      this.count('dropped');
      return;
    }
    this.mergeIndex.delete(twinKey);
    this.push({ sub, ev, json, key: undefined, twinKey });
  }

  /**
   * Sends what is queued while the transport is below its high-water mark: a `dropped` notice
   * first when updates were coalesced or dropped since the last one, then one frame per
   * subscription for each round of at most maxFrameEvents events. Returns true when the queue
   * is empty (false: call again once the transport drains).
   */
  flush(): boolean {
    if (this.closed) return true;
    while (this.queued > 0 || this.noticeCoalesced + this.noticeDropped > 0) {
      if (this.sink.bufferedAmount > this.limits.highWaterBytes) return false;
      if (this.noticeCoalesced + this.noticeDropped > 0) {
        const c = this.noticeCoalesced;
        const d = this.noticeDropped;
        this.noticeCoalesced = 0;
        this.noticeDropped = 0;
        this.sink.send(JSON.stringify({ type: 'dropped', count: c + d, coalesced: c, overflowed: d }));
        continue;
      }
      const end = Math.min(this.queue.length, this.head + this.limits.maxFrameEvents);
      // Group this round by subscription, keeping each subscription's order.
      const bySub = new Map<string, string[]>();
      for (let i = this.head; i < end; i++) {
        const e = this.queue[i]!;
        if (e.key !== undefined) {
          const byKey = this.mergeIndex.get(e.twinKey);
          if (byKey?.get(e.key) === e) {
            byKey.delete(e.key);
            if (byKey.size === 0) this.mergeIndex.delete(e.twinKey);
          }
        }
        let list = bySub.get(e.sub);
        if (list === undefined) bySub.set(e.sub, (list = []));
        list.push(e.json ?? JSON.stringify(e.ev));
      }
      this.head = end;
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      } else if (this.head > 4096 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      for (const [sub, events] of bySub) {
        this.sink.send(`{"sub":${JSON.stringify(sub)},"events":[${events.join(',')}]}`);
        this.counters.framesSent++;
        this.totals.framesSent++;
        this.counters.delivered += events.length;
        this.totals.delivered += events.length;
      }
    }
    return true;
  }

  /** Forgets what is queued for one subscription (after unsubscribe). */
  discard(sub: string): void {
    const kept = this.queue.slice(this.head).filter((e) => e.sub !== sub);
    this.queue = kept;
    this.head = 0;
    for (const k of [...this.mergeIndex.keys()]) if (k.startsWith(`${sub}\u0000`)) this.mergeIndex.delete(k);
  }

  close(): void {
    this.closed = true;
    this.queue = [];
    this.head = 0;
    this.mergeIndex.clear();
  }

  private push(e: Entry): void {
    this.queue.push(e);
  }

  private count(what: 'coalesced' | 'dropped'): void {
    this.counters[what]++;
    this.totals[what]++;
    if (what === 'coalesced') this.noticeCoalesced++;
    else this.noticeDropped++;
  }
}
