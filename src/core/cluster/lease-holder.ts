/**
 * Runs a job on one node of the cluster at a time, through a named lease in the shared store: every
 * node that can run it tries to take the lease every `everyMs`; the holder renews it as often, and
 * runs the job from `onAcquired` until `onLost`. A holder that dies stops renewing: its lease ends
 * `ttlMs` after its last renewal (the store's clock) and another node takes it at its next try, so
 * a takeover takes at most about ttlMs + everyMs. A clean stop releases the lease (after `onLost`
 * finished the work), so another node takes it at its next try.
 *
 * A holder that cannot renew (the store unreachable, or slow) stops the job itself before its lease
 * can have ended: a deadline timer set at each take or renewal, `ttlMs - guard` after the request
 * was sent, calls `onLost` whatever the pending request does. The job's own writes are then the
 * only overlap with a successor (for event delivery: at-least-once, never lost).
 */
import type { DeliveryClock } from '../ports/delivery-ports.js';
import type { NamedLease, NamedLeases } from '../ports/cluster.js';

type Log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

export interface LeaseHolderOptions {
  leases: NamedLeases;
  /** The job's lease name (one per job in the cluster). */
  name: string;
  /** This node (unique per process). */
  owner: string;
  /** How long a take or renewal holds, ms. */
  ttlMs: number;
  /** Between two tries to take or renew, ms (default ttlMs / 4). */
  everyMs?: number;
  clock: DeliveryClock;
  /** The lease was taken: start the job. */
  onAcquired: () => void;
  /**
   * The lease was lost or is given up: stop the job (resolves once it stopped). `why`: 'stopping',
   * 'taken over or expired' or 'not renewed in time'.
   */
  onLost: (why: string) => Promise<void>;
  log?: Log;
}

export class LeaseHolder {
  private lease: NamedLease | undefined;
  private readonly every: number;
  private stopped = false;
  private timer: (() => void) | undefined;
  private deadline: (() => void) | undefined;
  private ticking: Promise<void> | undefined;
  private losing: Promise<void> | undefined;
  private lastError = 0;
  private readonly log: Log;

  constructor(private readonly o: LeaseHolderOptions) {
    this.every = Math.max(1, o.everyMs ?? Math.floor(o.ttlMs / 4));
    this.log = o.log ?? (() => undefined);
  }

  /** True while this node holds the lease (and runs the job). */
  get held(): boolean {
    return this.lease !== undefined;
  }

  start(): void {
    this.schedule(0);
  }

  /** Stops trying; stops the job and releases the lease when held. Never throws. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.timer?.();
    this.timer = undefined;
    await this.ticking;
    await this.losing;
    const lease = this.lease;
    if (!lease) return;
    await this.lose('stopping');
    try {
      await this.o.leases.release(lease);
    } catch (err) {
      this.log('warn', 'could not release a lease (it ends by itself)', {
        lease: lease.name,
        err: (err as Error).message,
      });
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = undefined;
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        this.schedule(this.every);
      });
    }, ms);
  }

  private async tick(): Promise<void> {
    await this.losing;
    if (this.stopped) return;
    const { leases, name, owner, ttlMs } = this.o;
    const before = this.lease;
    const sentAt = this.o.clock.now();
    try {
      const got = before ? await leases.renew(before, ttlMs) : await leases.acquire(name, owner, ttlMs);
      if (this.lease !== before) return; // lost meanwhile (the deadline): the next tick takes it again
      if (!got) {
        if (before) await this.lose('taken over or expired');
        return;
      }
      this.lease = got;
      this.arm(sentAt);
      if (!before) {
        this.log('info', 'took the lease: running the job here', { lease: name, epoch: got.epoch });
        this.o.onAcquired();
      }
    } catch (err) {
      // A renewal that does not get through: the deadline stops the job before the lease can end.
      if (this.o.clock.now() - this.lastError >= 10_000) {
        this.lastError = this.o.clock.now();
        this.log('warn', 'could not take or renew a lease (trying again)', {
          lease: name,
          err: (err as Error).message,
        });
      }
    }
  }

  /** The job stops at ttl - guard after the request that took or renewed the lease was sent. */
  private arm(sentAt: number): void {
    this.deadline?.();
    const guard = Math.min(this.every, Math.floor(this.o.ttlMs / 4));
    const at = sentAt + this.o.ttlMs - guard;
    const lease = this.lease;
    this.deadline = this.o.clock.setTimeout(
      () => {
        this.deadline = undefined;
        if (this.lease === lease) void this.lose('not renewed in time');
      },
      Math.max(0, at - this.o.clock.now()),
    );
  }

  private lose(why: string): Promise<void> {
    if (this.losing) return this.losing;
    const lease = this.lease;
    this.lease = undefined;
    this.deadline?.();
    this.deadline = undefined;
    if (!lease) return Promise.resolve();
    this.log(why === 'stopping' ? 'info' : 'warn', 'gave up the lease: the job stops here', {
      lease: lease.name,
      why,
    });
    this.losing = this.o
      .onLost(why)
      .catch((err: unknown) =>
        this.log('error', 'the job did not stop cleanly', { err: (err as Error).message }),
      )
      .finally(() => {
        this.losing = undefined;
      });
    return this.losing;
  }
}
