/**
 * Delivers the outbox to endpoints, at least once, in order per twin per endpoint.
 *
 * The rule (docs/event-routes.md, "Delivery"): each endpoint has one FIFO queue per twin. Only the
 * head of a twin's queue is ever in flight, so a twin's events arrive in commit order; twins are
 * independent, so a twin whose event keeps failing holds back only its own later events, and only
 * until that event is dead-lettered (after `maxAttempts` failed attempts, or at the first failure
 * once it is older than `ttlMs`; a permanent failure such as a webhook's 400 at once). A delivery is
 * removed from the outbox only after the endpoint took it; a crash before that sends it again.
 *
 * An endpoint that takes batches (a webhook with `maxEventsPerBatch`) gets the heads of up to that
 * many twins' queues in one request: still one event per twin in flight, so the order per twin holds.
 * A failed batch counts as a failure of each of its twins; a batch the endpoint refuses outright
 * (a permanent failure) is not dead-lettered as a whole: its events are tried again one by one, so
 * only the event the endpoint refuses goes to the dead letters.
 *
 * Failures back off per twin (exponential, with jitter). When an endpoint fails several sends in a
 * row it is taken to be down: one send at a time probes it, after a backoff of its own, so an outage
 * costs a few connection attempts a second, not one per twin.
 */
import type { CloudEvent, EndpointSender, EventOutbox, OutboxDelivery } from '../ports/event-routing.js';
import { DeliveryFailure } from '../ports/event-routing.js';
import type { DeliveryClock, DeliveryObserver } from '../ports/delivery-ports.js';
import { backoffDelay } from './delivery-backoff.js';
import { toCloudEvent } from './change-events.js';

export interface DeliveryOptions {
  /** Failed attempts after which a delivery is dead-lettered; 0: no limit (ttlMs only). */
  maxAttempts: number;
  /** A delivery older than this (ms since commit) is dead-lettered at its next failure. */
  ttlMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Sends in flight per endpoint (different twins). */
  concurrency: number;
  /** Rows read from the outbox at a time. */
  batch: number;
  /** Deliveries held in memory at most; reading pauses beyond. */
  maxBuffered: number;
  /** Consecutive failures after which an endpoint is probed one send at a time. */
  downAfterFailures: number;
  /**
   * Settled deliveries are written (acknowledged, dead-lettered) at most this often, ms: one commit
   * (one fsync) for many deliveries. A crash loses only acknowledgements: those events are sent again.
   */
  flushDelayMs: number;
}

export const DEFAULT_DELIVERY_OPTIONS: DeliveryOptions = {
  maxAttempts: 0,
  ttlMs: 24 * 3600_000,
  initialBackoffMs: 500,
  maxBackoffMs: 60_000,
  concurrency: 64,
  batch: 2000,
  maxBuffered: 50_000,
  downAfterFailures: 3,
  flushDelayMs: 50,
};

export type { DeliveryClock, DeliveryObserver } from '../ports/delivery-ports.js';

export interface DeliveryEngineOptions {
  outbox: EventOutbox;
  /** The sender of an endpoint, or undefined when there is no such endpoint (the send fails). */
  sender: (endpoint: string) => EndpointSender | undefined;
  clock: DeliveryClock;
  random?: () => number;
  options?: Partial<DeliveryOptions>;
  observer?: DeliveryObserver;
}

interface TwinQueue {
  key: string;
  items: OutboxDelivery[];
  failures: number;
  /** Waiting for a retry timer, or in flight. */
  held: boolean;
  /** Its head was in a batch the endpoint refused: send it alone next time. */
  alone: boolean;
}

interface EndpointState {
  name: string;
  twins: Map<string, TwinQueue>;
  ready: TwinQueue[];
  inFlight: number;
  consecutiveFailures: number;
  pausedUntil: number;
  pauseTimer: (() => void) | undefined;
  lastError: string | undefined;
  delivered: number;
}

export interface EndpointDeliveryStats {
  buffered: number;
  inFlight: number;
  down: boolean;
  lastError?: string;
  delivered: number;
}

