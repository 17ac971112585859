/**
 * A re-implementation of the Numenta Anomaly Benchmark scorer (NAB v1.1, `nab/sweeper.py` and the
 * corpus-wide threshold optimisation): per-row sweep scores from labelled windows, one threshold
 * for the whole corpus chosen to maximise the raw score, and the normalised score against the null
 * detector (never fires) and the perfect one (fires at every window's left edge). Pure: the
 * benchmark runner (bench/nab) reads the files and calls it.
 */

/** A NAB application profile: the weights of true positives, false positives, false negatives. */
export interface NabProfile {
  name: string;
  tp: number;
  fp: number;
  fn: number;
}

export const NAB_PROFILES: readonly NabProfile[] = [
  { name: 'standard', tp: 1, fp: 0.11, fn: 1 },
  { name: 'reward_low_FP_rate', tp: 1, fp: 0.22, fn: 1 },
  { name: 'reward_low_FN_rate', tp: 1, fp: 0.11, fn: 2 },
];

/** Rows at the start of a file that are not scored: min(floor(0.15·n), 750). */
export function probationLength(rows: number): number {
  return Math.min(Math.floor(0.15 * rows), 0.15 * 5000);
}

/** NAB's scaled sigmoid: 2·σ(−5y) − 1, and −1 from y ≥ 3 on. */
export function scaledSigmoid(y: number): number {
  return y >= 3 ? -1 : 2 / (1 + Math.exp(5 * y)) - 1;
}

const MAX_TP = scaledSigmoid(-1);

/** How every row of one file is scored, independent of the detector and the profile. */
export interface NabFileLayout {
  rows: number;
  probation: number;
  /** Per row: index of the window it is in (0-based in the file), −1 outside windows. */
  window: Int32Array;
  /** Per row: the unweighted sweep score (in a window: scaled by 1/scaledSigmoid(−1)). */
  unweighted: Float64Array;
  /** Windows with at least one row after the probationary period (the ones NAB counts). */
  scoredWindows: number;
}

/**
 * Lays a file out for scoring. Timestamps and window limits are compared on their first 19
 * characters (`YYYY-MM-DD HH:MM:SS`); a window starting at no row's timestamp is never entered,
 * as in NAB.
 */
export function layoutFile(
  timestamps: readonly string[],
  windows: readonly (readonly [string, string])[],
): NabFileLayout {
  const rows = timestamps.length;
  const ts = timestamps.map((t) => t.slice(0, 19));
  const index = new Map<string, number>();
  ts.forEach((t, i) => {
    if (!index.has(t)) index.set(t, i);
  });
  const limits = windows.map(([a, b]) => [a.slice(0, 19), b.slice(0, 19)] as const);
  const window = new Int32Array(rows).fill(-1);
  const unweighted = new Float64Array(rows);
  const probation = probationLength(rows);
  let next = 0;
  let cur = -1;
  let curRight = -1;
  let curWidth = 0;
  let prevRight = -1;
  let prevWidth = 0;
  const scored = new Set<number>();
  for (let i = 0; i < rows; i++) {
    const t = ts[i] as string;
    const nextLimits = limits[next];
    if (nextLimits !== undefined && t === nextLimits[0]) {
      cur = next++;
      curRight = index.get(nextLimits[1]) ?? -1;
      curWidth = curRight - (index.get(nextLimits[0]) ?? 0) + 1;
    }
    if (cur >= 0) {
      window[i] = cur;
      unweighted[i] = scaledSigmoid(-(curRight - i + 1) / curWidth) / MAX_TP;
      if (i >= probation) scored.add(cur);
    } else {
      unweighted[i] = prevRight < 0 ? -1 : scaledSigmoid(Math.abs(prevRight - i) / (prevWidth - 1));
    }
    const curLimits = cur >= 0 ? limits[cur] : undefined;
    if (curLimits !== undefined && t === curLimits[1]) {
      prevRight = i;
      prevWidth = curWidth;
      cur = -1;
    }
  }
  return { rows, probation, window, unweighted, scoredWindows: scored.size };
}

/** One file's layout with a detector's scores (one per row). */
export interface NabScoredFile {
  name: string;
  layout: NabFileLayout;
  scores: ArrayLike<number>;
}

