/**
 * Read side of the SQLite history store: fixed-bucket aggregates and paged raw points over the
 * compacted chunks plus the committed points still buffered in memory. Whole chunks that fall in
 * one bucket are answered from their summary columns; only chunks straddling a bucket edge (or the
 * window's ends) are decoded.
 */
import type Database from 'better-sqlite3';
import { TwinloopError } from '../../core/errors/errors.js';
import type {
  AggregateFn,
  HistoryAggregateQuery,
  HistoryBucket,
  HistoryRawPage,
  HistoryRawQuery,
  HistoryValue,
} from '../../core/ports/storage-ports.js';
import {
  decodeChunk,
  sortColumns,
  valueAt,
  type ChunkSummaryRow,
  type Columns,
} from './sqlite-history-codec.js';

/** Committed points of one series not yet compacted (arrival order). */
export interface SeriesBuffer {
  bts: number[];
  bnum: number[];
  bjson: Map<number, HistoryValue> | null;
}

export const MAX_BUCKETS = 100_000;
export const MAX_PAGE = 10_000;

interface SummaryRow extends ChunkSummaryRow {
  id: number;
}

/** Prepared statements the queries use. */
export class HistoryReader {
  private readonly summaries: Database.Statement<[number, number, number], SummaryRow>;
  private readonly blobs: Database.Statement<[number], { ts: Buffer; vals: Buffer; json: string | null }>;
  private readonly rangeAsc: Database.Statement<
    [number, number, number],
    { id: number; min_ts: number; max_ts: number }
  >;
  private readonly rangeDesc: Database.Statement<
    [number, number, number],
    { id: number; min_ts: number; max_ts: number }
  >;

  constructor(db: Database.Database) {
    this.summaries = db.prepare(
      `SELECT id, min_ts, max_ts, count, num_count, sum, min, max, first_ts, first_value, last_ts, last_value
       FROM history_chunks WHERE series_id = ? AND max_ts >= ? AND min_ts < ?`,
    );
    this.blobs = db.prepare('SELECT ts, vals, json FROM history_chunks WHERE id = ?');
    this.rangeAsc = db.prepare(
      'SELECT id, min_ts, max_ts FROM history_chunks WHERE series_id = ? AND max_ts >= ? AND min_ts < ? ORDER BY min_ts, id',
    );
    this.rangeDesc = db.prepare(
      'SELECT id, min_ts, max_ts FROM history_chunks WHERE series_id = ? AND max_ts >= ? AND min_ts <= ? ORDER BY max_ts DESC, id DESC',
    );
  }

  private chunk(id: number): Columns {
    const r = this.blobs.get(id);
    if (!r) throw new TwinloopError('StorageError', `History chunk ${id} vanished during a query.`);
    return decodeChunk(r.ts, r.vals, r.json);
  }