export class DeliveryEngine {
  private readonly o: DeliveryOptions;
  private readonly endpoints = new Map<string, EndpointState>();
  private readonly random: () => number;
  private lastSeq = 0;
  private buffered = 0;
  private reading = false;
  private again = false;
  /** Reading stopped at maxBuffered: read again once the queues drain. */
  private starved = false;
  private stopped = false;
  private readonly acks: number[] = [];
  private readonly dead: { seq: number; attempts: number; reason: string; at: number }[] = [];
  private flushing: Promise<void> | undefined;
  private flushTimer: (() => void) | undefined;
  private readonly inflight = new Set<Promise<void>>();
  private readonly timers = new Set<() => void>();

  constructor(private readonly e: DeliveryEngineOptions) {
    this.o = { ...DEFAULT_DELIVERY_OPTIONS, ...e.options };
    this.random = e.random ?? Math.random;
  }

  /** Reads what is pending (also what a previous run left) and starts delivering. */
  start(): void {
    this.nudge();
  }

  /** New deliveries were committed (or dead letters replayed, with new seqs): read them. */
  nudge(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    void this.read();
  }

  /** Per endpoint: what is buffered, in flight, whether it is down, the last error. */
  stats(): Map<string, EndpointDeliveryStats> {
    const out = new Map<string, EndpointDeliveryStats>();
    for (const ep of this.endpoints.values()) {
      let buffered = 0;
      for (const q of ep.twins.values()) buffered += q.items.length;
      const s: EndpointDeliveryStats = {
        buffered,
        inFlight: ep.inFlight,
        down: ep.consecutiveFailures >= this.o.downAfterFailures,
        delivered: ep.delivered,
      };
      if (ep.lastError !== undefined) s.lastError = ep.lastError;
      out.set(ep.name, s);
    }
    return out;
  }

