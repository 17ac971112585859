/**
 * The streaming operators of windowed derived values, one instance per twin and value, each O(1)
 * per reading (sliding windows amortised) with a JSON-safe snapshot: tumbling windows (aligned on
 * multiples of their size since the epoch, emitted at the window's end), sliding windows (emitted on
 * each reading), EWMA with a half-life over irregular time, and rate of change (between two readings,
 * or fitted over an exponentially weighted window).
 */
import type { DerivedValue, WindowAggregate } from './derived-types.js';
import { ExtremeWindow } from './extreme-window.js';
import { SlidingWindow } from './sliding-window.js';
import type { SlidingSnapshot } from './sliding-window.js';

/** Receives what an operator emits: a value at a source time (ms). */
export type Emit = (time: number, value: number) => void;

export interface StreamOp {
  /** Feeds a reading; false when it is out of order or late (dropped). */
  add(time: number, x: number, emit: Emit): boolean;
  /** Emits what is due by `now` (tumbling windows whose end + grace has passed). */
  due(now: number, graceMs: number, emit: Emit): void;
  snapshot(): Record<string, unknown>;
}

type WindowedValue = Extract<DerivedValue, { kind: 'tumbling' | 'sliding' | 'ewma' | 'rate' }>;

const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);

class Tumbling implements StreamOp {
  start = -Infinity;
  n = 0;
  shift = 0;
  sum = 0;
  sumSq = 0;
  min = Infinity;
  max = -Infinity;
  /** Readings before this time belong to windows already emitted. */
  closedUntil = -Infinity;

  constructor(
    readonly sizeMs: number,
    readonly agg: WindowAggregate,
  ) {}

  add(time: number, x: number, emit: Emit): boolean {
    const k = Math.floor(time / this.sizeMs) * this.sizeMs;
    if (time < this.closedUntil || (this.n > 0 && k < this.start)) return false;
    if (this.n > 0 && k > this.start) this.close(emit);
    if (this.n === 0) {
      this.start = k;
      this.shift = x;
    }
    const d = x - this.shift;
    this.n++;
    this.sum += d;
    this.sumSq += d * d;
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    return true;
  }

  due(now: number, graceMs: number, emit: Emit): void {
    if (this.n > 0 && this.start + this.sizeMs + graceMs <= now) this.close(emit);
  }

  private close(emit: Emit): void {
    const n = this.n;
    const mean = this.sum / n;
    const v =
      this.agg === 'count' ? n
      : this.agg === 'sum' ? this.sum + this.shift * n
      : this.agg === 'mean' ? this.shift + mean
      : this.agg === 'min' ? this.min
      : this.agg === 'max' ? this.max
      : Math.sqrt(Math.max(0, this.sumSq / n - mean * mean)); // prettier-ignore
    const end = this.start + this.sizeMs;
    this.closedUntil = end;
    this.n = 0;
    this.sum = 0;
    this.sumSq = 0;
    this.min = Infinity;
    this.max = -Infinity;
    emit(end, v);
  }

  snapshot(): Record<string, unknown> {
    const open = this.n > 0;
    return {
      ...(open ? { start: this.start, n: this.n, shift: this.shift, sum: this.sum, sumSq: this.sumSq } : {}),
      ...(open ? { min: this.min, max: this.max } : {}),
      ...(Number.isFinite(this.closedUntil) ? { closedUntil: this.closedUntil } : {}),
    };
  }

  restore(s: Record<string, unknown>): this {
    const [start, n, shift, sum, sumSq, min, max] = [s.start, s.n, s.shift, s.sum, s.sumSq, s.min, s.max].map(
      num,
    );
    if (
      start !== undefined && n !== undefined && Number.isInteger(n) && n > 0 && shift !== undefined &&
      sum !== undefined && sumSq !== undefined && min !== undefined && max !== undefined
    ) Object.assign(this, { start, n, shift, sum, sumSq, min, max }); // prettier-ignore
    this.closedUntil = num(s.closedUntil) ?? -Infinity;
    return this;
  }
}

