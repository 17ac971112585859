/**
 * The DerivedSink of the analytics runtime: values the operators derive (calculated telemetry,
 * anomaly scores) are merged per twin and time, then written in the background through the ingest
 * path for derived values (IngestService.ingestDerived: history, latest values, live events), many
 * writes sharing one group commit. Bounded: past `maxPendingSets` reading sets waiting, new ones
 * are counted as dropped (a metric) rather than held. A write that fails (the twin was deleted
 * meanwhile, the store is down) is counted and reported, never thrown at the operator.
 */
import type { DerivedSink } from '../analytics-types.js';

export interface DerivedWriterOptions {
  /** Stores one reading set of derived values (IngestService.ingestDerived). */
  write: (workspace: string, twinId: string, time: number, values: Record<string, number>) => Promise<void>;
  /** Reading sets waiting at most (default 50,000). */
  maxPendingSets?: number;
  /** Told when a write fails (counted either way). */
  onError?: (error: unknown, where: { workspace: string; twinId: string }) => void;
  /** Runs `fn` later (default setImmediate). */
  schedule?: (fn: () => void) => void;
}

export interface DerivedWriterStats {
  /** Values handed to the store and committed. */
  written: number;
  /** Values whose write failed. */
  failed: number;
  /** Values not kept because too many were waiting. */
  dropped: number;
  /** Values skipped because they were not finite numbers. */
  nonFinite: number;
}

interface PendingSet {
  workspace: string;
  twinId: string;
  time: number;
  values: Record<string, number>;
}

export class DerivedWriter implements DerivedSink {
  private pending = new Map<string, PendingSet>();
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
    const key = `${workspace}\u0000${twinId}\u0000${time}`;
    let set = this.pending.get(key);
    if (set === undefined) {
      if (this.pending.size >= this.maxPending) {
        this.counts.dropped += Object.keys(values).length;
        return;
      }
      // A null-prototype object: names come from definitions and are checked, but `__proto__` must stay data.
      set = { workspace, twinId, time, values: Object.create(null) as Record<string, number> };
      this.pending.set(key, set);
    }
    for (const [name, v] of Object.entries(values)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        this.counts.nonFinite++;
        continue;
      }
      set.values[name] = v;
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
    const sets = this.pending;
    this.pending = new Map();
    for (const s of sets.values()) {
      const n = Object.keys(s.values).length;
      if (n === 0) continue;
      const p = this.opts.write(s.workspace, s.twinId, s.time, { ...s.values }).then(
        () => {
          this.counts.written += n;
        },
        (e: unknown) => {
          this.counts.failed += n;
          this.opts.onError?.(e, { workspace: s.workspace, twinId: s.twinId });
        },
      );
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p));
    }
  }
}
