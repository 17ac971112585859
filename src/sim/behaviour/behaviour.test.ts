import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { compileBehaviour } from './compile-behaviour.js';
import { seededRandom } from './random.js';
import { tankInterface } from './test-interface.js';

const TANK_MODEL = `
behaviour: tank-test
interface: dtmi:test:Tank;1
parameters:
  k: { value: 0.5, unit: second }
  a: 2
inputs:
  inflow: { external: true, default: 3 }
  valve: { command: setValve, default: 1 }
  rate: { command: configure, field: rate, default: 0 }
  sched: { schedule: [[0, 0], [10, 10], [20, 10]] }
  stepped: { schedule: [[0, 1], [10, 2]], interpolation: step, period: 20 }
  duty: { cycle: { period: 10, duty: 0.3, high: 5, low: 1 } }
states:
  level: { initial: "a * 2", derivative: "inflow - outflow" }
  x: { initial: 1, derivative: "-x + doubled / 4" }
outputs:
  doubled: "outflow * 2"
  outflow: "k * level * valve"
telemetry:
  level: { from: level, noise: { std: 0.1, resolution: 0.01 } }
  overflow: "level > 10"
  cycles: "x * 2.6"
properties:
  outflowReported: outflow
faults:
  blockage: { kind: bias, target: outflow, magnitude: 1, at: 100 }
  fouling: { kind: degradation, target: x, rate: 0.5, command: degrade }
  sensorDrift: { kind: drift, target: telemetry.cycles, rate: 0.1, at: 50 }
  stuckInflow: { kind: stuck, target: inflow, command: stick }
  dropLevel: { kind: dropout, target: level, command: drop, duration: 5 }
  surge: { kind: spike, target: inflow, magnitude: 10, command: surge }
`;

