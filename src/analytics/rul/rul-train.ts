/**
 * RUL training: C-MAPSS-style run-to-failure histories in, a JSON artefact and validation figures
 * out. Pure and synchronous (the platform runs it in a worker thread), deterministic for a seed.
 *
 * 1. Preprocessing (rul-prep.ts, unsupervised, fitted on all training assets): NaN carried forward,
 *    empty and (near) constant columns dropped, regimes by k-means on the settings, per-regime z-scores.
 * 2. Cross-fitting: the assets are split, whole and seeded, into k = round(1 / validationFraction)
 *    folds (5 at the default 0.2). For each fold a *member* is fitted on the other folds: a health
 *    index (ridge, rul-health.ts) and gradient-boosted trees (rul-gbm.ts) on the window features
 *    (rul-features.ts) of every row of every training asset, target min(cap, steps to failure).
 * 3. Validation: each member predicts its held-out assets at 5 random cut points (the true RUL drawn
 *    uniformly in 1..min(length − 1, 1.2 × cap), as the PHM08 test files cut engines short) and at
 *    their last row; RMSE and the PHM08 score are against the true, uncapped RUL.
 * 4. The artefact predicts with the mean of the k members; its interval is the 10–90 % quantiles
 *    of the held-out residuals, by level of the prediction.
 *
 * Optionally (`cnn`, off by default) each member also holds a 1D convolutional network over the
 * normalised window (rul-cnn.ts), fitted on the same assets with early stopping on an inner split;
 * its weight in the blend is the best of 0, 0.1, …, 1 at the held-out random cuts.
 */
import { TwinloopError, type Problem } from '../../core/errors/errors.js';
import { featureCount, windowFeatures, type FeatureSpec } from './rul-features.js';
import { fitGbm, gbmPredict, type GbmModel, type GbmOptions } from './rul-gbm.js';
import { fitMlp, mlpPredict, type MlpModel, type MlpOptions } from './rul-mlp.js';
import { cnnInput, cnnRunner, fitCnn, type CnnData, type CnnModel, type CnnOptions } from './rul-cnn.js';
import { channels, fitHealthIndex, type HealthIndex } from './rul-health.js';
import { phm08Score, rmse } from './rul-metrics.js';
import { fitPrep, normalise, type RulPrep } from './rul-prep.js';
import { createRng, shuffle } from './rul-random.js';
import type {
  RulArtefact,
  RulAssetSeries,
  RulMetrics,
  RulTrainingProgress,
  RulTrainingSpec,
} from './rul-types.js';

/** The learner's own choices (chosen by cross-validation on FD001 training engines; see docs/rul.md). */
export interface RulLearnerOptions {
  gbm: GbmOptions;
  /** Short sub-window (rows) and smoothing factor of the window features. */
  short: number;
  alpha: number;
  /** Ridge penalty of the health index (per row). */
  hiLambda: number;
  /** At most this many training rows per member (an even subsample beyond: bounds the time). */
  maxRows: number;
  /** Random cut points per held-out asset (the last row is always one more). */
  cuts: number;
  /**
   * Validation draws the true RUL of a random cut uniformly in 1..horizon (null: 1.2 × cap). Fixed,
   * it lets trainings with different caps be compared on the same cuts.
   */
  horizon: number | null;
  /** Fit the health index on the rows below the cap only (where RUL still falls). */
  hiBelowCap: boolean;
  /** Give the trees the asset's age (its step number). */
  age: boolean;
  /** A second learner averaged with the trees (null: trees only); its weight is chosen on validation. */
  mlp: MlpOptions | null;
  /** Members fitted per fold (different row and feature subsamples), averaged. */
  bags: number;
  /**
   * A 1D convolutional network over the normalised window (rul-cnn.ts) averaged with the trees
   * (null: none); its weight is chosen on validation. Takes the place of `mlp` when both are set.
   */
  cnn: CnnOptions | null;
  /** The network's weight in the blend, in [0, 1]; null: the best of a grid at the held-out random cuts. */
  blend: number | null;
}

/**
 * The convolutional network's options when it is switched on (`{ ...DEFAULT_LEARNER, cnn:
 * DEFAULT_CNN }`): the best of those tried by cross-validation on FD001 (see docs/rul.md). Off by
 * default: blended with the trees it did not lower the validation RMSE (weight 0 chosen).
 */
