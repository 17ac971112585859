/**
 * The live stream's router: listens to the LiveEventBus, decides which channel gets each committed
 * event (by twin ids, by model, or by query membership) and lets the sessions read their channels.
 *
 * Why the bus listener only appends to an inbox: ingestion calls `bus.publish` on its hot path, so
 * routing, query re-evaluation, serialisation and sending all happen later, on a scheduled drain
 * (at most one every `frameIntervalMs`, 5 ms by default, in slices of at most `sliceMs`). Subscriptions asking for
 * the same thing share one channel (live-channel.ts): an event is routed and serialised once per
 * channel, not once per subscriber, and a subscriber that does not read costs nothing per event.
 */
import type { LiveEvent, LiveEventBus, ValuesJson } from './live-events.js';
import type {
  LiveDelivered,
  LiveEventKind,
  LiveMembershipEvent,
  LiveSubscriptionSpec,
} from './live-filters.js';
import { eventKind } from './live-filters.js';
import type { LiveCounters, LiveSessionLimits, LiveSink } from './live-session.js';
import { LiveSession, emptyCounters } from './live-session.js';
import { LiveChannel } from './live-channel.js';
import { TelemetryWriter } from './event-json.js';
import { TwinloopError } from '../errors/errors.js';

/** A compiled query subscription: which twins satisfy the query now. */
export interface LiveQueryMatcher {
  /** Ids of every twin the query selects now (called once, at subscribe). */
  members(): Iterable<string>;
  /** Whether the twin satisfies the query now (false when it does not exist). */
  matches(twinId: string): boolean;
  /** True when the WHERE reads telemetry, so telemetry events must re-evaluate membership. */
  readonly readsTelemetry?: boolean;
  /**
   * True when a twin's membership depends on other twins (JOIN / MATCH): then every change in the
   * workspace recomputes the whole member set, since any twin may be the one the pattern reads.
   */
  readonly dependsOnOtherTwins?: boolean;
}

/**
 * Compiles a query for live matching against a workspace's current graph.
 * @throws TwinloopError SqlQueryError / QueryNotSupported (with line:column problems).
 */
export type LiveQueryCompiler = (workspace: string, query: string) => LiveQueryMatcher;

export interface LiveHubOptions {
  bus: LiveEventBus;
  /** IS_OF_MODEL of the query language for that workspace (ModelRegistry.matchesModel: extends, later versions). */
  isOfModel: (workspace: string, modelId: string, baseId: string) => boolean;
  /** Needed for query subscriptions; without it they are refused with QueryNotSupported. */
  compileQuery?: LiveQueryCompiler;
  /**
   * Bounds (defaults: 4 MiB unread per channel, catch-ups of 10 000 updates + 1 000 lifecycle
   * events, 1 MiB transport high-water mark, about 1 000 events a frame, a catch-up snapshot per
   * channel every 100 ms at most).
   */
  limits?: Partial<LiveSessionLimits>;
  /** Subscriptions one session may hold (default 100). */
  maxSubscriptionsPerSession?: number;
  /** How often a session that is behind retries sending, ms (default 10). */
  retryMs?: number;
  /** Least time between two drains, ms (default 5): frames carry what committed meanwhile. */
  frameIntervalMs?: number;
  /** Most time one drain routes before it lets other work run, ms (default 5). */
  sliceMs?: number;
  /**
   * Unread bytes all channels together keep at most (default 64 MiB): beyond, the largest channels
   * fold what their laggers have not read into catch-ups, as if over their own bound.
   */
  maxTotalChannelBytes?: number;
  /** Events waiting to be routed at most (default 200 000); beyond, batches are counted as overflowed. */
  maxInboxEvents?: number;
  /** Runs the drain after `delayMs` (default setImmediate / setTimeout). Tests may pass their own. */
  schedule?: (fn: () => void, delayMs: number) => void;
  /** Monotonic clock, ms (default performance.now). */
  clock?: () => number;
}