class Sliding implements StreamOp {
  w: SlidingWindow;
  constructor(
    sizeMs: number,
    maxPoints: number,
    readonly agg: WindowAggregate,
  ) {
    this.w = new SlidingWindow(sizeMs, maxPoints);
  }
  add(time: number, x: number, emit: Emit): boolean {
    if (time < this.w.last) return false;
    this.w.push(time, x);
    emit(time, this.w.value(this.agg));
    return true;
  }
  due(): void {}
  snapshot(): Record<string, unknown> {
    return { ...this.w.snapshot() };
  }
  restore(s: Record<string, unknown>): this {
    if (Array.isArray(s.t) && Array.isArray(s.v))
      this.w = SlidingWindow.restore(s as unknown as SlidingSnapshot, this.w.sizeMs, this.w.maxPoints);
    return this;
  }
}

class Ewma implements StreamOp {
  s: number | undefined;
  t = -Infinity;
  constructor(readonly halfLifeMs: number) {}
  add(time: number, x: number, emit: Emit): boolean {
    if (this.s === undefined) this.s = x;
    else {
      const dt = time - this.t;
      if (dt < 0) return false;
      this.s += (1 - Math.pow(2, -dt / this.halfLifeMs)) * (x - this.s);
    }
    this.t = time;
    emit(time, this.s);
    return true;
  }
  due(): void {}
  snapshot(): Record<string, unknown> {
    return this.s === undefined ? {} : { s: this.s, t: this.t };
  }
  restore(o: Record<string, unknown>): this {
    const s = num(o.s);
    const t = num(o.t);
    if (s !== undefined && t !== undefined) Object.assign(this, { s, t });
    return this;
  }
}

class Rate implements StreamOp {
  x: number | undefined;
  t = -Infinity;
  constructor(readonly perMs: number) {}
  add(time: number, x: number, emit: Emit): boolean {
    const dt = time - this.t;
    if (dt < 0) return false;
    const prev = this.x;
    this.x = x;
    this.t = time;
    if (prev !== undefined && dt > 0) emit(time, ((x - prev) / dt) * this.perMs);
    return true;
  }
  due(): void {}
  snapshot(): Record<string, unknown> {
    return this.x === undefined ? {} : { x: this.x, t: this.t };
  }
  restore(o: Record<string, unknown>): this {
    const x = num(o.x);
    const t = num(o.t);
    if (x !== undefined && t !== undefined) Object.assign(this, { x, t });
    return this;
  }
}

/**
 * Rate of change as the slope of a line fitted to the readings by least squares, each weighted by
 * 2^(−age/halfLife) (exponentially weighted linear regression over irregular time): O(1) state,
 * exact on a straight ramp, and its noise falls with the number of readings in a half-life — the
 * two-reading rate amplifies a sensor's noise by 1/Δt, which at a high reading rate leaves nothing
 * but noise. Times are kept relative to the last reading, in half-lives, so the sums stay near 1.
 * Emitted once the readings of the fit span a half-life: before, it is a slope over a moment of
 * noise (a rule on it would fire at every start).
 */
