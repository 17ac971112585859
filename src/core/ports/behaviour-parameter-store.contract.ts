/**
 * The contract every BehaviourParameterStore adapter passes: call
 * describeBehaviourParameterStoreContract from the adapter's test file with a factory for a fresh,
 * empty store.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  BehaviourParameters,
  BehaviourParameterStore,
  CalibrationRecord,
} from './behaviour-parameter-store.js';

export interface BehaviourParameterStoreFixture {
  store: BehaviourParameterStore;
  /** Closes the current store and opens a new one on the same data. */
  reopen(): Promise<BehaviourParameterStore>;
  cleanup(): Promise<void>;
}

const params = (twinId: string, over: Partial<BehaviourParameters> = {}): BehaviourParameters => ({
  workspace: 'ws',
  twinId,
  behaviour: 'pump',
  values: { tau: 412.5, gain: 0.1 + 0.2, tiny: 1e-300 },
  calibrationId: 'cal-1',
  appliedAt: 1_700_000_000_123,
  ...over,
});

function record(id: string, createdAt: number, over: Partial<CalibrationRecord> = {}): CalibrationRecord {
  return {
    id,
    workspace: 'ws',
    twinId: 'pump-1',
    behaviour: 'pump',
    createdAt,
    method: 'lm',
    converged: true,
    reason: 'ftol',
    iterations: 12,
    evaluations: 80,
    durationMs: 41,
    rmse: 0.101,
    r2: 0.9931,
    parameters: [
      { name: 'tau', value: 419.7, initial: 600, min: 1, max: 5000, stdError: 3.2, low: 413.4, high: 426 },
      // Nelder–Mead style: no standard error, no interval, no bounds.
      { name: 'gain', value: 7.49, initial: 2, unit: 'degreeCelsius' },
    ],
    values: { tau: 419.7, gain: 7.49 },
    base: { ambient: 18.5 },
    inputs: { running: 1 },
    initialState: 'estimated',
    initialStates: [{ name: 'T', value: 18.42, initial: 18.5, stdError: 0.04, low: 18.34, high: 18.5 }],
    data: {
      from: 1_700_000_000_000,
      to: 1_700_003_600_000,
      points: 242,
      simFrom: 0,
      simTo: 3600,
      truncated: false,
      telemetry: [
        {
          name: 'temperature',
          from: 1_700_000_000_000,
          to: 1_700_003_600_000,
          points: 121,
          read: 125,
          skipped: 4,
          std: 2.5,
          rmse: 0.1,
          r2: 0.998,
          bias: -0.002,
        },
        {
          name: 'running',
          from: 1_700_000_000_000,
          to: 1_700_003_600_000,
          points: 121,
          read: 121,
          skipped: 0,
          std: 0,
          rmse: 0,
          r2: null,
          bias: 0,
        },
      ],
    },
    ...over,
  };
}

