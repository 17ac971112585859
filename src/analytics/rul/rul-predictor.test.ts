import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { featureCount } from './rul-features.js';
import { fitMlp } from './rul-mlp.js';
import { loadRulPredictor } from './rul-predictor.js';
import { createRng } from './rul-random.js';
import { DEFAULT_CNN, DEFAULT_LEARNER, trainRulWith } from './rul-train.js';
import { SYN_SENSORS, SYN_SETTINGS, syntheticFleet } from './rul-test-fixture.js';
import type { RulTrainingProgress } from './rul-types.js';

const fleet = syntheticFleet({ assets: 10, regimes: 1, seed: 8 });
const { artefact } = trainRulWith(
  fleet,
  {
    sensors: [...SYN_SENSORS],
    settings: [...SYN_SETTINGS],
    window: 20,
    cap: 125,
    regimes: 'auto',
    validationFraction: 0.5,
    seed: 3,
  },
  { ...DEFAULT_LEARNER, gbm: { ...DEFAULT_LEARNER.gbm, trees: 10 }, cnn: null },
);
const text = JSON.stringify(artefact);
/** A fresh, mutable copy of the good artefact. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests damage the artefact field by field
const good = (): any => JSON.parse(text);

function refused(a: unknown): TwinloopError {
  try {
    loadRulPredictor(a);
  } catch (e) {
    expect(e).toBeInstanceOf(TwinloopError);
    expect((e as TwinloopError).code).toBe('ValidationFailed');
    return e as TwinloopError;
  }
  throw new Error('accepted');
}

describe('loadRulPredictor refuses malformed artefacts', () => {
  it('loads the good one', () => {
    expect(loadRulPredictor(good()).predict(fleet[0]!).rul).toBeGreaterThanOrEqual(0);
  });

  it('not an artefact at all', () => {
    for (const v of [null, undefined, 42, 'x', [], [good()], {}]) refused(v);
    expect(refused({ ...good(), format: 'twinloop-rul/2' }).message).toMatch(/\/format/);
    const m = good();
    m.model.learner = 'mlp';
    expect(refused(m).message).toMatch(/\/model\/learner/);
  });

  it('__proto__ and constructor keys are plain data, never read as fields, and pollute nothing', () => {
    const hostile = JSON.parse(
      `{"__proto__":{"format":"twinloop-rul/1","spec":${JSON.stringify(artefact.spec)},"model":${JSON.stringify(artefact.model)}},"constructor":{"prototype":{"polluted":1}}}`,
    );
    expect(refused(hostile).message).toMatch(/\/format/);
    const inner = good();
    delete inner.model.prep;
    inner.model = JSON.parse(`{"__proto__":${JSON.stringify(good().model)}}`);
    refused(inner);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).format).toBeUndefined();
  });

  it('wrong array lengths, NaN, infinities and wrong types, each with its JSON pointer', () => {
    const a = good();
    a.model.prep.mean.pop();
    expect(refused(a).message).toMatch(/\/model\/prep\/mean: \d+ numbers expected/);
    const b = good();
    b.model.members[0].gbm.threshold[3] = NaN;
    expect(refused(b).message).toMatch(/\/model\/members\/0\/gbm\/threshold\/3/);
    const c = good();
    c.model.members[0].health.weights[0] = Infinity;
    expect(refused(c).message).toMatch(/\/model\/members\/0\/health\/weights\/0/);
    const d = good();
    d.model.members[0].gbm.value = 'x'.repeat(100);
    expect(refused(d).message).toMatch(/\/model\/members\/0\/gbm\/value/);
    const e = good();
    e.spec.window = 21;
    expect(refused(e).message).toMatch(/\/model\/features\/window/);
    const f = good();
    f.model.members[0].gbm.left.pop();
    expect(refused(f).message).toMatch(/\/model\/members\/0\/gbm\/left/);
    const g = good();
    g.model.prep.std[0] = -1;
    expect(refused(g).message).toMatch(/\/model\/prep\/std\/0/);
    const h = good();
    h.spec.regimes = 0;
    expect(refused(h).message).toMatch(/\/spec\/regimes/);
  });

  it('trees that loop or point outside, feature indices out of range', () => {
    const a = good();
    const gbm = a.model.members[0].gbm;
    const split = gbm.feature.findIndex((f: number) => f >= 0);
    gbm.left[split] = split; // a loop
    expect(refused(a).message).toMatch(/children must be later nodes/);
    const b = good();
    b.model.members[0].gbm.right[split] = 10 ** 9;
    refused(b);
    const c = good();
    c.model.members[0].gbm.feature[split] = 10 ** 6;
    expect(refused(c).message).toMatch(/a feature index below/);
    const d = good();
    d.model.members[0].gbm.roots.push(10 ** 7);
    expect(refused(d).message).toMatch(/roots/);
  });

  it('huge and deeply nested input is refused quickly; problems are capped', () => {
    const a = good();
    a.model.members[0].gbm.feature = new Array(6_000_000).fill(-1);
    const t0 = performance.now();
    refused(a);
    expect(performance.now() - t0).toBeLessThan(500);
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const b = good();
    b.model.prep.mean = deep;
    b.model.members[0].gbm.value = deep;
    refused(b);
    const c = good();
    c.model.members = Array.from({ length: 100 }, () => ({ health: 1, gbm: 2 }));
    expect(refused(c).problems.length).toBeLessThanOrEqual(20);
  });
});

describe('artefacts with a network beside the trees', () => {
  it('are loaded, blended, and refused when a layer has the wrong size', () => {
    const F = featureCount(good().model.prep.sensors.length + 1);
    const rng = createRng(5);
    const n = 200;
    const X = Float64Array.from({ length: n * F }, () => rng.next());
    const y = Float64Array.from({ length: n }, (_, i) => 100 * X[i * F]!);
    const net = fitMlp(
      X,
      y,
      F,
      125,
      { hidden: [4, 3], epochs: 2, batch: 32, learningRate: 0.01, decay: 0 },
      rng,
    );
    const a = good();
    a.model.blend = 0.5;
    for (const m of a.model.members) m.mlp = net;
    const withNet = loadRulPredictor(JSON.parse(JSON.stringify(a))).predict(fleet[0]!);
    const trees = loadRulPredictor(good()).predict(fleet[0]!);
    expect(Number.isFinite(withNet.rul)).toBe(true);
    expect(withNet.rul).not.toBe(trees.rul);
    const b = JSON.parse(JSON.stringify(a));
    b.model.members[0].mlp.w1.pop();
    expect(refused(b).message).toMatch(/\/model\/members\/0\/mlp\/w1: \d+ numbers expected/);
    const c = JSON.parse(JSON.stringify(a));
    delete c.model.members[1].mlp;
    expect(refused(c).message).toMatch(/\/model\/members\/1\/mlp: a network expected/);
    const d = JSON.parse(JSON.stringify(a));
    d.model.blend = 2;
    expect(refused(d).message).toMatch(/\/model\/blend/);
    const e = JSON.parse(JSON.stringify(a));
    e.model.members[0].mlp.std[0] = 0;
    expect(refused(e).message).toMatch(/\/model\/members\/0\/mlp\/std\/0/);
  });
});

describe('artefacts with a convolutional network beside the trees (gbm-cnn-ensemble/2)', () => {
  const cnnSpec = { ...artefact.spec, window: 24 };
  const small = {
    ...DEFAULT_LEARNER,
    gbm: { ...DEFAULT_LEARNER.gbm, trees: 10 },
    cnn: { ...DEFAULT_CNN, epochs: 2, samplesPerEpoch: 300, hidden: 6, pool: 2 },
    blend: 0.5,
  };
  const seen: RulTrainingProgress[] = [];
  const trained = trainRulWith(fleet, cnnSpec, small, (p) => seen.push(p));
  const cnnText = JSON.stringify(trained.artefact);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests damage the artefact field by field
  const cnnGood = (): any => JSON.parse(cnnText);

  it('round-trips through JSON and loadRulPredictor, predicting as the trained members did', () => {
    expect(cnnGood().model.learner).toBe('gbm-cnn-ensemble/2');
    expect(cnnGood().model.members[0].cnn.window).toBe(12); // 24 rows, 2 a position
    const p = loadRulPredictor(cnnGood());
    const asset = fleet[1]!;
    const r = p.predict(asset);
    expect(Number.isFinite(r.rul)).toBe(true);
    expect(r.rul).toBeGreaterThanOrEqual(0);
    // the network takes part: without it (trees alone) the answer differs
    const treesOnly = cnnGood();
    treesOnly.model.learner = 'gbm-hi-ensemble/1';
    treesOnly.model.blend = 0;
    for (const m of treesOnly.model.members) delete m.cnn;
    expect(loadRulPredictor(treesOnly).predict(asset).rul).not.toBe(r.rul);
    // a short history (fewer rows than the window) is padded, still a finite answer
    const short = { id: 'x', steps: asset.steps.slice(0, 3), columns: {} as Record<string, Float64Array> };
    for (const [k, v] of Object.entries(asset.columns)) short.columns[k] = v.slice(0, 3);
    expect(Number.isFinite(p.predict(short).rul)).toBe(true);
    // progress rises from 0 to 1 through the networks' epochs too
    const fractions = seen.map((q) => q.fraction);
    expect(fractions.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= fractions[i - 1]!))).toBe(true);
    expect(fractions.at(-1)).toBe(1);
    expect(trained.metrics.notes.join('\n')).toMatch(/network epochs run per member/);
    // the same seed trains the same artefact
    expect(JSON.stringify(trainRulWith(fleet, cnnSpec, small).artefact)).toBe(cnnText);
  });

  it('refuses a damaged network, each problem with its pointer', () => {
    const a = cnnGood();
    a.model.members[0].cnn.params.pop();
    expect(refused(a).message).toMatch(/\/model\/members\/0\/cnn\/params: \d+ numbers expected/);
    const b = cnnGood();
    b.model.members[1].cnn.params[5] = NaN;
    expect(refused(b).message).toMatch(/\/model\/members\/1\/cnn\/params\/5/);
    const c = cnnGood();
    c.model.members[0].cnn.window = 13;
    expect(refused(c).message).toMatch(/\/model\/members\/0\/cnn\/window: 12 expected/);
    const d = cnnGood();
    d.model.members[0].cnn.conv[0].filters = 10 ** 6;
    expect(refused(d).message).toMatch(/\/model\/members\/0\/cnn\/conv\/0\/filters/);
    const e = cnnGood();
    delete e.model.members[0].cnn;
    expect(refused(e).message).toMatch(/\/model\/members\/0\/cnn: an object expected/);
    const f = cnnGood();
    f.model.members[0].mlp = {};
    expect(refused(f).message).toMatch(/\/model\/members\/0\/mlp: no perceptron/);
    const g = cnnGood();
    g.model.members[0].cnn.channels = 99;
    expect(refused(g).message).toMatch(/\/model\/members\/0\/cnn\/channels/);
    const h = cnnGood();
    h.model.members[0].cnn = JSON.parse(`{"__proto__":${JSON.stringify(cnnGood().model.members[0].cnn)}}`);
    expect(refused(h).message).toMatch(/\/model\/members\/0\/cnn\/window/);
    expect(({} as Record<string, unknown>).params).toBeUndefined();
    // a network too large to run is refused before any array is read
    const i = cnnGood();
    i.model.members[0].cnn.conv = [
      { filters: 256, kernel: 64 },
      { filters: 256, kernel: 64 },
    ];
    i.model.members[0].cnn.hidden = 1024;
    const t0 = performance.now();
    expect(refused(i).message).toMatch(/\/model\/members\/0\/cnn\/params: more than/);
    expect(performance.now() - t0).toBeLessThan(500);
    // a network under the parameter bound (4.3 M) but costly to run (~50 M multiply-adds) is refused
    // before its parameters are read, and so are networks that together cost too much
    const k = cnnGood();
    k.model.members[0].cnn.conv = [
      { filters: 256, kernel: 64 },
      { filters: 256, kernel: 64 },
    ];
    k.model.members[0].cnn.hidden = 1;
    expect(refused(k).message).toMatch(/\/model\/members\/0\/cnn: more than \d+ multiply-adds/);
    // deep nesting where the parameters go: refused, no stack overflow
    let deep: unknown = 1;
    for (let n = 0; n < 100_000; n++) deep = [deep];
    const l = cnnGood();
    l.model.members[0].cnn.params = deep;
    l.model.members[1].cnn.conv = deep;
    expect(refused(l).message).toMatch(/\/model\/members\/0\/cnn\/params/);
    // a network in the old learner is refused
    const j = cnnGood();
    j.model.learner = 'gbm-hi-ensemble/1';
    expect(refused(j).message).toMatch(/\/model\/members\/0\/cnn: no network in this learner/);
  });
});
