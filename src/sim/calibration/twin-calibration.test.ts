import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { parseDtdl } from '../../core/models/dtdl/parse-dtdl.js';
import type { InterfaceInfo } from '../../core/models/model-types.js';
import { compileBehaviour, seededRandom, type CompiledBehaviour } from '../behaviour/index.js';
import { solveIvp } from '../solvers/solve-ivp.js';
import { calibrateTwin, type HistorySample, type TwinCalibrationInput } from './twin-calibration.js';

const ROOM_ID = 'dtmi:test:HeatedRoom;1';
function roomInterface(): InterfaceInfo {
  const r = parseDtdl([
    {
      source: 'room.json',
      json: {
        '@context': 'dtmi:dtdl:context;3',
        '@id': ROOM_ID,
        '@type': 'Interface',
        contents: [
          { '@type': 'Telemetry', name: 'temperature', schema: 'double' },
          { '@type': 'Telemetry', name: 'heatLoss', schema: 'double' },
          { '@type': 'Telemetry', name: 'heating', schema: 'boolean' },
          { '@type': 'Property', name: 'comfort', schema: 'double' },
        ],
      },
    },
  ]);
  const iface = r.interfaces.get(ROOM_ID);
  if (iface === undefined) throw new Error(JSON.stringify(r.problems));
  return iface;
}

// A heated room: the heater (on from 300 s to 2400 s of simulated time) brings `power` kW; the room
// loses `loss` kW per kelvin above ambient; `capacity` kJ/K. Two telemetry in very different units:
// the temperature (°C, noise 0.1) and the heat loss (W, noise 40).
const ROOM = `
behaviour: heated-room
interface: ${ROOM_ID}
parameters:
  ambient: { value: 18, unit: degreeCelsius }
  capacity: { value: 600, min: 1, max: 100000 }
  loss: { value: 0.5, min: 0.001, max: 50 }
  power: { value: 5 }
inputs:
  u: { schedule: [[0, 0], [300, 1], [2400, 0]], interpolation: step }
  occupied: { external: true, default: 0 }
  comfortSetting: { property: comfort, default: 21 }
states:
  T: { initial: ambient, derivative: '(power*u + 0.2*occupied - loss*(T - ambient))/capacity', unit: degreeCelsius }
telemetry:
  temperature: { from: T, noise: { std: 0.1 } }
  heatLoss: { from: '1000*loss*(T - ambient)', noise: { std: 40 } }
  heating: u
`;

const T0_MS = Date.UTC(2026, 0, 5, 8, 0, 0);

/** The pump-line pilot's pump behaviour, compiled against the pilot's models, and a pump's true values. */
function pumpSetup() {
  const dir = join(import.meta.dirname, '../../../pilots/pump-line');
  const r = parseDtdl(
    readdirSync(join(dir, 'models'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ source: f, text: readFileSync(join(dir, 'models', f), 'utf8') })),
  );
  const lookup = {
    getInterface: (id: string) => r.interfaces.get(id),
    isOfModel: (m: string, b: string) => m === b || (r.interfaces.get(m)?.ancestors.includes(b) ?? false),
  };
  const text = readFileSync(join(dir, 'behaviours', 'pump.behaviour.yaml'), 'utf8');
  const pump = compileBehaviour(text, r.interfaces.get('dtmi:twinloop:pumpline:Pump;1')!, { lookup });
  return { pump, truth: { frictionLoss: 0.19, bearingCooling: 0.026, baseVibration: 1.32 } };
}

interface HistoryOptions {
  truth: Record<string, number>;
  /** Simulated seconds per wall second. */
  speed?: number;
  seed?: number;
  /** Simulated times of the samples. */
  times?: Float64Array;
  /** Initial T (default: the model's). */
  T0?: number;
}

