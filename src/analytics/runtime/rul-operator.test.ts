import { afterEach, describe, expect, it } from 'vitest';
import { tempStorage } from '../../adapters/sqlite/sqlite-test-fixture.js';
import type { HistoryPoint } from '../../core/ports/storage-ports.js';
import type { RulArtefact, RulAssetSeries, RulPredictor } from '../rul/rul-types.js';
import { RulOperator, type ActiveRulModel } from './rul-operator.js';

const HOUR = 3_600_000;
const ORIGIN = Date.UTC(2020, 0, 1);
const ENGINE = 'dtmi:example:Engine;1';

/**
 * A transparent predictor: it answers what it was given, so the test sees the rows the operator
 * built (rul = 1000 − last step; lower = the last row's x; upper = rows seen).
 */
function echoPredictor(artefact: RulArtefact): RulPredictor {
  if ((artefact.model as { bad?: boolean }).bad) throw new Error('not an artefact');
  return {
    spec: artefact.spec,
    inputs: ['x'],
    predict(recent: RulAssetSeries) {
      const n = recent.steps.length;
      return { rul: 1000 - recent.steps[n - 1]!, lower: recent.columns.x![n - 1]!, upper: n };
    },
  };
}

function model(window: number, extra: Partial<RulArtefact> = {}): ActiveRulModel {
  return {
    target: ENGINE,
    modelId: 'm1',
    version: 1,
    artefact: {
      format: 'twinloop-rul/1',
      spec: {
        sensors: ['x'],
        settings: [],
        window,
        cap: 125,
        regimes: 'auto',
        validationFraction: 0.2,
        seed: 1,
      },
      model: {},
      stepMs: HOUR,
      ...extra,
    },
  };
}

function harness(opts: { history?: boolean } = {}) {
  const written: { twinId: string; time: number; values: Record<string, number> }[] = [];
  const errors: string[] = [];
  const fx = tempStorage();
  fixtures.push(fx);
  const h = fx.storage.history;
  const op = new RulOperator({
    workspace: 'default',
    context: {
      isOfModel: (_ws, m, base) => m === base || (m === 'dtmi:example:BigEngine;1' && base === ENGINE),
    },
    sink: { write: (_ws, twinId, time, values) => written.push({ twinId, time, values: { ...values } }) },
    load: echoPredictor,
    ...(opts.history
      ? {
          cells: async (workspace, twinId, name, from, to, spacing) =>
            (
              await h.queryAggregate({
                workspace,
                twinId,
                path: name,
                from,
                to,
                interval: spacing,
                fns: ['avg'],
              })
            )
              .filter((b) => b.count > 0)
              .map((b) => ({ time: b.start + spacing / 2, value: b.avg as number })),
          first: async (workspace, twinId, name) =>
            (
              await h.queryRaw({
                workspace,
                twinId,
                path: name,
                from: -8e15,
                to: 8e15,
                limit: 1,
                order: 'asc',
              })
            ).points[0]?.ts,
        }
      : {}),
    onError: (e) => errors.push(String(e)),
  });
  const see = (twinId: string, time: number, x: number, modelId = ENGINE): void =>
    op.observe({ workspace: 'default', twinId, modelId, time, values: { x } });
  return { op, written, errors, see, history: h };
}

const fixtures: ReturnType<typeof tempStorage>[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.cleanup();
});