/** Figures for metrics: totals since start plus current sizes. */
export interface LiveHubStats extends LiveCounters {
  sessions: number;
  subscriptions: number;
  /** Events waiting in session queues now. */
  queued: number;
  /** Sessions whose transport is above its high-water mark now. */
  behindSessions: number;
  /** Distinct streams routed (subscriptions asking for the same thing share one). */
  channels: number;
  /** Bytes held for readers that have not read them yet, over all channels. */
  channelBytes: number;
}

export interface LiveSubscribeResult {
  id: string;
  /** For a query subscription: how many twins satisfy it at subscribe time. */
  memberCount?: number;
}

/**
 * What is routed: one per distinct (workspace, filter, types) for id and model subscriptions,
 * one per query subscription (its membership is its own). Its channel is read by its subscriptions.
 */
interface Subscription {
  spec: LiveSubscriptionSpec;
  channel: LiveChannel;
  /** Subscriptions reading the channel, with their sessions. */
  readers: Map<string, { session: SessionState; subId: string }>;
  /** Key in `shared` (id and model subscriptions). */
  shareKey?: string;
  /** Model subscriptions: memo of isOfModel by event model. */
  modelMemo?: Map<string, boolean>;
  matcher?: LiveQueryMatcher;
  members?: Set<string>;
}

interface SessionState {
  session: LiveSession;
  subs: Map<string, Subscription>;
  open: boolean;
  /** Reader key of this session in its subscriptions' `readers`. */
  key: string;
}

/** What a transport holds for one connection. */
export interface LiveSessionHandle {
  /**
   * Adds a subscription. @throws TwinloopError Conflict (id in use), TooManyRequests (limit),
   * SqlQueryError / QueryNotSupported (bad query).
   */
  subscribe(spec: LiveSubscriptionSpec): LiveSubscribeResult;
  /** Removes a subscription (what it has not read is forgotten); false when unknown. */
  unsubscribe(id: string): boolean;
  /** Tries to send what is queued (call when the transport drained). */
  flush(): void;
  /** This session's counters. */
  readonly counters: Readonly<LiveCounters>;
  readonly queued: number;
  /** Ends the session (idempotent). */
  close(): void;
}

const DEFAULT_LIMITS: LiveSessionLimits = {
  maxChannelBytes: 4 << 20,
  maxQueue: 10_000,
  lifecycleReserve: 1_000,
  highWaterBytes: 1 << 20,
  maxFrameEvents: 1_000,
  catchUpIntervalMs: 100,
  maxCatchUpIntervalMs: 1000,
};

const key = (workspace: string, twinId: string): string => `${workspace}\u0000${twinId}`;

/** Subscriptions with the same key share a channel (query subscriptions never do). */
function shareKeyOf(spec: LiveSubscriptionSpec): string | undefined {
  const f = spec.filter;
  const types = [...spec.types].sort().join(',');
  if (f.kind === 'twinIds') return JSON.stringify([spec.workspace, types, 'ids', [...f.twinIds].sort()]);
  if (f.kind === 'model') return JSON.stringify([spec.workspace, types, 'model', f.model, f.exact]);
  return undefined;
}

/**
 * @example
 * const hub = new LiveHub({ bus, isOfModel: (ws, m, b) => models.matchesModel(m, b), compileQuery });
 * const session = hub.openSession({ get bufferedAmount() { return ws.bufferedAmount }, send: (f) => ws.send(f) });
 * session.subscribe(parseSubscription(msg, opts));
 */
