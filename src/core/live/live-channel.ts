/**
 * One stream of events shared by every subscription that asks for the same thing (same workspace,
 * filter and types): events routed to it are serialised once, sealed into a chunk of UTF-8 bytes
 * per drain, and each member subscription reads the chunks from its own cursor. A member whose
 * transport keeps up costs a frame per drain; one that does not read costs nothing per event.
 *
 * The log is bounded in bytes (`maxBytes`): when it is over, the oldest chunk is dropped even if
 * members have not read it. Those members are then *lagged*: what they missed is folded into a
 * catch-up (latest values per twin, lifecycle events in order, bounded — live-catch-up.ts) that
 * they receive, after a `dropped` notice, once their transport drains. While any member is lagged
 * every chunk leaving the log is folded, so the catch-up always holds the latest values up to the
 * log's head.
 */
import type { LiveDelivered } from './live-filters.js';
import type { CatchUpLimits } from './live-catch-up.js';
import { CatchUpQueue } from './live-catch-up.js';

const utf8 = new TextEncoder();

/**
 * A chunk's events as JSON, comma-separated, without brackets: one JSON.stringify of the whole
 * array. Measured here, it costs less than half of stringifying each event and caching it for the
 * other channels (a WeakMap entry per event), so it wins unless an event travels in three or more
 * channels; equal subscriptions already share one channel.
 */
function eventsJson(events: readonly LiveDelivered[]): string {
  return JSON.stringify(events).slice(1, -1);
}

export interface LiveChunk {
  seq: number;
  /**
   * The events' JSON, comma-separated, without brackets; undefined while no reader could take the
   * chunk (every transport was behind when it was sealed): it is made when first read, and never
   * for a chunk that is folded into a catch-up unread.
   */
  bytes: Uint8Array | undefined;
  /** Bytes counted against the bound: exact once serialised, estimated before. */
  size: number;
  events: readonly LiveDelivered[];
}

/** One subscription reading a channel. */
export interface ChannelMember {
  readonly subId: string;
  /** True when its transport can take a frame now (below its high-water mark). */
  ready(): boolean;
  /** Seq of the next chunk to send. */
  cursor: number;
  /** True once the log dropped chunks it had not read: a catch-up is owed. */
  lagged: boolean;
  /** Events missed since it lagged, and how many of those the catch-up could not keep. */
  missed: number;
  overflowed: number;
  /** Called with the counts as chunks are folded (session and hub counters). */
  onFold(missed: number, overflowed: number): void;
}

export class LiveChannel {
  readonly members = new Set<ChannelMember>();
  private openEvents: LiveDelivered[] = [];
  private log: LiveChunk[] = [];
  /** Serialised bytes per event seen so far, to estimate chunks not serialised yet. */
  private bytesPerEvent = 200;
  private nextSeq = 0;
  private logBytes = 0;
  private catchUp: CatchUpQueue | undefined;
  /** The catch-up serialised at a version, shared by readers that catch up before the next fold. */
  private catchUpJson: { version: number; json: string } | undefined;

  constructor(
    private readonly maxBytes: number,
    private readonly catchUpLimits: CatchUpLimits,
  ) {}

  /** Bytes held in the log now. */
  get bytes(): number {
    return this.logBytes;
  }

  /** Adds an event to the chunk being built. */
  append(ev: LiveDelivered): void {
    this.openEvents.push(ev);
  }

  /** Closes the chunk being built (end of a drain); serialises it when a reader can take it now. */
  seal(): void {
    if (this.openEvents.length === 0) return;
    const chunk: LiveChunk = { seq: this.nextSeq++, bytes: undefined, size: 0, events: this.openEvents };
    this.openEvents = [];
    let hot = false;
    for (const m of this.members) hot ||= !m.lagged && m.ready();
    if (hot) this.serialise(chunk);
    else chunk.size = Math.ceil(chunk.events.length * this.bytesPerEvent);
    this.log.push(chunk);
    this.logBytes += chunk.size;
  }

  private serialise(chunk: LiveChunk): Uint8Array {
    if (chunk.bytes !== undefined) return chunk.bytes;
    const bytes = utf8.encode(eventsJson(chunk.events));
    chunk.bytes = bytes;
    this.logBytes += bytes.length - chunk.size;
    chunk.size = bytes.length;
    this.bytesPerEvent = 0.9 * this.bytesPerEvent + (0.1 * bytes.length) / chunk.events.length;
    return bytes;
  }