  /** Stops reading and sending; waits for sends in flight and writes what they settled. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const cancel of this.timers) cancel();
    this.timers.clear();
    for (const ep of this.endpoints.values()) ep.pauseTimer?.();
    await Promise.allSettled([...this.inflight]);
    await this.flush();
  }

  private later(fn: () => void, ms: number): void {
    if (this.stopped) return;
    const cancel = this.e.clock.setTimeout(() => {
      this.timers.delete(cancel);
      fn();
    }, ms);
    this.timers.add(cancel);
  }

  private async read(): Promise<void> {
    this.reading = true;
    try {
      do {
        this.again = false;
        if (this.buffered >= this.o.maxBuffered) {
          this.starved = true;
          return;
        }
        let rows: OutboxDelivery[];
        try {
          rows = await this.e.outbox.pending(this.lastSeq, this.o.batch);
        } catch (err) {
          this.e.observer?.storageError?.(err);
          this.later(() => this.nudge(), 1000);
          return;
        }
        if (this.stopped) return;
        for (const d of rows) {
          this.lastSeq = Math.max(this.lastSeq, d.seq);
          this.enqueue(d);
        }
        if (rows.length === this.o.batch) this.again = true;
      } while (this.again && !this.stopped);
    } finally {
      this.reading = false;
    }
  }

  private endpoint(name: string): EndpointState {
    let ep = this.endpoints.get(name);
    if (!ep) {
      ep = {
        name,
        twins: new Map(),
        ready: [],
        inFlight: 0,
        consecutiveFailures: 0,
        pausedUntil: 0,
        pauseTimer: undefined,
        lastError: undefined,
        delivered: 0,
      };
      this.endpoints.set(name, ep);
    }
    return ep;
  }

  private enqueue(d: OutboxDelivery): void {
    const ep = this.endpoint(d.endpoint);
    let q = ep.twins.get(d.orderKey);
    if (!q) {
      q = { key: d.orderKey, items: [], failures: 0, held: false, alone: false };
      ep.twins.set(d.orderKey, q);
    }
    q.items.push(d);
    this.buffered++;
    if (q.items.length === 1 && !q.held) ep.ready.push(q);
    this.pump(ep);
  }

  private limit(ep: EndpointState): number {
    return this.isDown(ep) ? 1 : this.o.concurrency;
  }

  private pump(ep: EndpointState): void {
    if (this.stopped) return;
    const now = this.e.clock.now();
    if (ep.pausedUntil > now) {
      if (!ep.pauseTimer) {
        const cancel = this.e.clock.setTimeout(() => {
          ep.pauseTimer = undefined;
          this.pump(ep);
        }, ep.pausedUntil - now);
        ep.pauseTimer = cancel;
      }
      return;
    }
    const sender = this.e.sender(ep.name);
    const maxBatch = sender?.sendBatch && !this.isDown(ep) ? (sender.maxBatch ?? 1) : 1;
    while (ep.inFlight < this.limit(ep) && ep.ready.length > 0) {
      const q = ep.ready.shift()!;
      if (q.items.length === 0 || q.held) continue;
      q.held = true;
      ep.inFlight++;
      let batch: TwinQueue[] | undefined;
      if (maxBatch > 1 && !q.alone) {
        batch = [q];
        while (batch.length < maxBatch && ep.ready.length > 0) {
          const next = ep.ready.shift()!;
          if (next.items.length === 0 || next.held) continue;
          if (next.alone) {
            ep.ready.unshift(next); // goes alone, in its turn
            break;
          }
          next.held = true;
          batch.push(next);
        }
      }
      // A batching endpoint always gets arrays (a receiver set up for batches reads one shape).
      const sending = batch ? this.sendBatch(ep, batch) : this.sendHead(ep, q);
      const p = sending.finally(() => {
        this.inflight.delete(p);
      });
      this.inflight.add(p);
    }
  }

  private isDown(ep: EndpointState): boolean {
    return ep.consecutiveFailures >= this.o.downAfterFailures;
  }

  /** One request with the heads of several twins' queues (an endpoint that takes batches). */
  private async sendBatch(ep: EndpointState, qs: TwinQueue[]): Promise<void> {
    const heads = qs.map((q) => q.items[0]!);
    const t0 = this.e.clock.now();
    let failure: DeliveryFailure | undefined;
    try {
      const sender = this.e.sender(ep.name);
      if (!sender?.sendBatch) throw new DeliveryFailure(`There is no endpoint named '${ep.name}'.`);
      await sender.sendBatch(heads.map((d) => toCloudEvent(d.event) as CloudEvent));
    } catch (err) {
      failure = err instanceof DeliveryFailure ? err : new DeliveryFailure(errorText(err));
    }
    ep.inFlight--;
    const now = this.e.clock.now();
    if (!failure) {
      this.succeeded(ep);
      qs.forEach((q, i) => this.delivered(ep, q, heads[i]!, now, t0));
    } else {
      this.endpointFailed(ep, failure, now);
      qs.forEach((q, i) => {
        if (failure.permanent) {
          // Refused as a whole: which event the endpoint refuses is found by sending them alone.
          q.alone = true;
          this.retry(ep, q, failure.message, 0);
        } else this.twinFailed(ep, q, heads[i]!, failure, now);
      });
    }
    this.scheduleFlush();
    this.pump(ep);
  }

  private async sendHead(ep: EndpointState, q: TwinQueue): Promise<void> {
    const d = q.items[0]!;
    const t0 = this.e.clock.now();
    let failure: DeliveryFailure | undefined;
    try {
      const sender = this.e.sender(ep.name);
      if (!sender) throw new DeliveryFailure(`There is no endpoint named '${ep.name}'.`);
      await sender.send(toCloudEvent(d.event) as CloudEvent);
    } catch (err) {
      failure = err instanceof DeliveryFailure ? err : new DeliveryFailure(errorText(err));
    }
    ep.inFlight--;
    const now = this.e.clock.now();
    q.alone = false;
    if (!failure) {
      this.succeeded(ep);
      this.delivered(ep, q, d, now, t0);
    } else {
      this.endpointFailed(ep, failure, now);
      this.twinFailed(ep, q, d, failure, now);
    }
    this.scheduleFlush();
    this.pump(ep);
  }

