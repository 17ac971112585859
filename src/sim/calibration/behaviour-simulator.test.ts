import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { parseDtdl } from '../../core/models/dtdl/parse-dtdl.js';
import type { InterfaceInfo } from '../../core/models/model-types.js';
import { compileBehaviour, seededRandom } from '../behaviour/index.js';
import { solveIvp } from '../solvers/solve-ivp.js';
import { behaviourSeriesSimulator, behaviourSimulator } from './behaviour-simulator.js';
import { calibrate } from './calibrate.js';

const ROOM_ID = 'dtmi:test:Room;1';
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
          { '@type': 'Telemetry', name: 'heaterPower', schema: 'double' },
        ],
      },
    },
  ]);
  const iface = r.interfaces.get(ROOM_ID);
  if (iface === undefined) throw new Error(JSON.stringify(r.problems));
  return iface;
}

// First-order thermal model: the heater (u, 0..1) adds gain·u degrees at steady state, with time constant tau.
const THERMAL = `
behaviour: room-thermal
interface: ${ROOM_ID}
parameters:
  ambient: { value: 18, unit: degreeCelsius }
  gain: { value: 10, min: 0, max: 100 }
  tau: { value: 600, unit: second }
inputs:
  u: { schedule: [[0, 0], [300, 1], [2400, 0.4]], interpolation: step }
states:
  T: { initial: ambient, derivative: '(ambient + gain*u - T)/tau', unit: degreeCelsius }
outputs:
  power: '1000*u'
telemetry:
  temperature: { from: T + 0.5, noise: { std: 0.1 } }
  heaterPower: power
`;