  /** A new member starts at the next chunk (it gets what is committed from now on). */
  join(member: Omit<ChannelMember, 'cursor' | 'lagged' | 'missed' | 'overflowed'>): ChannelMember {
    const m: ChannelMember = { ...member, cursor: this.nextSeq, lagged: false, missed: 0, overflowed: 0 };
    this.members.add(m);
    return m;
  }

  leave(m: ChannelMember): void {
    this.members.delete(m);
    this.forgetCatchUpUnlessLagging();
    this.trim();
  }

  /** The catch-up is kept only while some member lags (it is what they are owed). */
  private forgetCatchUpUnlessLagging(): void {
    for (const o of this.members) if (o.lagged) return;
    this.catchUp = undefined;
    this.catchUpJson = undefined;
  }

  /** True when the member has chunks to read or a catch-up owed. */
  pending(m: ChannelMember): boolean {
    return m.lagged || m.cursor < this.nextSeq;
  }

  /** Events sealed and not yet read by the member (for stats). */
  queuedFor(m: ChannelMember): number {
    let n = m.lagged ? (this.catchUp?.size ?? 0) : 0;
    for (const c of this.log) if (c.seq >= m.cursor) n += c.events.length;
    return n;
  }

  /**
   * The catch-up owed to a lagged member (latest values, in order) with its counts; the member is
   * then back in step, at the log's head.
   */
  takeCatchUp(m: ChannelMember): { count: number; json: string; missed: number; overflowed: number } {
    const c = this.catchUp;
    if (c !== undefined && this.catchUpJson?.version !== c.version)
      this.catchUpJson = { version: c.version, json: c.serialise() };
    const out = {
      count: c?.size ?? 0,
      json: c !== undefined ? (this.catchUpJson as { json: string }).json : '',
      missed: m.missed,
      overflowed: m.overflowed,
    };
    m.lagged = false;
    m.missed = 0;
    m.overflowed = 0;
    this.forgetCatchUpUnlessLagging();
    return out;
  }

  /** The next chunks from the member's cursor, about `maxEvents` events at most (at least one chunk). */
  take(m: ChannelMember, maxEvents: number): { parts: Uint8Array[]; events: number } {
    const parts: Uint8Array[] = [];
    let events = 0;
    const first = this.log.length ? (this.log[0] as LiveChunk).seq : this.nextSeq;
    for (let i = Math.max(0, m.cursor - first); i < this.log.length; i++) {
      const c = this.log[i] as LiveChunk;
      if (parts.length > 0 && events + c.events.length > maxEvents) break;
      parts.push(this.serialise(c));
      events += c.events.length;
      m.cursor = c.seq + 1;
    }
    return { parts, events };
  }

  /** `n` events were lost before routing (the hub's inbox was full): every member is told so. */
  markLost(n: number): void {
    for (const m of this.members) {
      m.lagged = true;
      m.missed += n;
      m.overflowed += n;
      m.onFold(n, n);
    }
  }

  /**
   * Drops chunks every member has read, then, while the log is over its byte bound (or `maxBytes`,
   * when the hub needs room), the oldest chunks even if unread: their readers become lagged and the
   * chunks are folded into the catch-up.
   */
  trim(maxBytes = this.maxBytes): void {
    while (this.log.length > 0) {
      const head = this.log[0] as LiveChunk;
      let unread = false;
      for (const m of this.members) if (m.cursor <= head.seq) unread = true;
      if (unread && this.logBytes <= maxBytes) return;
      this.log.shift();
      this.logBytes -= head.size;
      if (!unread && this.catchUp === undefined) continue;
      this.catchUp ??= new CatchUpQueue(this.catchUpLimits);
      const overflowed = this.catchUp.fold(head.events);
      for (const m of this.members) {
        if (m.cursor > head.seq) continue;
        m.lagged = true;
        m.cursor = head.seq + 1;
        m.missed += head.events.length;
        m.overflowed += overflowed;
        m.onFold(head.events.length, overflowed);
      }
    }
  }
}