  private succeeded(ep: EndpointState): void {
    if (this.isDown(ep)) this.e.observer?.endpointUp?.(ep.name);
    ep.consecutiveFailures = 0;
    ep.pausedUntil = 0;
  }

  private delivered(ep: EndpointState, q: TwinQueue, d: OutboxDelivery, now: number, t0: number): void {
    ep.delivered++;
    this.acks.push(d.seq);
    this.e.observer?.delivered?.(ep.name, now - d.created, now - t0);
    this.advance(ep, q);
  }

  /** One failed request: the endpoint's failure count, and its pause once it is down. */
  private endpointFailed(ep: EndpointState, failure: DeliveryFailure, now: number): void {
    ep.lastError = failure.message;
    ep.consecutiveFailures++;
    if (ep.consecutiveFailures === this.o.downAfterFailures)
      this.e.observer?.endpointDown?.(ep.name, failure.message);
    if (this.isDown(ep))
      ep.pausedUntil =
        now +
        backoffDelay(
          ep.consecutiveFailures - this.o.downAfterFailures + 1,
          { initialMs: this.o.initialBackoffMs, maxMs: this.o.maxBackoffMs },
          this.random,
        );
  }

  /** A twin's head was not delivered: dead-lettered (permanent, expired, exhausted) or retried. */
  private twinFailed(
    ep: EndpointState,
    q: TwinQueue,
    d: OutboxDelivery,
    failure: DeliveryFailure,
    now: number,
  ): void {
    q.failures++;
    const expired = now - d.created >= this.o.ttlMs;
    const exhausted = this.o.maxAttempts > 0 && q.failures >= this.o.maxAttempts;
    if (failure.permanent || expired || exhausted) {
      const why = failure.permanent
        ? 'refused by the endpoint'
        : expired
          ? `undelivered ${Math.round(this.o.ttlMs / 1000)} s after commit`
          : `${q.failures} failed attempts`;
      const reason = `${why}: ${failure.message}`;
      this.dead.push({ seq: d.seq, attempts: q.failures, reason, at: now });
      this.e.observer?.deadLettered?.(ep.name, reason);
      this.advance(ep, q);
    } else {
      this.retry(
        ep,
        q,
        failure.message,
        backoffDelay(
          q.failures,
          { initialMs: this.o.initialBackoffMs, maxMs: this.o.maxBackoffMs },
          this.random,
        ),
      );
    }
  }

  private retry(ep: EndpointState, q: TwinQueue, reason: string, delayMs: number): void {
    this.e.observer?.retried?.(ep.name, reason);
    this.later(() => {
      q.held = false;
      ep.ready.push(q);
      this.pump(ep);
    }, delayMs);
  }

  /** The head is settled (delivered or dead-lettered): the twin's next event may go. */
  private advance(ep: EndpointState, q: TwinQueue): void {
    q.items.shift();
    q.failures = 0;
    q.held = false;
    this.buffered--;
    if (q.items.length > 0) ep.ready.push(q);
    else ep.twins.delete(q.key);
    if (this.starved && this.buffered < this.o.maxBuffered / 2) {
      this.starved = false;
      this.nudge();
    }
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.stopped) return;
    this.flushTimer = this.e.clock.setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, this.o.flushDelayMs);
  }

  /** Writes settled deliveries: acknowledgements and dead letters. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.acks.length === 0 && this.dead.length === 0) return;
    const acks = this.acks.splice(0);
    const dead = this.dead.splice(0);
    this.flushing = (async () => {
      try {
        if (dead.length) await this.e.outbox.deadLetter(dead);
        if (acks.length) await this.e.outbox.acknowledge(acks);
      } catch (err) {
        // Kept for the next flush; a crash meanwhile only means those events are sent again.
        this.acks.push(...acks);
        this.dead.push(...dead);
        this.e.observer?.storageError?.(err);
        if (!this.stopped) this.later(() => void this.flush(), 1000);
      }
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = undefined;
    }
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
