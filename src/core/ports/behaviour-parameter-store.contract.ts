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
      expect(await store.get('ws', 'pump-1')).toBeUndefined();
      await store.put(params('pump-1'));
      await store.put(params('pump-2', { values: { tau: 1 } }));
      await store.put(params('pump-1', { workspace: 'other', values: { tau: 2 } }));
      store = await fx.reopen();
      expect(await store.get('ws', 'pump-1')).toStrictEqual(params('pump-1'));
      expect((await store.get('ws', 'pump-2'))?.values).toStrictEqual({ tau: 1 });
      expect((await store.get('other', 'pump-1'))?.values).toStrictEqual({ tau: 2 });
      // Replacing: the old values are gone, and no calibration id is invented when none is given.
      const { calibrationId: _omitted, ...manual } = params('pump-1', { values: { gain: 3 }, appliedAt: 5 });
      await store.put(manual);
      store = await fx.reopen();
      expect(await store.get('ws', 'pump-1')).toStrictEqual(manual);
      expect(await store.get('ws', 'pump-1')).not.toHaveProperty('calibrationId');
    });

    it('deletes a twin’s parameters, reporting whether it had any', async () => {
      await store.put(params('pump-1'));
      await store.put(params('pump-2'));
      expect(await store.delete('ws', 'pump-1')).toBe(true);
      expect(await store.delete('ws', 'pump-1')).toBe(false);
      store = await fx.reopen();
      expect(await store.get('ws', 'pump-1')).toBeUndefined();
      expect(await store.get('ws', 'pump-2')).toBeDefined();
    });

    it('keeps calibrations exactly (optional fields absent, null r²) and lists them newest first', async () => {
      await store.addCalibration(record('a', 100));
      await store.addCalibration(record('c', 300));
      await store.addCalibration(record('b', 200, { method: 'nelder-mead', r2: null }));
      await store.addCalibration(record('x', 400, { twinId: 'pump-2' }));
      await store.addCalibration(record('a', 500, { workspace: 'other' }));
      store = await fx.reopen();
      expect(await store.getCalibration('ws', 'pump-1', 'a')).toStrictEqual(record('a', 100));
      expect(await store.getCalibration('ws', 'pump-1', 'b')).toStrictEqual(
        record('b', 200, { method: 'nelder-mead', r2: null }),
      );
      const gain = (await store.getCalibration('ws', 'pump-1', 'a'))?.parameters[1];
      expect(gain).not.toHaveProperty('stdError');
      expect(gain).not.toHaveProperty('min');
      expect(await store.getCalibration('ws', 'pump-1', 'x')).toBeUndefined(); // another twin's
      expect(await store.getCalibration('ws', 'pump-2', 'nope')).toBeUndefined();
      expect((await store.listCalibrations('ws', 'pump-1')).map((c) => c.id)).toEqual(['c', 'b', 'a']);
      expect((await store.listCalibrations('ws', 'pump-1', 2)).map((c) => c.id)).toEqual(['c', 'b']);
      expect((await store.listCalibrations('ws', 'pump-2')).map((c) => c.id)).toEqual(['x']);
      expect((await store.listCalibrations('other', 'pump-1')).map((c) => c.createdAt)).toEqual([500]);
      expect(await store.listCalibrations('ws', 'nobody')).toEqual([]);
    });

    it('refuses a second calibration with the same id for a twin, changing nothing', async () => {
      await store.addCalibration(record('a', 100));
      await expect(store.addCalibration(record('a', 200, { rmse: 9 }))).rejects.toMatchObject({
        code: 'Conflict',
      });
      expect(await store.listCalibrations('ws', 'pump-1')).toStrictEqual([record('a', 100)]);
      // The same id on another twin is another calibration.
      await store.addCalibration(record('a', 100, { twinId: 'pump-2' }));
      expect(await store.listCalibrations('ws', 'pump-2')).toHaveLength(1);
    });

    it('deleteTwin removes the twin’s parameters and calibrations only', async () => {
      await store.put(params('pump-1'));
      await store.put(params('pump-2'));
      await store.addCalibration(record('a', 1));
      await store.addCalibration(record('b', 2, { twinId: 'pump-2' }));
      await store.deleteTwin('ws', 'pump-1');
      store = await fx.reopen();
      expect(await store.get('ws', 'pump-1')).toBeUndefined();
      expect(await store.listCalibrations('ws', 'pump-1')).toEqual([]);
      expect(await store.get('ws', 'pump-2')).toBeDefined();
      expect((await store.listCalibrations('ws', 'pump-2')).map((c) => c.id)).toEqual(['b']);
    });

    it('lists the parameters applied to every twin of a workspace', async () => {
      expect(await store.listParameters('ws')).toEqual([]);
      await store.put(params('pump-1'));
      await store.put(params('pump-2', { values: { tau: 1 } }));
      await store.put(params('pump-3', { workspace: 'other' }));
      const all = await store.listParameters('ws');
      expect(all.map((p) => p.twinId).sort()).toEqual(['pump-1', 'pump-2']);
      expect(all.find((p) => p.twinId === 'pump-1')).toStrictEqual(params('pump-1'));
    });

    it('keeps __proto__ and constructor keys as plain data, never touching prototypes', async () => {
      const values = JSON.parse('{"__proto__": 1.5, "constructor": 2, "tau": 3}') as Record<string, number>;
      await store.put(params('pump-1', { values }));
      const inputs = JSON.parse('{"__proto__": 4, "running": 1}') as Record<string, number>;
      await store.addCalibration(record('p', 1, { inputs, values }));
      store = await fx.reopen();
      const got = (await store.get('ws', 'pump-1'))!.values;
      expect(Object.keys(got).sort()).toEqual(['__proto__', 'constructor', 'tau']);
      expect(Object.getOwnPropertyDescriptor(got, '__proto__')?.value).toBe(1.5);
      expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
      const cal = (await store.getCalibration('ws', 'pump-1', 'p'))!;
      expect(Object.getOwnPropertyDescriptor(cal.inputs, '__proto__')?.value).toBe(4);
      expect(({} as Record<string, unknown>).tau).toBeUndefined(); // nothing polluted
    });

    it('keeps SQL metacharacters and odd unicode in ids as given', async () => {
      const evil = "'; DROP TABLE behaviour_parameters; --";
      await store.put(params(evil, { workspace: evil, behaviour: evil, calibrationId: evil }));
      await store.addCalibration(
        record(evil, 1, { workspace: evil, twinId: evil, reason: 'x\u2028\u{1F600}' }),
      );
      expect(await store.get(evil, evil)).toStrictEqual(
        params(evil, { workspace: evil, behaviour: evil, calibrationId: evil }),
      );
      expect((await store.getCalibration(evil, evil, evil))?.reason).toBe('x\u2028\u{1F600}');
      await store.put(params('pump-1'));
      expect(await store.get('ws', 'pump-1')).toBeDefined(); // the tables are still there
    });

    it('refuses values that are not finite numbers and bad limits with BadRequest', async () => {
      const bad = [Number.NaN, Number.POSITIVE_INFINITY, '1' as unknown as number];
      for (const v of bad) {
        await expect(store.put(params('pump-1', { values: { tau: v } }))).rejects.toMatchObject({
          code: 'BadRequest',
        });
      }
      expect(await store.get('ws', 'pump-1')).toBeUndefined();
      for (const limit of [0, -1, 1.5]) {
        await expect(store.listCalibrations('ws', 'pump-1', limit)).rejects.toMatchObject({
          code: 'BadRequest',
        });
      }
    });

    it('a NUL byte in an id or a parameter name is kept or refused with a catalogue error, never a crash', async () => {
      const cases: BehaviourParameters[] = [
        params('a\u0000b'),
        params('pump-1', { values: { 'ta\u0000u': 1 } }),
        params('pump-2', { calibrationId: 'c\u0000' }),
      ];
      for (const p of cases) {
        try {
          await store.put(p);
          expect(await store.get(p.workspace, p.twinId)).toStrictEqual(p);
        } catch (e) {
          expect(['BadRequest', 'StorageError']).toContain((e as { code?: string }).code);
          expect((e as Error).message).toMatch(/NUL|0x00|\\u0000/);
          expect(await store.get(p.workspace, p.twinId)).toBeUndefined();
        }
      }
      try {
        await store.addCalibration(record('c', 1, { reason: 'r\u0000' }));
        expect((await store.getCalibration('ws', 'pump-1', 'c'))?.reason).toBe('r\u0000');
      } catch (e) {
        expect(['BadRequest', 'StorageError']).toContain((e as { code?: string }).code);
      }
    });
  });
}