  /** Aggregates over [from, to) in buckets of `interval`; seriesId undefined = no such series. */
  aggregate(
    q: HistoryAggregateQuery,
    seriesId: number | undefined,
    bufs: readonly SeriesBuffer[],
  ): HistoryBucket[] {
    const { from, to, interval } = q;
    if (!Number.isFinite(from) || !Number.isFinite(to) || !(to > from)) {
      throw new TwinloopError('InvalidHistoryQuery', `The window [${from}, ${to}) is empty or not finite.`);
    }
    if (!Number.isFinite(interval) || !(interval > 0)) {
      throw new TwinloopError(
        'InvalidHistoryQuery',
        `The interval must be a positive number of ms (got ${interval}).`,
      );
    }
    const n = Math.ceil((to - from) / interval);
    if (n > MAX_BUCKETS) {
      throw new TwinloopError(
        'InvalidHistoryQuery',
        `The query asks for ${n} buckets; at most ${MAX_BUCKETS} are allowed.`,
      );
    }
    const wantFirstLast = q.fns.includes('first') || q.fns.includes('last');
    const count = new Float64Array(n);
    const numCount = new Float64Array(n);
    const sum = new Float64Array(n);
    const min = new Float64Array(n).fill(Infinity);
    const max = new Float64Array(n).fill(-Infinity);
    const firstTs = wantFirstLast ? new Float64Array(n).fill(Infinity) : undefined;
    const lastTs = wantFirstLast ? new Float64Array(n).fill(-Infinity) : undefined;
    const firstVal: HistoryValue[] = [];
    const lastVal: HistoryValue[] = [];

    /** Adds sorted columns: walks bucket by bucket, so the inner loop is a plain sum/min/max. */
    const addColumns = (c: Columns): void => {
      const ts = c.ts;
      const vals = c.vals;
      const json = c.json;
      const len = ts.length;
      let i = lowerBound(ts, from);
      while (i < len) {
        const t0 = ts[i] as number;
        if (t0 >= to) break;
        // Clamp: float rounding must never put a point of [from, to) outside the buckets.
        const b = Math.min(n - 1, Math.floor((t0 - from) / interval));
        const edge = Math.min(to, from + (b + 1) * interval);
        let j = i;
        let s = 0;
        let mn = min[b]!;
        let mx = max[b]!;
        let nums = 0;
        if (json === null) {
          for (; j < len; j++) {
            if ((ts[j] as number) >= edge) break;
            const v = vals[j] as number;
            s += v;
            if (v < mn) mn = v;
            if (v > mx) mx = v;
          }
          nums = j - i;
        } else {
          for (; j < len; j++) {
            if ((ts[j] as number) >= edge) break;
            if (json.has(j)) continue;
            const v = vals[j] as number;
            s += v;
            if (v < mn) mn = v;
            if (v > mx) mx = v;
            nums++;
          }
        }
        count[b]! += j - i;
        if (nums > 0) {
          numCount[b]! += nums;
          sum[b]! += s;
          min[b] = mn;
          max[b] = mx;
        }
        if (firstTs && lastTs) {
          if (t0 < firstTs[b]!) {
            firstTs[b] = t0;
            firstVal[b] = valueAt(c, i);
          }
          const tl = ts[j - 1] as number;
          if (tl >= lastTs[b]!) {
            lastTs[b] = tl;
            lastVal[b] = valueAt(c, j - 1);
          }
        }
        i = j;
      }
    };

    if (seriesId !== undefined) {
      const straddling: number[] = [];
      for (const r of this.summaries.iterate(seriesId, from, to)) {
        const b0 = Math.min(n - 1, Math.floor((r.min_ts - from) / interval));
        if (
          r.min_ts >= from &&
          r.max_ts < to &&
          b0 === Math.min(n - 1, Math.floor((r.max_ts - from) / interval))
        ) {
          count[b0]! += r.count;
          if (r.num_count > 0) {
            numCount[b0]! += r.num_count;
            sum[b0]! += r.sum ?? 0;
            if ((r.min as number) < min[b0]!) min[b0] = r.min as number;
            if ((r.max as number) > max[b0]!) max[b0] = r.max as number;
          }
          if (firstTs && lastTs) {
            if (r.first_ts < firstTs[b0]!) {
              firstTs[b0] = r.first_ts;
              firstVal[b0] = JSON.parse(r.first_value) as HistoryValue;
            }
            if (r.last_ts >= lastTs[b0]!) {
              lastTs[b0] = r.last_ts;
              lastVal[b0] = JSON.parse(r.last_value) as HistoryValue;
            }
          }
        } else {
          straddling.push(r.id);
        }
      }
      for (const id of straddling) addColumns(this.chunk(id));
    }
    for (const buf of bufs) {
      if (buf.bts.length) {
        addColumns(
          sortColumns({ ts: Float64Array.from(buf.bts), vals: Float64Array.from(buf.bnum), json: buf.bjson }),
        );
      }
    }

    const fns = new Set<AggregateFn>(q.fns);
    const out: HistoryBucket[] = new Array<HistoryBucket>(n);
    for (let b = 0; b < n; b++) {
      const nc = numCount[b]!;
      const bucket: HistoryBucket = { start: from + b * interval, count: count[b]! };
      if (fns.has('avg')) bucket.avg = nc ? sum[b]! / nc : null;
      if (fns.has('min')) bucket.min = nc ? min[b]! : null;
      if (fns.has('max')) bucket.max = nc ? max[b]! : null;
      if (fns.has('sum')) bucket.sum = nc ? sum[b]! : null;
      if (fns.has('first')) bucket.first = count[b] ? (firstVal[b] ?? null) : null;
      if (fns.has('last')) bucket.last = count[b] ? (lastVal[b] ?? null) : null;
      out[b] = bucket;
    }
    return out;
  }

