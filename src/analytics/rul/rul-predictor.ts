/**
 * Loading a RUL artefact (which comes from a store, so is untrusted: every field is checked, only
 * own properties are read, node links must point forward so no tree can loop) and predicting with
 * it: pure, synchronous, well under a millisecond per call.
 */
import { TwinloopError, type Problem } from '../../core/errors/errors.js';
import { featureCount, windowFeatures } from './rul-features.js';
import { gbmPredict } from './rul-gbm.js';
import { mlpPredict, type MlpModel } from './rul-mlp.js';
import { cnnInput, cnnLayout, cnnRunner, type CnnModel } from './rul-cnn.js';
import { channels } from './rul-health.js';
import { normalise } from './rul-prep.js';
import { MAX_CNN_WINDOW, type RulModel } from './rul-train.js';
import type { RulAssetSeries, RulPrediction, RulPredictor, RulTrainingSpec } from './rul-types.js';

const MAX_NODES = 5_000_000;
/** Multiply-adds of all the networks of one prediction (a few ms at most; the default uses ~0.3 M). */
const MAX_CNN_MACS = 20_000_000;
const MAX_PROBLEMS = 20;

class Checker {
  readonly problems: Problem[] = [];
  fail(pointer: string, message: string): undefined {
    if (this.problems.length < MAX_PROBLEMS)
      this.problems.push({ code: 'rul.artefact', source: 'RUL artefact', pointer, message });
    return undefined;
  }
  get full(): boolean {
    return this.problems.length >= MAX_PROBLEMS;
  }
  obj(v: unknown, at: string): Record<string, unknown> | undefined {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return this.fail(at, 'an object expected');
    return v as Record<string, unknown>;
  }
  num(
    o: Record<string, unknown>,
    key: string,
    at: string,
    min = -Infinity,
    max = Infinity,
    int = false,
  ): number | undefined {
    const v = Object.hasOwn(o, key) ? o[key] : undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (int && !Number.isInteger(v)))
      return this.fail(
        `${at}/${key}`,
        `a${int ? 'n integer' : ' finite number'} in [${min}, ${max}] expected`,
      );
    return v;
  }
  strings(o: Record<string, unknown>, key: string, at: string, minLen = 0): string[] | undefined {
    const v = Object.hasOwn(o, key) ? o[key] : undefined;
    if (
      !Array.isArray(v) ||
      v.length < minLen ||
      v.length > 10000 ||
      !v.every((s) => typeof s === 'string' && s.length <= 1000)
    )
      return this.fail(`${at}/${key}`, `an array of at least ${minLen} strings expected`);
    return v as string[];
  }
  /** An array of finite numbers of exactly `len` (when given) items. */
  nums(
    o: Record<string, unknown>,
    key: string,
    at: string,
    len?: number,
    min = -Infinity,
    int = false,
    maxLen = MAX_NODES,
  ): number[] | undefined {
    const v = Object.hasOwn(o, key) ? o[key] : undefined;
    if (!Array.isArray(v) || v.length > maxLen)
      return this.fail(`${at}/${key}`, 'an array of numbers expected');
    if (len !== undefined && v.length !== len)
      return this.fail(`${at}/${key}`, `${len} numbers expected, found ${v.length}`);
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x !== 'number' || !Number.isFinite(x) || x < min || (int && !Number.isInteger(x)))
        return this.fail(
          `${at}/${key}/${i}`,
          `a finite number${int ? ' (integer)' : ''}${min > -Infinity ? ` ≥ ${min}` : ''} expected`,
        );
    }
    return v as number[];
  }
}

function checkSpec(c: Checker, v: unknown): RulTrainingSpec | undefined {
  const o = c.obj(v, '/spec');
  if (!o) return undefined;
  const sensors = c.strings(o, 'sensors', '/spec', 1);
  const settings = c.strings(o, 'settings', '/spec');
  const window = c.num(o, 'window', '/spec', 1, 10000, true);
  const cap = c.num(o, 'cap', '/spec', Number.MIN_VALUE, 1e9);
  const validationFraction = c.num(o, 'validationFraction', '/spec', 0, 1);
  const seed = c.num(o, 'seed', '/spec');
  const r = Object.hasOwn(o, 'regimes') ? o.regimes : undefined;
  const regimes =
    r === 'auto' || (typeof r === 'number' && Number.isInteger(r) && r >= 1 && r <= 50)
      ? r
      : c.fail('/spec/regimes', "'auto' or an integer in 1..50 expected");
  if (
    !sensors ||
    !settings ||
    window === undefined ||
    cap === undefined ||
    validationFraction === undefined ||
    seed === undefined ||
    regimes === undefined
  )
    return undefined;
  return { sensors: [...sensors], settings: [...settings], window, cap, regimes, validationFraction, seed };
}