describe('behaviourSimulator + calibrate (end to end)', () => {
  const model = compileBehaviour(THERMAL, roomInterface(), { source: 'thermal.yaml' });
  const times = Float64Array.from({ length: 121 }, (_, i) => i * 30); // one hour, every 30 s
  const truth = { tau: 420, gain: 7.5 };

  /** The twin's history: the model run with the true parameters, measured with its sensor noise. */
  function history(seed: number): Float64Array {
    const rt = model.createRuntime(truth);
    const sol = solveIvp(model.rhs(rt), 0, model.initialState(rt), 3600, {
      tEval: times,
      rtol: 1e-9,
      atol: 1e-9,
    });
    const rnd = seededRandom(seed);
    return Float64Array.from(
      times,
      (ti, i) => model.measure(ti, sol.row(i), rt, rnd).telemetry.temperature as number,
    );
  }

  it('recovers tau and gain from noisy telemetry with LM', () => {
    const simulate = behaviourSimulator({
      model,
      parameters: ['tau', 'gain'],
      times,
      observe: { telemetry: 'temperature' },
    });
    const r = calibrate({
      simulate,
      observed: history(2026),
      parameters: [
        { name: 'tau', initial: 100, min: 1, max: 5000 },
        { name: 'gain', initial: 2, min: 0, max: 100 },
      ],
      method: 'lm',
    });
    expect(r.converged).toBe(true);
    const [tau, gain] = r.parameters;
    for (const [p, v] of [
      [tau, truth.tau],
      [gain, truth.gain],
    ] as const) {
      expect(Math.abs((p?.value as number) - v)).toBeLessThan(3 * (p?.stdError as number));
      expect(Math.abs((p?.value as number) - v) / v).toBeLessThan(0.05);
      expect(p?.low).toBeLessThan(v);
      expect(p?.high).toBeGreaterThan(v);
    }
    expect(r.r2).toBeGreaterThan(0.99);
    expect(r.rmse).toBeGreaterThan(0.07); // the sensor noise is 0.1
    expect(r.rmse).toBeLessThan(0.13);
    // Applying the fit: a runtime with the fitted values reproduces the noise-free process closely.
    const rtFit = model.createRuntime(r.values);
    const rtTrue = model.createRuntime(truth);
    const fitSol = solveIvp(model.rhs(rtFit), 0, model.initialState(rtFit), 3600, { tEval: times });
    const trueSol = solveIvp(model.rhs(rtTrue), 0, model.initialState(rtTrue), 3600, { tEval: times });
    let worst = 0;
    for (let i = 0; i < times.length; i++) {
      worst = Math.max(worst, Math.abs((fitSol.row(i)[0] as number) - (trueSol.row(i)[0] as number)));
    }
    expect(worst).toBeLessThan(0.05); // well under the sensor noise (0.1)
    expect(worst).toBeGreaterThan(0); // and not the truth itself
  });

  it('observes states, outputs and inputs by name, and honours fixed parameters and the initial state', () => {
    const byState = behaviourSimulator({
      model,
      parameters: ['tau'],
      times: [0, 300, 900],
      observe: 'T',
      fixed: { gain: 10 },
    });
    const [T0, T300, T900] = byState(Float64Array.of(600));
    expect(T0).toBe(18);
    expect(T300).toBeCloseTo(18, 6); // heater off until 300 s
    // The step input at 300 s is a discontinuity the adaptive solver crosses with ~1e-7 error.
    expect(T900).toBeCloseTo(18 + 10 * (1 - Math.exp(-600 / 600)), 4);
    const power = behaviourSimulator({ model, parameters: ['tau'], times: [0, 301, 2401], observe: 'power' });
    expect(Array.from(power(Float64Array.of(600)))).toEqual([0, 1000, 400]);
    const fromY0 = behaviourSimulator({
      model,
      parameters: ['ambient'],
      times: [0],
      observe: 'T',
      initialState: [30],
    });
    expect(fromY0(Float64Array.of(18))[0]).toBe(30);
  });

  it('rejects unknown names and bad times', () => {
    const base = { model, parameters: ['tau'], times: [0, 10], observe: 'T' };
    expect(() => behaviourSimulator({ ...base, parameters: ['nope'] })).toThrow(/no parameter 'nope'/);
    expect(() => behaviourSimulator({ ...base, observe: 'nope' })).toThrow(
      /no state, output or input 'nope'/,
    );
    expect(() => behaviourSimulator({ ...base, observe: { telemetry: 'humidity' } })).toThrow(
      /maps no telemetry/,
    );
    expect(() => behaviourSimulator({ ...base, times: [10, 5] })).toThrow(TwinloopError);
    expect(() => behaviourSimulator({ ...base, times: [] })).toThrow(/no observation times/);
    expect(() => behaviourSimulator({ ...base, fixed: { tau: 3 } })).toThrow(/both fitted and fixed/);
    expect(() => behaviourSimulator(base)(Float64Array.of(1, 2))).toThrow(/Expected 1 parameter/);
  });

  it('observes several series from one run, each at its own times, concatenated in order', () => {
    const tT = [0, 250, 600, 1800, 3600];
    const tP = [301, 600, 2401];
    const both = behaviourSeriesSimulator({
      model,
      parameters: ['tau', 'gain'],
      series: [
        { observe: { telemetry: 'temperature' }, times: tT },
        { observe: 'power', times: tP },
      ],
    });
    const p = Float64Array.of(420, 7.5);
    const alone = behaviourSimulator({
      model,
      parameters: ['tau', 'gain'],
      times: tT,
      observe: { telemetry: 'temperature' },
    })(p);
    const out = both(p);
    expect(out).toHaveLength(tT.length + tP.length);
    for (let i = 0; i < tT.length; i++) expect(out[i]).toBeCloseTo(alone[i] as number, 6);
    expect(Array.from(out.subarray(tT.length))).toEqual([1000, 1000, 400]);
    // Starts at the earliest time of any series; the temperature mapping adds 0.5 to T (18 at t = 0).
    expect(out[0]).toBe(18.5);
  });

  it('starts named states at given values, the others at their initial expressions', () => {
    const sim = behaviourSeriesSimulator({
      model,
      parameters: ['ambient'],
      series: [{ observe: 'T', times: [0, 100] }],
      initial: { T: 25 },
    });
    const [T0, T100] = sim(Float64Array.of(18));
    expect(T0).toBe(25);
    // Heater off before 300 s: T relaxes from 25 towards ambient (18) with tau = 600.
    expect(T100).toBeCloseTo(18 + 7 * Math.exp(-100 / 600), 6);
    // A start value fitted with the parameters: it follows them in the vector.
    const withStart = behaviourSeriesSimulator({
      model,
      parameters: ['tau'],
      fitInitial: ['T'],
      series: [{ observe: 'T', times: [0, 100] }],
    });
    const [S0, S100] = withStart(Float64Array.of(600, 22));
    expect(S0).toBe(22);
    expect(S100).toBeCloseTo(18 + 4 * Math.exp(-100 / 600), 6);
    expect(() => withStart(Float64Array.of(600))).toThrow(/Expected 2 parameter values/);
    expect(() =>
      behaviourSeriesSimulator({
        model,
        parameters: ['tau'],
        series: [{ observe: 'T', times: [0] }],
        initial: { nope: 1 },
      }),
    ).toThrow(/no state 'nope'/);
  });

  it('rejects no series, an empty series and bad times, naming the series', () => {
    const base = { model, parameters: ['tau'] };
    expect(() => behaviourSeriesSimulator({ ...base, series: [] })).toThrow(/no observed series/);
    expect(() =>
      behaviourSeriesSimulator({
        ...base,
        series: [
          { observe: 'T', times: [0] },
          { observe: 'T', times: [] },
        ],
      }),
    ).toThrow(/Series 1 has no observation times/);
    expect(() =>
      behaviourSeriesSimulator({
        ...base,
        series: [
          { observe: 'T', times: [0] },
          { observe: 'T', times: [5, 5] },
        ],
      }),
    ).toThrow(/Observation time 1 of series 1/);
  });
});
