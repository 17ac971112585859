/**
 * A small 1D convolutional network over the (window × channels) normalised inputs of RUL, the
 * second learner of the ensemble (after Li et al. 2018, "Remaining useful life estimation in
 * prognostics using deep convolution neural networks", scaled down to train on one core).
 *
 * Input: the last rows of the per-regime z-scores (clipped to ±clip), averaged `pool` rows to an
 * input position (a longer history at the same cost, and less noise), time-major, one input
 * channel per kept sensor (plus the asset's age when asked). Histories shorter than the
 * window are padded by repeating their first row, so training (every row of every asset is an end
 * row) and prediction (a twin with a few rows) see the same thing. Then conv layers over time
 * ('same' zero padding, ReLU), a dense ReLU layer on the flattened maps and one linear output, the
 * target divided by the cap. Trained with Adam on mini-batches (decoupled weight decay), seeded,
 * with early stopping on an inner split of the assets (the best epoch's weights are kept).
 * Plain loops on typed arrays: no dependency, deterministic for a seed.
 */
import type { Rng } from './rul-random.js';

export interface CnnOptions {
  /** Convolution layers over time, in order. */
  conv: { filters: number; kernel: number }[];
  /** Units of the dense layer on the flattened maps. */
  hidden: number;
  /** At most this many epochs (early stopping ends sooner). */
  epochs: number;
  /** Epochs without a better inner-validation RMSE before stopping. */
  patience: number;
  /** Epochs without a better inner RMSE (nor a step down) before the learning rate is halved. */
  plateau: number;
  /** Windows drawn per epoch (a fresh seeded subsample each epoch; all when fewer). */
  samplesPerEpoch: number;
  batch: number;
  learningRate: number;
  /** Decoupled weight decay (per step, times the learning rate). */
  decay: number;
  /** Share of the training assets held out, whole, for early stopping. */
  innerShare: number;
  /** Share of the flattened maps dropped (inverted dropout) at each training window. */
  dropout: number;
  /** Inputs are clipped to ±clip (z-scores). */
  clip: number;
  /** Add the asset's age (step / cap) as an input channel. */
  age: boolean;
  /** Rows averaged into one input position (the network sees floor(window / pool) positions). */
  pool: number;
}

/** A fitted network (JSON). `params` is flat, laid out as `cnnLayout` says. */
export interface CnnModel {
  /** Input positions. */
  window: number;
  /** Rows averaged per position. */
  pool: number;
  /** Input channels (sensors, plus one for age when `ageScale` > 0). */
  channels: number;
  conv: { filters: number; kernel: number }[];
  hidden: number;
  /** Target scale (the cap): output × scale is the RUL. */
  scale: number;
  /** Age channel = step / ageScale; 0 = no age channel. */
  ageScale: number;
  clip: number;
  params: number[];
}

/** Where each layer's weights sit in the flat parameter vector. */
export interface CnnLayout {
  window: number;
  channels: number;
  layers: { cin: number; filters: number; kernel: number; w: number; b: number }[];
  hidden: number;
  /** Flattened size W × last filters (input of the dense layer). */
  flat: number;
  dw: number;
  db: number;
  ow: number;
  ob: number;
  /** Number of parameters. */
  size: number;
}

/** The parameter layout of a network shape. */
export function cnnLayout(
  window: number,
  channels: number,
  conv: { filters: number; kernel: number }[],
  hidden: number,
): CnnLayout {
  let at = 0;
  let cin = channels;
  const layers = conv.map(({ filters, kernel }) => {
    const l = { cin, filters, kernel, w: at, b: at + filters * kernel * cin };
    at = l.b + filters;
    cin = filters;
    return l;
  });
  const flat = window * cin;
  const dw = at;
  const db = dw + hidden * flat;
  const ow = db + hidden;
  const ob = ow + hidden;
  return { window, channels, layers, hidden, flat, dw, db, ow, ob, size: ob + 1 };
}