export interface NabFileResult {
  name: string;
  raw: number;
  tp: number;
  fp: number;
  fn: number;
}

export interface NabCorpusResult {
  profile: string;
  /** The corpus-wide threshold (a row is a detection when score ≥ threshold); Infinity when none is best. */
  threshold: number;
  raw: number;
  rawNull: number;
  rawPerfect: number;
  /** 100 · (raw − null) / (perfect − null). */
  normalized: number;
  windows: number;
  files: NabFileResult[];
}

/** Scores one file at a threshold (NAB's `scoreDataSet` at the corpus threshold). */
export function scoreFile(file: NabScoredFile, profile: NabProfile, threshold: number): NabFileResult {
  const { layout, scores } = file;
  const best = new Map<number, number>();
  let fpSum = 0;
  let fp = 0;
  for (let i = layout.probation; i < layout.rows; i++) {
    const w = layout.window[i] as number;
    if (w >= 0 && !best.has(w)) best.set(w, -profile.fn);
    if (!((scores[i] as number) >= threshold)) continue;
    const u = layout.unweighted[i] as number;
    if (w < 0) {
      fpSum += u * profile.fp;
      fp++;
    } else best.set(w, Math.max(best.get(w) as number, u * profile.tp));
  }
  let raw = fpSum;
  let tp = 0;
  let fn = 0;
  for (const v of best.values()) {
    raw += v;
    if (v === -profile.fn) fn++;
    else tp++;
  }
  return { name: file.name, raw, tp, fp, fn };
}

/**
 * The corpus score for a profile: sweeps every distinct score value as the one threshold for all
 * files, keeps the one with the highest raw score (the highest threshold on ties), normalises.
 */
export function scoreCorpus(files: readonly NabScoredFile[], profile: NabProfile): NabCorpusResult {
  // Every scorable row of every file, with a corpus-wide window id.
  let count = 0;
  for (const f of files) count += Math.max(0, f.layout.rows - f.layout.probation);
  const score = new Float64Array(count);
  const weighted = new Float64Array(count);
  const win = new Int32Array(count);
  let k = 0;
  let windowBase = 0;
  const windowIds = new Map<string, number>();
  for (const f of files) {
    const { layout } = f;
    for (let i = layout.probation; i < layout.rows; i++, k++) {
      const s = f.scores[i] as number;
      score[k] = Number.isFinite(s) ? s : Number.NEGATIVE_INFINITY;
      const w = layout.window[i] as number;
      const u = layout.unweighted[i] as number;
      if (w < 0) {
        win[k] = -1;
        weighted[k] = u * profile.fp;
      } else {
        const key = `${windowBase}:${w}`;
        let id = windowIds.get(key);
        if (id === undefined) windowIds.set(key, (id = windowIds.size));
        win[k] = id;
        weighted[k] = u * profile.tp;
      }
    }
    windowBase++;
  }
  const windows = windowIds.size;
  const order = Array.from({ length: count }, (_, i) => i).sort(
    (a, b) => (score[b] as number) - (score[a] as number) || a - b,
  );
  const best = new Float64Array(windows).fill(-profile.fn);
  let total = -profile.fn * windows;
  let bestTotal = total;
  let bestThreshold = Number.POSITIVE_INFINITY;
  for (let j = 0; j < count;) {
    const s = score[order[j] as number] as number;
    if (s === Number.NEGATIVE_INFINITY) break;
    for (; j < count && score[order[j] as number] === s; j++) {
      const r = order[j] as number;
      const w = win[r] as number;
      const v = weighted[r] as number;
      if (w < 0) total += v;
      else if (v > (best[w] as number)) {
        total += v - (best[w] as number);
        best[w] = v;
      }
    }
    if (total > bestTotal) {
      bestTotal = total;
      bestThreshold = s;
    }
  }
  const perFile = files.map((f) => scoreFile(f, profile, bestThreshold));
  const raw = perFile.reduce((a, r) => a + r.raw, 0);
  const rawNull = -profile.fn * windows;
  const rawPerfect = profile.tp * windows;
  const normalized = windows === 0 ? 0 : (100 * (raw - rawNull)) / (rawPerfect - rawNull);
  return {
    profile: profile.name,
    threshold: bestThreshold,
    raw,
    rawNull,
    rawPerfect,
    normalized,
    windows,
    files: perFile,
  };
}