export function describeBehaviourParameterStoreContract(
  name: string,
  make: () => Promise<BehaviourParameterStoreFixture>,
): void {
  describe(`BehaviourParameterStore contract: ${name}`, () => {
    let fx: BehaviourParameterStoreFixture;
    let store: BehaviourParameterStore;
    beforeEach(async () => {
      fx = await make();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('puts, replaces and gets a twin’s parameters exactly, per workspace and twin, across reopen', async () => {
      expect(store.get('ws', 'pump-1')).toBeUndefined();
      store.put(params('pump-1'));
      store.put(params('pump-2', { values: { tau: 1 } }));
      store.put(params('pump-1', { workspace: 'other', values: { tau: 2 } }));
      store = await fx.reopen();
      expect(store.get('ws', 'pump-1')).toStrictEqual(params('pump-1'));
      expect(store.get('ws', 'pump-2')?.values).toStrictEqual({ tau: 1 });
      expect(store.get('other', 'pump-1')?.values).toStrictEqual({ tau: 2 });
      // Replacing: the old values are gone, and no calibration id is invented when none is given.
      const { calibrationId: _omitted, ...manual } = params('pump-1', { values: { gain: 3 }, appliedAt: 5 });
      store.put(manual);
      store = await fx.reopen();
      expect(store.get('ws', 'pump-1')).toStrictEqual(manual);
      expect(store.get('ws', 'pump-1')).not.toHaveProperty('calibrationId');
    });

    it('deletes a twin’s parameters, reporting whether it had any', async () => {
      store.put(params('pump-1'));
      store.put(params('pump-2'));
      expect(store.delete('ws', 'pump-1')).toBe(true);
      expect(store.delete('ws', 'pump-1')).toBe(false);
      store = await fx.reopen();
      expect(store.get('ws', 'pump-1')).toBeUndefined();
      expect(store.get('ws', 'pump-2')).toBeDefined();
    });

    it('keeps calibrations exactly (optional fields absent, null r²) and lists them newest first', async () => {
      store.addCalibration(record('a', 100));
      store.addCalibration(record('c', 300));
      store.addCalibration(record('b', 200, { method: 'nelder-mead', r2: null }));
      store.addCalibration(record('x', 400, { twinId: 'pump-2' }));
      store.addCalibration(record('a', 500, { workspace: 'other' }));
      store = await fx.reopen();
      expect(store.getCalibration('ws', 'pump-1', 'a')).toStrictEqual(record('a', 100));
      expect(store.getCalibration('ws', 'pump-1', 'b')).toStrictEqual(
        record('b', 200, { method: 'nelder-mead', r2: null }),
      );
      const gain = store.getCalibration('ws', 'pump-1', 'a')?.parameters[1];
      expect(gain).not.toHaveProperty('stdError');
      expect(gain).not.toHaveProperty('min');
      expect(store.getCalibration('ws', 'pump-1', 'x')).toBeUndefined(); // another twin's
      expect(store.getCalibration('ws', 'pump-2', 'nope')).toBeUndefined();
      expect(store.listCalibrations('ws', 'pump-1').map((c) => c.id)).toEqual(['c', 'b', 'a']);
      expect(store.listCalibrations('ws', 'pump-1', 2).map((c) => c.id)).toEqual(['c', 'b']);
      expect(store.listCalibrations('ws', 'pump-2').map((c) => c.id)).toEqual(['x']);
      expect(store.listCalibrations('other', 'pump-1').map((c) => c.createdAt)).toEqual([500]);
      expect(store.listCalibrations('ws', 'nobody')).toEqual([]);
    });

    it('refuses a second calibration with the same id for a twin, changing nothing', () => {
      store.addCalibration(record('a', 100));
      expect(() => store.addCalibration(record('a', 200, { rmse: 9 }))).toThrow(
        expect.objectContaining({ code: 'Conflict' }) as Error,
      );
      expect(store.listCalibrations('ws', 'pump-1')).toStrictEqual([record('a', 100)]);
      // The same id on another twin is another calibration.
      store.addCalibration(record('a', 100, { twinId: 'pump-2' }));
      expect(store.listCalibrations('ws', 'pump-2')).toHaveLength(1);
    });

    it('deleteTwin removes the twin’s parameters and calibrations only', async () => {
      store.put(params('pump-1'));
      store.put(params('pump-2'));
      store.addCalibration(record('a', 1));
      store.addCalibration(record('b', 2, { twinId: 'pump-2' }));
      store.deleteTwin('ws', 'pump-1');
      store = await fx.reopen();
      expect(store.get('ws', 'pump-1')).toBeUndefined();
      expect(store.listCalibrations('ws', 'pump-1')).toEqual([]);
      expect(store.get('ws', 'pump-2')).toBeDefined();
      expect(store.listCalibrations('ws', 'pump-2').map((c) => c.id)).toEqual(['b']);
    });
  });
}
