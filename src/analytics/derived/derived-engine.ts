/**
 * The streaming evaluator of derived values: sees every committed observation, keeps per twin its
 * latest numeric values and the state of its windowed values, and writes what it computes through a
 * DerivedSink (finite numbers only; non-finite results are counted, never written); values with
 * `target: property` go to the DerivedPropertySink instead (rounded first for integer and long
 * properties), and are read by the other derived values like any derived value. Pure: no I/O,
 * no timers — the runtime calls `tick(now)` for what time alone decides (tumbling windows closing,
 * time since the last reading, neighbour aggregates of twins whose neighbours changed).
 *
 * State per twin is bounded: at most DERIVED_LIMITS.maxLatestPerTwin cached values, one operator
 * per windowed value, a sliding window at most its `maxPoints` (≤ 100,000) and 24 h of points.
 *
 * @example
 *   const engine = new DerivedEngine({ sets, context, sink });
 *   engine.observe({ workspace: 'default', twinId: 'pump-1', modelId, time: Date.now(), values: { flow: 40 } });
 *   engine.tick(Date.now());
 */
import type {
  DerivedPropertySink,
  DerivedSink,
  TelemetryObservation,
  TwinContext,
} from '../analytics-types.js';
import { EMPTY_PLAN, PlanBook } from './derived-plan.js';
import type { DerivedPlan, PlanValue } from './derived-plan.js';
import { DERIVED_LIMITS } from './derived-types.js';
import type { DerivedSet, DerivedValue, ExprInput } from './derived-types.js';
import { createOp, opSignature } from './window-ops.js';
import { ScratchMap } from '../scratch-map.js';
import { setOwnKey } from '../../core/json/own-key.js';
import type { Emit, StreamOp } from './window-ops.js';

export interface DerivedEngineOptions {
  sets: readonly DerivedSet[];
  context: TwinContext;
  sink: DerivedSink;
  /** Where values with `target: property` go; required when a set has such values. */
  propertySink?: DerivedPropertySink;
  /** A tumbling window is emitted on tick this long after its end when no later reading closed it (5 s). */
  windowGraceMs?: number;
  /** Neighbour aggregates are recomputed at least this often on tick (relationships may change; 60 s). */
  neighbourRefreshMs?: number;
}

export interface DerivedStats {
  readings: number;
  /** Values handed to the sink (telemetry). */
  written: number;
  /** Values handed to the property sink (it decides which reach the twins). */
  propertyValues: number;
  nonFinite: number;
  outOfOrder: number;
  twins: number;
}

/** The engine's state, JSON-safe. */
export interface DerivedSnapshot {
  version: 1;
  twins: {
    workspace: string;
    twinId: string;
    modelId: string;
    latest: [string, number][];
    lastTime: [string, number][];
    ops: { name: string; signature: string; state: Record<string, unknown> }[];
  }[];
  /** Twin keys (workspace NUL twin) whose neighbour aggregates read each twin key; pending ones. */
  watchers?: [string, string[]][];
  dirty?: string[];
  lastRefresh?: number;
}

interface TwinState {
  ws: string;
  id: string;
  key: string;
  modelId: string;
  plan: DerivedPlan;
  latest: Map<string, number>;
  /** Time of the last reading per telemetry name ('' for any). */
  lastTime: Map<string, number>;
  ops: (StreamOp | undefined)[];
  /** Per value: where its operator's results go (made once, not per reading). */
  emits: ((t: number, x: number) => void)[];
}

const toNum = (v: unknown): number | undefined =>
  typeof v === 'number'
    ? Number.isFinite(v)
      ? v
      : undefined
    : typeof v === 'boolean'
      ? v
        ? 1
        : 0
      : undefined;
const keyOf = (ws: string, id: string): string => `${ws}\u0000${id}`;