export class LiveHub {
  private readonly limits: LiveSessionLimits;
  private readonly maxSubs: number;
  private readonly retryMs: number;
  private readonly schedule: (fn: () => void, delayMs: number) => void;
  private readonly clock: () => number;
  private readonly frameIntervalMs: number;
  private readonly sliceMs: number;
  private readonly maxInboxEvents: number;
  private readonly maxTotalChannelBytes: number;
  private readonly totals = emptyCounters();
  private readonly sessions = new Set<SessionState>();
  private readonly byTwin = new Map<string, Set<Subscription>>();
  private readonly modelSubs = new Set<Subscription>();
  private readonly querySubs = new Set<Subscription>();
  private readonly shared = new Map<string, Subscription>();
  private inbox: (readonly LiveEvent[])[] = [];
  /** Beside each inbox batch: its values' texts (live-events.ts ValuesJson), when ingestion gave some. */
  private inboxJson: (ValuesJson | undefined)[] = [];
  /** Writes device telemetry events from their own texts, prefixes per twin shared by every channel (event-json.ts). */
  private readonly writer = new TelemetryWriter();
  private inboxHead = 0;
  private inboxEvents = 0;
  /** Events not routed because the inbox was full, since the last drain. */
  private inboxOverflow = 0;
  /** JOIN/MATCH subscriptions with events in this drain: recomputed once, after routing the drain. */
  private readonly recompute = new Map<Subscription, LiveEvent[]>();
  private drainScheduled = false;
  private lastDrain = -Infinity;
  private sessionSeq = 0;
  private readonly waiting = new Set<SessionState>();
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly unlisten: () => void;

  constructor(private readonly opts: LiveHubOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.maxSubs = opts.maxSubscriptionsPerSession ?? 100;
    this.retryMs = opts.retryMs ?? 10;
    this.schedule =
      opts.schedule ??
      ((fn, delayMs) => {
        if (delayMs > 0) setTimeout(fn, delayMs);
        else setImmediate(fn);
      });
    this.clock = opts.clock ?? (() => performance.now());
    this.frameIntervalMs = opts.frameIntervalMs ?? 5;
    this.sliceMs = opts.sliceMs ?? 5;
    this.maxInboxEvents = opts.maxInboxEvents ?? 200_000;
    this.maxTotalChannelBytes = opts.maxTotalChannelBytes ?? 64 << 20;
    // The hot path: one push (or one count when full), at most one schedule call.
    this.unlisten = opts.bus.subscribe((events, valuesJson) => {
      if (this.inboxEvents + events.length > this.maxInboxEvents) this.inboxOverflow += events.length;
      else {
        this.inbox.push(events);
        this.inboxJson.push(valuesJson);
        this.inboxEvents += events.length;
      }
      this.scheduleDrain();
    });
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    const wait = this.lastDrain + this.frameIntervalMs - this.clock();
    this.schedule(() => this.drain(), Math.max(0, wait));
  }

  /** Opens a session whose frames go to `sink`. */
  openSession(sink: LiveSink): LiveSessionHandle {
    const state: SessionState = {
      session: new LiveSession(sink, this.limits, this.totals),
      subs: new Map(),
      open: true,
      key: `s${++this.sessionSeq}`,
    };
    this.sessions.add(state);
    return {
      subscribe: (spec) => this.subscribe(state, spec),
      unsubscribe: (id) => this.unsubscribe(state, id),
      flush: () => this.flushSession(state),
      get counters() {
        return state.session.counters;
      },
      get queued() {
        return state.session.queued;
      },
      close: () => this.closeSession(state),
    };
  }

  stats(): LiveHubStats {
    let subscriptions = 0;
    let queued = 0;
    let behindSessions = 0;
    for (const s of this.sessions) {
      subscriptions += s.subs.size;
      queued += s.session.queued;
      if (s.session.sink.bufferedAmount > this.limits.highWaterBytes) behindSessions++;
    }
    const routed = this.routed();
    let channelBytes = 0;
    for (const sub of routed) channelBytes += sub.channel.bytes;
    return {
      ...this.totals,
      sessions: this.sessions.size,
      subscriptions,
      queued,
      behindSessions,
      channels: routed.length,
      channelBytes,
    };
  }