/** Work buffers of one forward/backward pass (activations and their gradients). */
interface Work {
  acts: Float64Array[]; // acts[0] = input, acts[l + 1] = after conv layer l (post-ReLU)
  grads: Float64Array[];
  hid: Float64Array;
  dhid: Float64Array;
  /** The dense layer's input after dropout (training only), and the dropout mask. */
  drop: Float64Array;
  mask: Float64Array | null;
}

function makeWork(L: CnnLayout): Work {
  const sizes = [L.window * L.channels, ...L.layers.map((l) => L.window * l.filters)];
  return {
    acts: sizes.map((n) => new Float64Array(n)),
    grads: sizes.map((n) => new Float64Array(n)),
    hid: new Float64Array(L.hidden),
    dhid: new Float64Array(L.hidden),
    drop: new Float64Array(L.flat),
    mask: null,
  };
}

/** Forward pass on work.acts[0] (already filled); returns the output (scaled target units). */
function forward(L: CnnLayout, p: Float64Array, wk: Work): number {
  const W = L.window;
  for (let li = 0; li < L.layers.length; li++) {
    const l = L.layers[li]!;
    const a = wk.acts[li]!;
    const z = wk.acts[li + 1]!;
    const { cin, filters: F, kernel: K } = l;
    const pad = K >> 1;
    for (let t = 0; t < W; t++) {
      for (let o = 0; o < F; o++) {
        let s = p[l.b + o]!;
        for (let k = 0; k < K; k++) {
          const tt = t + k - pad;
          if (tt < 0 || tt >= W) continue;
          const wo = l.w + (o * K + k) * cin;
          const ao = tt * cin;
          for (let c = 0; c < cin; c++) s += p[wo + c]! * a[ao + c]!;
        }
        z[t * F + o] = s > 0 ? s : 0;
      }
    }
  }
  let x = wk.acts[L.layers.length]!;
  const mask = wk.mask;
  if (mask) {
    for (let i = 0; i < L.flat; i++) wk.drop[i] = x[i]! * mask[i]!;
    x = wk.drop;
  }
  let out = p[L.ob]!;
  for (let h = 0; h < L.hidden; h++) {
    let s = p[L.db + h]!;
    const wo = L.dw + h * L.flat;
    for (let i = 0; i < L.flat; i++) s += p[wo + i]! * x[i]!;
    const v = s > 0 ? s : 0;
    wk.hid[h] = v;
    out += p[L.ow + h]! * v;
  }
  return out;
}

/** Backward pass after `forward`: adds d(out)/d(params) × dOut into g. */
function backward(L: CnnLayout, p: Float64Array, wk: Work, dOut: number, g: Float64Array): void {
  const W = L.window;
  const nl = L.layers.length;
  g[L.ob]! += dOut;
  const mask = wk.mask;
  const x = mask ? wk.drop : wk.acts[nl]!;
  const dx = wk.grads[nl]!;
  dx.fill(0);
  for (let h = 0; h < L.hidden; h++) {
    const v = wk.hid[h]!;
    g[L.ow + h]! += dOut * v;
    if (!(v > 0)) continue;
    const d = dOut * p[L.ow + h]!;
    g[L.db + h]! += d;
    const wo = L.dw + h * L.flat;
    for (let i = 0; i < L.flat; i++) {
      g[wo + i]! += d * x[i]!;
      dx[i]! += d * p[wo + i]!;
    }
  }
  if (mask) for (let i = 0; i < L.flat; i++) dx[i]! *= mask[i]!;
  for (let li = nl - 1; li >= 0; li--) {
    const l = L.layers[li]!;
    const a = wk.acts[li]!;
    const z = wk.acts[li + 1]!;
    const dz = wk.grads[li + 1]!;
    const da = wk.grads[li]!;
    const needInput = li > 0;
    if (needInput) da.fill(0);
    const { cin, filters: F, kernel: K } = l;
    const pad = K >> 1;
    for (let t = 0; t < W; t++) {
      for (let o = 0; o < F; o++) {
        if (!(z[t * F + o]! > 0)) continue;
        const d = dz[t * F + o]!;
        if (d === 0) continue;
        g[l.b + o]! += d;
        for (let k = 0; k < K; k++) {
          const tt = t + k - pad;
          if (tt < 0 || tt >= W) continue;
          const wo = l.w + (o * K + k) * cin;
          const ao = tt * cin;
          for (let c = 0; c < cin; c++) g[wo + c]! += d * a[ao + c]!;
          if (needInput) for (let c = 0; c < cin; c++) da[ao + c]! += d * p[wo + c]!;
        }
      }
    }
  }
}