export class DerivedEngine {
  private readonly book: PlanBook;
  private readonly states = new Map<string, TwinState>();
  /** Twin key → keys of the twins whose neighbour aggregates read it. */
  private readonly watchers = new Map<string, Set<string>>();
  private readonly dirty = new Set<string>();
  private readonly graceMs: number;
  private readonly refreshMs: number;
  private lastRefresh = -Infinity;
  /** Scratch of one pass (passes never nest): names changed with their time, and what to write by time. */
  private readonly changed = new ScratchMap<string, number>();
  private readonly out = new ScratchMap<number, Record<string, number>>();
  /** Twin states by workspace then twin id (no key string built per reading). */
  private readonly byWs = new Map<string, Map<string, TwinState>>();
  private readonly counts = { readings: 0, written: 0, propertyValues: 0, nonFinite: 0, outOfOrder: 0 };

  /** @throws Error when a set writes properties and no propertySink is given. */
  constructor(private readonly o: DerivedEngineOptions) {
    if (!o.propertySink && o.sets.some((s) => s.values.some((v) => v.property !== undefined)))
      throw new Error('DerivedEngine: the sets write properties (target: property); give a propertySink.');
    this.book = new PlanBook(o.sets, o.context);
    this.graceMs = o.windowGraceMs ?? 5000;
    this.refreshMs = o.neighbourRefreshMs ?? 60_000;
  }

  stats(): DerivedStats {
    return { ...this.counts, twins: this.states.size };
  }

  /** Feeds one committed reading set; writes the derived values it decides. */
  observe(obs: TelemetryObservation): void {
    this.counts.readings++;
    const s = this.state(obs.workspace, obs.twinId, obs.modelId);
    const changed = this.changed;
    changed.clear();
    const prefix = obs.component === undefined ? '' : `${obs.component}.`;
    const values = obs.values;
    const since = s.plan.sinceOf;
    for (const k in values) {
      if (!Object.hasOwn(values, k)) continue;
      const x = toNum(values[k]);
      if (x === undefined) continue;
      const name = prefix === '' ? k : prefix + k;
      if (s.latest.size >= DERIVED_LIMITS.maxLatestPerTwin && !s.latest.has(name)) continue;
      s.latest.set(name, x);
      if (since.has(name)) s.lastTime.set(name, obs.time);
      changed.set(name, obs.time);
    }
    if (!((s.lastTime.get('') ?? -Infinity) > obs.time)) s.lastTime.set('', obs.time);
    if (s.plan !== EMPTY_PLAN) this.run(s, obs.time, false);
    const w = this.watchers.get(s.key);
    if (w) for (const k of w) this.dirty.add(k);
  }

  /** Makes a twin known without a reading (a line whose values are sums over its equipment). */
  watch(workspace: string, twinId: string): void {
    const modelId = this.o.context.modelOf(workspace, twinId);
    if (modelId === undefined) return;
    const s = this.state(workspace, twinId, modelId);
    if (s.plan.usesNeighbours) this.dirty.add(s.key);
  }

  /** Emits what time alone decides by `now` (ms, the time base of the observations). */
  tick(now: number): void {
    const refresh = now - this.lastRefresh >= this.refreshMs;
    if (refresh) this.lastRefresh = now;
    for (const s of this.states.values()) {
      if (!s.plan.hasTickWork) continue;
      this.changed.clear();
      this.out.clear();
      s.plan.values.forEach((pv, i) => {
        const v = pv.value;
        if (v.kind === 'tumbling') s.ops[i]?.due(now, this.graceMs, s.emits[i] as Emit);
        else if (v.kind === 'since') {
          const last = s.lastTime.get(v.of ?? '');
          if (last !== undefined) this.emitted(s, v, now, Math.max(0, now - last) / 1000);
        }
      });
      const neighbours = s.plan.usesNeighbours && (refresh || this.dirty.has(s.key));
      this.dirty.delete(s.key);
      if (this.changed.size > 0 || neighbours) this.run(s, now, neighbours, true);
      else this.flush(s);
    }
  }

  private state(ws: string, id: string, modelId: string): TwinState {
    let inWs = this.byWs.get(ws);
    if (!inWs) this.byWs.set(ws, (inWs = new Map()));
    let s = inWs.get(id);
    if (!s || s.modelId !== modelId) {
      const key = keyOf(ws, id);
      const plan = this.book.plan(ws, modelId, id);
      const st: TwinState = {
        ws,
        id,
        key,
        modelId,
        plan,
        latest: new Map(),
        lastTime: new Map(),
        ops: [],
        emits: [],
      };
      st.ops = plan.values.map((pv) =>
        pv.value.kind === 'expr' || pv.value.kind === 'since' ? undefined : createOp(pv.value),
      );
      st.emits = plan.values.map((pv) => (t: number, x: number) => this.emitted(st, pv.value, t, x));
      this.states.set(key, st);
      inWs.set(id, st);
      s = st;
    }
    return s;
  }

