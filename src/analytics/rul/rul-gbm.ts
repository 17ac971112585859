/**
 * Histogram gradient-boosted regression trees (squared loss) on typed arrays — the learner of RUL.
 * Each feature is cut into at most `bins` quantile bins once; a tree grows depth-first level by
 * level from per-node histograms of the residuals (the larger child's histogram is the parent's
 * minus the smaller's). Every tree sees a seeded subsample of rows and of features. A fitted
 * ensemble is stored as flat arrays with raw-value thresholds, so prediction needs no binning.
 */
import type { Rng } from './rul-random.js';

export interface GbmOptions {
  trees: number;
  learningRate: number;
  maxDepth: number;
  minLeaf: number;
  /** L2 penalty on leaf values. */
  lambda: number;
  /** Share of rows each tree sees. */
  rowSample: number;
  /** Share of features each tree may split on. */
  featureSample: number;
  bins: number;
}

/** A fitted ensemble: node arrays (a leaf has feature −1 and its value, learning rate included). */
export interface GbmModel {
  base: number;
  /** Index of each tree's root node. */
  roots: number[];
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  value: number[];
}

/** Prediction of an ensemble for one feature vector. */
export function gbmPredict(m: GbmModel, x: ArrayLike<number>, offset = 0): number {
  let s = m.base;
  const { feature, threshold, left, right, value } = m;
  for (const root of m.roots) {
    let node = root;
    let f = feature[node] as number;
    while (f >= 0) {
      node =
        (x[offset + f] as number) <= (threshold[node] as number)
          ? (left[node] as number)
          : (right[node] as number);
      f = feature[node] as number;
    }
    s += value[node] as number;
  }
  return s;
}

interface Binned {
  codes: Uint8Array; // rows × F
  thresholds: Float64Array[]; // per feature: upper edge of each bin but the last
}

function binFeatures(X: Float64Array, n: number, F: number, bins: number, rng: Rng): Binned {
  const sampleN = Math.min(n, 20000);
  const idx = new Uint32Array(sampleN);
  for (let i = 0; i < sampleN; i++) idx[i] = sampleN === n ? i : rng.int(n);
  const thresholds: Float64Array[] = [];
  const codes = new Uint8Array(n * F);
  const vals = new Float64Array(sampleN);
  for (let f = 0; f < F; f++) {
    for (let i = 0; i < sampleN; i++) vals[i] = X[(idx[i] as number) * F + f] as number;
    vals.sort();
    const edges: number[] = [];
    for (let b = 1; b < bins; b++) {
      const at = Math.min(sampleN - 1, Math.floor((b * sampleN) / bins));
      const q = vals[at] as number;
      const prev = edges.length ? (edges[edges.length - 1] as number) : -Infinity;
      if (!(q > prev && q < (vals[sampleN - 1] as number))) continue;
      let above = at + 1;
      while ((vals[above] as number) <= q) above++;
      edges.push(shortest(q, vals[above] as number));
    }
    const thr = Float64Array.from(edges);
    thresholds.push(thr);
    for (let i = 0; i < n; i++) {
      const v = X[i * F + f] as number;
      let lo = 0;
      let hi = thr.length; // first edge ≥ v
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((thr[mid] as number) < v) lo = mid + 1;
        else hi = mid;
      }
      codes[i * F + f] = lo;
    }
  }
  return { codes, thresholds };
}

/** The number with the fewest significant digits in [lo, hi) (lo < hi): thresholds stay short in JSON. */
function shortest(lo: number, hi: number): number {
  for (let p = 1; p < 17; p++) {
    const up = Number(lo.toPrecision(p));
    if (up >= lo && up < hi) return up;
    const scale = 10 ** (Math.floor(Math.log10(Math.abs(lo) || 1)) - p + 1);
    const ceil = Math.ceil(lo / scale) * scale;
    const c = Number(ceil.toPrecision(p));
    if (c >= lo && c < hi) return c;
  }
  return lo;
}

/** Leaf values are rounded to 1e-5: shorter JSON, no change a prediction could show. */
const roundLeaf = (v: number): number => Math.round(v * 1e5) / 1e5;

interface NodeWork {
  id: number;
  start: number;
  end: number;
  depth: number;
  g: number;
  hist: Float64Array; // F × B × 2 (sum of residuals, count)
}

/**
 * Fits an ensemble to rows X (n × F, row-major) and targets y. Calls `tick` after each tree
 * (for progress). Deterministic for the generator's state.
 */
