/**
 * Binary layouts of the history store. Numbers are float64; any other value (string, boolean, null,
 * object, array) is JSON, stored beside the numbers with a NaN placeholder in the number column.
 *
 * - Log row (one per group commit): `nums` = [ts f64 × n][value f64 × n][series id u32 × n] for the
 *   numeric points, `extra` = JSON [[seriesId, ts, value], ...] for the others.
 * - Chunk (compacted points of one series, sorted by ts): `ts` (see encodeTs: regular steps, u32
 *   deltas or raw f64), `vals` = f64 × n, `json` = JSON [[index, value], ...] for the non-numeric
 *   points, plus summaries of the whole chunk. Reading blobs is most of a query's cost, so the
 *   timestamps, usually integer ms at a steady rate, are stored compactly.
 */
import type { HistoryValue } from '../../core/ports/storage-ports.js';

/** Points of one series held column-wise; `json` maps an index to its non-numeric value. */
export interface Columns {
  ts: Float64Array;
  vals: Float64Array;
  json: Map<number, HistoryValue> | null;
}

/** Reads a float64 array from a blob (copying when the blob is not 8-byte aligned). */
export function f64(buf: Buffer, byteOffset = 0, length?: number): Float64Array {
  const n = length ?? (buf.byteLength - byteOffset) >>> 3;
  const off = buf.byteOffset + byteOffset;
  if (off % 8 === 0) return new Float64Array(buf.buffer, off, n);
  const copy = new Float64Array(n);
  new Uint8Array(copy.buffer).set(buf.subarray(byteOffset, byteOffset + n * 8));
  return copy;
}

function asBuffer(a: Float64Array | Uint32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

// ---------------------------------------------------------------- log rows

export interface LogBatch {
  /** Numeric points. */
  n: number;
  sids: Uint32Array;
  ts: Float64Array;
  vals: Float64Array;
  /** Non-numeric points: [seriesId, ts, value]. */
  extra: [number, number, HistoryValue][];
}

export function encodeLog(batch: LogBatch): { nums: Buffer | null; extra: string | null } {
  let nums: Buffer | null = null;
  if (batch.n > 0) {
    const n = batch.n;
    const out = new ArrayBuffer(n * 20);
    new Float64Array(out, 0, n).set(batch.ts.subarray(0, n));
    new Float64Array(out, n * 8, n).set(batch.vals.subarray(0, n));
    new Uint32Array(out, n * 16, n).set(batch.sids.subarray(0, n));
    nums = Buffer.from(out);
  }
  return { nums, extra: batch.extra.length ? JSON.stringify(batch.extra) : null };
}

export function decodeLog(nums: Buffer | null, extra: string | null): LogBatch {
  let n = 0;
  let ts: Float64Array = new Float64Array(0);
  let vals: Float64Array = new Float64Array(0);
  let sids = new Uint32Array(0);
  if (nums && nums.byteLength > 0) {
    n = nums.byteLength / 20;
    ts = f64(nums, 0, n);
    vals = f64(nums, n * 8, n);
    const ids = new Uint32Array(n);
    new Uint8Array(ids.buffer).set(nums.subarray(n * 16, n * 20));
    sids = ids;
  }
  return { n, sids, ts, vals, extra: extra ? (JSON.parse(extra) as [number, number, HistoryValue][]) : [] };
}

// ---------------------------------------------------------------- chunks

/** The summary columns of a chunk: what aggregate queries read without decoding the chunk. */
export interface ChunkSummaryRow {
  min_ts: number;
  max_ts: number;
  count: number;
  num_count: number;
  sum: number | null;
  min: number | null;
  max: number | null;
  first_ts: number;
  first_value: string;
  last_ts: number;
  last_value: string;
}

export interface ChunkRow extends ChunkSummaryRow {
  ts: Buffer;
  vals: Buffer;
  json: string | null;
}

/** The value at index i of some columns. */
export function valueAt(c: Columns, i: number): HistoryValue {
  const j = c.json?.get(i);
  return j !== undefined || c.json?.has(i) ? (j as HistoryValue) : (c.vals[i] as number);
}

/** Sorts columns by ts, keeping arrival order among equal timestamps (stable). */
export function sortColumns(c: Columns): Columns {
  const n = c.ts.length;
  let sorted = true;
  for (let i = 1; i < n; i++) {
    if ((c.ts[i] as number) < (c.ts[i - 1] as number)) {
      sorted = false;
      break;
    }
  }
  if (sorted) return c;
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => (c.ts[a] as number) - (c.ts[b] as number) || a - b);
  const ts = new Float64Array(n);
  const vals = new Float64Array(n);
  let json: Map<number, HistoryValue> | null = null;
  for (let k = 0; k < n; k++) {
    const i = idx[k] as number;
    ts[k] = c.ts[i] as number;
    vals[k] = c.vals[i] as number;
    if (c.json?.has(i)) (json ??= new Map()).set(k, c.json.get(i) as HistoryValue);
  }
  return { ts, vals, json };
}

