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
 *
 * A catch-up is a snapshot of every twin the channel's laggers missed, and merging keeps changing
 * it, so each one is serialised afresh. A channel therefore makes at most one snapshot per
 * `catchUpIntervalMs`: laggers that could read in between wait (costing nothing) and then share the
 * next one. A reader too slow for the raw stream gets latest values at that bounded rate instead
 * of costing the ingest thread a fresh snapshot every time its socket drains.
 *
 * Each reader also backs off on its own: one that lags again soon after a catch-up (within twice its
 * current interval) waits twice as long for the next, up to `maxCatchUpIntervalMs`; one that stayed
 * in step longer than that starts again from `catchUpIntervalMs`. A reader that keeps up is never
 * slowed; one that cannot keep up converges to latest values about once per maximum interval, so
 * the bytes it costs the ingest thread fall with its own pace instead of staying at the full rate.
 */
import type { LiveDelivered } from './live-filters.js';
import type { ValuesJson } from './live-events.js';
import type { TelemetryWriter } from './event-json.js';
import type { CatchUpLimits } from './live-catch-up.js';
import { CatchUpQueue } from './live-catch-up.js';

const COMMA = 0x2c;
const CLOSE_BRACE = 0x7d;
/** `]}`: closes the events array and the frame. */
const FRAME_END: Uint8Array = Buffer.from(']}');

/**
 * A frame body for events given as one JSON array text `[…]`: its UTF-8 bytes without the `[`,
 * followed by `}` — `…]}` — written straight into one buffer (no sliced copy, no second pass to
 * append the frame end). Used for catch-up snapshots (one JSON text made by the catch-up).
 */
export function bodyOfArrayJson(json: string): Uint8Array {
  const n = Buffer.byteLength(json);
  // Not from the shared pool: a chunk held in the log must not pin a pool slab of other data.
  const out = Buffer.allocUnsafeSlow(n + 1);
  out.write(json, 0, n, 'utf8');
  out[n] = CLOSE_BRACE;
  return out.subarray(1);
}

/**
 * A frame body for events — each one's JSON, comma-separated, then `]}` — the same bytes as
 * `bodyOfArrayJson(JSON.stringify(events))`, made event by event straight into one buffer: the
 * JSON text of a whole chunk is a rope of many pieces that V8 must flatten (copy) before it can
 * be encoded, which cost as much as serialising it; a short text per event is encoded as it is
 * (2.2 → 1.5 µs per event in isolation, on 1,000 pump events). `bytesPerEvent` sizes the buffer; it grows when short, and a result much smaller
 * than its buffer is copied out so the log does not hold the slack.
 *
 * With `valuesJson` (by event index, live-events.ts) and a `writer`, a device's telemetry event
 * whose text fits is written from its twin's cached prefix and the device's own text of the values
 * (event-json.ts: 1.1 → 0.26 µs per pump event in isolation); it then parses to the same value as
 * its JSON.stringify, spelled as the device spelled its values.
 */
export function bodyOfEvents(
  events: readonly unknown[],
  bytesPerEvent: number,
  valuesJson?: ValuesJson,
  writer?: TelemetryWriter,
): Uint8Array {
  let out = Buffer.allocUnsafeSlow(Math.ceil(events.length * bytesPerEvent * 1.25) + 16);
  let at = 0;
  for (let i = 0; i < events.length; i++) {
    const json = valuesJson?.[i];
    if (json !== undefined && writer !== undefined) {
      const ev = events[i] as LiveDelivered;
      if (writer.accepts(ev, json)) {
        const need = at + 1 + writer.bound(json) + FRAME_END.length;
        if (need > out.length) out = grown(out, at, need);
        if (i > 0) out[at++] = COMMA;
        at = writer.write(out, at, ev.time, json);
        continue;
      }
    }
    // As JSON.stringify does for an array element that has no JSON form.
    const text = JSON.stringify(events[i]) ?? 'null';
    // A UTF-16 unit takes at most 3 bytes in UTF-8 (a surrogate pair: 4 for 2 units).
    const need = at + 3 * text.length + 3;
    if (need > out.length) out = grown(out, at, need);
    if (i > 0) out[at++] = COMMA;
    at += out.write(text, at, 'utf8');
  }
  out.set(FRAME_END, at);
  at += FRAME_END.length;
  // The buffer is sized 1.25× the estimate: a usual chunk fills 80 % of it and is kept as it is (a
  // copy of every chunk cost ~0.1 µs per event); the log counts the whole buffer (LiveChannel.serialise).
  if (at >= out.length * 0.7) return out.subarray(0, at);
  const exact = Buffer.allocUnsafeSlow(at);
  out.copy(exact, 0, 0, at);
  return exact;
}

