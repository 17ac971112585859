/**
 * The calibration service end to end on real SQLite: history written by the pump-line pilot's pump
 * behaviour with known parameters and its sensor noise, as a device simulated at ×60 publishes it;
 * calibrated, applied, kept across a reopen, reset.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempStorage } from '../../adapters/sqlite/sqlite-test-fixture.js';
import { TwinloopError } from '../../core/errors/errors.js';
import { isValidResult, parseDtdl } from '../../core/models/dtdl/parse-dtdl.js';
import type { ModelLookup } from '../../core/models/model-types.js';
import type { CalibrationRecord } from '../../core/ports/behaviour-parameter-store.js';
import type { HistoryPoint } from '../../core/ports/storage-ports.js';
import { BehaviourCatalog, compileBehaviour, seededRandom } from '../behaviour/index.js';
import { solveIvp } from '../solvers/solve-ivp.js';
import {
  CalibrationService,
  historyFromStore,
  type CalibrationServiceOptions,
  type TwinCalibrationRequest,
} from './calibration-service.js';

const PILOT = join(import.meta.dirname, '../../../pilots/pump-line');
const PUMP_ID = 'dtmi:twinloop:pumpline:Pump;1';
const TANK_ID = 'dtmi:twinloop:pumpline:Tank;1';
const SPEED = 60; // simulated seconds per wall second
const T0 = Date.UTC(2026, 2, 2, 6, 0, 0); // wall time of simulated time 0
const simTime = (ms: number): number => ((ms - T0) / 1000) * SPEED;
const HOURS = 4; // simulated
const WINDOW_END = T0 + (HOURS * 3600 * 1000) / SPEED + 1;

function pumpCatalog(): BehaviourCatalog {
  const result = parseDtdl(
    readdirSync(join(PILOT, 'models'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ source: f, text: readFileSync(join(PILOT, 'models', f), 'utf8') })),
  );
  expect(isValidResult(result)).toBe(true);
  const lookup: ModelLookup = {
    getInterface: (id) => result.interfaces.get(id),
    isOfModel: (m, b) => m === b || (result.interfaces.get(m)?.ancestors.includes(b) ?? false),
  };
  const source = 'pump.behaviour.yaml';
  const text = readFileSync(join(PILOT, 'behaviours', source), 'utf8');
  const model = compileBehaviour(text, result.interfaces.get(PUMP_ID)!, { source, lookup });
  return new BehaviourCatalog([{ source, interfaceId: PUMP_ID, model }], lookup);
}

const catalog = pumpCatalog();
const pump = catalog.forModel(PUMP_ID)!.model;
// pump-1's real parameters: not the model's (frictionLoss 0.15, bearingCooling 0.02, baseVibration 1.2).
const TRUTH = { frictionLoss: 0.19, bearingCooling: 0.026, baseVibration: 1.32 };

/** Four simulated hours of pump-1, one reading every 10 simulated seconds, as history points. */
function pumpHistory(): HistoryPoint[] {
  const times = Float64Array.from({ length: HOURS * 360 + 1 }, (_, i) => i * 10);
  const rt = pump.createRuntime(TRUTH);
  const sol = solveIvp(pump.rhs(rt), 0, pump.initialState(rt), times[times.length - 1]!, {
    tEval: times,
    rtol: 1e-10,
    atol: 1e-10,
  });
  const rnd = seededRandom(2026);
  const points: HistoryPoint[] = [];
  times.forEach((t, i) => {
    const m = pump.measure(t, sol.row(i), rt, rnd);
    const ts = T0 + Math.round((t * 1000) / SPEED);
    for (const [path, value] of Object.entries(m.telemetry)) {
      points.push({ workspace: 'default', twinId: 'pump-1', path, kind: 'telemetry', ts, value });
    }
  });
  return points;
}

const REQUEST: TwinCalibrationRequest = {
  parameters: [
    { name: 'frictionLoss', min: 0.01, max: 1 },
    { name: 'bearingCooling', min: 0.001, max: 0.5 },
    'baseVibration',
  ],
  telemetry: ['temperature', 'vibration'],
  from: T0,
  to: WINDOW_END,
  inputs: { running: true },
};

