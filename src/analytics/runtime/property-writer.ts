/**
 * The DerivedPropertySink of the analytics runtime: derived values with `target: property` become
 * twin properties through the twin service (a JSON Patch, `replace` or `add` of `/name` and its
 * `$metadata` sourceTime), so each write is validated, versioned (a new etag), stored, appended to
 * the property history and published (twin-updated live and event-route events) exactly like a
 * PATCH of the API — which is also what it costs, hence the cadence.
 *
 * Per twin and property it keeps the latest value and writes it no more often than the value's
 * `every` (source time: the readings' clock, so a simulator running faster writes as often per
 * simulated minute), and only when it moved by more than its `deadband` since the last write.
 * A value that arrives within `every` of the last write waits; a later one replaces it
 * (coalescing); `tick(now)` writes what waited once `every` has passed. All properties of a twin
 * that are due go in one patch, and the patches of one turn go out together in the background
 * (the twin service group-commits them), at most `maxInFlight` at once: ingest never waits for them.
 *
 * Bounded: at most `maxTwins` twins tracked (values of further twins are dropped, counted). A
 * failed patch (the twin was deleted, its model changed) is counted and reported, never thrown;
 * the next value of that property is then written whatever it is, `every` after the failed one.
 *
 * Every value handed over ends counted exactly once: written, failed, skipped (replaced within
 * `every`, within the deadband, or older than the last write) or dropped — or is still pending.
 */
import type { DerivedPropertySink, PropertyWritePolicy } from '../analytics-types.js';

/** One operation of the JSON Patch a twin gets. */
export interface PropertyPatchOp {
  op: 'add' | 'replace';
  path: string;
  value: unknown;
}

export interface PropertyWriterOptions {
  /**
   * Applies a JSON Patch to a twin through the twin service (TwinService.update); rejects when the
   * patch is refused (no such twin, validation) or cannot be stored.
   */
  patch: (workspace: string, twinId: string, ops: PropertyPatchOp[]) => Promise<unknown>;
  /** Whether the twin has the property set now (`name`, or `component.name`): `replace`, else `add`. */
  has: (workspace: string, twinId: string, name: string) => boolean;
  /** True for an error meaning the twin is gone (its state is then forgotten). */
  isGone?: (error: unknown) => boolean;
  /** Twins tracked at most (default 100,000); values of further twins are dropped. */
  maxTwins?: number;
  /** Patches in flight at most (default 64); more wait for the next turn. */
  maxInFlight?: number;
  /** Told when a patch fails (counted either way). */
  onError?: (error: unknown, where: { workspace: string; twinId: string; names: string[] }) => void;
  /** Runs `fn` later (default setImmediate). */
  schedule?: (fn: () => void) => void;
}

export interface PropertyWriterStats {
  /** Property values written to twins (committed). */
  written: number;
  /** Property values whose patch failed. */
  failed: number;
  /** Values not written: replaced by a later one within `every`, within the deadband, or older than the last write. */
  skipped: number;
  /** Values not kept: too many twins tracked. */
  dropped: number;
  /** Twins with a value waiting (for its `every`, or for its patch). */
  pendingTwins: number;
  /** Patches being applied now. */
  inFlight: number;
}

interface Slot {
  name: string;
  policy: Readonly<PropertyWritePolicy>;
  /** Whether a write was attempted; then the value and source time of that write. */
  attempted: boolean;
  /** NaN after a failed write (the next value differs from it whatever it is). */
  last: number;
  lastTime: number;
  /** The latest value not written yet. */
  pending: boolean;
  value: number;
  time: number;
  /** Its `every` has passed: it goes with the twin's next patch. */
  due: boolean;
}

interface TwinEntry {
  ws: string;
  id: string;
  slots: Map<string, Slot>;
  /** In `ready`. */
  queued: boolean;
  /** A patch of it is in flight (one at a time per twin). */
  busy: boolean;
}

/** RFC 6901 token. */
const token = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');
/** Largest |ms| a Date holds. */
const MAX_DATE_MS = 8.64e15;

export class PropertyWriter implements DerivedPropertySink {
  private readonly twins = new Map<string, Map<string, TwinEntry>>();
  private tracked = 0;
  /** Twins with a due value, in the order they became due. */
  private readonly ready = new Set<TwinEntry>();
  /** Twins with a value waiting for its `every`. */
  private readonly waiting = new Set<TwinEntry>();
  private readonly inFlight = new Set<Promise<void>>();
  private scheduled = false;
  private readonly maxTwins: number;
  private readonly maxInFlight: number;
  private readonly schedule: (fn: () => void) => void;
  private readonly counts = { written: 0, failed: 0, skipped: 0, dropped: 0 };

  constructor(private readonly o: PropertyWriterOptions) {
    this.maxTwins = o.maxTwins ?? 100_000;
    this.maxInFlight = o.maxInFlight ?? 64;
    this.schedule = o.schedule ?? ((fn) => setImmediate(fn));
  }

  stats(): PropertyWriterStats {
    const pending = (t: TwinEntry): boolean => [...t.slots.values()].some((s) => s.pending);
    let pendingTwins = 0;
    for (const t of this.ready) if (pending(t)) pendingTwins++;
    for (const t of this.waiting) if (!this.ready.has(t) && pending(t)) pendingTwins++;
    return { ...this.counts, pendingTwins, inFlight: this.inFlight.size };
  }

