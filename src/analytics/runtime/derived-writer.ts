/**
 * The DerivedSink of the analytics runtime: values the operators derive (calculated telemetry,
 * anomaly scores) are merged per twin and time, then written in the background through the ingest
 * path for derived values (IngestService.ingestDerivedMany: history, latest values, live events):
 * everything gathered in one turn goes to the store as ONE call (one append, one promise), measured
 * as the largest analytics cost after the store itself (bench/analytics, CPU profile). Bounded: past `maxPendingSets` reading sets waiting, new ones
 * are counted as dropped (a metric) rather than held. A write that fails (the twin was deleted
 * meanwhile, the store is down) is counted and reported, never thrown at the operator.
 */
import type { DerivedSink } from '../analytics-types.js';

/** One set of derived values of a twin at a time, as handed to the store. */
export interface DerivedSetToWrite {
  workspace: string;
  twinId: string;
  time: number;
  values: Record<string, number>;
}

export interface DerivedWriterOptions {
  /**
   * Stores many sets in one append (IngestService.ingestDerivedMany): answers how many values were
   * stored and which sets were refused (by index, with why); rejects when the append failed.
   */
  write: (sets: DerivedSetToWrite[]) => Promise<{ refused: readonly { index: number; error: unknown }[] }>;
  /** Reading sets waiting at most (default 50,000). */
  maxPendingSets?: number;
  /** Told when a set is refused or a write fails (counted either way). */
  onError?: (error: unknown, where: { workspace: string; twinId: string }) => void;
  /** Runs `fn` later (default setImmediate). */
  schedule?: (fn: () => void) => void;
}

export interface DerivedWriterStats {
  /** Values handed to the store and committed. */
  written: number;
  /** Values whose write failed or was refused. */
  failed: number;
  /** Values not kept because too many were waiting. */
  dropped: number;
  /** Values skipped because they were not finite numbers. */
  nonFinite: number;
}

export class DerivedWriter implements DerivedSink {
  /** workspace → twin → time → values (no key strings built per value). */
  private pending = new Map<
    string,
    Map<string, Map<number, { values: Record<string, number>; n: number }>>
  >();
  private pendingSets = 0;
  private readonly maxPending: number;
  private readonly schedule: (fn: () => void) => void;
  private scheduled = false;
  private inFlight = new Set<Promise<void>>();
  private readonly counts: DerivedWriterStats = { written: 0, failed: 0, dropped: 0, nonFinite: 0 };

  constructor(private readonly opts: DerivedWriterOptions) {
    this.maxPending = opts.maxPendingSets ?? 50_000;
    this.schedule = opts.schedule ?? ((fn) => setImmediate(fn));
  }

  stats(): DerivedWriterStats {
    return { ...this.counts };
  }

  write(workspace: string, twinId: string, time: number, values: Readonly<Record<string, number>>): void {
    let twins = this.pending.get(workspace);
    if (twins === undefined) this.pending.set(workspace, (twins = new Map()));
    let times = twins.get(twinId);
    if (times === undefined) twins.set(twinId, (times = new Map()));
    let set = times.get(time);
    if (set === undefined) {
      if (this.pendingSets >= this.maxPending) {
        this.counts.dropped += Object.keys(values).length;
        return;
      }
      set = { values: {}, n: 0 };
      times.set(time, set);
      this.pendingSets++;
    }
    const into = set.values;
    for (const name in values) {
      if (!Object.hasOwn(values, name)) continue;
      const v = values[name];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        this.counts.nonFinite++;
        continue;
      }
      if (!Object.hasOwn(into, name)) set.n++;
      // Names come from checked definitions, but `__proto__` must stay data, never the prototype.
      if (name === '__proto__')
        Object.defineProperty(into, name, { value: v, enumerable: true, writable: true, configurable: true });
      else into[name] = v;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.flushNow());
    }
  }

  /** Resolves once everything handed over so far is written (or has failed). */
  async flush(): Promise<void> {
    this.flushNow();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private flushNow(): void {
    this.scheduled = false;
    const pending = this.pending;
    this.pending = new Map();
    this.pendingSets = 0;
    const batch: DerivedSetToWrite[] = [];
    const sizes: number[] = [];
    for (const [workspace, twins] of pending)
      for (const [twinId, times] of twins)
        for (const [time, set] of times) {
          if (set.n === 0) continue;
          batch.push({ workspace, twinId, time, values: set.values });
          sizes.push(set.n);
        }
    if (batch.length === 0) return;
    const total = sizes.reduce((a, b) => a + b, 0);
    const p = this.opts.write(batch).then(
      ({ refused }) => {
        let bad = 0;
        for (const r of refused) {
          bad += sizes[r.index] ?? 0;
          const s = batch[r.index];
          if (s) this.opts.onError?.(r.error, { workspace: s.workspace, twinId: s.twinId });
        }
        this.counts.written += total - bad;
        this.counts.failed += bad;
      },
      (e: unknown) => {
        this.counts.failed += total;
        const s = batch[0]!;
        this.opts.onError?.(e, { workspace: s.workspace, twinId: s.twinId });
      },
    );
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }
}
