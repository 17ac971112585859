/**
 * Retry delays: exponential backoff with "equal jitter" (half the delay fixed, half random), so a
 * fleet of twins that failed together does not retry together, and no delay is ever near zero.
 */

export interface BackoffOptions {
  /** Delay after the first failure, ms. */
  initialMs: number;
  /** Longest delay, ms. */
  maxMs: number;
}

/**
 * The delay before attempt `failures + 1`, given `failures` ≥ 1 failed attempts so far.
 * @example backoffDelay(3, { initialMs: 500, maxMs: 60_000 }, Math.random) // between 1000 and 2000
 */
export function backoffDelay(failures: number, o: BackoffOptions, random: () => number): number {
  const exp = Math.min(o.maxMs, o.initialMs * 2 ** Math.min(Math.max(0, failures - 1), 30));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(exp / 2 + (exp / 2) * r);
}