  /**
   * Routes what the bus delivered so far and sends what the transports take (the scheduled drain
   * does the same). Stops after `sliceMs` and schedules the rest, unless `all`.
   */
  drain(all = false): void {
    this.drainScheduled = false;
    this.lastDrain = this.clock();
    const touched = new Set<Subscription>();
    if (this.inboxOverflow > 0) this.overflowAll(touched);
    while (this.inboxHead < this.inbox.length) {
      const batch = this.inbox[this.inboxHead] as readonly LiveEvent[];
      const json = this.inboxJson[this.inboxHead];
      this.inboxJson[this.inboxHead] = undefined;
      this.inbox[this.inboxHead++] = [];
      this.inboxEvents -= batch.length;
      if (json === undefined) for (const ev of batch) this.route(ev, touched, undefined);
      else for (let i = 0; i < batch.length; i++) this.route(batch[i] as LiveEvent, touched, json[i]);
      if (!all && this.clock() - this.lastDrain > this.sliceMs) break;
    }
    if (this.inboxHead === this.inbox.length) {
      this.inbox = [];
      this.inboxJson = [];
      this.inboxHead = 0;
    } else this.scheduleDrain();
    // JOIN/MATCH subscriptions: one recompute for all the events of this drain.
    for (const [sub, events] of this.recompute) this.recomputeQuery(sub, events, touched);
    this.recompute.clear();
    const sessions = new Set<SessionState>();
    for (const sub of touched) {
      sub.channel.seal();
      for (const r of sub.readers.values()) sessions.add(r.session);
    }
    for (const s of sessions) this.flushSession(s);
    for (const sub of touched) sub.channel.trim();
    this.bound();
  }

  /** Keeps the unread bytes of all channels under maxTotalChannelBytes, the largest giving way first. */
  private bound(): void {
    const channels = this.routed().map((sub) => sub.channel);
    let total = 0;
    for (const c of channels) total += c.bytes;
    if (total <= this.maxTotalChannelBytes) return;
    channels.sort((a, b) => b.bytes - a.bytes);
    for (const c of channels) {
      if (total <= this.maxTotalChannelBytes) break;
      const before = c.bytes;
      c.trim(Math.max(0, before - (total - this.maxTotalChannelBytes)));
      total -= before - c.bytes;
    }
  }

  /** Every subscription routed now (one per channel). */
  private routed(): Subscription[] {
    const routed = new Set([...this.modelSubs, ...this.querySubs]);
    for (const set of this.byTwin.values()) for (const sub of set) routed.add(sub);
    return [...routed];
  }

  /** The inbox was full: every subscriber is told it missed events (a `dropped` notice, overflowed). */
  private overflowAll(touched: Set<Subscription>): void {
    const n = this.inboxOverflow;
    this.inboxOverflow = 0;
    for (const s of this.sessions) for (const sub of s.subs.values()) touched.add(sub);
    for (const sub of touched) sub.channel.markLost(n);
  }

