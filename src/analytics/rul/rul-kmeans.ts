/**
 * k-means (k-means++ seeding, Lloyd iterations) on points in row-major typed arrays, and the choice
 * of k by the silhouette: operating regimes of an asset are the clusters of its settings columns.
 * Regimes must be *clearly* separated to count: a k > 1 is taken only when its mean silhouette is at
 * least `minSilhouette` (0.7 by default), so the noise of a single operating condition (FD001's
 * settings jitter) gives one regime while FD002's six flight conditions give six.
 */
import { createRng, shuffle, type Rng } from './rul-random.js';

export interface KMeansResult {
  k: number;
  /** k × d, row-major. */
  centroids: Float64Array;
  /** Cluster of each point. */
  labels: Int32Array;
  /** Sum of squared distances to the nearest centroid. */
  inertia: number;
}

function dist2(p: Float64Array, i: number, c: Float64Array, j: number, d: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) {
    const x = (p[i * d + t] as number) - (c[j * d + t] as number);
    s += x * x;
  }
  return s;
}

/** The nearest of k centroids (row-major, k × d) to point `x` (d values). */
export function nearestCentroid(
  x: ArrayLike<number>,
  centroids: ArrayLike<number>,
  k: number,
  d: number,
): number {
  let best = 0;
  let bestD = Infinity;
  for (let j = 0; j < k; j++) {
    let s = 0;
    for (let t = 0; t < d; t++) {
      const v = (x[t] as number) - (centroids[j * d + t] as number);
      s += v * v;
    }
    if (s < bestD) {
      bestD = s;
      best = j;
    }
  }
  return best;
}

function kmeansOnce(
  points: Float64Array,
  n: number,
  d: number,
  k: number,
  rng: Rng,
  maxIter: number,
): KMeansResult {
  const c = new Float64Array(k * d);
  const closest = new Float64Array(n).fill(Infinity);
  // k-means++: first centre uniform, the next ones with probability ∝ squared distance.
  let pick = rng.int(n);
  for (let j = 0; j < k; j++) {
    for (let t = 0; t < d; t++) c[j * d + t] = points[pick * d + t] as number;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const dd = dist2(points, i, c, j, d);
      if (dd < (closest[i] as number)) closest[i] = dd;
      total += closest[i] as number;
    }
    if (j + 1 === k) break;
    if (total <= 0) {
      pick = rng.int(n);
      continue;
    }
    let r = rng.next() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= closest[i] as number;
      if (r < 0) {
        pick = i;
        break;
      }
    }
  }
  const labels = new Int32Array(n);
  const sums = new Float64Array(k * d);
  const counts = new Float64Array(k);
  let inertia = 0;
  for (let iter = 0; iter < maxIter; iter++) {
    let changed = 0;
    inertia = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bestD = Infinity;
      for (let j = 0; j < k; j++) {
        const dd = dist2(points, i, c, j, d);
        if (dd < bestD) {
          bestD = dd;
          best = j;
        }
      }
      if (labels[i] !== best || iter === 0) changed++;
      labels[i] = best;
      inertia += bestD;
    }
    if (changed === 0 && iter > 0) break;
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const j = labels[i] as number;
      counts[j]! += 1;
      for (let t = 0; t < d; t++) sums[j * d + t]! += points[i * d + t] as number;
    }
    for (let j = 0; j < k; j++) {
      if (counts[j] === 0) continue; // an empty cluster keeps its centre
      for (let t = 0; t < d; t++) c[j * d + t] = (sums[j * d + t] as number) / (counts[j] as number);
    }
  }
  return { k, centroids: c, labels, inertia };
}

/** k-means with `restarts` k-means++ starts; the one with the least inertia wins. Deterministic for a seed. */
export function kmeans(
  points: Float64Array,
  d: number,
  k: number,
  seed: number,
  options: { restarts?: number; maxIter?: number } = {},
): KMeansResult {
  const n = Math.floor(points.length / d);
  if (n === 0 || k < 1) throw new RangeError('kmeans: no points or k < 1');
  const kk = Math.min(k, n);
  const rng = createRng(seed);
  let best: KMeansResult | undefined;
  for (let r = 0; r < (options.restarts ?? 4); r++) {
    const res = kmeansOnce(points, n, d, kk, rng, options.maxIter ?? 100);
    if (!best || res.inertia < best.inertia) best = res;
  }
  return best as KMeansResult;
}

/** Mean silhouette of a labelling (O(n² d): pass a sample of a few thousand points at most). */
export function silhouette(points: Float64Array, d: number, labels: Int32Array, k: number): number {
  const n = labels.length;
  const sum = new Float64Array(k);
  const count = new Float64Array(k);
  for (let i = 0; i < n; i++) count[labels[i] as number]! += 1;
  let total = 0;
  for (let i = 0; i < n; i++) {
    sum.fill(0);
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      let s = 0;
      for (let t = 0; t < d; t++) {
        const v = (points[i * d + t] as number) - (points[j * d + t] as number);
        s += v * v;
      }
      sum[labels[j] as number]! += Math.sqrt(s);
    }
    const own = labels[i] as number;
    const ownCount = (count[own] as number) - 1;
    if (ownCount <= 0) continue; // a singleton scores 0
    const a = (sum[own] as number) / ownCount;
    let b = Infinity;
    for (let c = 0; c < k; c++)
      if (c !== own && (count[c] as number) > 0) b = Math.min(b, (sum[c] as number) / (count[c] as number));
    if (!Number.isFinite(b)) continue;
    const m = Math.max(a, b);
    total += m > 0 ? (b - a) / m : 0;
  }
  return n ? total / n : 0;
}

export interface AutoKResult extends KMeansResult {
  /** Silhouette of each k tried (k = 2..maxK), for the notes. */
  silhouettes: { k: number; silhouette: number }[];
}

/**
 * k-means with k chosen by the silhouette on a sample: the k in 2..maxK with the best mean
 * silhouette if that is ≥ minSilhouette, else 1.
 */
export function kmeansAuto(
  points: Float64Array,
  d: number,
  seed: number,
  options: { maxK?: number; minSilhouette?: number; sample?: number } = {},
): AutoKResult {
  const n = Math.floor(points.length / d);
  const maxK = Math.min(options.maxK ?? 10, n - 1);
  const sampleSize = Math.min(n, options.sample ?? 1500);
  const order = shuffle(
    Array.from({ length: n }, (_, i) => i),
    createRng(seed + 7919),
  ).slice(0, sampleSize);
  const sample = new Float64Array(sampleSize * d);
  order.forEach((src, i) => {
    for (let t = 0; t < d; t++) sample[i * d + t] = points[src * d + t] as number;
  });
  const silhouettes: { k: number; silhouette: number }[] = [];
  let bestK = 1;
  let bestS = options.minSilhouette ?? 0.7;
  for (let k = 2; k <= maxK; k++) {
    const res = kmeans(sample, d, k, seed + k);
    const s = silhouette(sample, d, res.labels, k);
    silhouettes.push({ k, silhouette: s });
    if (s >= bestS + 1e-9) {
      bestS = s;
      bestK = k;
    }
  }
  return { ...kmeans(points, d, bestK, seed), silhouettes };
}
