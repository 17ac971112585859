/**
 * End to end on real data: a small training on the first 40 engines of NASA's train_FD001
 * (read from ../shared/data beside the checkout; the data is never copied into the repository).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CMAPSS_SENSORS, CMAPSS_SETTINGS, parseCmapss } from './cmapss-text.js';
import { loadRulPredictor } from './rul-predictor.js';
import { DEFAULT_LEARNER, trainRulWith } from './rul-train.js';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/data/cmapss');
const file = path.join(dir, 'train_FD001.txt');
const missing = !fs.existsSync(file);
if (missing)
  console.warn(
    `rul-cmapss.test.ts skipped: ${file} is not there (NASA C-MAPSS FD001, see shared/data/README.md)`,
  );

/** The bound this small training must meet (full FD001 with the default learner: see docs/rul.md). */
const BOUND_RMSE = 22;

describe.skipIf(missing)('RUL on C-MAPSS FD001 (40 engines)', () => {
  it(`validation RMSE below ${BOUND_RMSE}; finds FD001's constant sensors and its one regime`, () => {
    const engines = parseCmapss(fs.readFileSync(file, 'utf8'), file).slice(0, 40);
    const { artefact, metrics } = trainRulWith(
      engines,
      {
        sensors: [...CMAPSS_SENSORS],
        settings: [...CMAPSS_SETTINGS],
        window: 30,
        cap: 125,
        regimes: 'auto',
        validationFraction: 0.2,
        seed: 1,
      },
      { ...DEFAULT_LEARNER, gbm: { ...DEFAULT_LEARNER.gbm, trees: 40, learningRate: 0.2 } },
    );
    console.log(
      `FD001, 40 engines: validation RMSE ${metrics.validationRmse.toFixed(2)}, PHM08 ${metrics.validationScore.toFixed(1)}, ${metrics.trainingMs} ms`,
    );
    expect(metrics.validationRmse).toBeLessThan(BOUND_RMSE);
    const notes = metrics.notes.join('\n');
    expect(notes).toMatch(/regimes: 1 /);
    for (const s of ['s1', 's5', 's6', 's10', 's16', 's18', 's19'])
      expect(notes).toContain(`sensor ${s}: (near) constant`);
    // a test-like engine: the first 31 rows of one engine
    const p = loadRulPredictor(JSON.parse(JSON.stringify(artefact)));
    const e = engines[0]!;
    const cut = {
      id: e.id,
      steps: e.steps.slice(0, 31),
      columns: Object.fromEntries(Object.entries(e.columns).map(([k, v]) => [k, v.slice(0, 31)])),
    };
    expect(p.predict(cut).rul).toBeGreaterThan(60);
    expect(p.predict(e).rul).toBeLessThan(25);
  });
});
