import { afterEach, describe, expect, it } from 'vitest';
import { tempStorage } from '../../adapters/sqlite/sqlite-test-fixture.js';
import type { HistoryPoint } from '../../core/ports/storage-ports.js';
import { RulTrainingService, type RulTrainer } from './rul-training-service.js';
import type { RulAssetSeries } from './rul-types.js';

const HOUR = 3_600_000;
const fixtures: ReturnType<typeof tempStorage>[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.cleanup();
});

/** Trains with a recording trainer (the learner itself is tested elsewhere) on twins given in `order`. */
async function assetsSeen(order: string[], ids: string[]): Promise<string[]> {
  const fx = tempStorage();
  fixtures.push(fx);
  const points: HistoryPoint[] = [];
  for (const id of ids)
    for (let c = 1; c <= 5; c++)
      points.push({
        workspace: 'default',
        twinId: id,
        path: 's1',
        kind: 'telemetry',
        ts: c * HOUR,
        value: c,
        once: true,
      });
  await fx.storage.history.append(points);
  let seen: string[] = [];
  const trainer: RulTrainer = {
    train: (assets: RulAssetSeries[]) => {
      seen = assets.map((a) => a.id);
      return Promise.resolve({
        artefact: { learner: 'test', spec: {} } as never,
        metrics: { validationRmse: 1, validationScore: 1 } as never,
      });
    },
  };
  const training = new RulTrainingService({
    workspace: 'default',
    history: fx.storage.history,
    twins: { twinsOf: () => order, property: () => undefined },
    trainer,
    registry: { add: () => Promise.resolve({ id: 'm', version: 1 }), promote: () => Promise.resolve() },
    newId: () => 'job',
  });
  training.start({
    kind: 'rul',
    target: 'dtmi:x:Engine;1',
    spec: {
      sensors: ['s1'],
      settings: [],
      window: 3,
      cap: 10,
      regimes: 'auto',
      validationFraction: 0.2,
      seed: 1,
    },
    stepMs: HOUR,
    promote: false,
  });
  await training.idle();
  expect(training.get('job').status).toBe('succeeded');
  return seen;
}

describe('RulTrainingService', () => {
  it('gives the learner the twins in one order whatever order the graph holds them in (the seeded folds depend on it)', async () => {
    const ids = ['e-1', 'e-10', 'e-2', 'e-3', 'e-20'];
    const a = await assetsSeen([...ids], ids);
    const b = await assetsSeen([...ids].reverse(), ids);
    expect(a).toHaveLength(5);
    expect(b).toEqual(a);
  });
});
