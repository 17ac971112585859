/**
 * Group commit: requests made in the same tick (or within `delayMs`) are committed together by one
 * synchronous `commit` call (one transaction, one fsync); then every request's promise resolves,
 * or, when the commit throws, every one of them rejects with that error.
 */

export interface GroupCommitOptions {
  /** Wait this long (ms) for more requests before committing; 0 (default) = end of the current tick. */
  delayMs?: number;
  /** Commit at once when this many items are queued (default 200,000). */
  maxItems?: number;
  /**
   * Told after every commit attempt: how long it took (ms), how many items and callers, whether it
   * failed, and why (`error`, when it failed).
   */
  onCommit?: (info: CommitInfo) => void;
}

/** What onCommit is told about one commit attempt. */
export interface CommitInfo {
  ms: number;
  items: number;
  waiters: number;
  failed: boolean;
  error?: unknown;
}

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class GroupCommitter<T> {
  private items: T[] = [];
  private waiters: Waiter[] = [];
  private scheduled = false;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private readonly delayMs: number;
  private readonly maxItems: number;
  private readonly onCommit: GroupCommitOptions['onCommit'];

  /** `commit` runs synchronously with every queued item; it must be all-or-nothing. */
  constructor(
    private readonly commit: (items: T[]) => void,
    options: GroupCommitOptions = {},
  ) {
    this.delayMs = Math.max(0, options.delayMs ?? 0);
    this.maxItems = Math.max(1, options.maxItems ?? 200_000);
    this.onCommit = options.onCommit;
  }

  get pending(): number {
    return this.items.length;
  }

  /** Queues items; resolves when they are committed. */
  submit(items: readonly T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      for (const it of items) this.items.push(it);
      this.waiters.push({ resolve, reject });
      if (this.items.length >= this.maxItems) {
        this.flush();
      } else if (!this.scheduled) {
        this.scheduled = true;
        this.timer =
          this.delayMs > 0 ? setTimeout(() => this.flush(), this.delayMs) : setImmediate(() => this.flush());
      }
    });
  }

  /** Commits what is queued now (synchronously); promises settle right after. */
  flush(): void {
    if (this.timer !== undefined) {
      if (this.delayMs > 0) clearTimeout(this.timer as NodeJS.Timeout);
      else clearImmediate(this.timer as NodeJS.Immediate);
      this.timer = undefined;
    }
    this.scheduled = false;
    const items = this.items;
    const waiters = this.waiters;
    if (waiters.length === 0) return;
    this.items = [];
    this.waiters = [];
    const t0 = performance.now();
    try {
      this.commit(items);
    } catch (e) {
      this.report(t0, items.length, waiters.length, true, e);
      for (const w of waiters) w.reject(e);
      return;
    }
    this.report(t0, items.length, waiters.length, false);
    for (const w of waiters) w.resolve();
  }

  private report(t0: number, items: number, waiters: number, failed: boolean, error?: unknown): void {
    if (!this.onCommit) return;
    try {
      this.onCommit({
        ms: performance.now() - t0,
        items,
        waiters,
        failed,
        ...(failed ? { error } : {}),
      });
    } catch {
      // an observer must never break a commit
    }
  }
}
