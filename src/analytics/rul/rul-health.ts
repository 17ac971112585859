/**
 * The health index: a ridge regression of the (capped) target on the normalised sensors of a row.
 * One row's blend of all sensors is far less noisy than any sensor alone, and its window features
 * (trend, smoothed level) are among the strongest inputs of the trees.
 */

export interface HealthIndex {
  bias: number;
  weights: number[];
}

/** Solves A x = b (A n × n, row-major, overwritten) by Gaussian elimination with partial pivoting. */
function solve(A: Float64Array, b: Float64Array, n: number): Float64Array {
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++)
      if (Math.abs(A[r * n + c] as number) > Math.abs(A[p * n + c] as number)) p = r;
    if (p !== c) {
      for (let k = 0; k < n; k++) {
        const t = A[c * n + k] as number;
        A[c * n + k] = A[p * n + k] as number;
        A[p * n + k] = t;
      }
      const t = b[c] as number;
      b[c] = b[p] as number;
      b[p] = t;
    }
    const piv = A[c * n + c] as number;
    if (Math.abs(piv) < 1e-300) continue;
    for (let r = c + 1; r < n; r++) {
      const f = (A[r * n + c] as number) / piv;
      if (f === 0) continue;
      for (let k = c; k < n; k++) A[r * n + k]! -= f * (A[c * n + k] as number);
      b[r]! -= f * (b[c] as number);
    }
  }
  const x = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r] as number;
    for (let k = r + 1; k < n; k++) s -= (A[r * n + k] as number) * (x[k] as number);
    const piv = A[r * n + r] as number;
    x[r] = Math.abs(piv) < 1e-300 ? 0 : s / piv;
  }
  return x;
}

/**
 * Fits the index on rows of z (S values each) with targets y; `rows` lists which rows
 * (indices into z / y) take part. λ is relative to the number of rows.
 */
export function fitHealthIndex(
  z: Float64Array,
  S: number,
  y: Float64Array,
  rows: ArrayLike<number>,
  lambda: number,
): HealthIndex {
  const n = S + 1;
  const A = new Float64Array(n * n);
  const b = new Float64Array(n);
  const x = new Float64Array(n);
  for (let k = 0; k < rows.length; k++) {
    const i = rows[k] as number;
    x[0] = 1;
    for (let s = 0; s < S; s++) x[s + 1] = z[i * S + s] as number;
    const t = y[i] as number;
    for (let p = 0; p < n; p++) {
      const xp = x[p] as number;
      b[p]! += xp * t;
      for (let q = p; q < n; q++) A[p * n + q]! += xp * (x[q] as number);
    }
  }
  for (let p = 0; p < n; p++) for (let q = 0; q < p; q++) A[p * n + q] = A[q * n + p] as number;
  for (let p = 1; p < n; p++) A[p * n + p]! += lambda * rows.length;
  const w = solve(A, b, n);
  return { bias: w[0] as number, weights: Array.from(w.subarray(1)) };
}

/** Channels of a normalised series: its S sensors and the health index, C = S + 1 per row. */
export function channels(z: Float64Array, rows: number, S: number, hi: HealthIndex): Float64Array {
  const C = S + 1;
  const out = new Float64Array(rows * C);
  for (let i = 0; i < rows; i++) {
    let h = hi.bias;
    for (let s = 0; s < S; s++) {
      const v = z[i * S + s] as number;
      out[i * C + s] = v;
      h += (hi.weights[s] as number) * v;
    }
    out[i * C + S] = h;
  }
  return out;
}