/** Checks an artefact's model; returns it typed, or undefined with problems recorded. */
function checkModel(c: Checker, v: unknown, spec: RulTrainingSpec): RulModel | undefined {
  const m = c.obj(v, '/model');
  if (!m) return undefined;
  const learner = m.learner;
  if (learner !== 'gbm-hi-ensemble/1' && learner !== 'gbm-cnn-ensemble/2')
    return c.fail('/model/learner', "'gbm-hi-ensemble/1' or 'gbm-cnn-ensemble/2' expected");
  const p = c.obj(Object.hasOwn(m, 'prep') ? m.prep : undefined, '/model/prep');
  const f = c.obj(Object.hasOwn(m, 'features') ? m.features : undefined, '/model/features');
  if (!p || !f) return undefined;
  const sensors = c.strings(p, 'sensors', '/model/prep', 1);
  const settings = c.strings(p, 'settings', '/model/prep');
  const regimes = c.num(p, 'regimes', '/model/prep', 1, 50, true);
  if (!sensors || !settings || regimes === undefined) return undefined;
  const S = sensors.length;
  const D = settings.length;
  const settingMean = c.nums(p, 'settingMean', '/model/prep', D);
  const settingStd = c.nums(p, 'settingStd', '/model/prep', D, Number.MIN_VALUE);
  const centroids = c.nums(p, 'centroids', '/model/prep', regimes > 1 || D > 0 ? regimes * D : 0);
  const mean = c.nums(p, 'mean', '/model/prep', regimes * S);
  const std = c.nums(p, 'std', '/model/prep', regimes * S, 0);
  if (regimes > 1 && D === 0) c.fail('/model/prep/regimes', 'several regimes need settings');
  const window = c.num(f, 'window', '/model/features', 1, 10000, true);
  const short = c.num(f, 'short', '/model/features', 1, 10000, true);
  const alpha = c.num(f, 'alpha', '/model/features', 0, 1);
  const age = Object.hasOwn(f, 'age') ? f.age : true;
  if (age !== true && age !== false) c.fail('/model/features/age', 'true or false expected');
  if (window !== undefined && window !== spec.window)
    c.fail('/model/features/window', `the spec's window (${spec.window}) expected`);
  const F = featureCount(S + 1);
  const ms = Object.hasOwn(m, 'members') ? m.members : undefined;
  if (!Array.isArray(ms) || ms.length < 1 || ms.length > 100)
    return c.fail('/model/members', 'an array of 1..100 members expected');
  const members: RulModel['members'] = [];
  const blend = Object.hasOwn(m, 'blend') ? c.num(m, 'blend', '/model', 0, 1) : 0;
  if (blend === undefined) return undefined;
  let nodes = 0;
  let macs = 0;
  ms.forEach((mv: unknown, i: number) => {
    if (c.full) return;
    const at = `/model/members/${i}`;
    const mo = c.obj(mv, at);
    const h = mo && c.obj(Object.hasOwn(mo, 'health') ? mo.health : undefined, `${at}/health`);
    const g = mo && c.obj(Object.hasOwn(mo, 'gbm') ? mo.gbm : undefined, `${at}/gbm`);
    if (!h || !g) return;
    const bias = c.num(h, 'bias', `${at}/health`);
    const weights = c.nums(h, 'weights', `${at}/health`, S);
    const base = c.num(g, 'base', `${at}/gbm`);
    const feature = c.nums(g, 'feature', `${at}/gbm`, undefined, -1, true);
    if (!feature) return;
    const N = feature.length;
    nodes += N;
    if (nodes > MAX_NODES) return void c.fail(`${at}/gbm/feature`, `more than ${MAX_NODES} nodes in all`);
    const threshold = c.nums(g, 'threshold', `${at}/gbm`, N);
    const left = c.nums(g, 'left', `${at}/gbm`, N, -1, true);
    const right = c.nums(g, 'right', `${at}/gbm`, N, -1, true);
    const value = c.nums(g, 'value', `${at}/gbm`, N);
    const roots = c.nums(g, 'roots', `${at}/gbm`, undefined, 0, true, 100000);
    if (
      bias === undefined ||
      !weights ||
      base === undefined ||
      !threshold ||
      !left ||
      !right ||
      !value ||
      !roots
    )
      return;
    for (let n = 0; n < N; n++) {
      const ft = feature[n] as number;
      if (ft >= F) return void c.fail(`${at}/gbm/feature/${n}`, `a feature index below ${F} expected`);
      // a split's children come after it: no tree can loop
      if (
        ft >= 0 &&
        !(
          (left[n] as number) > n &&
          (left[n] as number) < N &&
          (right[n] as number) > n &&
          (right[n] as number) < N
        )
      )
        return void c.fail(`${at}/gbm/left/${n}`, 'children must be later nodes of the member');
    }
    for (let r = 0; r < roots.length; r++)
      if ((roots[r] as number) >= N) return void c.fail(`${at}/gbm/roots/${r}`, 'not a node');
    let mlp: MlpModel | undefined;
    let cnn: CnnModel | undefined;
    if (learner === 'gbm-cnn-ensemble/2') {
      if (Object.hasOwn(mo, 'mlp')) return void c.fail(`${at}/mlp`, 'no perceptron in this learner');
      cnn = checkCnn(c, Object.hasOwn(mo, 'cnn') ? mo.cnn : undefined, `${at}/cnn`, S, spec);
      if (!cnn) return;
      nodes += cnn.params.length;
      if (nodes > MAX_NODES) return void c.fail(`${at}/cnn/params`, `more than ${MAX_NODES} numbers in all`);
      macs += cnnMacs(cnn);
      if (macs > MAX_CNN_MACS)
        return void c.fail(
          `${at}/cnn`,
          `the networks need more than ${MAX_CNN_MACS} multiply-adds a prediction`,
        );
    } else if (Object.hasOwn(mo, 'cnn')) return void c.fail(`${at}/cnn`, 'no network in this learner');
    else if (Object.hasOwn(mo, 'mlp') && mo.mlp !== undefined) {
      mlp = checkMlp(c, mo.mlp, `${at}/mlp`, F);
      if (!mlp) return;
    } else if (blend > 0) return void c.fail(`${at}/mlp`, 'a network expected (blend > 0)');
    members.push({
      health: { bias, weights: [...weights] },
      gbm: {
        base,
        roots: [...roots],
        feature: [...feature],
        threshold: [...threshold],
        left: [...left],
        right: [...right],
        value: [...value],
      },
      ...(mlp ? { mlp } : {}),
      ...(cnn ? { cnn } : {}),
    });
  });
  let interval: RulModel['interval'];
  if (Object.hasOwn(m, 'interval') && m.interval !== undefined) {
    const io = c.obj(m.interval, '/model/interval');
    const edges = io && c.nums(io, 'edges', '/model/interval', undefined, -Infinity, false, 100);
    const lower = io && edges && c.nums(io, 'lower', '/model/interval', edges.length + 1);
    const upper = io && edges && c.nums(io, 'upper', '/model/interval', edges.length + 1);
    if (edges && lower && upper) interval = { edges: [...edges], lower: [...lower], upper: [...upper] };
  }
  if (
    c.problems.length ||
    !settingMean ||
    !settingStd ||
    !centroids ||
    !mean ||
    !std ||
    window === undefined ||
    short === undefined ||
    alpha === undefined
  )
    return undefined;
  return {
    learner,
    prep: {
      sensors: [...sensors],
      settings: [...settings],
      settingMean: [...settingMean],
      settingStd: [...settingStd],
      regimes,
      centroids: [...centroids],
      mean: [...mean],
      std: [...std],
    },
    features: { window, short: Math.min(short, window), alpha, ...(age === false ? { age: false } : {}) },
    members,
    blend,
    ...(interval ? { interval } : {}),
  };
}