/** Encodes sorted columns as a chunk row with its summaries. */
export function encodeChunk(c: Columns): ChunkRow {
  const n = c.ts.length;
  let numCount = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    if (c.json?.has(i)) continue;
    const v = c.vals[i] as number;
    numCount++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return {
    min_ts: c.ts[0] as number,
    max_ts: c.ts[n - 1] as number,
    count: n,
    num_count: numCount,
    sum: numCount ? sum : null,
    min: numCount ? min : null,
    max: numCount ? max : null,
    first_ts: c.ts[0] as number,
    first_value: JSON.stringify(valueAt(c, 0)),
    last_ts: c.ts[n - 1] as number,
    last_value: JSON.stringify(valueAt(c, n - 1)),
    ts: encodeTs(c.ts),
    vals: asBuffer(c.vals),
    json: c.json && c.json.size ? JSON.stringify([...c.json]) : null,
  };
}

export function decodeChunk(ts: Buffer, vals: Buffer, json: string | null): Columns {
  return {
    ts: decodeTs(ts, vals.byteLength >>> 3),
    vals: f64(vals),
    json: json ? new Map(JSON.parse(json) as [number, HistoryValue][]) : null,
  };
}

/** Concatenates columns in the given order (earlier arrivals first), then sorts stably. */
export function concatColumns(parts: readonly Columns[]): Columns {
  let n = 0;
  for (const p of parts) n += p.ts.length;
  const ts = new Float64Array(n);
  const vals = new Float64Array(n);
  let json: Map<number, HistoryValue> | null = null;
  let off = 0;
  for (const p of parts) {
    ts.set(p.ts, off);
    vals.set(p.vals, off);
    if (p.json) for (const [i, v] of p.json) (json ??= new Map()).set(off + i, v);
    off += p.ts.length;
  }
  return sortColumns({ ts, vals, json });
}

/** Columns [start, end) of c. */
export function sliceColumns(c: Columns, start: number, end: number): Columns {
  let json: Map<number, HistoryValue> | null = null;
  if (c.json) for (const [i, v] of c.json) if (i >= start && i < end) (json ??= new Map()).set(i - start, v);
  return { ts: c.ts.slice(start, end), vals: c.vals.slice(start, end), json };
}

// ---------------------------------------------------------------- timestamps of a chunk

const TS_RAW = 0;
const TS_REGULAR = 1;
const TS_DELTA32 = 2;

/**
 * Sorted timestamps as an 8-byte header (format, pad) and a payload: REGULAR = [first f64][step f64]
 * when every step is the same; DELTA32 = [first f64][u32 × (n - 1)] when all are integers with
 * steps below 2^32 ms; RAW = f64 × n otherwise.
 *
 * A timestamp is an instant: -0 ms and 0 ms are the same one, and the codec stores it as 0 (the
 * compact formats rebuild values by addition, which cannot give -0 back).
 */
export function encodeTs(input: Float64Array): Buffer {
  const ts = withoutNegativeZero(input);
  const n = ts.length;
  const first = ts[0] as number;
  let integral = Number.isInteger(first);
  let regular = n >= 2;
  const step = n >= 2 ? (ts[1] as number) - first : 0;
  let maxDelta = 0;
  for (let i = 1; i < n && (integral || regular); i++) {
    const t = ts[i] as number;
    const d = t - (ts[i - 1] as number);
    if (d !== step) regular = false;
    if (!Number.isInteger(t)) integral = false;
    if (d > maxDelta) maxDelta = d;
  }
  if (regular && first + step * (n - 1) === ts[n - 1]) {
    // Recomputing first + step * i must give the stored values exactly.
    let exact = true;
    for (let i = 0; i < n && exact; i++) if (first + step * i !== ts[i]) exact = false;
    if (exact) {
      const out = Buffer.alloc(24);
      out[0] = TS_REGULAR;
      out.writeDoubleLE(first, 8);
      out.writeDoubleLE(step, 16);
      return out;
    }
  }
  if (integral && maxDelta < 2 ** 32) {
    const out = Buffer.alloc(16 + 4 * (n - 1));
    out[0] = TS_DELTA32;
    out.writeDoubleLE(first, 8);
    const d = new Uint32Array(out.buffer, out.byteOffset + 16, n - 1);
    for (let i = 1; i < n; i++) d[i - 1] = (ts[i] as number) - (ts[i - 1] as number);
    return out;
  }
  const out = Buffer.alloc(8 + 8 * n);
  out[0] = TS_RAW;
  new Float64Array(out.buffer, out.byteOffset + 8, n).set(ts);
  return out;
}

/** The timestamps with any -0 replaced by 0 (a copy only when there is one). */
function withoutNegativeZero(ts: Float64Array): Float64Array {
  for (let i = 0; i < ts.length; i++) {
    if (Object.is(ts[i], -0)) return ts.map((t) => t + 0);
  }
  return ts;
}

/** Decodes timestamps of a chunk of n points. */
export function decodeTs(buf: Buffer, n: number): Float64Array {
  const format = buf[0];
  if (format === TS_RAW) return f64(buf, 8, n);
  const first = buf.readDoubleLE(8);
  const out = new Float64Array(n);
  if (format === TS_REGULAR) {
    const step = buf.readDoubleLE(16);
    for (let i = 0; i < n; i++) out[i] = first + step * i;
    return out;
  }
  if (format === TS_DELTA32) {
    const off = buf.byteOffset + 16;
    const d =
      off % 4 === 0
        ? new Uint32Array(buf.buffer, off, n - 1)
        : Uint32Array.from({ length: n - 1 }, (_, i) => buf.readUInt32LE(16 + 4 * i));
    let t = first;
    out[0] = t;
    for (let i = 1; i < n; i++) {
      t += d[i - 1] as number;
      out[i] = t;
    }
    return out;
  }
  throw new Error(`unknown timestamp format ${String(format)}`);
}
