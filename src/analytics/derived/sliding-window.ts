/**
 * A time-based sliding window over one stream, O(1) amortised per reading: running sums (shifted
 * for accuracy, recomputed exactly once per window's worth of evictions so rounding cannot drift)
 * and monotonic deques for min and max. Bounded in time (points older than `sizeMs` before the
 * newest leave) and in points (`maxPoints`, the oldest leave first).
 */
import type { WindowAggregate } from './derived-types.js';

/** Readings kept, JSON-safe (times in ms, values finite). */
export interface SlidingSnapshot {
  t: number[];
  v: number[];
  /** The running sums as they were, so a restored window rounds exactly as the original would. */
  sums?: [shift: number, sum: number, sumSq: number, evictions: number];
}

export class SlidingWindow {
  private t: number[] = [];
  private v: number[] = [];
  /** Index in t/v of the oldest kept point; `base + i` is a point's sequence number. */
  private head = 0;
  private base = 0;
  private minQ: number[] = [];
  private minHead = 0;
  private maxQ: number[] = [];
  private maxHead = 0;
  private shift = 0;
  private sum = 0;
  private sumSq = 0;
  private evictions = 0;

  constructor(
    readonly sizeMs: number,
    readonly maxPoints: number,
  ) {}

  get count(): number {
    return this.t.length - this.head;
  }

  /** Time of the newest point (−Infinity when empty). */
  get last(): number {
    return this.count === 0 ? -Infinity : (this.t[this.t.length - 1] as number);
  }

  /** Adds a point (time not before the newest) and drops what left the window `(time − size, time]`. */
  push(time: number, x: number): void {
    if (this.count === 0) {
      this.shift = x;
      this.sum = 0;
      this.sumSq = 0;
    }
    const seq = this.base + this.t.length;
    this.t.push(time);
    this.v.push(x);
    const d = x - this.shift;
    this.sum += d;
    this.sumSq += d * d;
    while (this.maxQ.length > this.maxHead && this.valueAt(this.maxQ[this.maxQ.length - 1] as number) <= x)
      this.maxQ.pop();
    this.maxQ.push(seq);
    while (this.minQ.length > this.minHead && this.valueAt(this.minQ[this.minQ.length - 1] as number) >= x)
      this.minQ.pop();
    this.minQ.push(seq);
    const from = time - this.sizeMs;
    while (this.count > 0 && ((this.t[this.head] as number) <= from || this.count > this.maxPoints))
      this.evictOldest();
  }

  private valueAt(seq: number): number {
    return this.v[seq - this.base] as number;
  }

  private evictOldest(): void {
    const d = (this.v[this.head] as number) - this.shift;
    this.sum -= d;
    this.sumSq -= d * d;
    const seq = this.base + this.head;
    this.head++;
    if (this.maxQ[this.maxHead] === seq) this.maxHead++;
    if (this.minQ[this.minHead] === seq) this.minHead++;
    if (++this.evictions >= Math.max(this.count, 64)) this.recompute();
    if (this.head >= 1024 && this.head * 2 >= this.t.length) this.compact();
  }

  /** Exact sums again (and a fresh shift: the oldest value), once per window's worth of evictions. */
  private recompute(): void {
    this.evictions = 0;
    this.shift = this.count > 0 ? (this.v[this.head] as number) : 0;
    let s = 0;
    let s2 = 0;
    for (let i = this.head; i < this.v.length; i++) {
      const d = (this.v[i] as number) - this.shift;
      s += d;
      s2 += d * d;
    }
    this.sum = s;
    this.sumSq = s2;
  }

  private compact(): void {
    this.t = this.t.slice(this.head);
    this.v = this.v.slice(this.head);
    this.base += this.head;
    this.head = 0;
    this.minQ = this.minQ.slice(this.minHead);
    this.minHead = 0;
    this.maxQ = this.maxQ.slice(this.maxHead);
    this.maxHead = 0;
  }

  /** The aggregate of the kept points (NaN when empty). */
  value(agg: WindowAggregate): number {
    const n = this.count;
    if (n === 0) return agg === 'count' ? 0 : NaN;
    switch (agg) {
      case 'count':
        return n;
      case 'sum':
        return this.sum + this.shift * n;
      case 'mean':
        return this.shift + this.sum / n;
      case 'min':
        return this.valueAt(this.minQ[this.minHead] as number);
      case 'max':
        return this.valueAt(this.maxQ[this.maxHead] as number);
      case 'stddev': {
        const mean = this.sum / n;
        return Math.sqrt(Math.max(0, this.sumSq / n - mean * mean));
      }
    }
  }

  snapshot(): SlidingSnapshot {
    return {
      t: this.t.slice(this.head),
      v: this.v.slice(this.head),
      sums: [this.shift, this.sum, this.sumSq, this.evictions],
    };
  }

  /** A window holding a snapshot's points (those the bounds still allow). */
  static restore(s: SlidingSnapshot, sizeMs: number, maxPoints: number): SlidingWindow {
    const w = new SlidingWindow(sizeMs, maxPoints);
    const n = Math.min(s.t.length, s.v.length);
    for (let i = 0; i < n; i++) {
      const t = s.t[i];
      const v = s.v[i];
      if (
        typeof t === 'number' &&
        typeof v === 'number' &&
        Number.isFinite(t) &&
        Number.isFinite(v) &&
        t >= w.last
      )
        w.push(t, v);
    }
    const sums = s.sums;
    if (
      w.count === n &&
      Array.isArray(sums) &&
      sums.length === 4 &&
      sums.every((x) => typeof x === 'number' && Number.isFinite(x)) &&
      Number.isInteger(sums[3]) &&
      sums[3] >= 0
    )
      [w.shift, w.sum, w.sumSq, w.evictions] = sums;
    return w;
  }
}