export const DEFAULT_CNN: CnnOptions = {
  conv: [
    { filters: 10, kernel: 5 },
    { filters: 10, kernel: 5 },
  ],
  hidden: 16,
  epochs: 30,
  patience: 6,
  plateau: 3,
  samplesPerEpoch: 6000,
  batch: 64,
  learningRate: 3e-3,
  decay: 1e-4,
  dropout: 0.2,
  innerShare: 0.15,
  clip: 6,
  age: true,
  pool: 4,
};

export const DEFAULT_LEARNER: RulLearnerOptions = {
  gbm: {
    trees: 300,
    learningRate: 0.05,
    maxDepth: 5,
    minLeaf: 50,
    lambda: 1,
    rowSample: 0.7,
    featureSample: 0.5,
    bins: 64,
  },
  short: 10,
  alpha: 0.1,
  hiLambda: 1e-3,
  maxRows: 60000,
  cuts: 5,
  horizon: null,
  hiBelowCap: true,
  age: true,
  mlp: null,
  bags: 1,
  cnn: null,
  blend: null,
};

/**
 * The artefact's `model` (format 'twinloop-rul/1'). Learner 'gbm-hi-ensemble/1': trees (and
 * optionally a perceptron) on window features; 'gbm-cnn-ensemble/2': the same with a convolutional
 * network in each member (`cnn`), which then is the network of the blend.
 */
export interface RulModel {
  learner: 'gbm-hi-ensemble/1' | 'gbm-cnn-ensemble/2';
  prep: RulPrep;
  features: FeatureSpec;
  members: { health: HealthIndex; gbm: GbmModel; mlp?: MlpModel; cnn?: CnnModel }[];
  /** Weight of the network in each member's prediction (1 − blend on the trees); 0 without networks. */
  blend: number;
  /** Prediction interval: for predictions below edges[i] (or above the last), RUL − prediction quantiles. */
  interval?: { edges: number[]; lower: number[]; upper: number[] };
}

function validateInput(assets: RulAssetSeries[], spec: RulTrainingSpec): void {
  const problems: Problem[] = [];
  const p = (pointer: string, message: string) => problems.push({ code: 'rul.input', pointer, message });
  if (!Array.isArray(assets) || assets.length < 2)
    p('/assets', 'at least 2 assets run to failure are needed');
  if (!Number.isInteger(spec.window) || spec.window < 1 || spec.window > 10000)
    p('/spec/window', 'an integer in 1..10000');
  if (!(spec.cap > 0) || !Number.isFinite(spec.cap)) p('/spec/cap', 'a positive number');
  if (!(spec.validationFraction > 0 && spec.validationFraction <= 0.5))
    p('/spec/validationFraction', 'a number in (0, 0.5]');
  if (spec.regimes !== 'auto' && !(Number.isInteger(spec.regimes) && spec.regimes >= 1 && spec.regimes <= 50))
    p('/spec/regimes', "'auto' or an integer in 1..50");
  if (!Number.isFinite(spec.seed)) p('/spec/seed', 'a finite number');
  if (!Array.isArray(spec.sensors) || spec.sensors.length === 0) p('/spec/sensors', 'at least one sensor');
  (Array.isArray(assets) ? assets : []).forEach((a, i) => {
    const n = a?.steps?.length;
    if (!(a?.steps instanceof Float64Array) || n === 0) return p(`/assets/${i}`, 'no rows');
    for (let r = 1; r < n; r++)
      if (!((a.steps[r] as number) > (a.steps[r - 1] as number)))
        return p(`/assets/${i}/steps/${r}`, 'steps must ascend');
    for (const [name, col] of Object.entries(a.columns ?? {}))
      if (!(col instanceof Float64Array) || col.length !== n)
        p(`/assets/${i}/columns/${name}`, `${n} values expected (one a row)`);
  });
  if (problems.length)
    throw new TwinloopError(
      'ValidationFailed',
      `RUL training input refused:\n${problems.map((q) => `${q.pointer}: ${q.message}`).join('\n')}`,
      { problems },
    );
}

/** The network sees at most this many positions (bounds its cost; longer windows still feed the trees). */
export const MAX_CNN_WINDOW = 100;
/** Early stopping looks at most at about this many windows. */
const MAX_CNN_INNER = 5000;

/** Quantile of a sorted array (linear interpolation). */
function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (pos - lo);
}

