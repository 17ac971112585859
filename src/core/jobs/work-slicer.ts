/**
 * Cooperative slicing for long work on the thread that acknowledges devices: call the returned
 * function between units of work; it gives the event loop back (`yieldNow`) once `sliceMs` of work
 * has run since the last time, and returns at once otherwise. Awaiting a store that answers
 * synchronously (SQLite) only runs microtasks: without this, reading thousands of series in one
 * loop holds the event loop for seconds.
 *
 * @example
 * const pace = workSlicer({ sliceMs: 10, yieldNow: () => new Promise((r) => setImmediate(r)), now: () => performance.now() });
 * for (const id of twins) { await readOne(id); await pace(); }
 */
export interface WorkSlicerOptions {
  /** Most work between two yields, ms. */
  sliceMs: number;
  yieldNow: () => Promise<void>;
  /** Monotonic clock, ms. */
  now: () => number;
}

export function workSlicer(o: WorkSlicerOptions): () => Promise<void> {
  let sliceStart = o.now();
  return async () => {
    if (o.now() - sliceStart < o.sliceMs) return;
    await o.yieldNow();
    sliceStart = o.now();
  };
}