/** A larger buffer holding `out`'s first `at` bytes. */
function grown(out: Buffer<ArrayBuffer>, at: number, need: number): Buffer<ArrayBuffer> {
  const next = Buffer.allocUnsafeSlow(Math.max(2 * out.length, need));
  out.copy(next, 0, 0, at);
  return next;
}

/**
 * A frame's body from several chunks' bodies (each `…]}`): their events joined with commas, then
 * `]}`. Each subscriber's frame is its own head (`{"sub":…,"events":[`) followed by a body its
 * channel's readers share. One chunk's body is used as it is.
 */
function frameBody(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  let size = FRAME_END.length;
  for (const p of parts) size += p.length - FRAME_END.length + 1;
  size -= 1;
  const body = new Uint8Array(size);
  let at = 0;
  parts.forEach((p, i) => {
    if (i > 0) body[at++] = COMMA;
    body.set(p.subarray(0, p.length - FRAME_END.length), at);
    at += p.length - FRAME_END.length;
  });
  body.set(FRAME_END, at);
  return body;
}

export interface LiveChunk {
  seq: number;
  /**
   * The events' JSON, comma-separated, then `]}` (a frame body on its own); undefined while no
   * reader could take the chunk (every transport was behind when it was sealed): it is made when first read, and never
   * for a chunk that is folded into a catch-up unread.
   */
  bytes: Uint8Array | undefined;
  /** Bytes counted against the bound: exact once serialised, estimated before. */
  size: number;
  events: readonly LiveDelivered[];
  /** Beside `events`: device texts of their values, where ingestion gave them (live-events.ts). */
  valuesJson: ValuesJson | undefined;
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
  /** Least time between two catch-ups of this reader, ms: its own back-off (see the header). */
  catchUpEvery: number;
  /** When it last took a catch-up (clock ms; -Infinity: never). */
  lastCatchUpAt: number;
}

/** A member's fields the channel keeps (join() sets them). */
type MemberState = 'cursor' | 'lagged' | 'missed' | 'overflowed' | 'catchUpEvery' | 'lastCatchUpAt';

export class LiveChannel {
  readonly members = new Set<ChannelMember>();
  private openEvents: LiveDelivered[] = [];
  private openJson: string[] | undefined;
  private log: LiveChunk[] = [];
  /** Serialised bytes per event seen so far, to estimate chunks not serialised yet. */
  private bytesPerEvent = 200;
  private nextSeq = 0;
  private logBytes = 0;
  private catchUp: CatchUpQueue | undefined;
  /** The catch-up's frame body at a version, shared by readers that catch up before the next fold. */
  private catchUpBytes: { version: number; bytes: Uint8Array } | undefined;
  /** The last frame body made from the log, for the chunks `from`..`to`: readers in step share it. */
  private lastBody: { from: number; to: number; body: Uint8Array } | undefined;
  /** When the last catch-up snapshot was serialised (clock ms). */
  private lastSnapshotAt = -Infinity;

  constructor(
    private readonly maxBytes: number,
    private readonly catchUpLimits: CatchUpLimits,
    /** Least time between two catch-up snapshots, ms (0: none). */
    private readonly catchUpIntervalMs = 0,
    private readonly clock: () => number = () => performance.now(),
    /** Most a reader's back-off grows to, ms (at least catchUpIntervalMs). */
    private readonly maxCatchUpIntervalMs = catchUpIntervalMs,
    /** Writes device events from their own texts (per-twin prefixes shared by a hub's channels); without it, texts are not used. */
    private readonly writer?: TelemetryWriter,
  ) {}

  /** Bytes held in the log now. */
  get bytes(): number {
    return this.logBytes;
  }

  /** Adds an event to the chunk being built, with the device's text of its values when known. */
  append(ev: LiveDelivered, valuesJson?: string): void {
    if (valuesJson !== undefined && this.writer !== undefined)
      (this.openJson ??= [])[this.openEvents.length] = valuesJson;
    this.openEvents.push(ev);
  }

  /** Closes the chunk being built (end of a drain); serialises it when a reader can take it now. */
  seal(): void {
    if (this.openEvents.length === 0) return;
    const chunk: LiveChunk = {
      seq: this.nextSeq++,
      bytes: undefined,
      size: 0,
      events: this.openEvents,
      valuesJson: this.openJson,
    };
    this.openEvents = [];
    this.openJson = undefined;
    let hot = false;
    for (const m of this.members) hot ||= !m.lagged && m.ready();
    if (hot) this.serialise(chunk);
    else chunk.size = Math.ceil(chunk.events.length * this.bytesPerEvent);
    this.log.push(chunk);
    this.logBytes += chunk.size;
  }

