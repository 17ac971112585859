/**
 * One connection's side of the live stream: its subscriptions, each a member of a shared channel
 * (live-channel.ts), and the sending. Frames go out while the transport is below its high-water
 * mark, one frame per subscription per round (round-robin, so one busy subscription does not
 * starve the others); above it nothing is sent and nothing is copied for this connection — its
 * channels keep the chunks it has not read, within their byte bound, then fold what it missed into
 * a catch-up it gets, after a `dropped` notice, once it reads again.
 */
import type { LiveChannel, ChannelMember } from './live-channel.js';

/** Where a session's frames go (a WebSocket in production). */
export interface LiveSink {
  /** Bytes accepted by send() and not yet written out (WebSocket `bufferedAmount`). */
  readonly bufferedAmount: number;
  /** Sends one text frame; must not throw (transports report their errors themselves). */
  send(frame: string): void;
  /**
   * Sends one text message given as two runs of UTF-8 bytes, as they are: the subscriber's own
   * head and a body its channel's readers share (a WebSocket sends them as two fragments of one
   * message, so the body is neither copied nor re-encoded per subscriber). Without it, the parts
   * are joined, decoded and given to send().
   */
  sendText?(head: Uint8Array, body: Uint8Array): void;
}

export interface LiveSessionLimits {
  /** Unread bytes a channel keeps for its slowest subscriber before that one lags (catch-up). */
  maxChannelBytes: number;
  /** Updates a lagging subscriber's catch-up holds (latest per twin and component); beyond, they overflow. */
  maxQueue: number;
  /** Extra room in the catch-up for lifecycle and membership events (never merged). */
  lifecycleReserve: number;
  /** Transport bytes in flight above which nothing more is sent to the connection. */
  highWaterBytes: number;
  /** About how many events one frame carries at most (a frame holds whole drains). */
  maxFrameEvents: number;
  /**
   * Least time between two catch-up snapshots of a channel, ms: lagging readers whose sockets
   * drain in between wait for the next one and share it.
   */
  catchUpIntervalMs: number;
  /**
   * Most a lagging reader's own wait between catch-ups grows to, ms: a reader that lags again soon
   * after each catch-up waits twice as long each time, up to this (live-channel.ts).
   */
  maxCatchUpIntervalMs: number;
}

/** Counts kept per session and summed over the hub (for metrics). */
export interface LiveCounters {
  /** Events handed to the transport. */
  delivered: number;
  /** Events a lagging subscriber missed whose latest values its catch-up keeps. */
  coalesced: number;
  /** Events a lagging subscriber missed that its catch-up could not keep. */
  dropped: number;
  framesSent: number;
  /** Catch-up frames sent (each after a `dropped` notice). */
  catchUps: number;
}

export function emptyCounters(): LiveCounters {
  return { delivered: 0, coalesced: 0, dropped: 0, framesSent: 0, catchUps: 0 };
}

interface SessionSub {
  channel: LiveChannel;
  member: ChannelMember;
  /** `{"sub":"<id>","events":[` in UTF-8. */
  prefix: Uint8Array;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

export class LiveSession {
  readonly counters: LiveCounters = emptyCounters();
  private readonly subs = new Map<string, SessionSub>();
  private closed = false;

  constructor(
    readonly sink: LiveSink,
    private readonly limits: LiveSessionLimits,
    /** The hub's totals, updated together with this session's counters. */
    private readonly totals: LiveCounters,
  ) {}

  /** Events waiting for this connection (its unread chunks and catch-ups). */
  get queued(): number {
    let n = 0;
    for (const s of this.subs.values()) n += s.channel.queuedFor(s.member);
    return n;
  }

  /** True when the transport is above its high-water mark. */
  get behind(): boolean {
    return this.sink.bufferedAmount > this.limits.highWaterBytes;
  }

  /** Makes subscription `subId` a reader of `channel`, from the next chunk on. */
  attach(subId: string, channel: LiveChannel): void {
    const member = channel.join({
      subId,
      ready: () => !this.closed && !this.behind,
      onFold: (missed, overflowed) => {
        this.count('coalesced', missed - overflowed);
        this.count('dropped', overflowed);
      },
    });
    this.subs.set(subId, {
      channel,
      member,
      prefix: utf8.encode(`{"sub":${JSON.stringify(subId)},"events":[`),
    });
  }

  /** Stops reading for one subscription; returns its channel (undefined when unknown). */
  detach(subId: string): LiveChannel | undefined {
    const s = this.subs.get(subId);
    if (s === undefined) return undefined;
    this.subs.delete(subId);
    s.channel.leave(s.member);
    return s.channel;
  }

  /**
   * Sends what is waiting while the transport is below its high-water mark. Returns true when
   * nothing is left (false: call again once the transport drains).
   */
  flush(): boolean {
    if (this.closed) return true;
    for (;;) {
      let sent = false;
      let held = false;
      for (const s of this.subs.values()) {
        if (!s.channel.pending(s.member)) continue;
        if (this.behind) return false;
        // A lagging reader catches up only once its transport has mostly drained (resuming at the
        // first byte below the mark would lag again at once, and every catch-up is a frame of all
        // twins), and when its channel may make a snapshot for it (at most one per catchUpIntervalMs,
        // and not before the reader's own back-off has passed).
        if (
          s.member.lagged &&
          (this.sink.bufferedAmount > this.limits.highWaterBytes / 4 || !s.channel.catchUpReady(s.member))
        ) {
          held = true;
          continue;
        }
        this.sendOne(s);
        sent = true;
      }
      if (!sent) return !held;
    }
  }

  /** Leaves every channel; returns them (the hub forgets the empty ones). */
  close(): LiveChannel[] {
    this.closed = true;
    const channels = [...this.subs.keys()].map((id) => this.detach(id) as LiveChannel);
    return channels;
  }

  private sendOne(s: SessionSub): void {
    const { member, channel } = s;
    if (member.lagged) {
      const c = channel.takeCatchUp(member);
      this.sink.send(
        JSON.stringify({
          type: 'dropped',
          sub: member.subId,
          count: c.missed,
          coalesced: c.missed - c.overflowed,
          overflowed: c.overflowed,
        }),
      );
      if (c.count > 0) {
        this.sendFrame(s.prefix, c.body);
        this.sent(c.count);
        this.count('catchUps', 1);
      }
      return;
    }
    const { body, events } = channel.take(member, this.limits.maxFrameEvents);
    if (events > 0) {
      this.sendFrame(s.prefix, body);
      this.sent(events);
    }
    channel.trim();
  }

  /** One frame: the subscription's head `{"sub":…,"events":[` then the shared body `…]}`. */
  private sendFrame(head: Uint8Array, body: Uint8Array): void {
    if (this.sink.sendText) return this.sink.sendText(head, body);
    const frame = new Uint8Array(head.length + body.length);
    frame.set(head, 0);
    frame.set(body, head.length);
    this.sink.send(utf8Decoder.decode(frame));
  }

  private sent(events: number): void {
    this.counters.framesSent++;
    this.totals.framesSent++;
    this.count('delivered', events);
  }

  private count(what: 'delivered' | 'coalesced' | 'dropped' | 'catchUps', n: number): void {
    this.counters[what] += n;
    this.totals[what] += n;
  }
}