describe('compiled behaviour model', () => {
  const model = compileBehaviour(TANK_MODEL, tankInterface());

  it('lays out slots and orders outputs by dependency', () => {
    expect(model.layout.states).toEqual(['level', 'x']);
    expect(model.layout.outputs).toEqual(['outflow', 'doubled']);
    expect(model.layout.slots.get('t')).toBe(0);
    expect(model.layout.slots.get('k')).toBe(1);
    expect(model.warnings).toEqual([]);
  });

  it('computes initial states, derivatives and outputs like the hand calculation', () => {
    const rt = model.createRuntime();
    const y = model.initialState(rt);
    expect([...y]).toEqual([4, 1]); // a*2, 1
    const dydt = new Float64Array(2);
    model.derivatives(0, y, dydt, rt);
    // outflow = 0.5*4*1 = 2; dlevel = 3 - 2 = 1; doubled = 4; dx = -1 + 4/4 = 0
    expect([...dydt]).toEqual([1, 0]);
    const out = new Float64Array(2);
    model.outputs(0, Float64Array.of(6, 2), rt, out);
    expect([...out]).toEqual([3, 6]); // outflow = 0.5*6, doubled = 6
    const f = model.rhs(rt);
    f(0, Float64Array.of(6, 2), dydt);
    expect([...dydt]).toEqual([0, -0.5]); // 3-3; -2 + 6/4
  });

  it('takes parameter overrides and refuses unknown ones', () => {
    const rt = model.createRuntime({ a: 5 });
    expect([...model.initialState(rt)]).toEqual([10, 1]);
    expect(() => model.createRuntime({ nope: 1 })).toThrow(TwinloopError);
    expect(() => model.createRuntime({ k: NaN })).toThrow(TwinloopError);
  });

  it('evaluates schedules and duty cycles from time', () => {
    const rt = model.createRuntime();
    const y = Float64Array.of(4, 1);
    const at = (name: string, t: number): number => {
      model.outputs(t, y, rt, new Float64Array(2));
      return rt.frame[model.layout.slots.get(name) as number] as number;
    };
    expect(at('sched', -5)).toBe(0);
    expect(at('sched', 2.5)).toBe(2.5);
    expect(at('sched', 15)).toBe(10);
    expect(at('sched', 99)).toBe(10);
    expect(at('stepped', 9.9)).toBe(1);
    expect(at('stepped', 10)).toBe(2);
    expect(at('stepped', 25)).toBe(1); // repeats every 20 s
    expect(at('duty', 2)).toBe(5);
    expect(at('duty', 4)).toBe(1);
    expect(at('duty', 12)).toBe(5);
  });

  it('applies commands to inputs, with booleans, object fields and bad payloads', () => {
    const rt = model.createRuntime();
    const y = Float64Array.of(4, 1);
    const dydt = new Float64Array(2);
    expect(model.applyCommand(rt, 0, 'setValve', false)).toBe(1);
    model.derivatives(0, y, dydt, rt);
    expect(dydt[0]).toBe(3); // valve closed: no outflow
    expect(model.applyCommand(rt, 0, 'configure', { rate: 7 })).toBe(1);
    expect(rt.inputs[model.layout.inputs.indexOf('rate')]).toBe(7);
    expect(() => model.applyCommand(rt, 0, 'configure', { rate: 'x' })).toThrow(TwinloopError);
    expect(model.applyCommand(rt, 0, 'unknownCommand', 1)).toBe(0);
    model.setInput(rt, 'inflow', 10);
    model.derivatives(0, y, dydt, rt);
    expect(dydt[0]).toBe(10);
    expect(() => model.setInput(rt, 'nope', 1)).toThrow(TwinloopError);
  });

  it('switches faults on at a time and by command', () => {
    const rt = model.createRuntime();
    const y = Float64Array.of(4, 1);
    const dydt = new Float64Array(2);
    const out = new Float64Array(2);
    model.outputs(99, y, rt, out);
    expect([...out]).toEqual([2, 4]);
    model.outputs(100, y, rt, out); // blockage bias from t=100, seen by outputs depending on it
    expect([...out]).toEqual([3, 6]);
    model.derivatives(100, y, dydt, rt);
    expect([...dydt]).toEqual([0, 0.5]); // 3-3; -1 + 6/4

    expect(model.applyCommand(rt, 200, 'degrade')).toBe(1);
    model.derivatives(199, y, dydt, rt);
    expect(dydt[1]).toBe(0.5);
    model.derivatives(200, y, dydt, rt);
    expect(dydt[1]).toBe(1); // + rate 0.5
    model.deactivateFault(rt, 'fouling');
    model.derivatives(300, y, dydt, rt);
    expect(dydt[1]).toBe(0.5);

    // stuck: holds the value the input had when first seen stuck
    model.activateFault(rt, 'stuckInflow', 300);
    model.derivatives(300, y, dydt, rt);
    model.setInput(rt, 'inflow', 50);
    model.derivatives(301, y, dydt, rt);
    expect(dydt[0]).toBe(0); // inflow still 3, outflow 3

    // spike: on for its default duration of 1 s
    model.deactivateFault(rt, 'stuckInflow');
    model.applyCommand(rt, 400, 'surge');
    model.derivatives(400.5, y, dydt, rt);
    expect(dydt[0]).toBe(50 + 10 - 3);
    model.derivatives(401, y, dydt, rt);
    expect(dydt[0]).toBe(50 - 3);
    expect(() => model.activateFault(rt, 'nope', 0)).toThrow(TwinloopError);
  });

  it('measures telemetry and properties with encodings, noise, sensor faults and dropout', () => {
    const rt = model.createRuntime();
    const y = Float64Array.of(12, 1);
    const m = model.measure(0, y, rt, seededRandom(1));
    expect(m.telemetry.overflow).toBe(true);
    expect(m.telemetry.cycles).toBe(3); // round(2.6)
    expect(m.properties.outflowReported).toBe(6);
    const level = m.telemetry.level as number;
    expect(Math.abs(level - 12)).toBeLessThan(0.6);
    expect(Math.abs(level * 100 - Math.round(level * 100))).toBeLessThan(1e-6); // resolution 0.01

    // sensor drift: only the measurement, from t=50 at 0.1/s; 2.6 + 0.1*10 -> round(3.6) = 4
    expect(model.measure(60, y, rt, seededRandom(1)).telemetry.cycles).toBe(4);
    const out = new Float64Array(2);
    model.outputs(60, y, rt, out);
    expect(out[0]).toBe(6); // the process does not see the sensor fault

    model.applyCommand(rt, 70, 'drop');
    const dropped = model.measure(72, y, rt, seededRandom(1));
    expect(dropped.dropped).toEqual(['level']);
    expect('level' in dropped.telemetry).toBe(false);
    expect('level' in model.measure(75, y, rt, seededRandom(1)).telemetry).toBe(true);

    // noise statistics: std 0.1 around the value
    const rnd = seededRandom(42);
    const ys = Float64Array.of(5, 1);
    const xs = Array.from({ length: 4000 }, () => model.measure(0, ys, rt, rnd).telemetry.level as number);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length);
    expect(mean).toBeCloseTo(5, 1);
    expect(sd).toBeGreaterThan(0.09);
    expect(sd).toBeLessThan(0.11);
  });

  it('draws reproducible uniform numbers from a seed', () => {
    const a = seededRandom(3);
    const b = seededRandom(3);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(xs).toEqual(Array.from({ length: 1000 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(xs).size).toBe(1000);
    expect(seededRandom(4)()).not.toBe(xs[0]);
  });

  it('evaluates derivatives fast enough for simulation', () => {
    const rt = model.createRuntime();
    const y = Float64Array.of(4, 1);
    const dydt = new Float64Array(2);
    const n = 300_000;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) model.derivatives(i * 1e-3, y, dydt, rt);
    const perSecond = n / ((performance.now() - t0) / 1000);
    console.log(`tank model derivative evaluations: ${(perSecond / 1e6).toFixed(2)} M/s`);
    expect(perSecond).toBeGreaterThan(200_000);
  });
});
