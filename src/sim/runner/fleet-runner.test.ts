/**
 * The fleet runner against a tiny tank behaviour: agreement with a direct solveIvp, seeded
 * variation, commands and faults at their simulated times, relationship wiring, the virtual
 * clock, and clear errors for bad configuration.
 */
import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { compileBehaviour } from '../behaviour/compile-behaviour.js';
import { tankInterface } from '../behaviour/test-interface.js';
import { solveIvp } from '../solvers/solve-ivp.js';
import { VirtualClock } from './clock.js';
import { createFleetRunner, type FleetRunnerOptions, type ReadingSet } from './fleet-runner.js';

const TANK = `behaviour: tank
interface: dtmi:test:Tank;1
parameters:
  inflow: 2
  k: 0.1
inputs:
  valve: { command: setValve, default: 1 }
  extra: { external: true, default: 0 }
  upstream: { relationship: feeds, direction: incoming, source: level, aggregate: sum, default: 0 }
states:
  level: { initial: 5, derivative: "inflow + extra + 0.01*upstream - outflow" }
outputs:
  outflow: "k*valve*level"
telemetry:
  level: level
  overflow: "level > 30"
properties:
  outflowReported: outflow
faults:
  leak: { kind: bias, target: outflow, magnitude: 1, command: injectLeak }
  sensorBias: { kind: bias, target: telemetry.level, magnitude: 100, at: 50, duration: 10 }
`;
const NOISY = TANK.replace('  level: level\n', '  level: { from: level, noise: { std: 0.5 } }\n');

const iface = tankInterface();
const model = compileBehaviour(TANK, iface);
const noisy = compileBehaviour(NOISY, iface);

function collect(options: Omit<FleetRunnerOptions, 'sink'>): {
  runner: ReturnType<typeof createFleetRunner>;
  readings: ReadingSet[];
} {
  const readings: ReadingSet[] = [];
  const runner = createFleetRunner({ ...options, sink: (r) => readings.push(r) });
  return { runner, readings };
}

const levels = (rs: ReadingSet[], id: string): number[] =>
  rs.filter((r) => r.assetId === id).map((r) => r.values.level as number);

function thrown(fn: () => unknown): TwinloopError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TwinloopError);
    return e as TwinloopError;
  }
  throw new Error('expected an error');
}