class SmoothedRate implements StreamOp {
  /** Σw, Σw·τ, Σw·τ², Σw·x, Σw·τ·x with τ = (time − t) / halfLife. */
  w = 0;
  wt = 0;
  wtt = 0;
  wx = 0;
  wtx = 0;
  t = -Infinity;
  /** The time of the fit's first reading. */
  from = -Infinity;
  constructor(
    readonly perMs: number,
    readonly halfLifeMs: number,
  ) {}
  add(time: number, x: number, emit: Emit): boolean {
    const dt = time - this.t;
    if (dt < 0) return false;
    if (this.w > 0 && dt > 0) {
      // Age every sum by dt and move the origin to the new reading's time (τ' = τ − d).
      const d = dt / this.halfLifeMs;
      const k = Math.pow(2, -d);
      const w = this.w * k;
      const wt = this.wt * k;
      const wx = this.wx * k;
      this.wtt = (this.wtt - 2 * d * this.wt) * k + d * d * w;
      this.wtx = this.wtx * k - d * wx;
      this.wt = wt - d * w;
      this.w = w;
      this.wx = wx;
      if (!(this.w > 1e-300)) this.w = this.wt = this.wtt = this.wx = this.wtx = 0; // all weight gone
    }
    if (this.w === 0) this.from = time;
    this.t = time;
    // The new reading sits at τ = 0: it adds only to Σw and Σw·x.
    this.w += 1;
    this.wx += x;
    const det = this.w * this.wtt - this.wt * this.wt;
    const num = this.w * this.wtx - this.wt * this.wx;
    if (!Number.isFinite(num) || !Number.isFinite(det)) {
      // Values near ±1.8e308 overflowed a sum: the fit starts afresh from this reading (a value of
      // extreme magnitude otherwise weighs on it like any other, until its weight has decayed).
      this.w = 1;
      this.wt = this.wtt = this.wtx = 0;
      this.wx = x;
      this.from = time;
      return true;
    }
    // A half-life of readings, two distinct times with weight (and no cancellation): the fitted slope.
    if (time - this.from >= this.halfLifeMs && det > 1e-9 * this.w * this.wtt)
      emit(time, (num / det / this.halfLifeMs) * this.perMs);
    return true;
  }
  due(): void {}
  snapshot(): Record<string, unknown> {
    const { w, wt, wtt, wx, wtx, t, from } = this;
    return w === 0 ? {} : { w, wt, wtt, wx, wtx, t, from };
  }
  restore(o: Record<string, unknown>): this {
    const [w, wt, wtt, wx, wtx, t, from] = [o.w, o.wt, o.wtt, o.wx, o.wtx, o.t, o.from].map(num);
    if (
      w !== undefined && w > 0 && wt !== undefined && wtt !== undefined && wtt >= 0 &&
      wx !== undefined && wtx !== undefined && t !== undefined && from !== undefined && from <= t
    ) Object.assign(this, { w, wt, wtt, wx, wtx, t, from }); // prettier-ignore
    return this;
  }
}

/** A sliding maximum or minimum: only the points that can still be the answer are kept (extreme-window.ts). */
class SlidingExtreme implements StreamOp {
  w: ExtremeWindow;
  constructor(sizeMs: number, maxPoints: number, agg: 'max' | 'min') {
    this.w = new ExtremeWindow(sizeMs, maxPoints, agg);
  }
  add(time: number, x: number, emit: Emit): boolean {
    if (time < this.w.last) return false;
    this.w.push(time, x);
    emit(time, this.w.value());
    return true;
  }
  due(): void {}
  snapshot(): Record<string, unknown> {
    return { ...this.w.snapshot() };
  }
  restore(s: Record<string, unknown>): this {
    if (Array.isArray(s.t) && Array.isArray(s.v))
      this.w = ExtremeWindow.restore(s, this.w.sizeMs, this.w.maxPoints, this.w.aggregate);
    return this;
  }
}

/** A fresh operator for a value, or one restored from its snapshot (bad fields are ignored). */
export function createOp(v: WindowedValue, snapshot?: Record<string, unknown>): StreamOp {
  const s = snapshot ?? {};
  switch (v.kind) {
    case 'tumbling':
      return new Tumbling(v.sizeMs, v.aggregate).restore(s);
    case 'sliding':
      return v.aggregate === 'max' || v.aggregate === 'min'
        ? new SlidingExtreme(v.sizeMs, v.maxPoints, v.aggregate).restore(s)
        : new Sliding(v.sizeMs, v.maxPoints, v.aggregate).restore(s);
    case 'ewma':
      return new Ewma(v.halfLifeMs).restore(s);
    case 'rate':
      return (
        v.halfLifeMs === undefined ? new Rate(v.perMs) : new SmoothedRate(v.perMs, v.halfLifeMs)
      ).restore(s);
  }
}

/** A value's operator signature: a snapshot taken under another definition is not restored. */
export function opSignature(v: DerivedValue): string {
  switch (v.kind) {
    case 'tumbling':
      return `tumbling:${v.of}:${v.sizeMs}:${v.aggregate}`;
    case 'sliding':
      return `sliding:${v.of}:${v.sizeMs}:${v.aggregate}:${v.maxPoints}`;
    case 'ewma':
      return `ewma:${v.of}:${v.halfLifeMs}`;
    case 'rate':
      return v.halfLifeMs === undefined
        ? `rate:${v.of}:${v.perMs}`
        : `rate:${v.of}:${v.perMs}:${v.halfLifeMs}`;
    default:
      return v.kind;
  }
}