/**
 * ½ (f(x) − y)² of one window x (window × channels, time-major) and target y (scaled units);
 * adds its gradient into `grad` when given. For the gradient check and the training loop.
 */
export function cnnLoss(
  L: CnnLayout,
  params: Float64Array,
  x: ArrayLike<number>,
  y: number,
  grad?: Float64Array,
): number {
  const wk = makeWork(L);
  const a = wk.acts[0]!;
  for (let i = 0; i < a.length; i++) a[i] = x[i]!;
  const err = forward(L, params, wk) - y;
  if (grad) backward(L, params, wk, err, grad);
  return 0.5 * err * err;
}

/** Random initial parameters (He for ReLU layers), the output bias at `bias`. */
export function cnnInit(L: CnnLayout, rng: Rng, bias = 0): Float64Array {
  const p = new Float64Array(L.size);
  const gauss = () =>
    Math.sqrt(-2 * Math.log(Math.max(1e-12, rng.next()))) * Math.cos(2 * Math.PI * rng.next());
  for (const l of L.layers) {
    const fanIn = l.kernel * l.cin;
    for (let i = l.w; i < l.b; i++) p[i] = gauss() * Math.sqrt(2 / fanIn);
  }
  for (let i = L.dw; i < L.db; i++) p[i] = gauss() * Math.sqrt(2 / L.flat);
  for (let i = L.ow; i < L.ob; i++) p[i] = gauss() * Math.sqrt(1 / L.hidden);
  p[L.ob] = bias;
  return p;
}

/**
 * Writes the network input of the `window` positions ending at row t into out[offset..]: each the
 * mean of `pool` z rows (S values each, from the per-regime normalisation), clipped, the first row
 * repeated before the series starts, and the age channel (step of the position's last row /
 * ageScale) when ageScale > 0. Reads rows t − window × pool + 1 .. t.
 */
export function cnnInput(
  z: Float64Array,
  S: number,
  steps: ArrayLike<number>,
  t: number,
  window: number,
  pool: number,
  clip: number,
  ageScale: number,
  out: Float64Array | Float32Array,
  offset: number,
): void {
  const C = ageScale > 0 ? S + 1 : S;
  for (let i = 0; i < window; i++) {
    const last = t - (window - 1 - i) * pool;
    const o = offset + i * C;
    for (let s = 0; s < S; s++) {
      let sum = 0;
      for (let j = 0; j < pool; j++) {
        const v = z[Math.max(0, last - j) * S + s]!;
        sum += v > clip ? clip : v < -clip ? -clip : v;
      }
      out[o + s] = sum / pool;
    }
    if (ageScale > 0) out[o + S] = steps[Math.max(0, last)]! / ageScale;
  }
}

/** A predictor for a fitted network: input window in, RUL (unclamped) out. Allocates once. */
export function cnnRunner(m: CnnModel): (x: ArrayLike<number>, offset?: number) => number {
  const L = cnnLayout(m.window, m.channels, m.conv, m.hidden);
  const p = Float64Array.from(m.params);
  const wk = makeWork(L);
  const a = wk.acts[0]!;
  return (x, offset = 0) => {
    for (let i = 0; i < a.length; i++) a[i] = x[offset + i]!;
    return forward(L, p, wk) * m.scale;
  };
}

/** Windows and targets (RUL, not scaled) to fit on: X is n × window × channels, time-major. */
export interface CnnData {
  X: Float32Array;
  y: Float64Array;
}

const r6 = (v: number): number => Math.round(v * 1e6) / 1e6;

/**
 * Fits a network on `train`, stopping early on `inner` (RMSE against its targets); `tick(epoch,
 * of)` after each epoch. Returns the best epoch's network and the epochs run.
 */
