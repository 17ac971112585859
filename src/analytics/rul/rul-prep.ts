/**
 * The learned preprocessing of RUL training, applied the same way at prediction:
 * missing values carried forward, constant and empty columns dropped, operating regimes found by
 * k-means on the (standardised) settings, and each sensor normalised per regime
 * (z = (x − mean[regime]) / std[regime]) with means and deviations fitted on training assets only.
 */
import { kmeans, kmeansAuto, nearestCentroid } from './rul-kmeans.js';
import type { RulAssetSeries, RulTrainingSpec } from './rul-types.js';

/** The fitted preprocessing, as stored in an artefact (plain JSON). */
export interface RulPrep {
  /** Sensor columns kept, in feature order. */
  sensors: string[];
  /** Settings columns used for regimes (may be empty: one regime). */
  settings: string[];
  settingMean: number[];
  settingStd: number[];
  /** Number of regimes and their centres in standardised settings space (k × settings, row-major). */
  regimes: number;
  centroids: number[];
  /** Per regime and sensor (k × sensors, row-major). */
  mean: number[];
  std: number[];
}

/** A series' values by column, carried forward (then back-filled); NaN only when the column has no value at all. */
export function filledColumn(series: RulAssetSeries, name: string, from = 0): Float64Array {
  const n = series.steps.length - from;
  const out = new Float64Array(Math.max(0, n)).fill(NaN);
  const src = Object.hasOwn(series.columns, name) ? series.columns[name] : undefined;
  if (!src || n <= 0) return out;
  // carried forward from before `from` too, so a window is filled as the whole history would be
  let last = NaN;
  for (let i = from - 1; i >= 0; i--) {
    const v = src[i];
    if (v !== undefined && Number.isFinite(v)) {
      last = v;
      break;
    }
  }
  let firstValid = Number.isFinite(last) ? 0 : -1;
  for (let i = 0; i < n; i++) {
    const v = src[from + i];
    if (v !== undefined && Number.isFinite(v)) {
      last = v;
      if (firstValid < 0) firstValid = i;
    }
    out[i] = last;
  }
  // rows before the first value take it (back-filled)
  if (firstValid > 0) out.fill(out[firstValid] as number, 0, firstValid);
  return out;
}

/** Normalised sensors (rows × sensors, row-major; 0 where a sensor has no value) and the regime of each row. */
export interface Normalised {
  rows: number;
  z: Float64Array;
  regime: Int32Array;
}

/** Applies a fitted preprocessing to rows `from..` of a series. */
export function normalise(prep: RulPrep, series: RulAssetSeries, from = 0): Normalised {
  const rows = Math.max(0, series.steps.length - from);
  const S = prep.sensors.length;
  const D = prep.settings.length;
  const regime = new Int32Array(rows);
  if (prep.regimes > 1 && D > 0) {
    const cols = prep.settings.map((s) => filledColumn(series, s, from));
    const x = new Float64Array(D);
    for (let i = 0; i < rows; i++) {
      for (let t = 0; t < D; t++) {
        const v = (cols[t] as Float64Array)[i] as number;
        // a setting never seen on this asset counts as the training mean
        x[t] = Number.isFinite(v)
          ? (v - (prep.settingMean[t] as number)) / (prep.settingStd[t] as number)
          : 0;
      }
      regime[i] = nearestCentroid(x, prep.centroids, prep.regimes, D);
    }
  }
  const z = new Float64Array(rows * S);
  for (let s = 0; s < S; s++) {
    const col = filledColumn(series, prep.sensors[s] as string, from);
    for (let i = 0; i < rows; i++) {
      const v = col[i] as number;
      const r = regime[i] as number;
      const sd = prep.std[r * S + s] as number;
      z[i * S + s] = Number.isFinite(v) && sd > 0 ? (v - (prep.mean[r * S + s] as number)) / sd : 0;
    }
  }
  return { rows, z, regime };
}

const MODE_SHARE = 0.95;

/**
 * Fits the preprocessing on training assets. A sensor is dropped when it has no value at all, or
 * when in every regime one value takes ≥ 95 % of the rows or the deviation is nil (FD001's s1, s5, s6,
 * s10, s16, s18, s19); a setting is dropped from the regime clustering when it is empty or constant.
 */
