/**
 * The RUL learner's development harness (not the official bench — bench:rul goes through the
 * import path): `npx tsx bench/rul/learner-dev.ts --data DIR --subset FD001 [--test] [--opts JSON]`.
 * Trains with the default spec (sensors s1..s21, settings setting1..3: the learner drops what is
 * constant itself), prints the cross-validation figures and the training time; with --test only,
 * predicts each test engine at its last row and prints the test RMSE and PHM08 score.
 * --opts '{"gbm":{"trees":200}}' overrides learner options (tuning on validation only).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  loadRulPredictor,
  phm08Score,
  rmse,
  trainRulWith,
  DEFAULT_LEARNER,
  type RulLearnerOptions,
} from '../../src/analytics/rul/index.js';
import type { RulAssetSeries, RulTrainingSpec } from '../../src/analytics/rul/rul-types.js';
import { RUL_DEFAULTS } from '../../src/analytics/rul/rul-training-request.js';
import { createRng } from '../../src/analytics/rul/rul-random.js';
import { numberFlag, stringFlag } from '../results-file.js';
import fs from 'node:fs';
import {
  CMAPSS_SENSORS,
  CMAPSS_SETTINGS,
  parseCmapss,
  parseRulFile,
} from '../../src/analytics/rul/cmapss-text.js';

const readCmapss = (file: string) => parseCmapss(fs.readFileSync(file, 'utf8'), file);
const readRulFile = (file: string) => parseRulFile(fs.readFileSync(file, 'utf8'), file);

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const dataDir = path.resolve(stringFlag(argv, '--data') ?? path.join(here, '../../../shared/data/cmapss'));
const subset = stringFlag(argv, '--subset') ?? 'FD001';
const override = JSON.parse(stringFlag(argv, '--opts') ?? '{}') as Partial<RulLearnerOptions> & {
  gbm?: Partial<RulLearnerOptions['gbm']>;
};
const opts: RulLearnerOptions = {
  ...DEFAULT_LEARNER,
  ...override,
  gbm: { ...DEFAULT_LEARNER.gbm, ...(override.gbm ?? {}) },
};

const spec: RulTrainingSpec = {
  sensors: [...CMAPSS_SENSORS],
  settings: [...CMAPSS_SETTINGS],
  window: numberFlag(argv, '--window', RUL_DEFAULTS.window),
  cap: numberFlag(argv, '--cap', RUL_DEFAULTS.cap),
  regimes: 'auto',
  validationFraction: numberFlag(argv, '--validation', 0.2),
  seed: numberFlag(argv, '--seed', 1),
};

const fd001 = readCmapss(path.join(dataDir, `train_${subset}.txt`));
/**
 * --six-regimes: an FD002/FD004-sized stand-in built from the subset (FD002–FD004 are kept off this
 * machine): each engine taken `--copies` times (default 2.6× → ~54k rows for FD001), every row put
 * in one of six flight conditions (FD002's settings) that shift and scale each sensor its own way.
 * For timing and the regime pipeline; its figures are not FD002's.
 */
function sixRegimes(engines: RulAssetSeries[], copies: number): RulAssetSeries[] {
  const rng = createRng(99);
  const centres = [
    [0, 0, 100],
    [10, 0.25, 100],
    [20, 0.7, 100],
    [25, 0.62, 60],
    [35, 0.84, 100],
    [42, 0.84, 100],
  ];
  const offset = Array.from({ length: 6 * 21 }, () => rng.next() - 0.5);
  const scale = Array.from({ length: 6 * 21 }, () => 0.5 + rng.next());
  const out: RulAssetSeries[] = [];
  const total = Math.round(engines.length * copies);
  for (let c = 0; c < total; c++) {
    const e = engines[c % engines.length] as RulAssetSeries;
    const n = e.steps.length;
    const regime = Int32Array.from({ length: n }, () => rng.int(6));
    const columns: Record<string, Float64Array> = {};
    CMAPSS_SETTINGS.forEach((name, j) => {
      columns[name] = Float64Array.from(
        regime,
        (r) => ((centres[r] as number[])[j] as number) + 0.001 * (rng.next() - 0.5),
      );
    });
    CMAPSS_SENSORS.forEach((name, j) => {
      const src = e.columns[name] as Float64Array;
      // the copy's own sensor noise, so copies are not identical
      const sd = 0.002 * Math.abs(src[0] as number);
      columns[name] = Float64Array.from(src, (v, i) => {
        const r = regime[i] as number;
        return (
          v * (scale[r * 21 + j] as number) +
          (offset[r * 21 + j] as number) * 0.1 * Math.abs(v) +
          (c >= engines.length ? sd * (rng.next() - 0.5) : 0)
        );
      });
    });
    out.push({ id: `${e.id}-${c}`, steps: e.steps.slice(), columns });
  }
  return out;
}
const train = argv.includes('--six-regimes') ? sixRegimes(fd001, numberFlag(argv, '--copies', 2.6)) : fd001;
console.log(
  `${subset}: ${train.length} training assets, ${train.reduce((n, a) => n + a.steps.length, 0)} rows`,
);
let lastPrint = 0;
const cpu0 = process.cpuUsage();
const { artefact, metrics } = trainRulWith(train, spec, opts, (p) => {
  if (Date.now() - lastPrint > 5000 && !argv.includes('--quiet')) {
    lastPrint = Date.now();
    console.log(`  ${p.phase} ${(p.fraction * 100).toFixed(0)}% ${p.message ?? ''}`);
  }
});
const json = JSON.stringify(artefact);
console.log(
  `validation: RMSE ${metrics.validationRmse.toFixed(2)}, PHM08 ${metrics.validationScore.toFixed(1)} (${metrics.validationMethod})`,
);
for (const n of metrics.notes) console.log(`  note: ${n}`);
const cpu = process.cpuUsage(cpu0);
console.log(
  `training ${(metrics.trainingMs / 1000).toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU; artefact ${(json.length / 1024).toFixed(0)} KiB JSON`,
);

if (argv.includes('--test') && !argv.includes('--six-regimes')) {
  const predictor = loadRulPredictor(JSON.parse(json));
  const test = readCmapss(path.join(dataDir, `test_${subset}.txt`));
  const truth = readRulFile(path.join(dataDir, `RUL_${subset}.txt`));
  if (truth.length !== test.length)
    throw new Error(`RUL_${subset}.txt has ${truth.length} lines for ${test.length} test engines`);
  const t0 = performance.now();
  const pred = test.map((a) => predictor.predict(a).rul);
  const ms = (performance.now() - t0) / test.length;
  const capped = truth.map((t) => Math.min(spec.cap, t));
  console.log(`TEST ${subset} (one prediction per engine at its last row, ${test.length} engines):`);
  console.log(
    `  RMSE ${rmse(pred, truth).toFixed(2)} vs RUL_${subset} as given; PHM08 score ${phm08Score(pred, truth).toFixed(1)}`,
  );
  console.log(
    `  (labelled: RMSE vs the true RUL capped at ${spec.cap}: ${rmse(pred, capped).toFixed(2)}; PHM08 vs capped ${phm08Score(pred, capped).toFixed(1)})`,
  );
  console.log(`  prediction ${ms.toFixed(3)} ms per engine (whole history passed)`);
}