describe('CalibrationService on SQLite history', () => {
  let fx: ReturnType<typeof tempStorage>;
  let clock: number;
  let ids: number;
  let applied: { twinId: string; values: Readonly<Record<string, number>> }[];
  const twins: Record<string, { modelId: string; properties?: Record<string, unknown> }> = {
    'pump-1': { modelId: PUMP_ID, properties: { flowSetpoint: 60 } },
    'tank-1': { modelId: TANK_ID },
  };
  /** A service with the stored parameters loaded, as the platform starts it. */
  const service = async (over: Partial<CalibrationServiceOptions> = {}): Promise<CalibrationService> => {
    const s = new CalibrationService({
      workspace: 'default',
      store: fx.storage.behaviour,
      history: historyFromStore(fx.storage.history, 'default'),
      twin: (id) => twins[id],
      behaviours: catalog,
      simTime: (id) => (id === 'pump-1' ? simTime : undefined),
      onApplied: (twinId, values) => applied.push({ twinId, values }),
      now: () => clock,
      newId: () => `cal-${++ids}`,
      ...over,
    });
    await s.load();
    return s;
  };

  beforeEach(async () => {
    fx = tempStorage();
    clock = WINDOW_END + 60_000;
    ids = 0;
    applied = [];
    await fx.storage.history.append(pumpHistory());
  });
  afterEach(async () => {
    await fx.cleanup();
  });

  it('a fit never holds the event loop: it yields between slices and gives the same result', async () => {
    let yields = 0;
    let ticks = 0;
    let running = true;
    const tick = (): void => {
      ticks++;
      if (running) setImmediate(tick);
    };
    const sliced = await service({
      fitSliceMs: 0, // a slice per new simulation: the most pauses
      yieldNow: () => {
        yields++;
        return new Promise((resolve) => setImmediate(resolve));
      },
    });
    const ticksAtStart = ticks;
    setImmediate(tick);
    const r = await sliced.calibrate('pump-1', REQUEST);
    running = false;
    expect(yields).toBeGreaterThan(10);
    expect(ticks - ticksAtStart).toBeGreaterThanOrEqual(yields); // other work ran between the slices
    const whole = await (await service({ fitSliceMs: 1e9 })).calibrate('pump-1', REQUEST);
    expect(r.parameters).toEqual(whole.parameters);
    expect(r.evaluations).toBe(whole.evaluations);
    expect(r.rmse).toBe(whole.rmse);
  });

  it('recovers the pump’s parameters, applies them, keeps them across a reopen, and resets', async () => {
    const s = await service();
    const r = await s.calibrate('pump-1', REQUEST);
    expect(r).toMatchObject({ id: 'cal-1', twinId: 'pump-1', behaviour: 'pump-line-pump', applied: false });
    expect(r.converged).toBe(true);
    for (const p of r.parameters) {
      const truth = TRUTH[p.name as keyof typeof TRUTH];
      expect(p.low, p.name).toBeLessThan(truth);
      expect(p.high, p.name).toBeGreaterThan(truth);
      expect(Math.abs(p.value - truth) / truth, p.name).toBeLessThan(0.05);
    }
    // The data used: four simulated hours of both series, on the simulator's clock.
    expect(r.data).toMatchObject({ from: T0, points: 2 * 1441, simFrom: 0, truncated: false });
    expect(r.data.simTo).toBeCloseTo(HOURS * 3600, 1);
    const [temperature, vibration] = r.data.telemetry;
    expect(temperature).toMatchObject({ name: 'temperature', points: 1441, read: 1441, skipped: 0 });
    // Each series followed to its sensor's noise (0.1 °C and 0.05 mm/s, plus their resolution).
    expect(temperature!.rmse).toBeGreaterThan(0.08);
    expect(temperature!.rmse).toBeLessThan(0.13);
    expect(vibration!.rmse).toBeGreaterThan(0.04);
    expect(vibration!.rmse).toBeLessThan(0.065);
    expect(r.inputs).toEqual({ setpoint: 60, running: 1 }); // the twin's flowSetpoint, and the request's
    expect(r.initialStates.map((p) => p.name)).toEqual(['bearingTemp']);
    expect((await s.list('pump-1')).map((c) => c.id)).toEqual(['cal-1']);
    expect(await s.get('pump-1', 'cal-1')).toEqual(r);

    clock += 1000;
    const eff = await s.apply('pump-1', 'cal-1');
    expect(eff).toMatchObject({
      twinId: 'pump-1',
      behaviour: 'pump-line-pump',
      interface: PUMP_ID,
      calibrationId: 'cal-1',
      appliedAt: new Date(clock).toISOString(),
    });
    expect(eff.parameters.frictionLoss).toEqual({
      value: r.values.frictionLoss,
      default: 0.15,
      source: 'calibration',
      calibrationId: 'cal-1',
    });
    expect(eff.parameters.ambient).toEqual({
      value: 20,
      unit: 'degreeCelsius',
      default: 20,
      source: 'model',
    });
    expect(applied).toHaveLength(1);
    expect(applied[0]!.values).toMatchObject({ ...r.values, ambient: 20, wearRate: 2e-6 });
    expect(s.applied('pump-1')).toEqual(r.values);

    // Reopened: the applied values and the calibration are still there.
    await fx.reopen();
    const again = await service();
    expect(again.parameters('pump-1')).toEqual(eff);
    expect(await again.list('pump-1')).toEqual([{ ...r, applied: true }]);

    // A second calibration starts from, and holds, what is applied; applying it keeps both.
    const second = await again.calibrate('pump-1', {
      ...REQUEST,
      parameters: ['baseVibration'],
      telemetry: ['vibration'],
    });
    expect(second.base).toEqual(r.values);
    expect(second.parameters[0]!.initial).toBe(r.values.baseVibration);
    clock += 1000;
    await again.apply('pump-1', second.id);
    expect(again.applied('pump-1')).toEqual({ ...r.values, baseVibration: second.values.baseVibration });
    expect((await again.list('pump-1')).map((c) => [c.id, c.applied])).toEqual([
      ['cal-2', true],
      ['cal-1', false],
    ]);

    const reset = await again.reset('pump-1');
    expect(Object.values(reset.parameters).every((p) => p.source === 'model' && p.value === p.default)).toBe(
      true,
    );
    expect(reset).not.toHaveProperty('calibrationId');
    expect(applied.at(-1)!.values.frictionLoss).toBe(0.15);
    expect(again.applied('pump-1')).toBeUndefined();
    await fx.reopen();
    expect((await service()).parameters('pump-1').parameters.frictionLoss!.source).toBe('model');
  });

  it('refuses what it cannot calibrate, with a clear code and every problem', async () => {
    const s = await service();
    const fail = async (twinId: string, req: Partial<TwinCalibrationRequest>): Promise<TwinloopError> => {
      try {
        await s.calibrate(twinId, { ...REQUEST, ...req });
      } catch (e) {
        expect(e).toBeInstanceOf(TwinloopError);
        return e as TwinloopError;
      }
      throw new Error('expected a TwinloopError');
    };
    const ghost = await fail('ghost', {});
    expect([ghost.code, ghost.status]).toEqual(['DigitalTwinNotFound', 404]);
    const tank = await fail('tank-1', {});
    expect(tank.code).toBe('BadRequest');
    expect(tank.message).toContain(TANK_ID);

    const unknown = await fail('pump-1', { parameters: ['tau', { name: 'efficiency', min: 0.2 }] });
    expect(unknown.code).toBe('BadRequest');
    expect(unknown.problems.map((p) => p.pointer)).toEqual(['/parameters/0/name', '/parameters/1/min']);
    expect(unknown.problems[0]!.message).toMatch(
      /no parameter 'tau'; its parameters are: ratedFlow, ratedHead/,
    );
    expect(unknown.problems[1]!.message).toMatch(/below the model's minimum \(0.5\)/);

    const bounds = await fail('pump-1', { parameters: [{ name: 'frictionLoss', min: 1, max: 0.1 }] });
    expect(bounds.problems[0]).toMatchObject({ pointer: '/parameters/0/min' });

    const shape = await fail('pump-1', {
      parameters: [],
      telemetry: [3 as unknown as string],
      from: WINDOW_END,
    });
    expect(shape.problems.map((p) => p.pointer)).toEqual(['/parameters', '/telemetry/0', '/from']);

    // One reading in the window.
    const few = await fail('pump-1', { from: T0, to: T0 + 1 });
    expect(few.code).toBe('BadRequest');
    expect(few.message).toMatch(/Found 2 numeric points in the window/);

    // Nothing was stored by the refused requests.
    expect(await s.list('pump-1')).toEqual([]);
    await expect(s.apply('pump-1', 'nope')).rejects.toMatchObject({ code: 'NotFound' });
    expect(() => s.parameters('tank-1')).toThrow(expect.objectContaining({ code: 'NotFound' }) as Error);
    await expect(s.list('ghost')).rejects.toMatchObject({ code: 'DigitalTwinNotFound' });
  });

  it('serves applied parameters from memory: loaded once, updated on writes, no store read per call', async () => {
    const calls: string[] = [];
    const real = fx.storage.behaviour;
    const counting = new Proxy(real, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function'
          ? (...args: unknown[]) => {
              calls.push(String(prop));
              return (v as (...a: unknown[]) => unknown).apply(target, args);
            }
          : v;
      },
    });
    await real.put({
      workspace: 'default',
      twinId: 'pump-1',
      behaviour: 'pump-line-pump',
      values: { frictionLoss: 0.2 },
      appliedAt: 1,
    });
    const s = await service({ store: counting });
    expect(calls).toEqual(['listParameters']);
    for (let i = 0; i < 1000; i++) expect(s.applied('pump-1')).toEqual({ frictionLoss: 0.2 });
    expect(s.parameters('pump-1').parameters.frictionLoss!.value).toBe(0.2);
    expect(calls).toEqual(['listParameters']);
    await s.reset('pump-1');
    expect(s.applied('pump-1')).toBeUndefined();
    expect(await real.get('default', 'pump-1')).toBeUndefined();
    // A failed write leaves memory as the store is: nothing applied.
    const failing = new CalibrationService({
      workspace: 'default',
      store: {
        get: (w: string, t: string) => real.get(w, t),
        delete: (w: string, t: string) => real.delete(w, t),
        addCalibration: (r: CalibrationRecord) => real.addCalibration(r),
        listCalibrations: (w: string, t: string) => real.listCalibrations(w, t),
        deleteTwin: (w: string, t: string) => real.deleteTwin(w, t),
        listParameters: () => Promise.resolve([]),
        put: () => Promise.reject(new Error('disk full')),
        getCalibration: (_w: string, twinId: string, id: string) =>
          Promise.resolve({
            id,
            twinId,
            behaviour: 'pump-line-pump',
            base: {},
            values: { frictionLoss: 0.3 },
          } as unknown as CalibrationRecord),
      },
      history: () => [],
      twin: () => ({ modelId: PUMP_ID }),
      behaviours: catalog,
    });
    await failing.load();
    await expect(failing.apply('pump-1', 'c1')).rejects.toThrow('disk full');
    expect(failing.applied('pump-1')).toBeUndefined();
  });

  it('says when the history read was cut, and refuses a calibration of another behaviour', async () => {
    const r = await (
      await service({ maxRead: 500 })
    ).calibrate('pump-1', { ...REQUEST, telemetry: ['temperature'] });
    expect(r.data.truncated).toBe(true);
    expect(r.data.points).toBe(500);
    expect(r.data.to).toBeLessThan(WINDOW_END - 1000);

    const s = await service();
    await fx.storage.behaviour.addCalibration({ ...r, id: 'old', behaviour: 'pump-v0' });
    await expect(s.apply('pump-1', 'old')).rejects.toMatchObject({ code: 'Conflict' });
    expect(s.parameters('pump-1').calibrationId).toBeUndefined();
  });

  it('fits a live twin on Unix seconds (its daily schedule is the UTC time of day)', async () => {
    // pump-2 is a real device: its speed follows the schedule on Unix time, from 06:00 UTC on.
    const t0 = T0 / 1000;
    const times = Float64Array.from({ length: 721 }, (_, i) => t0 + i * 10); // two hours
    const rt = pump.createRuntime(TRUTH);
    const sol = solveIvp(pump.rhs(rt), t0, pump.initialState(rt), times[times.length - 1]!, {
      tEval: times,
      rtol: 1e-10,
      atol: 1e-10,
    });
    const rnd = seededRandom(9);
    await fx.storage.history.append(
      Array.from(times, (t, i) => ({
        workspace: 'default',
        twinId: 'pump-2',
        path: 'temperature',
        kind: 'telemetry' as const,
        ts: t * 1000,
        value: pump.measure(t, sol.row(i), rt, rnd).telemetry.temperature as number,
      })),
    );
    twins['pump-2'] = { modelId: PUMP_ID };
    const s = await service({ simTime: () => (ms) => ms / 1000 });
    const r = await s.calibrate('pump-2', {
      parameters: ['frictionLoss', 'bearingCooling'],
      telemetry: ['temperature'],
      from: T0,
      to: T0 + 7200_001,
    });
    expect(r.data.simFrom).toBe(t0);
    for (const p of r.parameters) {
      const truth = TRUTH[p.name as keyof typeof TRUTH];
      expect(p.low, p.name).toBeLessThan(truth);
      expect(p.high, p.name).toBeGreaterThan(truth);
    }
    expect(r.data.telemetry[0]!.rmse).toBeLessThan(0.13);
  });
});