  private serialise(chunk: LiveChunk): Uint8Array {
    if (chunk.bytes !== undefined) return chunk.bytes;
    const bytes = bodyOfEvents(chunk.events, this.bytesPerEvent, chunk.valuesJson, this.writer);
    chunk.bytes = bytes;
    chunk.valuesJson = undefined;
    // The memory held, slack included (bodyOfEvents keeps up to 30 % of it).
    const held = bytes.buffer.byteLength;
    this.logBytes += held - chunk.size;
    chunk.size = held;
    this.bytesPerEvent = 0.9 * this.bytesPerEvent + (0.1 * bytes.length) / chunk.events.length;
    return bytes;
  }

  /** A new member starts at the next chunk (it gets what is committed from now on). */
  join(member: Omit<ChannelMember, MemberState>): ChannelMember {
    const m: ChannelMember = {
      ...member,
      cursor: this.nextSeq,
      lagged: false,
      missed: 0,
      overflowed: 0,
      catchUpEvery: this.catchUpIntervalMs,
      lastCatchUpAt: -Infinity,
    };
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
    this.catchUpBytes = undefined;
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
   * True when a lagged member may take its catch-up now: its own back-off has passed since its last
   * one, and the snapshot held is current or the last one is at least `catchUpIntervalMs` old
   * (otherwise it waits and shares the next).
   */
  catchUpReady(m: ChannelMember): boolean {
    const now = this.clock();
    if (now - m.lastCatchUpAt < m.catchUpEvery) return false;
    const c = this.catchUp;
    if (c === undefined || this.catchUpBytes?.version === c.version) return true;
    return now - this.lastSnapshotAt >= this.catchUpIntervalMs;
  }

  /**
   * The catch-up owed to a lagged member (latest values, in order) as a frame body, with its
   * counts; the member is then back in step, at the log's head.
   */
  takeCatchUp(m: ChannelMember): { count: number; body: Uint8Array; missed: number; overflowed: number } {
    const c = this.catchUp;
    if (c !== undefined && this.catchUpBytes?.version !== c.version) {
      this.catchUpBytes = { version: c.version, bytes: bodyOfArrayJson(c.serialise()) };
      this.lastSnapshotAt = this.clock();
    }
    const out = {
      count: c?.size ?? 0,
      body: c !== undefined ? (this.catchUpBytes as { bytes: Uint8Array }).bytes : FRAME_END,
      missed: m.missed,
      overflowed: m.overflowed,
    };
    m.lagged = false;
    m.missed = 0;
    m.overflowed = 0;
    m.lastCatchUpAt = this.clock();
    this.forgetCatchUpUnlessLagging();
    return out;
  }

  /**
   * The next chunks from the member's cursor, about `maxEvents` events at most (at least one
   * chunk), as a frame body; readers taking the same chunks share one body.
   */
  take(m: ChannelMember, maxEvents: number): { body: Uint8Array; events: number } {
    const first = this.log.length ? (this.log[0] as LiveChunk).seq : this.nextSeq;
    const from = Math.max(0, m.cursor - first);
    let to = from;
    let events = 0;
    for (; to < this.log.length; to++) {
      const c = this.log[to] as LiveChunk;
      if (to > from && events + c.events.length > maxEvents) break;
      events += c.events.length;
    }
    if (to === from) return { body: FRAME_END, events: 0 };
    const fromSeq = (this.log[from] as LiveChunk).seq;
    const toSeq = (this.log[to - 1] as LiveChunk).seq;
    m.cursor = toSeq + 1;
    const last = this.lastBody;
    if (last !== undefined && last.from === fromSeq && last.to === toSeq) return { body: last.body, events };
    const parts: Uint8Array[] = [];
    for (let i = from; i < to; i++) parts.push(this.serialise(this.log[i] as LiveChunk));
    const body = frameBody(parts);
    this.lastBody = { from: fromSeq, to: toSeq, body };
    return { body, events };
  }

  /**
   * The member falls behind. Lagging again within twice its interval of its last catch-up doubles
   * its back-off (up to the maximum); after a longer stretch in step it starts from the base again.
   */
  private lag(m: ChannelMember): void {
    if (m.lagged) return;
    m.lagged = true;
    const keptUp = this.clock() - m.lastCatchUpAt > 2 * m.catchUpEvery;
    m.catchUpEvery = keptUp
      ? this.catchUpIntervalMs
      : Math.min(
          Math.max(this.maxCatchUpIntervalMs, this.catchUpIntervalMs),
          2 * Math.max(m.catchUpEvery, 1),
        );
  }

  /** `n` events were lost before routing (the hub's inbox was full): every member is told so. */
  markLost(n: number): void {
    for (const m of this.members) {
      this.lag(m);
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
        this.lag(m);
        m.cursor = head.seq + 1;
        m.missed += head.events.length;
        m.overflowed += overflowed;
        m.onFold(head.events.length, overflowed);
      }
    }
  }
}
