/**
 * The Clock port the simulation runners take instead of reading the wall clock: `now()` and
 * one-shot timers. A virtual clock drives tests and as-fast-as-possible runs deterministically
 * (time moves only when told to); the real-time clock wraps injected `setTimeout`-like functions,
 * so this module stays free of I/O and globals.
 */
import { TwinloopError } from '../../core/errors/errors.js';

/** An opaque handle for a pending timer. */
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Current time in milliseconds (any epoch; only differences matter to the runners). */
  now(): number;
  /**
   * Calls `fn` once, no earlier than `delayMs` from now.
   * @throws TwinloopError BadRequest when delayMs is negative or not finite.
   */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  /** Cancels a pending timer; unknown or already fired handles are ignored. */
  clearTimer(handle: TimerHandle): void;
}

function checkDelay(delayMs: number): number {
  if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0) {
    throw new TwinloopError(
      'BadRequest',
      `Timer delay must be a finite number >= 0 ms, got ${String(delayMs)}.`,
    );
  }
  return delayMs;
}

interface PendingTimer {
  id: number;
  due: number;
  fn: () => void;
}

/** A clock whose time only moves by `advance`/`advanceTo`; timers fire in due order (ties: set order). */
export class VirtualClock implements Clock {
  private time: number;
  private nextId = 1;
  private timers: PendingTimer[] = [];

  constructor(startMs = 0) {
    if (!Number.isFinite(startMs))
      throw new TwinloopError('BadRequest', 'VirtualClock start must be finite.');
    this.time = startMs;
  }

  now(): number {
    return this.time;
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.length;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const id = this.nextId++;
    const timer = { id, due: this.time + checkDelay(delayMs), fn };
    // keep sorted by due time, then by id (stable): insert after every timer due no later
    let i = this.timers.length;
    while (i > 0 && (this.timers[i - 1] as PendingTimer).due > timer.due) i--;
    this.timers.splice(i, 0, timer);
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    const i = this.timers.findIndex((t) => t.id === handle.id);
    if (i >= 0) this.timers.splice(i, 1);
  }

  /** Moves time forward by `ms`, firing every timer that falls due (including ones they set). */
  advance(ms: number): void {
    this.advanceTo(this.time + checkDelay(ms));
  }

  /**
   * Moves time to `targetMs`, firing due timers one by one with `now()` at each timer's due time.
   * @throws TwinloopError BadRequest when targetMs is before now.
   */
  advanceTo(targetMs: number): void {
    if (!(targetMs >= this.time)) {
      throw new TwinloopError('BadRequest', `VirtualClock cannot go back from ${this.time} to ${targetMs}.`);
    }
    for (;;) {
      const next = this.timers[0];
      if (next === undefined || next.due > targetMs) break;
      this.timers.shift();
      this.time = next.due;
      next.fn();
    }
    this.time = targetMs;
  }
}

/** The host functions a real-time clock needs (e.g. `Date.now`, `setTimeout`, `clearTimeout`). */
export interface HostTimers<H> {
  now(): number;
  setTimeout(fn: () => void, ms: number): H;
  clearTimeout(handle: H): void;
}

/** A Clock over injected host timers: the real-time adapter, pure because nothing is global. */
export function createRealClock<H>(host: HostTimers<H>): Clock {
  const live = new Map<number, H>();
  let nextId = 1;
  return {
    now: () => host.now(),
    setTimer(delayMs, fn) {
      const id = nextId++;
      const h = host.setTimeout(() => {
        live.delete(id);
        fn();
      }, checkDelay(delayMs));
      live.set(id, h);
      return { id };
    },
    clearTimer(handle) {
      const h = live.get(handle.id);
      if (h === undefined) return;
      live.delete(handle.id);
      host.clearTimeout(h);
    },
  };
}