/** Trains with the default learner options. See the module comment. */
export function trainRul(
  assets: RulAssetSeries[],
  spec: RulTrainingSpec,
  onProgress?: (p: RulTrainingProgress) => void,
): { artefact: RulArtefact; metrics: RulMetrics } {
  return trainRulWith(assets, spec, DEFAULT_LEARNER, onProgress);
}

/** Trains with explicit learner options (for tuning by cross-validation). */
export function trainRulWith(
  assets: RulAssetSeries[],
  spec: RulTrainingSpec,
  opts: RulLearnerOptions,
  onProgress?: (p: RulTrainingProgress) => void,
): { artefact: RulArtefact; metrics: RulMetrics } {
  const t0 = Date.now();
  validateInput(assets, spec);
  let lastTick = 0;
  const progress = (phase: string, fraction: number, message?: string, force = false) => {
    const now = Date.now();
    if (!onProgress || (!force && now - lastTick < 250)) return;
    lastTick = now;
    onProgress(message === undefined ? { phase, fraction } : { phase, fraction, message });
  };
  progress('regimes', 0, 'fitting regimes and normalisation', true);
  const notes: string[] = [];
  const prep = fitPrep(assets, spec, notes);
  if (prep.sensors.length === 0)
    throw new TwinloopError(
      'ValidationFailed',
      'RUL training input refused: every sensor column is empty or constant',
    );
  const S = prep.sensors.length;
  const C = S + 1;
  const F = featureCount(C);
  const features: FeatureSpec = {
    window: spec.window,
    short: Math.min(opts.short, spec.window),
    alpha: opts.alpha,
    ...(opts.age ? {} : { age: false }),
  };
  progress('features', 0.05, 'normalising', true);
  const norm = assets.map((a) => normalise(prep, a));
  const targets = assets.map((a) => {
    const n = a.steps.length;
    const last = a.steps[n - 1] as number;
    return Float64Array.from(a.steps, (s) => Math.min(spec.cap, last - s));
  });
  const totalRows = assets.reduce((n, a) => n + a.steps.length, 0);
  // one z matrix and target for all rows (for the health index)
  const zAll = new Float64Array(totalRows * S);
  const yAll = new Float64Array(totalRows);
  const offsets: number[] = [];
  {
    let off = 0;
    norm.forEach((nz, i) => {
      offsets.push(off);
      zAll.set(nz.z, off * S);
      yAll.set(targets[i] as Float64Array, off);
      off += nz.rows;
    });
  }
  const k = Math.max(2, Math.min(10, Math.round(1 / spec.validationFraction), assets.length));
  const rng = createRng(spec.seed);
  const order = shuffle(
    Array.from({ length: assets.length }, (_, i) => i),
    rng,
  );
  const fold = new Int32Array(assets.length);
  order.forEach((a, i) => (fold[a] = i % k));

  // validation cut points of every asset (drawn once, whatever the fold)
  const maxRul = Math.max(1, Math.round(opts.horizon ?? 1.2 * spec.cap));
  const cuts = assets.map((a) => {
    const n = a.steps.length;
    const last = a.steps[n - 1] as number;
    const list: number[] = [];
    for (let c = 0; c < opts.cuts; c++) {
      if (n < 2) break;
      const want = 1 + rng.int(Math.max(1, Math.min(n - 1, maxRul)));
      // the row whose RUL is nearest to `want` (steps may have gaps)
      let row = n - 1;
      while (row > 0 && last - (a.steps[row] as number) < want) row--;
      list.push(row);
    }
    list.push(n - 1);
    return list;
  });

  // the network's inputs: the last cnnWindow rows of z (+ age), every row of an asset an end row
  const cnnPool = Math.max(1, Math.min(spec.window, Math.floor(opts.cnn?.pool ?? 1)));
  const cnnWindow = Math.min(Math.floor(spec.window / cnnPool), MAX_CNN_WINDOW);
  const ageScale = opts.cnn?.age ? spec.cap : 0;
  const cnnChannels = S + (ageScale > 0 ? 1 : 0);
  const cnnD = cnnWindow * cnnChannels;
  const cnnX = new Float64Array(cnnD);
  const cnnEpochs: string[] = [];
  const cnnRows = (list: number[], stride: number): CnnData => {
    let n = 0;
    for (const a of list) n += Math.ceil((norm[a] as { rows: number }).rows / stride);
    const X = new Float32Array(n * cnnD);
    const y = new Float64Array(n);
    let m = 0;
    for (const a of list) {
      const nz = norm[a] as { rows: number; z: Float64Array };
      for (let r = 0; r < nz.rows; r += stride, m++) {
        cnnInput(
          nz.z,
          S,
          (assets[a] as RulAssetSeries).steps,
          r,
          cnnWindow,
          cnnPool,
          opts.cnn?.clip ?? 6,
          ageScale,
          X,
          m * cnnD,
        );
        y[m] = (targets[a] as Float64Array)[r] as number;
      }
    }
    return { X, y };
  };
  /** A fold's training assets split, seeded and whole, into the network's training and early-stopping sets. */
  const cnnFoldData = (trainIdx: number[], o: CnnOptions): { train: CnnData; inner: CnnData } => {
    const pool = shuffle([...trainIdx], rng);
    const nInner = pool.length >= 5 ? Math.max(1, Math.round(o.innerShare * pool.length)) : 0;
    const inner = pool.slice(0, nInner).sort((p, q) => p - q);
    const rest = pool.slice(nInner).sort((p, q) => p - q);
    const rows = rest.reduce((n, a) => n + (norm[a] as { rows: number }).rows, 0);
    const innerRows = inner.reduce((n, a) => n + (norm[a] as { rows: number }).rows, 0);
    return {
      train: cnnRows(rest, Math.max(1, Math.ceil(rows / opts.maxRows))),
      inner: cnnRows(inner, Math.max(1, Math.ceil(innerRows / MAX_CNN_INNER))),
    };
  };

  const members: RulModel['members'] = [];
  const cutTree: number[][] = assets.map(() => []);
  const cutNet: number[][] = assets.map(() => []);
  const x = new Float64Array(F);
  for (let f = 0; f < k; f++) {
    const trainIdx = order.filter((a) => fold[a] !== f).sort((p, q) => p - q);
    const rowsIdx: number[] = [];
    for (const a of trainIdx)
      for (let r = 0; r < (norm[a] as { rows: number }).rows; r++) rowsIdx.push((offsets[a] as number) + r);
    const below = opts.hiBelowCap ? rowsIdx.filter((i) => (yAll[i] as number) < spec.cap) : rowsIdx;
    const health = fitHealthIndex(
      zAll,
      S,
      yAll,
      below.length > 10 * (S + 1) ? below : rowsIdx,
      opts.hiLambda,
    );
    // training matrix: every row of every training asset (evenly thinned beyond maxRows)
    const stride = Math.max(1, rowsIdx.length / opts.maxRows);
    const nRows = Math.floor(rowsIdx.length / stride);
    const X = new Float64Array(nRows * F);
    const y = new Float64Array(nRows);
    let m = 0;
    let next = 0;
    let seen = 0;
    for (const a of trainIdx) {
      const nz = norm[a] as { rows: number; z: Float64Array };
      const ch = channels(nz.z, nz.rows, S, health);
      const steps = (assets[a] as RulAssetSeries).steps;
      for (let r = 0; r < nz.rows; r++, seen++) {
        if (seen < next || m >= nRows) continue;
        next = Math.floor((m + 1) * stride);
        windowFeatures(ch, C, steps, r, features, X, m * F);
        y[m] = (targets[a] as Float64Array)[r] as number;
        m++;
      }
    }
    progress('fit', 0.1 + (0.85 * f) / k, `member ${f + 1} of ${k}: ${m} rows × ${F} features`, true);
    const cnnOpts = opts.cnn;
    const cnnData = cnnOpts ? cnnFoldData(trainIdx, cnnOpts) : undefined;
    const treeShare = cnnOpts ? 0.15 : opts.mlp ? 0.6 : 1;
    const bags = Math.max(1, Math.floor(opts.bags));
    const fitted: RulModel['members'] = [];
    for (let b = 0; b < bags; b++) {
      const at = f + b / bags;
      const gbm = fitGbm(X.subarray(0, m * F), y.subarray(0, m), F, opts.gbm, rng, (done) =>
        progress(
          'fit',
          0.1 + (0.85 * (at + (treeShare * done) / opts.gbm.trees / bags)) / k,
          `member ${f + 1} of ${k}${bags > 1 ? `, bag ${b + 1} of ${bags}` : ''}: tree ${done}`,
        ),
      );
      const mlpOpts = cnnOpts ? null : opts.mlp;
      const mlp = mlpOpts
        ? fitMlp(X.subarray(0, m * F), y.subarray(0, m), F, spec.cap, mlpOpts, rng, (epoch) =>
            progress(
              'fit',
              0.1 + (0.85 * (at + (treeShare + (1 - treeShare) * (epoch / mlpOpts.epochs)) / bags)) / k,
              `member ${f + 1} of ${k}: network epoch ${epoch}`,
            ),
          )
        : undefined;
      const cnn =
        cnnOpts && cnnData
          ? fitCnn(
              cnnData.train,
              cnnData.inner,
              cnnWindow,
              cnnPool,
              cnnChannels,
              spec.cap,
              ageScale,
              cnnOpts,
              rng,
              (epoch, of) =>
                progress(
                  'fit',
                  0.1 + (0.85 * (at + (treeShare + (1 - treeShare) * (epoch / of)) / bags)) / k,
                  `member ${f + 1} of ${k}: network epoch ${epoch}`,
                ),
            )
          : undefined;
      if (cnn) cnnEpochs.push(`${cnn.epochs} (best ${cnn.best.toFixed(2)})`);
      fitted.push(cnn ? { health, gbm, cnn: cnn.model } : mlp ? { health, gbm, mlp } : { health, gbm });
    }
    const runners = fitted.map((mem) => (mem.cnn ? cnnRunner(mem.cnn) : undefined));
    members.push(...fitted);
    // held-out predictions (the mean of the fold's bags)
    for (let a = 0; a < assets.length; a++) {
      if (fold[a] !== f) continue;
      const nz = norm[a] as { rows: number; z: Float64Array };
      const ch = channels(nz.z, nz.rows, S, health);
      for (const row of cuts[a] as number[]) {
        windowFeatures(ch, C, (assets[a] as RulAssetSeries).steps, row, features, x, 0);
        if (cnnOpts)
          cnnInput(
            nz.z,
            S,
            (assets[a] as RulAssetSeries).steps,
            row,
            cnnWindow,
            cnnPool,
            cnnOpts.clip,
            ageScale,
            cnnX,
            0,
          );
        let tree = 0;
        let net = 0;
        fitted.forEach((mem, b) => {
          tree += gbmPredict(mem.gbm, x) / fitted.length;
          const run = runners[b];
          net += run ? run(cnnX) / fitted.length : mem.mlp ? mlpPredict(mem.mlp, x) / fitted.length : 0;
        });
        (cutTree[a] as number[]).push(tree);
        (cutNet[a] as number[]).push(net);
      }
    }
  }
  progress('validate', 0.96, 'validation figures', true);
  // the network's weight: the one of 0, ¼, ½, ¾, 1 with the least RMSE at the held-out random cuts
  const randomCutRmse = (w: number): number => {
    const p: number[] = [];
    const t: number[] = [];
    assets.forEach((a, i) => {
      const rows = cuts[i] as number[];
      const last = a.steps[a.steps.length - 1] as number;
      for (let c = 0; c < rows.length - 1; c++) {
        p.push(
          Math.max(
            0,
            (1 - w) * ((cutTree[i] as number[])[c] as number) + w * ((cutNet[i] as number[])[c] as number),
          ),
        );
        t.push(last - (a.steps[rows[c] as number] as number));
      }
    });
    return rmse(p, t);
  };
  let blend = 0;
  if (opts.cnn || opts.mlp) {
    const grid = opts.cnn ? Array.from({ length: 11 }, (_, i) => i / 10) : [0, 0.25, 0.5, 0.75, 1];
    const tried = grid.map((w) => ({ w, e: randomCutRmse(w) }));
    blend =
      (opts.blend === null ? null : Math.min(1, Math.max(0, opts.blend))) ??
      tried.reduce((b, t) => (t.e < b.e - 1e-12 ? t : b)).w;
    notes.push(
      `learners at the held-out random cuts (RMSE): ${tried.map((t) => `network weight ${t.w}: ${t.e.toFixed(2)}`).join(', ')}; weight ${blend} ${opts.blend === null ? 'taken' : 'as set'}`,
    );
  }
  const cutPred = cutTree.map((tr, i) =>
    tr.map((v, c) => Math.max(0, (1 - blend) * v + blend * ((cutNet[i] as number[])[c] as number))),
  );
  // figures: every cut (random and last) against the true uncapped RUL
  const pred: number[] = [];
  const truth: number[] = [];
  const predLast: number[] = [];
  const truthLast: number[] = [];
  const lastCut: boolean[] = [];
  const setScores: number[] = new Array<number>(opts.cuts + 1).fill(0);
  assets.forEach((a, i) => {
    const n = a.steps.length;
    const last = a.steps[n - 1] as number;
    const rows = cuts[i] as number[];
    rows.forEach((row, c) => {
      const p = (cutPred[i] as number[])[c] as number;
      const t = last - (a.steps[row] as number);
      pred.push(p);
      truth.push(t);
      lastCut.push(c === rows.length - 1);
      const set = c === rows.length - 1 ? opts.cuts : c;
      setScores[set]! += phm08Score([p], [t]);
      if (c === rows.length - 1) {
        predLast.push(p);
        truthLast.push(t);
      }
    });
  });
  const randomPred = pred.filter((_, i) => !lastCut[i]);
  const randomTruth = truth.filter((_, i) => !lastCut[i]);
  // interval from the random cuts' residuals, by prediction level (quartiles)
  const residualOrder = randomPred
    .map((p, i) => ({ p, r: (randomTruth[i] as number) - p }))
    .sort((u, v) => u.p - v.p);
  const groups = 4;
  const edges: number[] = [];
  const lower: number[] = [];
  const upper: number[] = [];
  if (residualOrder.length >= 40) {
    for (let g = 0; g < groups; g++) {
      const part = residualOrder.slice(
        Math.floor((g * residualOrder.length) / groups),
        Math.floor(((g + 1) * residualOrder.length) / groups),
      );
      const rs = Float64Array.from(part, (e) => e.r).sort();
      if (g < groups - 1) edges.push((part[part.length - 1] as { p: number }).p);
      lower.push(quantile(rs, 0.1));
      upper.push(quantile(rs, 0.9));
    }
  }
  const withCnn = blend > 0 && members.some((m) => m.cnn);
  const model: RulModel = {
    learner: withCnn ? 'gbm-cnn-ensemble/2' : 'gbm-hi-ensemble/1',
    prep,
    features,
    members: blend > 0 ? members : members.map((m) => ({ health: m.health, gbm: m.gbm })),
    blend,
    ...(lower.length ? { interval: { edges, lower, upper } } : {}),
  };
  const validationRmse = rmse(pred, truth);
  const validationScore = setScores.reduce((s, v) => s + v, 0) / setScores.length;
  notes.push(
    `sensors used: ${prep.sensors.join(', ')}; ${F} window features (window ${features.window}, short ${features.short}, α ${features.alpha})`,
    `validation at random cuts only: RMSE ${rmse(randomPred, randomTruth).toFixed(2)} (${rmse(
      randomPred,
      randomTruth.map((t) => Math.min(spec.cap, t)),
    ).toFixed(
      2,
    )} against the capped truth), PHM08 ${(setScores.slice(0, opts.cuts).reduce((s, v) => s + v, 0) / Math.max(1, opts.cuts)).toFixed(1)} per set of ${assets.length}; at the last row: RMSE ${rmse(predLast, truthLast).toFixed(2)}`,
    `model: mean of ${members.length} members (${opts.bags > 1 ? `${Math.floor(opts.bags)} a fold` : 'one per fold'}), ${opts.gbm.trees} trees each (depth ${opts.gbm.maxDepth}, learning rate ${opts.gbm.learningRate})${withCnn ? `, and a convolutional network each (window ${cnnWindow}, weight ${blend})` : ''}`,
  );
  if (cnnEpochs.length)
    notes.push(`network epochs run per member (inner early-stopping RMSE): ${cnnEpochs.join(', ')}`);
  progress('validate', 1, 'done', true);
  return {
    artefact: {
      format: 'twinloop-rul/1',
      spec: { ...spec, sensors: [...spec.sensors], settings: [...spec.settings] },
      model,
    },
    metrics: {
      validationRmse,
      validationScore,
      validationMethod: `${k}-fold cross-validation by asset (seeded); each held-out asset predicted by the member not trained on it at ${opts.cuts} random cut points (true RUL uniform in 1..min(length−1, ${maxRul})) and at its last row; RMSE over all cuts, PHM08 score summed over the assets and averaged over the ${opts.cuts + 1} cut sets; truth uncapped`,
      trainingAssets: assets.length,
      validationAssets: assets.length,
      trainingRows: totalRows,
      notes,
      trainingMs: Date.now() - t0,
    },
  };
}