/** Multiply-adds of one forward pass of a network. */
function cnnMacs(m: Pick<CnnModel, 'window' | 'channels' | 'conv' | 'hidden'>): number {
  let cin = m.channels;
  let n = 0;
  for (const l of m.conv) {
    n += m.window * l.filters * l.kernel * cin;
    cin = l.filters;
  }
  return n + m.hidden * (m.window * cin + 1);
}

/** Checks a member's convolutional network: its shape bounded, `params` as long as the shape says. */
function checkCnn(
  c: Checker,
  v: unknown,
  at: string,
  S: number,
  spec: RulTrainingSpec,
): CnnModel | undefined {
  const o = c.obj(v, at);
  if (!o) return undefined;
  const window = c.num(o, 'window', at, 1, MAX_CNN_WINDOW, true);
  const pool = c.num(o, 'pool', at, 1, spec.window, true);
  const channels = c.num(o, 'channels', at, S, S + 1, true);
  const hidden = c.num(o, 'hidden', at, 1, 1024, true);
  const scale = c.num(o, 'scale', at, Number.MIN_VALUE, 1e9);
  const ageScale = c.num(o, 'ageScale', at, 0, 1e12);
  const clip = c.num(o, 'clip', at, Number.MIN_VALUE, 1e6);
  const lv = Object.hasOwn(o, 'conv') ? o.conv : undefined;
  if (!Array.isArray(lv) || lv.length < 1 || lv.length > 8)
    return c.fail(`${at}/conv`, 'an array of 1..8 layers expected');
  const conv: CnnModel['conv'] = [];
  lv.forEach((l: unknown, i: number) => {
    const lo = c.obj(l, `${at}/conv/${i}`);
    const filters = lo && c.num(lo, 'filters', `${at}/conv/${i}`, 1, 256, true);
    const kernel = lo && c.num(lo, 'kernel', `${at}/conv/${i}`, 1, 64, true);
    if (filters !== undefined && kernel !== undefined) conv.push({ filters, kernel });
  });
  if (
    window === undefined ||
    channels === undefined ||
    hidden === undefined ||
    scale === undefined ||
    ageScale === undefined ||
    clip === undefined ||
    pool === undefined ||
    conv.length !== lv.length
  )
    return undefined;
  const want = Math.min(Math.floor(spec.window / pool), MAX_CNN_WINDOW);
  if (window !== want) return c.fail(`${at}/window`, `${want} expected (the spec's window / pool)`);
  if ((ageScale > 0 ? S + 1 : S) !== channels)
    return c.fail(
      `${at}/channels`,
      `${ageScale > 0 ? S + 1 : S} expected (sensors${ageScale > 0 ? ' and age' : ''})`,
    );
  const size = cnnLayout(window, channels, conv, hidden).size;
  if (size > MAX_NODES) return c.fail(`${at}/params`, `more than ${MAX_NODES} parameters`);
  if (cnnMacs({ window, channels, conv, hidden }) > MAX_CNN_MACS)
    return c.fail(at, `more than ${MAX_CNN_MACS} multiply-adds a prediction`);
  const params = c.nums(o, 'params', at, size);
  if (!params) return undefined;
  return { window, pool, channels, conv, hidden, scale, ageScale, clip, params: [...params] };
}