export function fitPrep(assets: RulAssetSeries[], spec: RulTrainingSpec, notes: string[]): RulPrep {
  const total = assets.reduce((n, a) => n + a.steps.length, 0);
  // settings: standardise, cluster
  const settings: string[] = [];
  const settingMean: number[] = [];
  const settingStd: number[] = [];
  const settingCols: Float64Array[] = [];
  for (const name of spec.settings) {
    const col = new Float64Array(total);
    let off = 0;
    let n = 0;
    let sum = 0;
    let sum2 = 0;
    for (const a of assets) {
      const c = filledColumn(a, name);
      col.set(c, off);
      off += c.length;
      for (const v of c)
        if (Number.isFinite(v)) {
          n++;
          sum += v;
        }
    }
    const m = n ? sum / n : 0;
    for (const v of col) if (Number.isFinite(v)) sum2 += (v - m) * (v - m);
    const sd = n > 1 ? Math.sqrt(sum2 / (n - 1)) : 0;
    if (n === 0) notes.push(`setting ${name}: no value in any training asset, not used`);
    else if (!(sd > 1e-12 * (1 + Math.abs(m))))
      notes.push(`setting ${name}: constant (${m}), not used for regimes`);
    else {
      settings.push(name);
      settingMean.push(m);
      settingStd.push(sd);
      settingCols.push(col);
    }
  }
  const D = settings.length;
  let regimes = 1;
  let centroids: number[] = [];
  let labels: Int32Array = new Int32Array(total);
  if (D > 0 && spec.regimes !== 1) {
    const pts = new Float64Array(total * D);
    for (let t = 0; t < D; t++) {
      const col = settingCols[t] as Float64Array;
      for (let i = 0; i < total; i++) {
        const v = col[i] as number;
        pts[i * D + t] = Number.isFinite(v)
          ? (v - (settingMean[t] as number)) / (settingStd[t] as number)
          : 0;
      }
    }
    if (spec.regimes === 'auto') {
      const res = kmeansAuto(pts, D, spec.seed);
      regimes = res.k;
      centroids = Array.from(res.centroids);
      labels = res.labels;
      const best = res.silhouettes.reduce((b, s) => (s.silhouette > b.silhouette ? s : b), {
        k: 1,
        silhouette: 0,
      });
      notes.push(
        `regimes: ${regimes} (k-means on ${settings.join(', ')}; best silhouette ${best.silhouette.toFixed(3)} at k=${best.k}, k>1 taken only at ≥ 0.7)`,
      );
    } else {
      const res = kmeans(pts, D, Math.max(1, Math.floor(spec.regimes)), spec.seed);
      regimes = res.k;
      centroids = Array.from(res.centroids);
      labels = res.labels;
      notes.push(`regimes: ${regimes} (k-means on ${settings.join(', ')}, k as specified)`);
    }
  } else {
    notes.push(D === 0 ? 'regimes: 1 (no usable settings column)' : 'regimes: 1 (as specified)');
  }
  if (regimes === 1) centroids = D > 0 ? new Array<number>(D).fill(0) : [];

  // sensors: per-regime statistics, then drop the empty and the constant
  const kept: string[] = [];
  const mean: number[][] = [];
  const std: number[][] = [];
  for (const name of spec.sensors) {
    const n = new Float64Array(regimes);
    const sum = new Float64Array(regimes);
    const sum2 = new Float64Array(regimes);
    const modes = Array.from({ length: regimes }, () => new Map<number, number>());
    const cols: Float64Array[] = assets.map((a) => filledColumn(a, name));
    let off = 0;
    for (const c of cols) {
      for (let i = 0; i < c.length; i++) {
        const v = c[i] as number;
        if (!Number.isFinite(v)) continue;
        const r = labels[off + i] as number;
        n[r]! += 1;
        sum[r]! += v;
        const m = modes[r] as Map<number, number>;
        m.set(v, (m.get(v) ?? 0) + 1);
      }
      off += c.length;
    }
    off = 0;
    const mu = Array.from(sum, (s, r) => ((n[r] as number) > 0 ? s / (n[r] as number) : 0));
    for (const c of cols) {
      for (let i = 0; i < c.length; i++) {
        const v = c[i] as number;
        if (!Number.isFinite(v)) continue;
        const r = labels[off + i] as number;
        sum2[r]! += (v - (mu[r] as number)) ** 2;
      }
      off += c.length;
    }
    const sd = Array.from(sum2, (s, r) => ((n[r] as number) > 1 ? Math.sqrt(s / ((n[r] as number) - 1)) : 0));
    const seen = n.reduce((a, b) => a + b, 0);
    if (seen === 0) {
      notes.push(`sensor ${name}: no value in any training asset, dropped`);
      continue;
    }
    let informative = false;
    for (let r = 0; r < regimes; r++) {
      if ((n[r] as number) < 2) continue;
      let top = 0;
      for (const c of (modes[r] as Map<number, number>).values()) top = Math.max(top, c);
      const tiny = !((sd[r] as number) > 1e-9 * (1 + Math.abs(mu[r] as number)));
      if (!tiny && top / (n[r] as number) < MODE_SHARE) informative = true;
    }
    if (!informative) {
      notes.push(`sensor ${name}: (near) constant within regimes, dropped`);
      continue;
    }
    kept.push(name);
    mean.push(mu);
    std.push(sd);
  }
  // store k × sensors row-major
  const S = kept.length;
  const meanFlat = new Array<number>(regimes * S);
  const stdFlat = new Array<number>(regimes * S);
  for (let r = 0; r < regimes; r++)
    for (let s = 0; s < S; s++) {
      meanFlat[r * S + s] = (mean[s] as number[])[r] as number;
      const d = (std[s] as number[])[r] as number;
      stdFlat[r * S + s] = d > 1e-12 ? d : 0;
    }
  return {
    sensors: kept,
    settings,
    settingMean,
    settingStd,
    regimes,
    centroids,
    mean: meanFlat,
    std: stdFlat,
  };
}
