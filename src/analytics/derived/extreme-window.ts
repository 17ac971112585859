/**
 * A time-based sliding window of one stream's maximum (or minimum) that keeps only the points that
 * can still be the answer: a monotonic deque of (sequence, time, value). A point older than a later
 * point at least as large never becomes the maximum again, so noisy readings keep a handful of
 * points instead of the whole window (SlidingWindow keeps every point, which sums and means need):
 * a 10-minute max over readings every 50 ms holds a few dozen numbers, not 12,000. The same bounds
 * as SlidingWindow: points older than `sizeMs` before the newest leave, and at most `maxPoints`
 * readings count (sequence numbers say which). O(1) amortised per reading.
 */

/** The deque's points, JSON-safe: sequence numbers (relative), times (ms) and values, oldest first. */
export interface ExtremeSnapshot {
  seq: number[];
  t: number[];
  v: number[];
  /** Sequence number of the next reading. */
  next: number;
}

export class ExtremeWindow {
  private seq: number[] = [];
  private t: number[] = [];
  private v: number[] = [];
  private head = 0;
  private next = 0;
  private newest = -Infinity;
  /** +1: maximum; −1: minimum (values are compared multiplied by it). */
  private readonly sign: 1 | -1;

  constructor(
    readonly sizeMs: number,
    readonly maxPoints: number,
    readonly aggregate: 'max' | 'min',
  ) {
    this.sign = aggregate === 'max' ? 1 : -1;
  }

  /** Time of the newest reading (−Infinity when none). */
  get last(): number {
    return this.newest;
  }

  /**
   * Adds a reading (time not before the newest) and drops what left the window `(time − size, time]`.
   * −0 is kept as 0, as a JSON snapshot keeps it: a window answers the same after a restore.
   */
  push(time: number, reading: number): void {
    const x = reading + 0;
    const sx = this.sign * x;
    // Later and at least as extreme: the points behind it can never be the answer again.
    while (this.v.length > this.head && this.sign * (this.v[this.v.length - 1] as number) <= sx) {
      this.seq.pop();
      this.t.pop();
      this.v.pop();
    }
    this.seq.push(this.next++);
    this.t.push(time);
    this.v.push(x);
    this.newest = time;
    const from = time - this.sizeMs;
    const oldestCounted = this.next - this.maxPoints;
    while (
      this.v.length > this.head &&
      ((this.t[this.head] as number) <= from || (this.seq[this.head] as number) < oldestCounted)
    )
      this.head++;
    if (this.head >= 64 && this.head * 2 >= this.v.length) this.compact();
  }

  /** The window's maximum (minimum); NaN when it holds nothing. */
  value(): number {
    return this.v.length > this.head ? (this.v[this.head] as number) : NaN;
  }

  /** Points kept now (the deque's length). */
  get kept(): number {
    return this.v.length - this.head;
  }

  private compact(): void {
    this.seq = this.seq.slice(this.head);
    this.t = this.t.slice(this.head);
    this.v = this.v.slice(this.head);
    this.head = 0;
  }

  snapshot(): ExtremeSnapshot {
    // Sequence numbers relative to the next one, so they stay small however long the stream ran.
    const base = this.next;
    return {
      seq: this.seq.slice(this.head).map((s) => s - base),
      t: this.t.slice(this.head),
      v: this.v.slice(this.head),
      next: 0,
    };
  }

  /**
   * A window holding a snapshot's points (those the bounds still allow). Also takes a SlidingWindow
   * snapshot ({t, v}: every point, counted in order), so a definition's state survives this change.
   */
  static restore(
    s: { seq?: unknown; t?: unknown; v?: unknown },
    sizeMs: number,
    maxPoints: number,
    aggregate: 'max' | 'min',
  ): ExtremeWindow {
    const w = new ExtremeWindow(sizeMs, maxPoints, aggregate);
    const t = Array.isArray(s.t) ? (s.t as unknown[]) : [];
    const v = Array.isArray(s.v) ? (s.v as unknown[]) : [];
    const seq = Array.isArray(s.seq) ? (s.seq as unknown[]) : undefined;
    const n = Math.min(t.length, v.length, seq?.length ?? Infinity, maxPoints);
    const start = Math.min(t.length, v.length) - n;
    // Sequence numbers relative to the next reading (−1 the newest): the saved ones, else consecutive.
    let prevSeq = -Infinity;
    for (let i = start; i < start + n; i++) {
      const q = seq ? seq[i] : i - (start + n);
      const ti = t[i];
      const vi = v[i];
      if (typeof q !== 'number' || !Number.isInteger(q) || q >= 0 || q <= prevSeq) break;
      prevSeq = q;
      if (typeof ti !== 'number' || typeof vi !== 'number' || !Number.isFinite(ti) || !Number.isFinite(vi))
        continue;
      if (ti < w.newest || q < -maxPoints) continue;
      while (w.v.length > w.head && w.sign * (w.v[w.v.length - 1] as number) <= w.sign * vi) {
        w.seq.pop();
        w.t.pop();
        w.v.pop();
      }
      w.seq.push(q);
      w.t.push(ti);
      w.v.push(vi);
      w.newest = ti;
    }
    w.next = 0;
    return w;
  }
}