export function fitGbm(
  X: Float64Array,
  y: Float64Array,
  F: number,
  opts: GbmOptions,
  rng: Rng,
  tick?: (treesDone: number) => void,
): GbmModel {
  const n = y.length;
  const B = opts.bins;
  const { codes, thresholds } = binFeatures(X, n, F, B, rng);
  let base = 0;
  for (let i = 0; i < n; i++) base += y[i] as number;
  base = n ? roundLeaf(base / n) : 0;
  const pred = new Float64Array(n).fill(base);
  const resid = new Float64Array(n);
  const model: GbmModel = { base, roots: [], feature: [], threshold: [], left: [], right: [], value: [] };
  const rows = new Uint32Array(n);
  const tmp = new Uint32Array(n);
  const featOrder = Array.from({ length: F }, (_, i) => i);
  const HS = F * B * 2;
  const splitBin: number[] = []; // bin of each node's split, parallel to model.feature (training only)

  let active = new Int32Array(0); // features of the current tree
  const build = (start: number, end: number, hist: Float64Array): void => {
    hist.fill(0);
    const na = active.length;
    for (let k = start; k < end; k++) {
      const i = rows[k] as number;
      const g = resid[i] as number;
      const base = i * F;
      for (let a = 0; a < na; a++) {
        const f = active[a] as number;
        const h = (f * B + (codes[base + f] as number)) * 2;
        hist[h]! += g;
        hist[h + 1]! += 1;
      }
    }
  };

  for (let t = 0; t < opts.trees; t++) {
    for (let i = 0; i < n; i++) resid[i] = (y[i] as number) - (pred[i] as number);
    let m = 0;
    for (let i = 0; i < n; i++) if (opts.rowSample >= 1 || rng.next() < opts.rowSample) rows[m++] = i;
    // feature subsample: a seeded partial shuffle
    const nf = Math.max(1, Math.round(F * opts.featureSample));
    for (let i = 0; i < nf; i++) {
      const j = i + rng.int(F - i);
      const a = featOrder[i] as number;
      featOrder[i] = featOrder[j] as number;
      featOrder[j] = a;
    }
    active = Int32Array.from(featOrder.slice(0, nf)).sort();

    const root = model.feature.length;
    model.roots.push(root);
    const newNode = (): number => {
      model.feature.push(-1);
      model.threshold.push(0);
      model.left.push(-1);
      model.right.push(-1);
      model.value.push(0);
      splitBin.push(-1);
      return model.feature.length - 1;
    };
    newNode();
    let gRoot = 0;
    for (let k = 0; k < m; k++) gRoot += resid[rows[k] as number] as number;
    const rootHist = new Float64Array(HS);
    build(0, m, rootHist);
    const stack: NodeWork[] = [{ id: root, start: 0, end: m, depth: 0, g: gRoot, hist: rootHist }];
    while (stack.length) {
      const node = stack.pop() as NodeWork;
      const cnt = node.end - node.start;
      const leafValue = roundLeaf((opts.learningRate * node.g) / (cnt + opts.lambda));
      model.value[node.id] = leafValue;
      if (node.depth >= opts.maxDepth || cnt < 2 * opts.minLeaf) continue;
      const parentScore = (node.g * node.g) / (cnt + opts.lambda);
      let bestGain = 1e-12;
      let bestF = -1;
      let bestB = -1;
      for (const f of active) {
        const nb = (thresholds[f] as Float64Array).length; // bins 0..nb
        let gl = 0;
        let cl = 0;
        const h0 = f * B * 2;
        for (let b = 0; b < nb; b++) {
          gl += node.hist[h0 + b * 2] as number;
          cl += node.hist[h0 + b * 2 + 1] as number;
          if (cl < opts.minLeaf) continue;
          const cr = cnt - cl;
          if (cr < opts.minLeaf) break;
          const gr = node.g - gl;
          const gain = (gl * gl) / (cl + opts.lambda) + (gr * gr) / (cr + opts.lambda) - parentScore;
          if (gain > bestGain) {
            bestGain = gain;
            bestF = f;
            bestB = b;
          }
        }
      }
      if (bestF < 0) continue;
      // partition rows[start, end) by code ≤ bestB
      let l = node.start;
      let r = 0;
      let gl = 0;
      for (let k = node.start; k < node.end; k++) {
        const i = rows[k] as number;
        if ((codes[i * F + bestF] as number) <= bestB) {
          rows[l++] = i;
          gl += resid[i] as number;
        } else tmp[r++] = i;
      }
      rows.set(tmp.subarray(0, r), l);
      const leftId = newNode();
      const rightId = newNode();
      model.feature[node.id] = bestF;
      model.threshold[node.id] = (thresholds[bestF] as Float64Array)[bestB] as number;
      splitBin[node.id] = bestB;
      model.left[node.id] = leftId;
      model.right[node.id] = rightId;
      const leftN = l - node.start;
      const rightN = node.end - l;
      const small = new Float64Array(HS);
      const big = node.hist; // reused: parent − small
      const leftSmall = leftN <= rightN;
      if (leftSmall) build(node.start, l, small);
      else build(l, node.end, small);
      for (const f of active)
        for (let h = f * B * 2, e = h + B * 2; h < e; h++) big[h]! -= small[h] as number;
      const lh = leftSmall ? small : big;
      const rh = leftSmall ? big : small;
      stack.push({ id: rightId, start: l, end: node.end, depth: node.depth + 1, g: node.g - gl, hist: rh });
      stack.push({ id: leftId, start: node.start, end: l, depth: node.depth + 1, g: gl, hist: lh });
    }
    // update predictions of every row (not only the sampled ones)
    for (let i = 0; i < n; i++) {
      let node = root;
      let f = model.feature[node] as number;
      while (f >= 0) {
        node =
          (codes[i * F + f] as number) <= (splitBin[node] as number)
            ? (model.left[node] as number)
            : (model.right[node] as number);
        f = model.feature[node] as number;
      }
      pred[i]! += model.value[node] as number;
    }
    tick?.(t + 1);
  }
  return model;
}