export function fitCnn(
  train: CnnData,
  inner: CnnData,
  window: number,
  pool: number,
  channels: number,
  scale: number,
  ageScale: number,
  o: CnnOptions,
  rng: Rng,
  tick?: (epoch: number, of: number) => void,
): { model: CnnModel; epochs: number; best: number } {
  const L = cnnLayout(window, channels, o.conv, o.hidden);
  const n = train.y.length;
  const D = window * channels;
  let meanY = 0;
  for (let i = 0; i < n; i++) meanY += train.y[i]! / scale / n;
  const p = cnnInit(L, rng, meanY);
  const best = Float64Array.from(p);
  const g = new Float64Array(L.size);
  const m1 = new Float64Array(L.size);
  const v1 = new Float64Array(L.size);
  const wk = makeWork(L);
  const a = wk.acts[0]!;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const b1 = 0.9;
  const b2 = 0.999;
  let step = 0;
  let bestErr = Infinity;
  let bestEpoch = 0;
  let e = 0;
  let lr = o.learningRate;
  let lastChange = 0;
  const perEpoch = Math.min(n, Math.max(1, Math.floor(o.samplesPerEpoch)));
  const mask = new Float64Array(L.flat);
  const keep = 1 - Math.min(0.9, Math.max(0, o.dropout));
  const innerRmse = (): number => {
    wk.mask = null;
    const m = inner.y.length;
    if (m === 0) return 0;
    let s = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < D; j++) a[j] = inner.X[i * D + j]!;
      const d = Math.max(0, forward(L, p, wk) * scale) - inner.y[i]!;
      s += d * d;
    }
    return Math.sqrt(s / m);
  };
  for (e = 0; e < o.epochs; e++) {
    // a fresh seeded subsample (the first perEpoch of a partial Fisher–Yates shuffle)
    for (let i = 0; i < perEpoch; i++) {
      const j = i + rng.int(n - i);
      const t = order[i]!;
      order[i] = order[j]!;
      order[j] = t;
    }
    for (let start = 0; start < perEpoch; start += o.batch) {
      const end = Math.min(perEpoch, start + o.batch);
      g.fill(0);
      for (let k = start; k < end; k++) {
        const i = order[k]!;
        for (let j = 0; j < D; j++) a[j] = train.X[i * D + j]!;
        if (keep < 1) {
          for (let j = 0; j < L.flat; j++) mask[j] = rng.next() < keep ? 1 / keep : 0;
          wk.mask = mask;
        }
        const err = forward(L, p, wk) - train.y[i]! / scale;
        backward(L, p, wk, err, g);
      }
      step++;
      const bs = end - start;
      const c1 = 1 - b1 ** step;
      const c2 = 1 - b2 ** step;
      for (let q = 0; q < L.size; q++) {
        const gq = g[q]! / bs;
        m1[q] = b1 * m1[q]! + (1 - b1) * gq;
        v1[q] = b2 * v1[q]! + (1 - b2) * gq * gq;
        p[q]! -= lr * (m1[q]! / c1 / (Math.sqrt(v1[q]! / c2) + 1e-8) + o.decay * p[q]!);
      }
    }
    const err = innerRmse();
    // without inner assets (too few to spare) every epoch counts as the best so far
    if (inner.y.length === 0 || err < bestErr - 1e-9) {
      bestErr = err;
      bestEpoch = e + 1;
      lastChange = e + 1;
      best.set(p);
    } else if (e + 1 - lastChange >= o.plateau) {
      lr *= 0.5;
      lastChange = e + 1;
    }
    tick?.(e + 1, o.epochs);
    if (e + 1 - bestEpoch >= o.patience) {
      e++;
      break;
    }
  }
  return {
    model: {
      window,
      pool,
      channels,
      conv: o.conv.map((c) => ({ filters: c.filters, kernel: c.kernel })),
      hidden: o.hidden,
      scale,
      ageScale,
      clip: o.clip,
      params: Array.from(best, r6),
    },
    epochs: e,
    best: bestErr,
  };
}