  /** One pass over the twin's plan in dependency order; `changed` maps names to their source time. */
  private run(s: TwinState, time: number, neighbours: boolean, keepOut = false): void {
    const changed = this.changed;
    if (!keepOut) this.out.clear();
    const values = s.plan.values;
    for (let i = 0; i < values.length; i++) {
      const pv = values[i] as PlanValue;
      const v = pv.value;
      if (v.kind === 'expr') {
        if (!(pv.always || (neighbours && pv.usesNeighbours) || this.triggered(pv, changed))) continue;
        this.emitted(s, v, time, this.evaluate(s, pv));
      } else if (v.kind !== 'since') {
        const t = changed.get(v.of);
        const x = s.latest.get(v.of);
        if (t === undefined || x === undefined) continue;
        const ok = s.ops[i]?.add(t, x, s.emits[i] as Emit);
        if (ok === false) this.counts.outOfOrder++;
      }
    }
    this.flush(s);
  }

  private flush(s: TwinState): void {
    const out = this.out;
    const n = out.size;
    if (n === 0) return;
    if (n === 1) {
      // The usual pass: one source time. Detached first: a sink may feed the engine again
      // synchronously (derived values observed back).
      const t = out.keyAt(0);
      const rec = out.valueAt(0);
      out.clear();
      this.write(s, t, rec);
      return;
    }
    const entries: [number, Record<string, number>][] = [];
    for (let i = 0; i < n; i++) entries.push([out.keyAt(i), out.valueAt(i)]);
    out.clear();
    for (const [t, rec] of entries) this.write(s, t, rec);
  }

  private write(s: TwinState, t: number, rec: Record<string, number>): void {
    let n = 0;
    for (const _name in rec) n++;
    this.counts.written += n;
    this.o.sink.write(s.ws, s.id, t, rec);
  }

  private triggered(pv: PlanValue, changed: ScratchMap<string, number>): boolean {
    const triggers = pv.triggers ?? [];
    for (let i = 0; i < triggers.length; i++) if (changed.has(triggers[i] as string)) return true;
    return false;
  }

  private emitted(s: TwinState, v: DerivedValue, t: number, value: number): void {
    const out = this.out;
    if (!Number.isFinite(value)) {
      this.counts.nonFinite++;
      return;
    }
    const name = v.name;
    const p = v.property;
    // An integer or long property holds what its twin will hold, for the values reading it too.
    const x = p?.integer ? Math.round(value) : value;
    s.latest.set(name, x);
    this.changed.set(name, t);
    if (p) {
      // The property sink only records the value (it never feeds the engine back synchronously).
      this.counts.propertyValues++;
      this.o.propertySink?.write(s.ws, s.id, t, name, x, p);
      return;
    }
    let rec = out.get(t);
    // A plain object, not Object.create(null): that one is a dictionary from the start, and every
    // sink walks it (~0.4 µs more per reading). Names are data, `__proto__` included.
    if (!rec) out.set(t, (rec = {}));
    setOwnKey(rec, name, x);
  }

  private evaluate(s: TwinState, pv: PlanValue): number {
    const frame = pv.frame as Float64Array;
    const inputs = pv.inputs ?? [];
    const keys = pv.propertyKeys ?? [];
    for (let k = 0; k < inputs.length; k++) {
      const i = inputs[k] as ExprInput;
      frame[k] =
        i.from === 'neighbours' ? this.aggregate(s, i)
        : i.from === 'property' ? (toNum(this.o.context.property(s.ws, s.id, keys[k] as string)) ?? NaN)
        : (s.latest.get(i.name) ?? NaN); // prettier-ignore
    }
    return (pv.evaluate as (f: Float64Array) => number)(frame);
  }

