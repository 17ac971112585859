/**
 * Gathers the items handed in during one event-loop turn and runs them together once, at the next
 * turn (setImmediate): every caller of that turn waits for the same run. The ingest service uses it
 * for history appends and dead letters, so a burst of messages costs one store call, not one each.
 */
export class TurnBatcher<T> {
  private current:
    | { items: T[]; weight: number; done: Promise<void>; resolve(): void; reject(e: unknown): void }
    | undefined;

  /**
   * @param run runs once per turn with the items of the turn; its failure rejects every waiter.
   * @param limit with `weight`: a run takes items up to this weight, then the turn starts another
   *   run (they run side by side: each waiter waits only for its own). Default: one run per turn.
   */
  constructor(
    private readonly run: (items: T[]) => Promise<void>,
    private readonly limit = Infinity,
    private readonly weight: (item: T) => number = () => 1,
  ) {}

  /** Adds an item to this turn's run; resolves (or rejects) when that run ends. */
  add(item: T): Promise<void> {
    const w = this.weight(item);
    let b = this.current;
    if (b && b.items.length > 0 && b.weight + w > this.limit) b = undefined; // full: the next run of this turn
    if (!b) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // A run nobody awaits any more must not become an unhandled rejection; awaiters still see it.
      done.catch(() => undefined);
      const batch = (b = this.current = { items: [], weight: 0, done, resolve, reject });
      setImmediate(() => {
        if (this.current === batch) this.current = undefined;
        Promise.resolve()
          .then(() => this.run(batch.items))
          .then(batch.resolve, batch.reject);
      });
    }
    b.items.push(item);
    b.weight += w;
    return b.done;
  }
}