describe('fleet runner', () => {
  it('matches a direct solveIvp of the same model at the sample times', () => {
    const { runner, readings } = collect({ model, assets: [{ id: 'a' }], sampleInterval: 10 });
    runner.advanceTo(100);
    const times = readings.map((r) => r.time);
    expect(times).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    const rt = model.createRuntime();
    // the same method and step: the same numbers; a tight DOPRI5 reference: RK4's error at h = 1 s
    const sol = solveIvp(model.rhs(rt), 0, model.initialState(rt), 100, {
      method: 'rk4',
      h: 1,
      tEval: times,
    });
    const ref = solveIvp(model.rhs(rt), 0, model.initialState(rt), 100, {
      rtol: 1e-10,
      atol: 1e-12,
      tEval: times,
    });
    readings.forEach((r, i) => {
      if (r.time >= 50 && r.time < 60) return; // the sensor bias fault (checked below)
      expect(r.values.level as number).toBeCloseTo(sol.y[i] as number, 10);
      expect(r.values.level as number).toBeCloseTo(ref.y[i] as number, 4);
      expect(r.properties.outflowReported as number).toBeCloseTo(0.1 * (sol.y[i] as number), 10);
    });
    // the analytic solution too: level = 20 - 15 e^(-0.1 t)
    expect(runner.state('a')[0]).toBeCloseTo(20 - 15 * Math.exp(-10), 4);
    expect(readings[5]?.values.level as number).toBeCloseTo(100 + 20 - 15 * Math.exp(-5), 4);
    expect(runner.stats().assetSteps).toBe(100);
  });

  it('runs DOPRI5 steppers too, to their tolerance', () => {
    const { runner, readings } = collect({
      model,
      assets: [{ id: 'a' }],
      method: 'dopri5',
      stepper: { rtol: 1e-10, atol: 1e-12 },
      sampleInterval: 20,
    });
    runner.advanceTo(100);
    const exact = (t: number): number => 20 - 15 * Math.exp(-0.1 * t);
    expect(readings.map((r) => r.time)).toEqual([0, 20, 40, 60, 80, 100]);
    for (const r of readings) expect(r.values.level as number).toBeCloseTo(exact(r.time), 8);
  });

  it('gives seeded assets different parameters and noise, reproducibly', () => {
    const opts = {
      model: noisy,
      assets: [{ id: 'a' }, { id: 'b' }, { id: 'c', parameters: { k: 0.2 } }],
      variation: { inflow: 0.1, k: 0.05 },
      seed: 7,
      sampleInterval: 5,
    };
    const one = collect(opts);
    const two = collect(opts);
    const other = collect({ ...opts, seed: 8 });
    for (const r of [one, two, other]) r.runner.runFor(60);
    expect(two.readings).toEqual(one.readings);
    expect(levels(other.readings, 'a')).not.toEqual(levels(one.readings, 'a'));
    expect(levels(one.readings, 'a')).not.toEqual(levels(one.readings, 'b'));
    const pa = one.runner.parameters('a');
    const pb = one.runner.parameters('b');
    expect(pa.inflow).not.toBe(pb.inflow);
    expect(Math.abs((pa.inflow as number) / 2 - 1)).toBeLessThan(0.5);
    expect(one.runner.parameters('c').k).toBe(0.2); // explicit values win over the variation
    // noise: the same asset's readings differ from the noiseless model's by a bounded amount
    const clean = collect({ ...opts, model });
    clean.runner.runFor(60);
    const diffs = levels(one.readings, 'a').map((v, i) => v - (levels(clean.readings, 'a')[i] as number));
    expect(diffs.some((d) => d !== 0)).toBe(true);
    expect(Math.max(...diffs.map(Math.abs))).toBeLessThan(5);
  });

  it('applies a scheduled command at its simulated time, inside a tick', () => {
    const { runner, readings } = collect({ model, assets: [{ id: 'a' }, { id: 'b' }], tick: 1 });
    expect(runner.command('a', 'setValve', false, 30.5)).toBe(1);
    runner.advanceTo(40);
    const rt = model.createRuntime();
    const sol = solveIvp(model.rhs(rt), 0, model.initialState(rt), 40, {
      method: 'rk4',
      h: 1,
      tEval: [30, 40],
      discrete: [{ t: 30.5, action: (t) => void model.applyCommand(rt, t, 'setValve', false) }],
    });
    const a = readings.filter((r) => r.assetId === 'a');
    expect(a.find((r) => r.time === 30)?.values.level as number).toBeCloseTo(sol.y[0] as number, 10);
    expect(runner.state('a')[0]).toBeCloseTo(sol.y[1] as number, 10);
    // closed valve: no outflow, the level rises at exactly the inflow
    expect(runner.state('a')[0]! - (a.find((r) => r.time === 31)?.values.level as number)).toBeCloseTo(18, 6);
    // the other asset is untouched
    const b = levels(readings, 'b');
    expect(b[40]).toBeCloseTo(20 - 15 * Math.exp(-4), 4);
    // a command for now takes effect at once
    runner.command('b', 'setValve', 0);
    runner.runFor(10);
    expect(runner.state('b')[0]! - (b[40] as number)).toBeCloseTo(20, 6);
  });

  it('switches faults on and off by time and by command', () => {
    const { runner, readings } = collect({ model, assets: [{ id: 'a' }, { id: 'b' }], sampleInterval: 10 });
    runner.activateFault('a', 'leak', 20);
    runner.deactivateFault('a', 'leak', 40);
    runner.advanceTo(20);
    runner.command('b', 'injectLeak'); // the fault's command, at t = 20
    runner.advanceTo(60);
    const a = levels(readings, 'a');
    const b = levels(readings, 'b');
    expect(a.slice(0, 3)).toEqual(b.slice(0, 3));
    expect(a[3]).toBeLessThan(b[3]! + 1e-9); // both leak from 20 s
    expect(a[3]).toBeCloseTo(b[3]!, 9);
    expect(a[4]).toBeCloseTo(b[4]!, 9);
    expect(a[6]! - b[6]!).toBeGreaterThan(1); // a's leak ended at 40, b's goes on
    // the model's own timed sensor fault: +100 on the telemetry at 50 s only, not on the state
    expect(a[5]! - a[4]!).toBeGreaterThan(90);
    expect(a[6]! - a[4]!).toBeLessThan(10);
    expect(readings.find((r) => r.assetId === 'a' && r.time === 50)?.properties.outflowReported).toBeLessThan(
      5,
    );
  });

  it('wires relationship inputs through the given function', () => {
    const seen: string[] = [];
    const { runner } = collect({
      model,
      assets: [{ id: 'up' }, { id: 'down' }],
      relationships: (id, input) => {
        seen.push(`${id}.${input.name}`);
        return id === 'down' ? [100, 100] : [];
      },
    });
    runner.runFor(30);
    expect(seen.slice(0, 2)).toEqual(['up.upstream', 'down.upstream']);
    expect(seen).toHaveLength(2 * 30); // once per asset per tick start, t = 0 … 29
    // down gets 0.01*200 = 2 more inflow: its steady level is 40 instead of 20
    expect(runner.state('down')[0]! - runner.state('up')[0]!).toBeCloseTo(20 * (1 - Math.exp(-3)), 5);
    const broken = createFleetRunner({ model, assets: [{ id: 'x' }], relationships: () => [Number.NaN] });
    expect(thrown(() => broken.runFor(1)).message).toMatch(/asset 'x', input 'upstream'.*finite/);
  });

  it('follows a virtual clock at the speed factor, deterministically', () => {
    const clock = new VirtualClock(1_000);
    const { runner, readings } = collect({ model, assets: [{ id: 'a' }], clock, speed: 10, timerMs: 100 });
    runner.start(25);
    expect(runner.running).toBe(true);
    clock.advance(1_000); // 1 wall second = 10 simulated seconds
    expect(runner.t).toBe(10);
    expect(readings.map((r) => r.time)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    clock.advance(550);
    expect(runner.t).toBe(15);
    clock.advance(10_000);
    expect(runner.t).toBe(25); // stopped at `until`
    expect(runner.running).toBe(false);
    expect(clock.pending).toBe(0);
    runner.start();
    clock.advance(200);
    runner.stop();
    clock.advance(5_000);
    expect(runner.t).toBe(27);
    expect(thrown(() => createFleetRunner({ model, assets: [{ id: 'a' }] }).start()).message).toMatch(
      /clock/,
    );
  });

  it('reports errors raised while running from a timer to onError', () => {
    const clock = new VirtualClock();
    const errors: unknown[] = [];
    const runner = createFleetRunner({
      model,
      assets: [{ id: 'a' }],
      clock,
      onError: (e) => errors.push(e),
      sink: () => {
        throw new Error('sink down');
      },
    });
    runner.start();
    clock.advance(5_000);
    expect(errors).toHaveLength(1);
    expect(runner.running).toBe(false);
  });

  it('refuses bad configuration with every problem and its pointer', () => {
    const e = thrown(() =>
      createFleetRunner({
        model,
        assets: [{ id: 'a' }, { id: 'a' }, { id: 'b', parameters: { nope: 1 } }],
        tick: 2,
        sampleInterval: 3,
        variation: { k: -1 },
        method: 'euler' as 'rk4',
      }),
    );
    expect(e.code).toBe('ValidationFailed');
    expect((e.problems ?? []).map((p) => p.pointer)).toEqual([
      '/sampleInterval',
      '/method',
      '/assets/1/id',
      '/assets/2/parameters/nope',
      '/variation/k',
    ]);
    expect(thrown(() => createFleetRunner({ model, assets: [] })).message).toMatch(/\/assets: .*non-empty/);
    expect(thrown(() => createFleetRunner({ model, assets: [{ id: 'a' }], tick: 0 })).message).toMatch(
      /\/tick/,
    );
  });

  it('refuses bad calls with clear errors', () => {
    const runner = createFleetRunner({ model, assets: [{ id: 'a' }], tick: 0.5 });
    runner.advanceTo(2);
    expect(thrown(() => runner.advanceTo(2.25)).message).toMatch(/not on the tick grid/);
    expect(thrown(() => runner.advanceTo(1)).message).toMatch(/before the simulation time/);
    expect(thrown(() => runner.command('zz', 'setValve')).code).toBe('NotFound');
    expect(thrown(() => runner.command('a', 'explode')).message).toMatch(/does not handle command 'explode'/);
    expect(thrown(() => runner.command('a', 'setValve', 'open')).message).toMatch(/number or boolean/);
    expect(thrown(() => runner.command('a', 'setValve', true, 1)).message).toMatch(/before the simulation/);
    expect(thrown(() => runner.activateFault('a', 'flood')).message).toMatch(/no fault 'flood'/);
    expect(thrown(() => runner.setInput('a', 'extra', Number.NaN)).message).toMatch(/finite/);
    expect(thrown(() => runner.setInput('a', 'nope', 1)).message).toMatch(/no input 'nope'/);
    expect(runner.t).toBe(2); // nothing above changed the run
    runner.setInput('a', 'extra', 1, 3);
    runner.advanceTo(3);
    const before = runner.state('a')[0]!;
    runner.advanceTo(3.5);
    // dlevel/dt = 2 + extra - 0.1·level ≈ 2 + 1 - 0.97: the extra inflow is there
    expect(runner.state('a')[0]! - before).toBeGreaterThan(0.5 * 1.9);
  });
});
