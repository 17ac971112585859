/**
 * Time series as the twin page keeps them: live points appended as they arrive (kept in time order,
 * bounded by a window and a count), and the bucket width that draws a history range in a few
 * hundred points whatever its length (a month as fast as a minute: the server aggregates).
 */
export class LiveSeries {
  readonly xs: number[] = [];
  readonly ys: (number | null)[] = [];
  /** Changes whenever the points do (a chart redraws on a new version, without copying to compare). */
  version = 0;
  constructor(
    readonly windowMs: number,
    readonly maxPoints = 5000,
  ) {}

  /** Adds a point (ms, value); out-of-order points go to their place, a same-time point replaces. */
  add(t: number, v: number | null): void {
    if (!Number.isFinite(t)) return;
    this.version++;
    let i = this.xs.length;
    while (i > 0 && this.xs[i - 1]! > t) i--;
    if (i > 0 && this.xs[i - 1] === t) {
      this.ys[i - 1] = v;
      return;
    }
    if (i === this.xs.length) {
      this.xs.push(t);
      this.ys.push(v);
    } else {
      this.xs.splice(i, 0, t);
      this.ys.splice(i, 0, v);
    }
    this.trim(false);
  }

  /** Replaces the content (a history read) and keeps what is newer than its end. */
  seed(xs: readonly number[], ys: readonly (number | null)[]): void {
    this.version++;
    const end = xs.length ? xs[xs.length - 1]! : -Infinity;
    const keep = this.xs.map((x, i) => [x, this.ys[i]!] as const).filter(([x]) => x > end);
    this.xs.length = 0;
    this.ys.length = 0;
    this.xs.push(...xs, ...keep.map(([x]) => x));
    this.ys.push(...ys, ...keep.map(([, y]) => y));
    this.trim(true);
  }

  /**
   * Drops points older than the window — in steps (1/32 of the points or of the window, or all at
   * once when `now`), so a steady stream does not shift the arrays on every point — and, over
   * `maxPoints`, thins the older points: the window keeps its span at any rate, in bounded memory.
   */
  private trim(now: boolean): void {
    const last = this.xs[this.xs.length - 1];
    if (last === undefined) return;
    let cut = 0;
    while (cut < this.xs.length && this.xs[cut]! < last - this.windowMs) cut++;
    const tooOld = last - this.xs[0]! > this.windowMs + this.windowMs / 32;
    if (cut > 0 && (now || tooOld || cut * 32 >= this.xs.length || cut === this.xs.length - 1)) {
      this.xs.splice(0, cut);
      this.ys.splice(0, cut);
    }
    if (this.xs.length > this.maxPoints) this.thin();
  }

  /**
   * Over `maxPoints`: all but the newest quarter of the points are thinned to one per
   * `windowMs / (maxPoints / 2)` (a point is kept when it is that far after the last one kept), so
   * older points keep an even resolution and the window its span; what is already that sparse
   * stays. Leaves at most about three quarters of `maxPoints`.
   */
  private thin(): void {
    const step = this.windowMs / (this.maxPoints / 2);
    const protect = this.xs.length - Math.floor(this.maxPoints / 4);
    let w = 0;
    let kept = -Infinity;
    for (let r = 0; r < protect; r++) {
      const x = this.xs[r]!;
      if (x - kept < step) continue;
      kept = x;
      this.xs[w] = x;
      this.ys[w++] = this.ys[r]!;
    }
    this.xs.splice(w, protect - w);
    this.ys.splice(w, protect - w);
  }
}

const NICE_MS = [
  1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000,
  7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
];

/** A bucket width (ms, a round figure, at least 1 s) that draws `rangeMs` in at most about `buckets` points. */
export function pickInterval(rangeMs: number, buckets = 600): number {
  const raw = Math.max(1, rangeMs) / Math.max(1, buckets);
  for (const n of NICE_MS) if (n >= raw) return n;
  return Math.ceil(raw / 86_400_000) * 86_400_000;
}

/**
 * What a chart draws for a history bucket: the average of a numeric series; for an on/off series
 * (booleans have no average) the bucket's last state as 1 or 0. Null for an empty bucket.
 */
export function bucketValue(
  b: { count: number; avg?: number | null; last?: unknown },
  onOff: boolean,
): number | null {
  if (!(b.count > 0)) return null;
  if (onOff) return typeof b.last === 'boolean' ? (b.last ? 1 : 0) : null;
  return typeof b.avg === 'number' ? b.avg : null;
}

/** The history route's `interval` parameter for a width in ms. */
export function intervalParam(ms: number): string {
  return `${Math.round(ms)}ms`;
}

/** Numeric values of a telemetry event's readings (nested objects flattened as a/b; non-numbers left out). */
export function numericReadings(values: Record<string, unknown>, prefix = ''): [string, number][] {
  const out: [string, number][] = [];
  for (const [k, v] of Object.entries(values)) {
    if (typeof v === 'number' && Number.isFinite(v)) out.push([prefix + k, v]);
    else if (typeof v === 'boolean') out.push([prefix + k, v ? 1 : 0]);
  }
  return out;
}

/** Several series on one time axis (for CSV): every time of any series, each column null where it has no point. */
export function alignSeries(series: readonly { xs: readonly number[]; ys: readonly (number | null)[] }[]): {
  xs: number[];
  columns: (number | null)[][];
} {
  const all = new Set<number>();
  for (const s of series) for (const x of s.xs) all.add(x);
  const xs = [...all].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const columns = series.map((s) => {
    const col: (number | null)[] = new Array<number | null>(xs.length).fill(null);
    s.xs.forEach((x, i) => (col[index.get(x)!] = s.ys[i] ?? null));
    return col;
  });
  return { xs, columns };
}