  private aggregate(s: TwinState, i: Extract<ExprInput, { from: 'neighbours' }>): number {
    const targets = this.o.context.related(s.ws, s.id, i.relationship);
    let n = 0;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    for (const target of targets) {
      const tk = keyOf(s.ws, target);
      let w = this.watchers.get(tk);
      if (!w) this.watchers.set(tk, (w = new Set()));
      w.add(s.key);
      if (i.name === undefined) continue;
      const x =
        this.states.get(tk)?.latest.get(i.name) ??
        toNum(this.o.context.property(s.ws, target, i.name.replace('.', '/')));
      if (x === undefined) continue;
      n++;
      sum += x;
      if (x < min) min = x;
      if (x > max) max = x;
    }
    switch (i.aggregate) {
      case 'count':
        return i.name === undefined ? targets.length : n;
      case 'sum':
        return sum;
      case 'avg':
        return n === 0 ? NaN : sum / n;
      case 'min':
        return n === 0 ? NaN : min;
      case 'max':
        return n === 0 ? NaN : max;
    }
  }

  /** The engine's state (JSON-safe: finite numbers and strings only). */
  snapshot(): DerivedSnapshot {
    const twins: DerivedSnapshot['twins'] = [];
    for (const s of this.states.values())
      twins.push({
        workspace: s.ws,
        twinId: s.id,
        modelId: s.modelId,
        latest: [...s.latest],
        lastTime: [...s.lastTime],
        ops: s.plan.values.flatMap((pv, i) => {
          const op = s.ops[i];
          return op ? [{ name: pv.value.name, signature: opSignature(pv.value), state: op.snapshot() }] : [];
        }),
      });
    return {
      version: 1,
      twins,
      watchers: [...this.watchers].map(([k, w]) => [k, [...w]]),
      dirty: [...this.dirty],
      ...(Number.isFinite(this.lastRefresh) ? { lastRefresh: this.lastRefresh } : {}),
    };
  }

  /** Replaces the state with a snapshot's; what does not fit the current definitions is dropped. */
  restore(snap: DerivedSnapshot): void {
    this.states.clear();
    this.byWs.clear();
    this.watchers.clear();
    this.dirty.clear();
    this.lastRefresh = -Infinity;
    if (snap?.version !== 1 || !Array.isArray(snap.twins)) return;
    for (const t of snap.twins) {
      if (typeof t?.workspace !== 'string' || typeof t.twinId !== 'string' || typeof t.modelId !== 'string')
        continue;
      const s = this.state(t.workspace, t.twinId, t.modelId);
      const pairs = (a: unknown): [string, number][] =>
        Array.isArray(a)
          ? (a as unknown[]).filter(
              (p): p is [string, number] =>
                Array.isArray(p) &&
                typeof p[0] === 'string' &&
                typeof p[1] === 'number' &&
                Number.isFinite(p[1]),
            )
          : [];
      for (const [k, x] of pairs(t.latest).slice(0, DERIVED_LIMITS.maxLatestPerTwin)) s.latest.set(k, x);
      for (const [k, x] of pairs(t.lastTime).slice(0, DERIVED_LIMITS.maxLatestPerTwin + 1))
        s.lastTime.set(k, x);
      const saved = new Map((Array.isArray(t.ops) ? t.ops : []).map((op) => [op?.name, op]));
      s.plan.values.forEach((pv, i) => {
        const op = saved.get(pv.value.name);
        const v = pv.value;
        if (op && op.signature === opSignature(v) && typeof op.state === 'object' && op.state !== null)
          if (v.kind !== 'expr' && v.kind !== 'since') s.ops[i] = createOp(v, op.state);
      });
    }
    const known = (k: unknown): k is string => typeof k === 'string' && this.states.has(k);
    for (const [k, w] of Array.isArray(snap.watchers) ? snap.watchers : [])
      if (typeof k === 'string' && Array.isArray(w) && w.every(known)) this.watchers.set(k, new Set(w));
    for (const k of Array.isArray(snap.dirty) ? snap.dirty : []) if (known(k)) this.dirty.add(k);
    if (typeof snap.lastRefresh === 'number' && Number.isFinite(snap.lastRefresh))
      this.lastRefresh = snap.lastRefresh;
  }
}
