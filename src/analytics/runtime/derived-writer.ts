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
import { setOwnKey } from '../../core/json/own-key.js';

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

/** A set waiting: its values merged so far and how many. */
interface PendingSet {
  time: number;
  values: Record<string, number>;
  n: number;
}

/** A twin's sets of the current turn (`turn` tells whether `sets` is this turn's). */
interface PendingTwin {
  id: string;
  turn: number;
  sets: PendingSet[];
}

interface PendingWorkspace {
  name: string;
  turn: number;
  /** The twins with sets this turn, in the order they got their first. */
  twins: PendingTwin[];
  byId: Map<string, PendingTwin>;
}

export class DerivedWriter implements DerivedSink {
  /**
   * workspace → twin → its sets of this turn, kept from turn to turn (no key strings built per
   * value, no map made per twin and turn): what `turn` does not match is empty.
   */
  private readonly workspaces = new Map<string, PendingWorkspace>();
  /** The workspaces with sets this turn, in the order they got their first. */
  private order: PendingWorkspace[] = [];
  private turn = 0;
  private pendingSets = 0;
  private readonly maxPending: number;
  private readonly schedule: (fn: () => void) => void;
  private scheduled = false;
  private inFlight = new Set<Promise<void>>();
  /** Sets taken whole (writeSet) this turn, and how many values each holds. */
  private ready: DerivedSetToWrite[] = [];
  private readySizes: number[] = [];
  private readonly counts: DerivedWriterStats = { written: 0, failed: 0, dropped: 0, nonFinite: 0 };

  constructor(private readonly opts: DerivedWriterOptions) {
    this.maxPending = opts.maxPendingSets ?? 50_000;
    this.schedule = opts.schedule ?? ((fn) => setImmediate(fn));
  }

  stats(): DerivedWriterStats {
    return { ...this.counts };
  }

  write(workspace: string, twinId: string, time: number, values: Readonly<Record<string, number>>): void {
    let ws = this.workspaces.get(workspace);
    if (ws === undefined) {
      ws = { name: workspace, turn: -1, twins: [], byId: new Map() };
      this.workspaces.set(workspace, ws);
    }
    if (ws.turn !== this.turn) {
      ws.turn = this.turn;
      ws.twins = [];
      this.order.push(ws);
    }
    let twin = ws.byId.get(twinId);
    if (twin === undefined) {
      twin = { id: twinId, turn: -1, sets: [] };
      ws.byId.set(twinId, twin);
    }
    if (twin.turn !== this.turn) {
      twin.turn = this.turn;
      twin.sets = [];
      ws.twins.push(twin);
    }
    let set: PendingSet | undefined;
    const sets = twin.sets;
    // Usually one set per twin and turn (a reading's derived values and scores merge into it).
    for (let i = 0; i < sets.length; i++)
      if (sets[i]!.time === time) {
        set = sets[i];
        break;
      }
    if (set === undefined) {
      if (this.pendingSets >= this.maxPending) {
        this.counts.dropped += Object.keys(values).length;
        return;
      }
      set = { time, values: {}, n: 0 };
      sets.push(set);
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
      setOwnKey(into, name, v);
    }
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.flushNow());
    }
  }

  /**
   * A set already merged (the analytics worker's, one per twin and time of its turn): taken as it is,
   * without merging it again (write's per-value work, ~1 % of the ingest thread at saturation).
   * `values` is taken over: do not change it. A set with a value that is not a finite number goes
   * through write instead (which keeps the finite ones and counts the others).
   */
  writeSet(workspace: string, twinId: string, time: number, values: Record<string, number>): void {
    let n = 0;
    for (const name in values) {
      if (!Object.hasOwn(values, name)) continue;
      const v = values[name];
      if (typeof v !== 'number' || !Number.isFinite(v)) return this.write(workspace, twinId, time, values);
      n++;
    }
    if (n === 0) return;
    if (this.pendingSets >= this.maxPending) {
      this.counts.dropped += n;
      return;
    }
    this.pendingSets++;
    this.ready.push({ workspace, twinId, time, values });
    this.readySizes.push(n);
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
    const order = this.order;
    this.order = [];
    this.turn++;
    this.pendingSets = 0;
    const batch = this.ready;
    const sizes = this.readySizes;
    this.ready = [];
    this.readySizes = [];
    for (const ws of order) {
      // Bounded like the graph: a flood of twin ids starts afresh (between turns: nothing is pending).
      if (ws.byId.size >= 1_000_000) ws.byId.clear();
      for (const twin of ws.twins)
        for (const set of twin.sets) {
          if (set.n === 0) continue;
          batch.push({ workspace: ws.name, twinId: twin.id, time: set.time, values: set.values });
          sizes.push(set.n);
        }
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