/** The model run with the true parameters and measured with its noise, as history (ms timestamps). */
function history(model: CompiledBehaviour, o: HistoryOptions): Record<string, HistorySample[]> {
  const times = o.times ?? Float64Array.from({ length: 241 }, (_, i) => i * 15); // an hour, every 15 s
  const rt = model.createRuntime(o.truth);
  const y0 = o.T0 === undefined ? model.initialState(rt) : Float64Array.of(o.T0);
  const sol = solveIvp(model.rhs(rt), times[0] as number, y0, times[times.length - 1] as number, {
    tEval: times,
    rtol: 1e-10,
    atol: 1e-10,
    maxStep: 50,
  });
  const rnd = seededRandom(o.seed ?? 7);
  const out: Record<string, HistorySample[]> = { temperature: [], heatLoss: [], heating: [] };
  times.forEach((t, i) => {
    const m = model.measure(t, sol.row(i), rt, rnd);
    const ms = T0_MS + Math.round(((t - (times[0] as number)) * 1000) / (o.speed ?? 1));
    for (const [name, v] of Object.entries(m.telemetry)) out[name]?.push({ t: ms, v });
  });
  return out;
}

describe('calibrateTwin', () => {
  const model = compileBehaviour(ROOM, roomInterface(), { source: 'room.yaml' });
  const truth = { loss: 0.42, capacity: 520 };

  it('recovers parameters from one telemetry, each within its interval, and says which data it used', () => {
    const h = history(model, { truth });
    const r = calibrateTwin({
      model,
      telemetry: [{ name: 'temperature', points: h.temperature! }],
      fit: { parameters: [{ name: 'loss' }, { name: 'capacity', min: 10, max: 5000 }] },
    });
    expect(r.method).toBe('lm');
    expect(r.converged).toBe(true);
    for (const p of r.parameters) {
      const v = truth[p.name as keyof typeof truth];
      expect(p.low).toBeLessThan(v);
      expect(p.high).toBeGreaterThan(v);
      expect(Math.abs(p.value - v) / v).toBeLessThan(0.05);
    }
    // The start: the model's values; bounds: the model's for loss, the request's for capacity.
    expect(r.parameters[0]).toMatchObject({ name: 'loss', initial: 0.5, min: 0.001, max: 50 });
    expect(r.parameters[1]).toMatchObject({ name: 'capacity', initial: 600, min: 10, max: 5000 });
    expect(r.rmse).toBeGreaterThan(0.07); // the sensor noise is 0.1
    expect(r.rmse).toBeLessThan(0.13);
    expect(r.r2).toBeGreaterThan(0.99);
    expect(r.data).toMatchObject({ from: T0_MS, to: T0_MS + 3600_000, points: 241, simFrom: 0, simTo: 3600 });
    expect(r.data.telemetry[0]).toMatchObject({ name: 'temperature', points: 241, read: 241, skipped: 0 });
    expect(r.data.telemetry[0]?.rmse).toBeCloseTo(r.rmse, 12);
    expect(Math.abs(r.data.telemetry[0]!.bias)).toBeLessThan(0.03);
    // The start of T was estimated with the parameters (from the first reading), and its interval holds 18.
    expect(r.initialState).toBe('estimated');
    expect(r.initialStates).toHaveLength(1);
    expect(r.initialStates[0]).toMatchObject({ name: 'T', unit: 'degreeCelsius' });
    expect(r.initialStates[0]?.initial).toBe(h.temperature![0]!.v);
    expect(r.initialStates[0]?.low).toBeLessThan(18);
    expect(r.initialStates[0]?.high).toBeGreaterThan(18);
    expect(r.values).toEqual({ loss: r.parameters[0]?.value, capacity: r.parameters[1]?.value });
  });

  it('fits several telemetry in different units together, each weighted so that none dominates', () => {
    const h = history(model, { truth, seed: 11 });
    const r = calibrateTwin({
      model,
      telemetry: [
        { name: 'temperature', points: h.temperature! },
        { name: 'heatLoss', points: h.heatLoss! },
      ],
      fit: { parameters: [{ name: 'loss' }, { name: 'capacity' }] },
    });
    expect(r.converged).toBe(true);
    for (const p of r.parameters) {
      const v = truth[p.name as keyof typeof truth];
      expect(p.stdError).toBeGreaterThan(0);
      expect(p.low).toBeLessThan(v);
      expect(p.high).toBeGreaterThan(v);
      expect(Math.abs(p.value - v) / v).toBeLessThan(0.05);
    }
    // Each series is followed to its own noise (0.1 °C and 40 W): neither was sacrificed to the other.
    const [temp, loss] = r.data.telemetry;
    expect(temp?.rmse).toBeGreaterThan(0.07);
    expect(temp?.rmse).toBeLessThan(0.13);
    expect(loss?.rmse).toBeGreaterThan(28);
    expect(loss?.rmse).toBeLessThan(52);
    expect(temp?.r2).toBeGreaterThan(0.99);
    expect(loss?.r2).toBeGreaterThan(0.99);
    expect(r.data.points).toBe(482);
    // Both stages' simulations are counted.
    expect(r.evaluations).toBeGreaterThan(r.iterations);
  });

  it('reports intervals that hold when the series are unequally noisy (pump, many noise draws)', () => {
    // The pump's vibration is noisy relative to its range, its temperature is not; baseVibration
    // shows only in the vibration, the thermal parameters only in the temperature. Weighted only by
    // their observations' variances, the fit would pool the two series' residual variances: intervals
    // several times too wide for the thermal parameters and too narrow for baseVibration.
    const { pump, truth: pumpTruth } = pumpSetup();
    const times = Float64Array.from({ length: 721 }, (_, i) => i * 10); // two hours
    const rt = pump.createRuntime(pumpTruth);
    const sol = solveIvp(pump.rhs(rt), 0, pump.initialState(rt), 7200, {
      tEval: times,
      rtol: 1e-10,
      atol: 1e-10,
    });
    const names = Object.keys(pumpTruth) as (keyof typeof pumpTruth)[];
    const z = Object.fromEntries(names.map((n) => [n, [] as number[]]));
    const covered = Object.fromEntries(names.map((n) => [n, 0]));
    const N = 20;
    for (let seed = 1; seed <= N; seed++) {
      const rnd = seededRandom(seed);
      const h: Record<string, HistorySample[]> = { temperature: [], vibration: [] };
      times.forEach((t, i) => {
        const m = pump.measure(t, sol.row(i), rt, rnd);
        h.temperature!.push({ t: t * 1000, v: m.telemetry.temperature });
        h.vibration!.push({ t: t * 1000, v: m.telemetry.vibration });
      });
      const r = calibrateTwin({
        model: pump,
        telemetry: [
          { name: 'temperature', points: h.temperature! },
          { name: 'vibration', points: h.vibration! },
        ],
        inputs: { running: 1 },
        fit: {
          parameters: [
            { name: 'frictionLoss', min: 0.01, max: 1 },
            { name: 'bearingCooling', min: 0.001, max: 0.5 },
            { name: 'baseVibration' },
          ],
        },
      });
      for (const p of r.parameters) {
        const v = pumpTruth[p.name as keyof typeof pumpTruth];
        z[p.name]!.push((p.value - v) / p.stdError!);
        if (p.low! < v && p.high! > v) covered[p.name]!++;
      }
    }
    for (const name of names) {
      // 95% intervals: about 19 of 20 cover the truth; (value − truth)/stdError has an RMS of about 1.
      expect(covered[name], name).toBeGreaterThanOrEqual(15);
      const rms = Math.sqrt(z[name]!.reduce((s, x) => s + x * x, 0) / N);
      expect(rms, name).toBeGreaterThan(0.5);
      expect(rms, name).toBeLessThan(1.7);
    }
  });

  it('Nelder–Mead finds the same values, without intervals', () => {
    const h = history(model, { truth });
    const input: TwinCalibrationInput = {
      model,
      telemetry: [{ name: 'temperature', points: h.temperature! }],
      fit: { parameters: [{ name: 'loss' }, { name: 'capacity' }] },
    };
    const lm = calibrateTwin(input);
    const nm = calibrateTwin({ ...input, fit: { ...input.fit, method: 'nelder-mead' } });
    expect(nm.method).toBe('nelder-mead');
    expect(nm.values.loss).toBeCloseTo(lm.values.loss!, 3);
    expect(nm.values.capacity! / lm.values.capacity!).toBeCloseTo(1, 3);
    expect(nm.parameters[0]).not.toHaveProperty('stdError');
  });

  it('runs the behaviour on simulated time through the given mapping', () => {
    // A device simulated at ×60: an hour of simulated time in one minute of history.
    const h = history(model, { truth, speed: 60 });
    const fit = { parameters: [{ name: 'loss' }, { name: 'capacity' }] };
    const mapped = calibrateTwin({
      model,
      telemetry: [{ name: 'temperature', points: h.temperature! }],
      simTime: (ms) => ((ms - T0_MS) / 1000) * 60,
      fit,
    });
    expect(mapped.data).toMatchObject({ simFrom: 0, simTo: 3600, from: T0_MS, to: T0_MS + 60_000 });
    expect(Math.abs(mapped.values.loss! - truth.loss) / truth.loss).toBeLessThan(0.05);
    expect(mapped.rmse).toBeLessThan(0.13);
    // The default mapping (1 s per second) sees a minute in which the heater never switches off.
    const unmapped = calibrateTwin({
      model,
      telemetry: [{ name: 'temperature', points: h.temperature! }],
      fit,
    });
    expect(unmapped.data.simTo).toBe(60);
    expect(unmapped.rmse).toBeGreaterThan(5 * mapped.rmse);
  });

  it('holds applied parameters and given inputs fixed, and reads booleans as 0/1, skipping the rest', () => {
    const warm = { ...truth, ambient: 20 };
    const h = history(model, { truth: warm });
    const heating: HistorySample[] = [...h.heating!];
    heating.splice(10, 0, { t: heating[9]!.t + 1, v: 'n/a' }, { t: heating[9]!.t + 2, v: null });
    const r = calibrateTwin({
      model,
      telemetry: [
        { name: 'temperature', points: h.temperature! },
        { name: 'heating', points: heating },
      ],
      applied: { ambient: 20, loss: 0.3, removedLongAgo: 4 },
      inputs: { occupied: 0, comfortSetting: 22 },
      fit: { parameters: [{ name: 'loss' }, { name: 'capacity' }] },
    });
    expect(r.base).toEqual({ ambient: 20, loss: 0.3 });
    expect(r.inputs).toEqual({ occupied: 0, comfortSetting: 22 });
    expect(r.parameters[0]?.initial).toBe(0.3); // the applied value is the start
    expect(Math.abs(r.values.loss! - truth.loss) / truth.loss).toBeLessThan(0.05);
    const heatingFit = r.data.telemetry[1];
    expect(heatingFit).toMatchObject({ name: 'heating', read: 243, skipped: 2, points: 241 });
    expect(heatingFit?.rmse).toBeLessThan(1e-9); // the heater's on/off read as 1/0 exactly
  });

  it('estimates the start of states a telemetry reads directly (unless told to use the model’s)', () => {
    // The room was already at 25 °C when the window starts.
    const h = history(model, { truth, T0: 25 });
    const base = { model, telemetry: [{ name: 'temperature', points: h.temperature! }] };
    const fit = { parameters: [{ name: 'loss' }, { name: 'capacity' }] };
    const estimated = calibrateTwin({ ...base, fit });
    expect(Math.abs(estimated.values.loss! - truth.loss) / truth.loss).toBeLessThan(0.05);
    expect(estimated.initialStates[0]?.value).toBeCloseTo(25, 1);
    const fromModel = calibrateTwin({ ...base, fit: { ...fit, initialState: 'model' } });
    expect(fromModel.initialState).toBe('model');
    expect(fromModel.initialStates).toEqual([]);
    expect(fromModel.rmse).toBeGreaterThan(2 * estimated.rmse);
  });

  it('thins long series evenly to maxPoints, keeping the first and the last', () => {
    const times = Float64Array.from({ length: 3601 }, (_, i) => i);
    const h = history(model, { truth, times });
    const r = calibrateTwin({
      model,
      telemetry: [{ name: 'temperature', points: h.temperature! }],
      fit: { parameters: [{ name: 'loss' }], maxPoints: 100 },
    });
    expect(r.data.telemetry[0]).toMatchObject({ points: 100, read: 3601, skipped: 0 });
    expect(r.data).toMatchObject({ from: T0_MS, to: T0_MS + 3600_000, points: 100 });
  });

  it('reports every problem of a request at once, with where it is', () => {
    const h = history(model, { truth });
    const attempt = (over: Partial<TwinCalibrationInput>): TwinloopError => {
      try {
        calibrateTwin({
          model,
          telemetry: [{ name: 'temperature', points: h.temperature! }],
          fit: { parameters: [{ name: 'loss' }] },
          ...over,
        });
      } catch (e) {
        expect(e).toBeInstanceOf(TwinloopError);
        return e as TwinloopError;
      }
      throw new Error('expected a TwinloopError');
    };
    const e = attempt({
      telemetry: [
        { name: 'temperature', points: h.temperature! },
        { name: 'pressure', points: [] },
      ],
      inputs: { u: 1, nope: 2 },
      fit: {
        parameters: [
          { name: 'tau' },
          { name: 'loss', min: 2, max: 1 },
          { name: 'capacity', min: 0 },
          { name: 'power', initial: 9, max: 8 },
        ],
        method: 'simplex' as 'lm',
        maxPoints: 1,
      },
    });
    expect(e.code).toBe('BadRequest');
    const at = Object.fromEntries(e.problems.map((p) => [p.pointer, p.message]));
    expect(at['/parameters/0/name']).toMatch(
      /no parameter 'tau'; its parameters are: ambient, capacity, loss, power/,
    );
    expect(at['/parameters/1/min']).toMatch(/greater than its max/);
    expect(at['/parameters/2/min']).toMatch(/below the model's minimum \(1\)/);
    expect(at['/parameters/3/initial']).toMatch(/outside/);
    expect(at['/telemetry/1']).toMatch(
      /maps no telemetry 'pressure'; it maps: temperature, heatLoss, heating/,
    );
    expect(at['/inputs/u']).toMatch(/follows its schedule/);
    expect(at['/inputs/nope']).toMatch(/no input 'nope'/);
    expect(at['/method']).toMatch(/'lm' or 'nelder-mead'/);
    expect(at['/maxPoints']).toMatch(/from 2/);
    expect(e.problems).toHaveLength(9);
  });

  it('says how many points it found when there are too few', () => {
    const few = history(model, { truth }).temperature!.slice(0, 2);
    const words: HistorySample[] = [{ t: T0_MS, v: 'warm' }];
    let e: unknown;
    try {
      calibrateTwin({
        model,
        telemetry: [
          { name: 'temperature', points: few },
          { name: 'heatLoss', points: words },
        ],
        fit: { parameters: [{ name: 'loss' }, { name: 'capacity' }] },
      });
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(TwinloopError);
    const problems = (e as TwinloopError).problems;
    expect(problems.map((p) => p.pointer)).toEqual(['/telemetry/1', '/telemetry']);
    expect(problems[0]?.message).toMatch(
      /'heatLoss' has no numeric point in the window \(1 read, 1 not numbers/,
    );
    expect(problems[1]?.message).toMatch(
      /Found 2 numeric points in the window; fitting 2 parameters and 1 start value needs at least 4/,
    );
  });
});
