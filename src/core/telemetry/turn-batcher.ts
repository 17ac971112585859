/**
 * Gathers the items handed in during one event-loop turn and runs them together once, at the next
 * turn (setImmediate): every caller of that turn waits for the same run. The ingest service uses it
 * for history appends and dead letters, so a burst of messages costs one store call, not one each.
 */
export class TurnBatcher<T> {
  private current: { items: T[]; done: Promise<void>; resolve(): void; reject(e: unknown): void } | undefined;

  /** @param run runs once per turn with every item of the turn; its failure rejects every waiter. */
  constructor(private readonly run: (items: T[]) => Promise<void>) {}

  /** Adds an item to this turn's run; resolves (or rejects) when that run ends. */
  add(item: T): Promise<void> {
    let b = this.current;
    if (!b) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // A run nobody awaits any more must not become an unhandled rejection; awaiters still see it.
      done.catch(() => undefined);
      const batch = (b = this.current = { items: [], done, resolve, reject });
      setImmediate(() => {
        this.current = undefined;
        Promise.resolve()
          .then(() => this.run(batch.items))
          .then(batch.resolve, batch.reject);
      });
    }
    b.items.push(item);
    return b.done;
  }
}
