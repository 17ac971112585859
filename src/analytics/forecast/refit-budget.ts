/**
 * How streaming forecasts (forecast rules, continuous forecasts) keep refits — milliseconds of CPU
 * each (bench/forecast/refit.ts) — from stalling the event loop: at most `maxPerTick` refits run
 * between two ticks; one that falls due beyond that, or while others wait, waits in a first-in
 * first-out queue (once per key) that the next ticks serve. Deterministic: it counts refits, it
 * does not read the clock to decide (the clock only measures).
 *
 * @example
 * const budget = new RefitBudget<string>(2);
 * budget.due(key, key, () => refit(key)); // now, or queued
 * setInterval(() => budget.tick((key) => () => refit(key)), 1000);
 */
export interface RefitStats {
  refits: number;
  /** Refits that fell due when the budget was spent (or others waited), and waited. */
  refitsDeferred: number;
  /** Refits waiting now. */
  refitsPending: number;
  /** Time spent in refits, ms (by the clock given). */
  refitMs: number;
}

export class RefitBudget<V> {
  private readonly waiting = new Map<string, V>();
  private budget: number;
  private refits = 0;
  private deferred = 0;
  private ms = 0;

  /**
   * @param maxPerTick refits between two ticks (at least 1)
   * @param clock monotonic ms, to measure refits (default performance.now)
   */
  constructor(
    private readonly maxPerTick: number,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.maxPerTick = Math.max(1, Math.floor(maxPerTick));
    this.budget = this.maxPerTick;
  }

  stats(): RefitStats {
    return {
      refits: this.refits,
      refitsDeferred: this.deferred,
      refitsPending: this.waiting.size,
      refitMs: this.ms,
    };
  }

  isWaiting(key: string): boolean {
    return this.waiting.has(key);
  }

  /** Forgets a waiting refit (its stream or pair is gone). */
  cancel(key: string): void {
    this.waiting.delete(key);
  }

  /** A refit fell due: it runs now when the budget allows and none waits; else it waits (once per key). */
  due(key: string, value: V, refit: () => void): void {
    if (this.waiting.has(key)) return;
    if (this.waiting.size === 0 && this.budget > 0) {
      this.run(refit);
      return;
    }
    this.waiting.set(key, value);
    this.deferred++;
  }

  /**
   * A tick: the budget is renewed and waiting refits run, oldest first, while it lasts. `serve`
   * answers the refit to run for a waiting value, or undefined when it no longer applies (then it
   * costs nothing).
   */
  tick(serve: (value: V) => (() => void) | undefined): void {
    this.budget = this.maxPerTick;
    for (const [key, value] of this.waiting) {
      if (this.budget <= 0) return;
      this.waiting.delete(key);
      const refit = serve(value);
      if (refit) this.run(refit);
    }
  }

  private run(refit: () => void): void {
    const t0 = this.clock();
    this.budget--;
    this.refits++;
    try {
      refit();
    } finally {
      this.ms += this.clock() - t0;
    }
  }
}