/** Checks a member's network: every array as long as the layer sizes say. */
function checkMlp(c: Checker, v: unknown, at: string, F: number): MlpModel | undefined {
  const o = c.obj(v, at);
  if (!o) return undefined;
  const b1 = c.nums(o, 'b1', at, undefined, -Infinity, false, 4096);
  const b2 = c.nums(o, 'b2', at, undefined, -Infinity, false, 4096);
  if (!b1 || !b2) return undefined;
  const mean = c.nums(o, 'mean', at, F);
  const std = c.nums(o, 'std', at, F, Number.MIN_VALUE);
  const scale = c.num(o, 'scale', at, Number.MIN_VALUE, 1e12);
  const w1 = c.nums(o, 'w1', at, b1.length * F);
  const w2 = c.nums(o, 'w2', at, b2.length * b1.length);
  const w3 = c.nums(o, 'w3', at, b2.length);
  const b3 = c.num(o, 'b3', at);
  if (!mean || !std || scale === undefined || !w1 || !w2 || !w3 || b3 === undefined) return undefined;
  return {
    mean: [...mean],
    std: [...std],
    scale,
    w1: [...w1],
    b1: [...b1],
    w2: [...w2],
    b2: [...b2],
    w3: [...w3],
    b3,
  };
}

/**
 * Checks an artefact and returns a predictor.
 * @throws TwinloopError 'ValidationFailed' listing every problem (JSON pointers) of a malformed artefact.
 * @example
 * const predictor = loadRulPredictor(JSON.parse(stored));
 * predictor.predict(recentRowsOfTwin).rul; // steps left
 */