  /** Stops listening to the bus and closes every session. */
  close(): void {
    this.unlisten();
    for (const s of [...this.sessions]) this.closeSession(s);
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  // ------------------------------------------------------------------ subscriptions

  private subscribe(state: SessionState, spec: LiveSubscriptionSpec): LiveSubscribeResult {
    if (!state.open) throw new TwinloopError('BadRequest', 'The session is closed.');
    if (state.subs.has(spec.id))
      throw new TwinloopError(
        'Conflict',
        `Subscription id '${spec.id}' is already in use on this connection.`,
      );
    if (state.subs.size >= this.maxSubs)
      throw new TwinloopError(
        'TooManyRequests',
        `At most ${this.maxSubs} subscriptions are allowed per connection.`,
      );
    const shareKey = shareKeyOf(spec);
    const existing = shareKey === undefined ? undefined : this.shared.get(shareKey);
    let sub: Subscription;
    let result: LiveSubscribeResult = { id: spec.id };
    if (existing !== undefined) sub = existing;
    else {
      sub = {
        spec,
        channel: new LiveChannel(
          this.limits.maxChannelBytes,
          { maxEvents: this.limits.maxQueue, lifecycleReserve: this.limits.lifecycleReserve },
          this.limits.catchUpIntervalMs,
          this.clock,
          this.limits.maxCatchUpIntervalMs,
          this.writer,
        ),
        readers: new Map(),
        ...(shareKey !== undefined ? { shareKey } : {}),
      };
      const f = spec.filter;
      if (f.kind === 'twinIds') {
        for (const id of f.twinIds) {
          const k = key(spec.workspace, id);
          let set = this.byTwin.get(k);
          if (set === undefined) this.byTwin.set(k, (set = new Set()));
          set.add(sub);
        }
      } else if (f.kind === 'model') {
        sub.modelMemo = new Map();
        this.modelSubs.add(sub);
      } else {
        if (this.opts.compileQuery === undefined)
          throw new TwinloopError(
            'QueryNotSupported',
            'Query subscriptions are not available on this server.',
          );
        sub.matcher = this.opts.compileQuery(spec.workspace, f.query); // throws on a bad query
        sub.members = new Set(sub.matcher.members());
        this.querySubs.add(sub);
        result = { id: spec.id, memberCount: sub.members.size };
      }
      if (shareKey !== undefined) this.shared.set(shareKey, sub);
    }
    sub.readers.set(`${state.key}\u0000${spec.id}`, { session: state, subId: spec.id });
    state.session.attach(spec.id, sub.channel);
    state.subs.set(spec.id, sub);
    return result;
  }

  private unsubscribe(state: SessionState, id: string): boolean {
    const sub = state.subs.get(id);
    if (sub === undefined) return false;
    state.subs.delete(id);
    state.session.detach(id);
    this.release(sub, state, id);
    return true;
  }

  /** One reader fewer; the last one takes the routing away. */
  private release(sub: Subscription, state: SessionState, id: string): void {
    sub.readers.delete(`${state.key}\u0000${id}`);
    if (sub.readers.size > 0) return;
    if (sub.shareKey !== undefined) this.shared.delete(sub.shareKey);
    const f = sub.spec.filter;
    if (f.kind === 'twinIds') {
      for (const tid of f.twinIds) {
        const k = key(sub.spec.workspace, tid);
        const set = this.byTwin.get(k);
        set?.delete(sub);
        if (set?.size === 0) this.byTwin.delete(k);
      }
    } else if (f.kind === 'model') this.modelSubs.delete(sub);
    else this.querySubs.delete(sub);
  }

  private closeSession(state: SessionState): void {
    if (!state.open) return;
    state.open = false;
    state.session.close();
    for (const [id, sub] of state.subs) this.release(sub, state, id);
    state.subs.clear();
    this.sessions.delete(state);
    this.waiting.delete(state);
  }

  // ------------------------------------------------------------------ routing

  private route(ev: LiveEvent, touched: Set<Subscription>, json: string | undefined): void {
    const kind = eventKind(ev);
    // No closure per event: this runs for every committed event.
    const direct = this.byTwin.size > 0 ? this.byTwin.get(key(ev.workspace, ev.twinId)) : undefined;
    if (direct !== undefined)
      for (const sub of direct) if (sub.spec.types.has(kind)) deliverTo(sub, ev, touched, json);

    for (const sub of this.modelSubs) {
      if (sub.spec.workspace !== ev.workspace || !sub.spec.types.has(kind)) continue;
      const f = sub.spec.filter as Extract<LiveSubscriptionSpec['filter'], { kind: 'model' }>;
      let ok = sub.modelMemo!.get(ev.modelId);
      if (ok === undefined) {
        ok = f.exact ? ev.modelId === f.model : this.opts.isOfModel(ev.workspace, ev.modelId, f.model);
        sub.modelMemo!.set(ev.modelId, ok);
      }
      if (ok) deliverTo(sub, ev, touched, json);
    }

    for (const sub of this.querySubs) {
      if (sub.spec.workspace !== ev.workspace) continue;
      this.routeQuery(sub, ev, kind, touched, json);
    }
  }

  /** Query membership: kept as a set, re-evaluated only for the twins an event may have changed. */
  private routeQuery(
    sub: Subscription,
    ev: LiveEvent,
    kind: LiveEventKind,
    touched: Set<Subscription>,
    json: string | undefined,
  ): void {
    const members = sub.members!;
    const wanted = sub.spec.types.has(kind);
    if (sub.matcher!.dependsOnOtherTwins) {
      // Any twin may be the one the pattern reads: recompute once per drain, not once per event
      // (telemetry waits with the other events, so a subscription's events keep their order).
      const pending = this.recompute.get(sub);
      if (pending === undefined) this.recompute.set(sub, [ev]);
      else pending.push(ev);
      return;
    }
    if (ev.type === 'telemetry' && !sub.matcher!.readsTelemetry) {
      if (wanted && members.has(ev.twinId)) deliverTo(sub, ev, touched, json);
      return;
    }
    if (ev.type === 'twinDeleted') {
      if (members.delete(ev.twinId)) {
        if (wanted) deliverTo(sub, ev, touched);
        this.membership(sub, ev, ev.twinId, false, touched);
      }
      return;
    }
    const was = members.has(ev.twinId);
    const now = this.evaluate(sub, ev.twinId);
    if (now && !was) this.membership(sub, ev, ev.twinId, true, touched);
    if (wanted && (was || now)) deliverTo(sub, ev, touched, json);
    if (was && !now) this.membership(sub, ev, ev.twinId, false, touched);
    // A relationship may change what a JOIN sees from its target too.
    if ('targetId' in ev && ev.targetId !== ev.twinId) {
      const tWas = members.has(ev.targetId);
      const tNow = this.evaluate(sub, ev.targetId);
      if (tWas !== tNow) this.membership(sub, ev, ev.targetId, tNow, touched);
    }
  }

  /**
   * A JOIN/MATCH subscription after a drain's events: one recompute of the member set; entered
   * members announced before the events, the events of members (before or after), then the left.
   */
  private recomputeQuery(sub: Subscription, events: LiveEvent[], touched: Set<Subscription>): void {
    const members = sub.members!;
    const needed = events.some((ev) => ev.type !== 'telemetry' || sub.matcher!.readsTelemetry);
    const next = needed ? this.allMembers(sub) : members;
    const causes = new Map<string, LiveEvent>();
    for (const ev of events) causes.set(ev.twinId, ev);
    const last = events[events.length - 1] as LiveEvent;
    sub.members = next;
    for (const id of next)
      if (!members.has(id)) this.membership(sub, causes.get(id) ?? last, id, true, touched);
    for (const ev of events) {
      if (!sub.spec.types.has(eventKind(ev)) || !(members.has(ev.twinId) || next.has(ev.twinId))) continue;
      sub.channel.append(ev);
      touched.add(sub);
    }
    for (const id of members)
      if (!next.has(id)) this.membership(sub, causes.get(id) ?? last, id, false, touched);
  }

  private allMembers(sub: Subscription): Set<string> {
    try {
      return new Set(sub.matcher!.members());
    } catch (e) {
      // Over its work budget: keep the members it had rather than announce that all of them left.
      if (e instanceof TwinloopError && e.code === 'QueryBudgetExceeded') return sub.members!;
      return new Set(); // the graph no longer satisfies the query's assumptions: nothing matches
    }
  }

  private evaluate(sub: Subscription, twinId: string): boolean {
    let now: boolean;
    try {
      now = sub.matcher!.matches(twinId);
    } catch {
      now = false; // a twin the query cannot evaluate is not a member
    }
    if (now) sub.members!.add(twinId);
    else sub.members!.delete(twinId);
    return now;
  }

  private membership(
    sub: Subscription,
    cause: LiveEvent,
    twinId: string,
    member: boolean,
    touched: Set<Subscription>,
  ): void {
    const m: LiveMembershipEvent = {
      type: 'membership',
      workspace: cause.workspace,
      twinId,
      member,
      time: cause.time,
    };
    if (twinId === cause.twinId) m.modelId = cause.modelId;
    sub.channel.append(m satisfies LiveDelivered);
    touched.add(sub);
  }

  private flushSession(state: SessionState): void {
    if (!state.open) return;
    if (state.session.flush()) this.waiting.delete(state);
    else {
      this.waiting.add(state);
      this.armRetry();
    }
  }

  private armRetry(): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      for (const s of [...this.waiting]) this.flushSession(s);
    }, this.retryMs);
    // A waiting subscriber must not keep the process alive on its own.
    this.retryTimer.unref?.();
  }
}

/** Appends a routed event (with its values' text, if known) to a subscription's channel and marks the channel for sealing. */
function deliverTo(
  sub: Subscription,
  ev: LiveEvent,
  touched: Set<Subscription>,
  json: string | undefined = undefined,
): void {
  sub.channel.append(ev, json);
  touched.add(sub);
}
