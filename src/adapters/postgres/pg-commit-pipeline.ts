/**
 * Pipelined group commits to PostgreSQL: appends wait in a queue; up to `maxInFlight` commits run at
 * once, each taking what is queued (up to `maxItems` units) in ONE transaction. A commit is mostly
 * waiting (round trips, the server's work, the fsync of COMMIT): with one at a time, measured ~70 ms
 * per ~5,000-point commit, the Node process and the server took turns; with a few in flight, one
 * builds its rows while another is in the server and a third waits for its fsync.
 *
 * Order and exclusivity: waiters of commits settle in the order their commits started (a later
 * commit that finishes first waits for the earlier ones to settle), so callers that act after a
 * commit (live events) see them in queue order. An item with a `key` (a bus partition's checkpoint)
 * never shares the pipeline with another in-flight item of the same key: the batch stops before it,
 * so a later checkpoint of a key can never be committed while an earlier one is still in flight.
 *
 * Outages: a commit that fails because PostgreSQL is unreachable (`isUnreachable`) does not fail
 * its waiters: its items go back into the queue at their place (by arrival), and commits are then
 * retried one at a time with backoff (`retryMinMs` doubling to `retryMaxMs`) until one succeeds.
 * `onOutage` is told when the outage starts and when it ends. Memory stays bounded: beyond
 * `maxBuffered` units waiting, `admit` refuses (the caller answers 503 / withholds the PUBACK).
 * Any other failure rejects the commit's waiters.
 */
import { TwinloopError } from '../../core/errors/errors.js';

export interface PipelineItem {
  /** Units it counts for (history points). */
  readonly size: number;
  /** Items with the same key are never committed concurrently (a bus partition's checkpoint). */
  readonly key?: string | undefined;
  resolve(): void;
  reject(e: unknown): void;
}

export interface CommitAttemptInfo {
  ms: number;
  items: number;
  waiters: number;
  failed: boolean;
  error?: unknown;
  /** A failed attempt whose items are kept and retried (PostgreSQL unreachable). */
  retrying?: boolean;
}

export type OutageEvent =
  | { state: 'started'; since: number; reason: string; bufferedPoints: number }
  | {
      state: 'ended';
      since: number;
      /** How long commits failed, ms. */
      ms: number;
      /** Commit attempts that failed during the outage. */
      attempts: number;
      /** Points that waited and were committed when it ended (most queued at once). */
      points: number;
    };

export interface CommitPipelineOptions<T extends PipelineItem> {
  /** Runs one batch in one transaction. Rejects with the error to report (already a TwinloopError). */
  commit(batch: readonly T[]): Promise<void>;
  /** Maps a failure to the error waiters see. */
  toError(e: unknown): TwinloopError;
  /** Whether the failure means PostgreSQL is unreachable (keep the items, retry with backoff). */
  isUnreachable(e: TwinloopError): boolean;
  maxItems: number;
  maxInFlight: number;
  delayMs: number;
  maxBuffered: number;
  retryMinMs: number;
  retryMaxMs: number;
  onAttempt?: ((info: CommitAttemptInfo) => void) | undefined;
  onOutage?: ((event: OutageEvent) => void) | undefined;
}

interface Running<T> {
  items: T[];
  /** Arrival numbers of the items (where they go back if the attempt is retried). */
  arrivals: number[];
  size: number;
  /** Set when the commit ended: how its waiters settle (in start order). */
  outcome?: { ok: true } | { ok: false; error: unknown };
}

export class CommitPipeline<T extends PipelineItem> {
  /** Waiting items with their arrival number (requeued items keep theirs). */
  private queue: { n: number; item: T }[] = [];
  private queued = 0;
  private arrivals = 0;
  /** Commits under way, in start order (settled from the head). */
  private readonly running: Running<T>[] = [];
  private inFlightUnits = 0;
  /** Commits under way that have not ended (an ended one may still wait to settle). */
  private active = 0;
  private readonly keysInFlight = new Map<string, number>();
  private scheduled = false;
  private closed = false;
  private outage: { since: number; reason: string; attempts: number; peak: number } | undefined;
  /** No commit starts before this time (backoff during an outage). */
  private resumeAt = 0;
  private resumeTimer: ReturnType<typeof setTimeout> | undefined;
  private idle: (() => void)[] = [];

  constructor(private readonly o: CommitPipelineOptions<T>) {}

  /** Units waiting or in a commit under way. */
  get buffered(): number {
    return this.queued + this.inFlightUnits;
  }

  get unreachableSince(): { since: number; reason: string } | undefined {
    return this.outage && { since: this.outage.since, reason: this.outage.reason };
  }

  /** Why an item of this size cannot be taken now (the buffer is full), or undefined. */
  refusal(size: number): TwinloopError | undefined {
    if (size === 0 || this.buffered === 0 || this.buffered + size <= this.o.maxBuffered) return undefined;
    const why = this.outage
      ? `PostgreSQL is unreachable since ${new Date(this.outage.since).toISOString()}`
      : 'the group commits cannot keep up';
    return new TwinloopError(
      'ServiceUnavailable',
      `History ingest is paused: ${why} and ${this.buffered} points already wait (limit ${this.o.maxBuffered}); send again later.`,
      { details: { retryAfterSeconds: 5 } },
    );
  }

  push(item: T): void {
    this.queue.push({ n: this.arrivals++, item });
    this.queued += item.size;
    this.kick();
  }

  /** Commits everything queued, then stops retrying outages (their waiters then reject). */
  async close(): Promise<void> {
    this.closed = true;
    this.resumeAt = 0;
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.pump();
    while (this.queue.length || this.running.length) {
      await new Promise<void>((r) => this.idle.push(r));
      this.pump();
    }
  }

