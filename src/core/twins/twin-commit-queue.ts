/**
 * How twin and relationship writes reach the asynchronous TwinStore without losing ADT's
 * conditional-request semantics or the throughput of batched writes.
 *
 * Serialisation: a write holds what it reads and writes from its checks until its commit has been
 * applied to the graph: a twin write holds its twin exclusively; a relationship write holds its
 * source and target twins shared (they must not be deleted or change model meanwhile, but other
 * relationships of them may be written), the relationship itself exclusively, and a create also
 * (source, name) exclusively (maxMultiplicity counts those). Writes to other things go on
 * meanwhile. We chose these locks over a per-workspace one so that concurrent writes can share one
 * commit (group commit: an import's chain of relationships a->b, b->c ... would otherwise commit
 * one by one), and over a pending overlay because the checks (etags, If-None-Match, targets,
 * multiplicity, "no relationships left" on delete) all read the graph: with the holds taken, the
 * graph they read is exactly what the store holds on this node. The store's etag
 * expectations still guard against other nodes (a stale graph): they fail with PreconditionFailed.
 * Locks are taken all at once, in call order, so they cannot deadlock; a write whose twins are
 * free starts synchronously, so writes started in one tick are checked and queued in that tick.
 *
 * Group commit: writes queued while no commit is in flight are committed together after the
 * current tick's other work (setImmediate); writes queued while one is in flight go in the next.
 * When a group fails with PreconditionFailed or InvalidArgument (one write's fault), its writes
 * are committed one by one so only the offending one fails. Pure: the store and the scheduler are
 * given.
 */
import { isTwinloopError } from '../errors/errors.js';
import type { TwinStore, TwinWrite } from '../ports/storage-ports.js';

export interface TwinCommitQueueOptions {
  store: TwinStore;
  /** Most writes in one commit (default 2000). */
  maxBatch?: number;
  /** Runs fn after the current tick's I/O callbacks (default setImmediate). */
  schedule?: (fn: () => void) => void;
}

interface Queued {
  write: TwinWrite;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class TwinCommitQueue {
  private readonly store: TwinStore;
  private readonly maxBatch: number;
  private readonly schedule: (fn: () => void) => void;
  private queued: Queued[] = [];
  private scheduled = false;
  private inFlight = false;
  /** Per key: the last exclusive holder and the shared holders since (each settles on release). */
  private readonly locks = new Map<string, { writer?: Promise<void>; readers: Set<Promise<void>> }>();
  /** Commits made (for tests and metrics). */
  commits = 0;

  constructor(o: TwinCommitQueueOptions) {
    this.store = o.store;
    this.maxBatch = o.maxBatch ?? 2000;
    this.schedule = o.schedule ?? ((fn) => setImmediate(fn));
  }

  /**
   * Runs fn holding the given keys exclusively: after every earlier holder of any of them has
   * released it. fn starts synchronously when they are all free.
   */
  exclusive<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    return this.hold(
      keys.map((key) => ({ key })),
      fn,
    );
  }

  /**
   * Runs fn holding the given keys, each shared or exclusive: a shared hold waits only for earlier
   * exclusive holders, an exclusive one for every earlier holder. fn starts synchronously when
   * nothing is in its way.
   */
  hold<T>(keys: readonly { key: string; shared?: boolean }[], fn: () => Promise<T>): Promise<T> {
    const wanted = new Map<string, boolean>();
    for (const k of keys) wanted.set(k.key, (wanted.get(k.key) ?? true) && k.shared === true);
    const before: Promise<void>[] = [];
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    for (const [key, shared] of wanted) {
      let lock = this.locks.get(key);
      if (!lock) this.locks.set(key, (lock = { readers: new Set() }));
      if (lock.writer) before.push(lock.writer);
      if (shared) lock.readers.add(mine);
      else {
        before.push(...lock.readers);
        lock.readers = new Set();
        lock.writer = mine;
      }
    }
    const done = () => {
      for (const key of wanted.keys()) {
        const lock = this.locks.get(key);
        if (!lock) continue;
        lock.readers.delete(mine);
        if (lock.writer === mine) lock.writer = undefined;
        if (!lock.writer && lock.readers.size === 0) this.locks.delete(key);
      }
      release();
    };
    const run = async (): Promise<T> => {
      try {
        return await fn();
      } finally {
        done();
      }
    };
    if (before.length === 0) return run();
    return Promise.all(before).then(run);
  }

  /** Commits the write with others queued with it; resolves once durable. @throws as TwinStore.commit */
  commit(write: TwinWrite): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ write, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.scheduled || this.inFlight || this.queued.length === 0) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.inFlight || this.queued.length === 0) return;
    this.inFlight = true;
    const group = this.queued.splice(0, this.maxBatch);
    try {
      await this.commitGroup(group);
    } finally {
      this.inFlight = false;
      this.kick();
    }
  }

  private async commitGroup(group: Queued[]): Promise<void> {
    try {
      this.commits++;
      await this.store.commit(group.map((q) => q.write));
      for (const q of group) q.resolve();
      return;
    } catch (e) {
      if (group.length === 1 || !oneWritesFault(e)) {
        for (const q of group) q.reject(e);
        return;
      }
    }
    // One write's fault: find it by committing them one by one (in order).
    for (const q of group) {
      try {
        this.commits++;
        await this.store.commit([q.write]);
        q.resolve();
      } catch (e) {
        q.reject(e);
      }
    }
  }
}

function oneWritesFault(e: unknown): boolean {
  return isTwinloopError(e) && (e.code === 'PreconditionFailed' || e.code === 'InvalidArgument');
}