describe('RulOperator', () => {
  it('predicts at the first reading of each step, from step rows numbered from the twin’s first step', () => {
    const { op, written, see } = harness();
    op.setModels([model(3)]);
    see('e1', ORIGIN + 1 * HOUR, 10); // step 1: predicts
    see('e1', ORIGIN + 1 * HOUR + 1000, 20); // same step: no new prediction
    see('e1', ORIGIN + 2 * HOUR, 30); // step 2: row 1 is avg(10, 20)
    see('e1', ORIGIN + 5 * HOUR, 40); // steps 3, 4 without readings
    see('e2', ORIGIN + 7 * HOUR, 1, 'dtmi:example:BigEngine;1'); // a model extending the target
    see('x9', ORIGIN, 1, 'dtmi:example:Pump;1'); // no active model for it
    expect(written.map((w) => [w.twinId, w.values.rul, w.values.rulLower, w.values.rulUpper])).toEqual([
      ['e1', 999, 10, 1],
      ['e1', 998, 30, 2],
      ['e1', 995, 40, 3], // window 3: NaN rows of steps 3, 4 and the reading of step 5
      ['e2', 999, 1, 1],
    ]);
    expect(op.stats()).toMatchObject({ models: 1, twins: 2, predictions: 4 });
  });

  it('warms a twin up from history after a restart: its age counts from its first reading', async () => {
    const { op, written, see, history } = harness({ history: true });
    const pts: HistoryPoint[] = [];
    for (let c = 1; c <= 50; c++)
      pts.push({
        workspace: 'default',
        twinId: 'e1',
        path: 'x',
        kind: 'telemetry',
        ts: ORIGIN + c * HOUR,
        value: c,
        once: true,
      });
    await history.append(pts);
    op.setModels([model(5)]);
    see('e1', ORIGIN + 50 * HOUR, 50); // committed already (as the bus delivers it after the commit)
    see('e1', ORIGIN + 51 * HOUR, 51); // arrives during the warm-up: held, then folded in
    await new Promise((r) => setTimeout(r, 200));
    expect(written.map((w) => [w.values.rul, w.values.rulLower, w.values.rulUpper])).toEqual([
      [1000 - 50, 50, 5],
      [1000 - 51, 51, 5],
    ]);
  });

  it('refuses a model it cannot load, says which, and keeps the others', () => {
    const { op, written, see, errors } = harness();
    op.setModels([
      { ...model(3), modelId: 'bad', artefact: { ...model(3).artefact, model: { bad: true } } },
      {
        ...model(3),
        modelId: 'nostep',
        artefact: { ...model(3).artefact, stepMs: undefined as unknown as number },
      },
    ]);
    expect(Object.keys(op.stats().refused)).toEqual(['bad', 'nostep']);
    expect(errors).toHaveLength(2);
    see('e1', ORIGIN, 1);
    expect(written).toEqual([]);
  });

  it('forgets the rows of twins whose model changed, keeps the others, and stops when no model is active', () => {
    const { op, written, see } = harness();
    op.setModels([model(3)]);
    see('e1', ORIGIN + HOUR, 1);
    op.setModels([model(3)]); // the same version: rows kept
    see('e1', ORIGIN + 2 * HOUR, 2);
    expect(written.at(-1)!.values.rulUpper).toBe(2);
    op.setModels([{ ...model(3), version: 2 }]);
    see('e1', ORIGIN + 3 * HOUR, 3);
    expect(written.at(-1)!.values).toEqual({ rul: 999, rulLower: 3, rulUpper: 1 });
    op.setModels([]);
    see('e1', ORIGIN + 4 * HOUR, 4);
    expect(written).toHaveLength(3);
  });

  it('bounds the twins it follows and ignores values that are not finite numbers', () => {
    const written: unknown[] = [];
    const op = new RulOperator({
      workspace: 'default',
      context: { isOfModel: () => true },
      sink: { write: (...a) => written.push(a) },
      load: echoPredictor,
      maxTwins: 2,
    });
    op.setModels([model(3)]);
    for (const t of ['a', 'b', 'c'])
      op.observe({ workspace: 'default', twinId: t, modelId: ENGINE, time: ORIGIN, values: { x: 1 } });
    op.observe({
      workspace: 'default',
      twinId: 'a',
      modelId: ENGINE,
      time: ORIGIN + HOUR,
      values: { x: 'high', __proto__: 5 } as Record<string, unknown>,
    });
    expect(op.stats()).toMatchObject({ twins: 2, twinsSkipped: 1 });
    expect(written).toHaveLength(2);
  });

  it('reports failed predictions at most once a minute, and every model it cannot load', () => {
    const errors: string[] = [];
    let clock = 0;
    const op = new RulOperator({
      workspace: 'default',
      context: { isOfModel: () => true },
      sink: { write: () => undefined },
      load: (a) => ({
        spec: a.spec,
        inputs: ['x'],
        predict: () => {
          throw new Error('broken');
        },
      }),
      onError: (_e, what) => errors.push(what),
      now: () => clock,
    });
    op.setModels([model(3)]);
    for (let i = 0; i < 5; i++)
      op.observe({
        workspace: 'default',
        twinId: 'e1',
        modelId: ENGINE,
        time: ORIGIN + i * HOUR,
        values: { x: i },
      });
    expect(errors).toEqual(['RUL prediction of e1']);
    clock = 61_000;
    op.observe({
      workspace: 'default',
      twinId: 'e1',
      modelId: ENGINE,
      time: ORIGIN + 9 * HOUR,
      values: { x: 9 },
    });
    expect(errors).toHaveLength(2);
  });
});