  /**
   * One page of raw points in [from, to). The cursor holds the last timestamp returned and how many
   * points at exactly that timestamp were returned, so pages neither skip nor repeat points (points
   * sharing one timestamp are ordered by chunk, then position; a compaction between two pages may
   * reorder points that share a timestamp, never points with different ones).
   */
  raw(q: HistoryRawQuery, seriesId: number | undefined, bufs: readonly SeriesBuffer[]): HistoryRawPage {
    const order = q.order ?? 'asc';
    if (order !== 'asc' && order !== 'desc') {
      throw new TwinloopError('InvalidHistoryQuery', `order must be "asc" or "desc" (got ${String(order)}).`);
    }
    if (!Number.isFinite(q.from) || !Number.isFinite(q.to)) {
      throw new TwinloopError('InvalidHistoryQuery', `The window [${q.from}, ${q.to}) is not finite.`);
    }
    if (!Number.isInteger(q.limit) || q.limit < 1) {
      throw new TwinloopError('InvalidHistoryQuery', `limit must be a positive integer (got ${q.limit}).`);
    }
    const limit = Math.min(q.limit, MAX_PAGE);
    const cur = q.cursor === undefined ? undefined : decodeCursor(q.cursor, order);
    // asc reads [max(from, cursor), to); desc reads [from, min(to, cursor inclusive)].
    const lo = order === 'asc' && cur ? Math.max(q.from, cur.t) : q.from;
    const inRange =
      order === 'asc'
        ? (t: number): boolean => t >= lo && t < q.to
        : (t: number): boolean => t >= q.from && t < q.to && (!cur || t <= cur.t);
    const skip = cur?.k ?? 0;
    const need = skip + limit + 1;

    // Candidate points: [ts, chunk order, index, value getter source].
    interface Cand {
      t: number;
      o: number;
      i: number;
      c: Columns;
    }
    const cands: Cand[] = [];
    const cmpAsc = (a: Cand, b: Cand): number => a.t - b.t || a.o - b.o || a.i - b.i;
    const cmp = order === 'asc' ? cmpAsc : (a: Cand, b: Cand) => -cmpAsc(a, b);

    if (seriesId !== undefined && q.to > q.from) {
      const rows =
        order === 'asc'
          ? this.rangeAsc.all(seriesId, lo, q.to)
          : this.rangeDesc.all(seriesId, q.from, cur ? Math.min(cur.t, q.to) : q.to);
      for (let r = 0; r < rows.length; r++) {
        const row = rows[r]!;
        const c = this.chunk(row.id);
        for (let i = 0; i < c.ts.length; i++) {
          const t = c.ts[i] as number;
          if (inRange(t)) cands.push({ t, o: row.id, i, c });
        }
        const next = rows[r + 1];
        if (next && cands.length >= need) {
          cands.sort(cmp);
          const kth = cands[need - 1]!.t;
          if (order === 'asc' ? kth < next.min_ts : kth > next.max_ts) break;
        }
      }
    }
    for (let k = 0; k < bufs.length; k++) {
      const buf = bufs[k]!;
      if (!buf.bts.length) continue;
      const c: Columns = {
        ts: Float64Array.from(buf.bts),
        vals: Float64Array.from(buf.bnum),
        json: buf.bjson,
      };
      // Buffers come after every chunk, in arrival order.
      const o = Number.MAX_SAFE_INTEGER - bufs.length + k;
      for (let i = 0; i < c.ts.length; i++) {
        const t = c.ts[i] as number;
        if (inRange(t)) cands.push({ t, o, i, c });
      }
    }
    cands.sort(cmp);
    // Drop the points at the cursor's timestamp that earlier pages returned.
    let start = 0;
    if (cur) {
      let seen = 0;
      while (start < cands.length && cands[start]!.t === cur.t && seen < cur.k) {
        start++;
        seen++;
      }
    }
    const page = cands.slice(start, start + limit);
    const points = page.map((p) => ({ ts: p.t, value: valueAt(p.c, p.i) }));
    const result: HistoryRawPage = { points };
    if (cands.length > start + limit && page.length > 0) {
      const lastT = page[page.length - 1]!.t;
      let k = 0;
      for (let j = page.length - 1; j >= 0 && page[j]!.t === lastT; j--) k++;
      if (cur && cur.t === lastT) k += cur.k;
      result.cursor = encodeCursor({ t: lastT, k, o: order });
    }
    return result;
  }
}

/** First index whose ts is >= t (ts sorted ascending). */
function lowerBound(ts: Float64Array, t: number): number {
  let lo = 0;
  let hi = ts.length;
  if (hi === 0 || (ts[0] as number) >= t) return 0;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ts[mid] as number) < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface Cursor {
  /** Timestamp of the last point returned. */
  t: number;
  /** How many points at exactly that timestamp were already returned. */
  k: number;
  o: 'asc' | 'desc';
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify({ v: 1, ...c })).toString('base64url');
}

function decodeCursor(s: string, order: 'asc' | 'desc'): Cursor {
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  } catch {
    c = undefined;
  }
  const o = c as Partial<Cursor> & { v?: unknown };
  if (
    !o ||
    typeof o !== 'object' ||
    o.v !== 1 ||
    typeof o.t !== 'number' ||
    !Number.isFinite(o.t) ||
    typeof o.k !== 'number' ||
    !Number.isInteger(o.k) ||
    o.k < 0 ||
    (o.o !== 'asc' && o.o !== 'desc')
  ) {
    throw new TwinloopError('InvalidContinuationToken', 'The history cursor is not valid.');
  }
  if (o.o !== order) {
    throw new TwinloopError(
      'InvalidContinuationToken',
      `The history cursor was made for order "${o.o}", not "${order}".`,
    );
  }
  return { t: o.t, k: o.k, o: o.o };
}