  write(
    workspace: string,
    twinId: string,
    time: number,
    name: string,
    value: number,
    policy: Readonly<PropertyWritePolicy>,
  ): void {
    if (!Number.isFinite(value) || !Number.isFinite(time)) {
      this.counts.skipped++;
      return;
    }
    const t = this.entry(workspace, twinId);
    if (t === undefined) {
      this.counts.dropped++;
      return;
    }
    let slot = t.slots.get(name);
    if (slot === undefined) {
      slot = {
        name,
        policy,
        attempted: false,
        last: NaN,
        lastTime: -Infinity,
        pending: false,
        value: 0,
        time: 0,
        due: false,
      };
      t.slots.set(name, slot);
    }
    slot.policy = policy;
    if (time < slot.lastTime) {
      this.counts.skipped++; // older than what the twin shows: never written over it
      return;
    }
    if (slot.pending) this.counts.skipped++; // the waiting value is replaced (coalescing)
    if (slot.attempted && !Number.isNaN(slot.last) && !(Math.abs(value - slot.last) > policy.deadband)) {
      // The twin shows this value already, within the deadband: nothing to write.
      slot.pending = false;
      slot.due = false;
      this.counts.skipped++;
      return;
    }
    slot.pending = true;
    slot.value = value;
    slot.time = time;
    if (slot.due || !slot.attempted || time - slot.lastTime >= policy.everyMs) this.markDue(t, slot);
    else this.waiting.add(t);
  }

  /** Writes the values that waited for their `every` by `now` (source time, the readings' clock). */
  tick(now: number): void {
    for (const t of this.waiting) {
      let still = false;
      for (const slot of t.slots.values()) {
        if (!slot.pending || slot.due) continue;
        if (now - slot.lastTime >= slot.policy.everyMs) this.markDue(t, slot);
        else still = true;
      }
      if (!still) this.waiting.delete(t);
    }
  }

  /** Forgets a twin (deleted): its waiting values are not written. */
  forgetTwin(workspace: string, twinId: string): void {
    const inWs = this.twins.get(workspace);
    const t = inWs?.get(twinId);
    if (inWs === undefined || t === undefined) return;
    for (const slot of t.slots.values()) if (slot.pending) this.counts.skipped++;
    inWs.delete(twinId);
    this.tracked--;
    this.ready.delete(t);
    this.waiting.delete(t);
  }

  /** Resolves once every due value handed over so far is written (or has failed). */
  async flush(): Promise<void> {
    for (;;) {
      this.flushNow();
      if (this.inFlight.size === 0) return;
      await Promise.allSettled([...this.inFlight]);
    }
  }

  private entry(ws: string, id: string): TwinEntry | undefined {
    let inWs = this.twins.get(ws);
    if (inWs === undefined) this.twins.set(ws, (inWs = new Map()));
    let t = inWs.get(id);
    if (t === undefined) {
      if (this.tracked >= this.maxTwins) return undefined;
      t = { ws, id, slots: new Map(), queued: false, busy: false };
      inWs.set(id, t);
      this.tracked++;
    }
    return t;
  }

  private markDue(t: TwinEntry, slot: Slot): void {
    slot.due = true;
    if (!t.queued) {
      t.queued = true;
      this.ready.add(t);
    }
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.flushNow());
    }
  }

  private flushNow(): void {
    this.scheduled = false;
    for (const t of this.ready) {
      if (this.inFlight.size >= this.maxInFlight) break;
      if (t.busy) continue; // its patch is in flight; it goes once that is done
      this.ready.delete(t);
      t.queued = false;
      this.send(t);
    }
  }

  private send(t: TwinEntry): void {
    const ops: PropertyPatchOp[] = [];
    const names: string[] = [];
    const taken: Slot[] = [];
    for (const slot of t.slots.values()) {
      if (!slot.pending || !slot.due) continue;
      const [a, b] = slot.name.split('.', 2) as [string, string | undefined];
      const path = b === undefined ? `/${token(a)}` : `/${token(a)}/${token(b)}`;
      const op = this.o.has(t.ws, t.id, slot.name) ? 'replace' : 'add';
      ops.push({ op, path, value: slot.value });
      // When the value was observed (the reading's source time), as ADT keeps it.
      if (Math.abs(slot.time) <= MAX_DATE_MS) {
        const meta = b === undefined ? `/$metadata/${token(a)}` : `/${token(a)}/$metadata/${token(b)}`;
        ops.push({ op: 'add', path: `${meta}/sourceTime`, value: new Date(slot.time).toISOString() });
      }
      names.push(slot.name);
      taken.push(slot);
      slot.attempted = true;
      slot.last = slot.value;
      slot.lastTime = slot.time;
      slot.pending = false;
      slot.due = false;
    }
    if (ops.length === 0) return;
    t.busy = true;
    const n = taken.length;
    const p = (async () => {
      try {
        await this.o.patch(t.ws, t.id, ops);
        this.counts.written += n;
      } catch (e) {
        this.counts.failed += n;
        for (const slot of taken) slot.last = NaN;
        if (this.o.isGone?.(e) === true) this.forgetTwin(t.ws, t.id);
        try {
          this.o.onError?.(e, { workspace: t.ws, twinId: t.id, names });
        } catch {
          // a reporter that throws must not turn a counted failure into an unhandled rejection
        }
      } finally {
        t.busy = false;
      }
    })();
    this.inFlight.add(p);
    void p.finally(() => {
      this.inFlight.delete(p);
      if (this.ready.size > 0 && !this.scheduled) {
        this.scheduled = true;
        this.schedule(() => this.flushNow());
      }
    });
  }
}