  private kick(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const go = (): void => {
      this.scheduled = false;
      this.pump();
    };
    if (this.o.delayMs > 0) setTimeout(go, this.o.delayMs);
    else setImmediate(go);
  }

  /** Starts commits while there is room in the pipeline and something to commit. */
  private pump(): void {
    for (;;) {
      if (this.queue.length === 0) return;
      // During an outage: one attempt at a time, after the backoff.
      const limit = this.outage ? 1 : Math.max(1, this.o.maxInFlight);
      if (this.active >= limit) return;
      const wait = this.resumeAt - Date.now();
      if (wait > 0) {
        if (!this.resumeTimer) {
          this.resumeTimer = setTimeout(() => {
            this.resumeTimer = undefined;
            this.pump();
          }, wait);
        }
        return;
      }
      const batch = this.take();
      if (!batch) return;
      this.start(batch);
    }
  }

  /** The next batch: queue order, up to maxItems units, stopping at a key already in flight. */
  private take(): { n: number; item: T }[] | undefined {
    let k = 0;
    let n = 0;
    const keys = new Set<string>();
    while (k < this.queue.length) {
      const it = this.queue[k]!.item;
      if (k > 0 && n + it.size > this.o.maxItems) break;
      if (it.key !== undefined && (this.keysInFlight.has(it.key) || keys.has(it.key))) break;
      if (it.key !== undefined) keys.add(it.key);
      n += it.size;
      k++;
    }
    if (k === 0) return undefined;
    const taken = this.queue.splice(0, k);
    this.queued -= n;
    return taken;
  }

  private start(entries: { n: number; item: T }[]): void {
    const items = entries.map((e) => e.item);
    let size = 0;
    for (const it of items) {
      size += it.size;
      if (it.key !== undefined) this.keysInFlight.set(it.key, (this.keysInFlight.get(it.key) ?? 0) + 1);
    }
    const run: Running<T> = { items, arrivals: entries.map((e) => e.n), size };
    this.running.push(run);
    this.active++;
    this.inFlightUnits += size;
    const t0 = performance.now();
    void this.o.commit(items).then(
      () => {
        this.attempt(t0, run, false);
        this.recovered(size);
        this.finish(run, { ok: true });
      },
      (e: unknown) => {
        const err = this.o.toError(e);
        const retrying = this.o.isUnreachable(err) && !this.closed;
        this.attempt(t0, run, true, err, retrying);
        if (retrying) {
          this.requeue(run);
          this.noteFailure(err);
          this.finish(run, undefined);
        } else {
          this.finish(run, { ok: false, error: err });
        }
      },
    );
  }

  /** Puts a retried batch's items back at their place by arrival (ahead of everything later). */
  private requeue(run: Running<T>): void {
    const first = run.arrivals[0]!;
    let at = 0;
    while (at < this.queue.length && this.queue[at]!.n < first) at++;
    this.queue.splice(at, 0, ...run.items.map((item, i) => ({ n: run.arrivals[i]!, item })));
    this.queued += run.size;
  }

  private finish(run: Running<T>, outcome: Running<T>['outcome'] | undefined): void {
    for (const it of run.items) {
      if (it.key === undefined) continue;
      const c = (this.keysInFlight.get(it.key) ?? 1) - 1;
      if (c <= 0) this.keysInFlight.delete(it.key);
      else this.keysInFlight.set(it.key, c);
    }
    this.inFlightUnits -= run.size;
    this.active--;
    if (outcome) run.outcome = outcome;
    else this.running.splice(this.running.indexOf(run), 1); // requeued: settles with a later batch
    // Settle from the head, in start order.
    while (this.running.length && this.running[0]!.outcome) {
      const head = this.running.shift()!;
      const o = head.outcome!;
      for (const it of head.items) {
        if (o.ok) it.resolve();
        else it.reject(o.error);
      }
    }
    if (this.queue.length) this.pump();
    // close() re-checks what is left after every commit.
    const waiting = this.idle;
    this.idle = [];
    for (const w of waiting) w();
  }

  private attempt(t0: number, run: Running<T>, failed: boolean, error?: unknown, retrying = false): void {
    try {
      this.o.onAttempt?.({
        ms: performance.now() - t0,
        items: run.size,
        waiters: run.items.length,
        failed,
        ...(failed ? { error, retrying } : {}),
      });
    } catch {
      // an observer must never break a commit
    }
  }

  /** A retried attempt failed: the outage starts (told once) or goes on; the next waits longer. */
  private noteFailure(err: TwinloopError): void {
    if (!this.outage) {
      this.outage = { since: Date.now(), reason: err.message, attempts: 0, peak: 0 };
      this.tell({
        state: 'started',
        since: this.outage.since,
        reason: err.message,
        bufferedPoints: this.queued,
      });
    }
    const o = this.outage;
    o.attempts++;
    o.peak = Math.max(o.peak, this.queued);
    const ms = Math.min(this.o.retryMaxMs, this.o.retryMinMs * 2 ** Math.min(o.attempts - 1, 20));
    this.resumeAt = this.closed ? 0 : Date.now() + ms;
  }

  private recovered(committed: number): void {
    const o = this.outage;
    if (!o) return;
    this.outage = undefined;
    this.resumeAt = 0;
    this.tell({
      state: 'ended',
      since: o.since,
      ms: Date.now() - o.since,
      attempts: o.attempts,
      points: Math.max(o.peak, committed + this.queued),
    });
  }

  private tell(event: OutageEvent): void {
    try {
      this.o.onOutage?.(event);
    } catch {
      // an observer must never break a commit
    }
  }
}