export function loadRulPredictor(artefact: unknown): RulPredictor {
  const c = new Checker();
  const a = c.obj(artefact, '');
  let model: RulModel | undefined;
  let spec: RulTrainingSpec | undefined;
  if (a) {
    if (a.format !== 'twinloop-rul/1') c.fail('/format', "'twinloop-rul/1' expected");
    else {
      spec = checkSpec(c, Object.hasOwn(a, 'spec') ? a.spec : undefined);
      if (spec) model = checkModel(c, Object.hasOwn(a, 'model') ? a.model : undefined, spec);
    }
  }
  if (!model || !spec || c.problems.length) {
    if (!c.problems.length) c.fail('', 'not a RUL artefact');
    throw new TwinloopError(
      'ValidationFailed',
      `RUL artefact refused:\n${c.problems.map((p) => `${p.pointer || '/'}: ${p.message}`).join('\n')}`,
      { problems: c.problems },
    );
  }
  return makePredictor(spec, model);
}

function makePredictor(spec: RulTrainingSpec, model: RulModel): RulPredictor {
  const { prep, features, members, interval, blend } = model;
  const S = prep.sensors.length;
  const C = S + 1;
  const x = new Float64Array(featureCount(C));
  const runners = members.map((m) => (m.cnn ? cnnRunner(m.cnn) : undefined));
  const cnnX = new Float64Array(members[0]?.cnn ? members[0].cnn.window * members[0].cnn.channels : 0);
  const inputs = Object.freeze([...prep.sensors, ...prep.settings]);
  return {
    spec: Object.freeze({ ...spec }),
    inputs,
    predict(recent: RulAssetSeries): RulPrediction {
      const n = recent?.steps?.length ?? 0;
      if (!n || typeof recent.columns !== 'object' || recent.columns === null)
        throw new TwinloopError(
          'ValidationFailed',
          'RUL prediction needs at least one row (steps and columns)',
        );
      const from = Math.max(0, n - features.window);
      const nz = normalise(prep, recent, from);
      const steps = recent.steps.subarray(from);
      let sum = 0;
      members.forEach((mem, i) => {
        const ch = channels(nz.z, nz.rows, S, mem.health);
        windowFeatures(ch, C, steps, nz.rows - 1, features, x, 0);
        const tree = gbmPredict(mem.gbm, x);
        const run = runners[i];
        if (run && mem.cnn) {
          cnnInput(
            nz.z,
            S,
            steps,
            nz.rows - 1,
            mem.cnn.window,
            mem.cnn.pool,
            mem.cnn.clip,
            mem.cnn.ageScale,
            cnnX,
            0,
          );
          sum += (1 - blend) * tree + blend * run(cnnX);
        } else sum += mem.mlp ? (1 - blend) * tree + blend * mlpPredict(mem.mlp, x) : tree;
      });
      const rul = Math.max(0, sum / members.length);
      if (!Number.isFinite(rul))
        throw new TwinloopError(
          'ValidationFailed',
          'RUL prediction: the rows give no finite prediction (check the steps)',
        );
      if (!interval) return { rul };
      let g = 0;
      while (g < interval.edges.length && rul > (interval.edges[g] as number)) g++;
      return {
        rul,
        lower: Math.max(0, rul + (interval.lower[g] as number)),
        upper: Math.max(0, rul + (interval.upper[g] as number)),
      };
    },
  };
}
