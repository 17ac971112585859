/**
 * The fused RK4 kernel (fused-rk4.ts) and its worker threads (fleet-threads.ts): bit for bit the
 * scalar evaluator's RK4 (with exp as Math.exp), within 1e-12 with its inline exp; the same bits on
 * 1, 2 or 3 threads through a whole fleet run with commands, faults, relationships and samples; the
 * failing asset named the same whatever the split; a behaviour whose names are the kernel's own
 * identifiers; functions a worker cannot call keep the batch on one thread.
 */
import { describe, expect, it } from 'vitest';
import { pilotBehaviour } from '../../../test/support/pilot-behaviour.js';
import { compileBehaviour, type BehaviourRuntime } from '../behaviour/compile-behaviour.js';
import { tankInterface } from '../behaviour/test-interface.js';
import { createBatchRk4 } from './batch-rk4.js';
import { createFleetRunner, type FleetRunner, type ReadingSet } from './fleet-runner.js';
import { createKernelPool, sharedFloat64 } from './fleet-threads.js';
import { compileFusedRk4, planFusedRk4 } from './fused-rk4.js';

const pump = pilotBehaviour('pump-line', 'pump.behaviour.yaml', 'dtmi:twinloop:pumpline:Pump;1');

/** The classic RK4 step of batch-rk4's arithmetic, asset by asset through the scalar evaluator. */
function scalarRk4(rt: BehaviourRuntime, y: Float64Array, t: number, h: number): void {
  const n = y.length;
  const k1 = new Float64Array(n);
  const k2 = new Float64Array(n);
  const k3 = new Float64Array(n);
  const k4 = new Float64Array(n);
  const tmp = new Float64Array(n);
  pump.derivatives(t, y, k1, rt);
  for (let j = 0; j < n; j++) tmp[j] = y[j]! + 0.5 * h * k1[j]!;
  pump.derivatives(t + 0.5 * h, tmp, k2, rt);
  for (let j = 0; j < n; j++) tmp[j] = y[j]! + 0.5 * h * k2[j]!;
  pump.derivatives(t + 0.5 * h, tmp, k3, rt);
  for (let j = 0; j < n; j++) tmp[j] = y[j]! + h * k3[j]!;
  pump.derivatives(t + h, tmp, k4, rt);
  const h6 = h / 6;
  for (let j = 0; j < n; j++) y[j] = y[j]! + h6 * (k1[j]! + 2 * k2[j]! + 2 * k3[j]! + k4[j]!);
}

function spreadRuntimes(count: number): BehaviourRuntime[] {
  return Array.from({ length: count }, (_, i) => {
    const rt = pump.createRuntime({ wearRate: 2e-6 * (1 + i / 10), motorCooling: 0.08 + i / 1000 });
    if (i % 3 === 0) pump.setInput(rt, 'setpoint', 20 + i);
    if (i % 4 === 1) pump.setInput(rt, 'running', 0.5);
    return rt;
  });
}

describe('fused RK4 kernel', () => {
  const ticks = 900;
  const count = 16;
  const run = (fastExp: boolean) => {
    const rts = spreadRuntimes(count);
    const ids = rts.map((_, i) => i);
    // Hot enough that exp matters: bearing above 60 °C.
    const y0 = rts.map(() => Float64Array.of(90, 75, 0.1));
    const batch = createBatchRk4(pump, rts, ids, y0, { threads: 1, fastExp })!;
    batch.run(0, 1, 0, ticks);
    return { batch, rts, got: ids.map((i) => batch.stateOf(i, new Float64Array(3))) };
  };
  const reference = (rts: BehaviourRuntime[]) =>
    rts.map((rt) => {
      const y = Float64Array.of(90, 75, 0.1);
      for (let k = 0; k < ticks; k++) scalarRk4(rt, y, k, 1);
      return y;
    });

  it('gives the scalar evaluator’s RK4 bit for bit (exp as Math.exp)', () => {
    const { got, rts } = run(false);
    const want = reference(rts);
    got.forEach((y, i) => y.forEach((v, s) => expect(Object.is(v, want[i]![s])).toBe(true)));
    expect(got[1]![2]).not.toBe(got[0]![2]); // the parameter spread and inputs reached the kernel
  });

  it('stays within 1e-12 (relative) of it with the kernel’s own exp', () => {
    const { got, rts } = run(true);
    const want = reference(rts);
    let worst = 0;
    got.forEach((y, i) =>
      y.forEach((v, s) => (worst = Math.max(worst, Math.abs(v - want[i]![s]!) / Math.abs(want[i]![s]!)))),
    );
    expect(worst).toBeLessThan(1e-12);
  });

  it('leaves a removed member where it was and counts only the others', () => {
    const rts = spreadRuntimes(4);
    const batch = createBatchRk4(
      pump,
      rts,
      [0, 1, 2, 3],
      rts.map(() => Float64Array.of(20, 20, 0)),
    )!;
    batch.run(0, 1, 0, 10);
    const y1 = batch.remove(1);
    batch.run(0, 1, 10, 10);
    expect(batch.members).toEqual([0, 2, 3]);
    expect(batch.stats.steps).toBe(4 * 10 + 3 * 10);
    expect(batch.stateOf(1, new Float64Array(3))).toEqual(y1);
  });

  it('keeps to its work budget: a model whose kernel would be huge steps asset by asset', () => {
    const n = 40;
    const states = Array.from({ length: n }, (_, j) => {
      const terms = Array.from({ length: 700 }, (_, k) => `x${(j + k) % n}*0.00001`).join(' + ');
      return `  x${j}: { initial: ${j}, derivative: "-x${j}*0.01 + ${terms}" }`;
    });
    const model = compileBehaviour(
      `behaviour: big\ninterface: dtmi:test:Tank;1\nstates:\n${states.join('\n')}\ntelemetry:\n  level: x0\n`,
      tankInterface(),
    );
    const rts = [model.createRuntime(), model.createRuntime()];
    expect(() => planFusedRk4(model, [], new Set())).toThrow(/would be \d+ characters \(limit 524288\)/);
    expect(
      createBatchRk4(
        model,
        rts,
        [0, 1],
        rts.map((rt) => model.initialState(rt)),
      ),
    ).toBeUndefined();
    const runner = createFleetRunner({ model, assets: [{ id: 'a' }, { id: 'b' }] });
    const alone = createFleetRunner({ model, assets: [{ id: 'a' }], batch: false });
    runner.advanceTo(5);
    alone.advanceTo(5);
    expect([...runner.state('a')]).toEqual([...alone.state('a')]);
  });

  it('names no JavaScript: behaviour names that are the kernel’s own identifiers change nothing', () => {
    const names = ['y0', 'p0', 's0', 'a_k0', 'fexp', 'Math', 'F', 'm', 'i', 'h', 'H', 'Y', 'res', 'NaN'];
    const text = (n: readonly string[]) => `behaviour: tank
interface: dtmi:test:Tank;1
parameters:
  ${n[0]}: 2
  ${n[1]}: 0.1
  ${n[2]}: 0.5
  ${n[3]}: 1
inputs:
  ${n[4]}: { command: setValve, default: 1 }
  ${n[5]}: { schedule: [[0, 1], [100, 3]], period: 200 }
states:
  ${n[6]}: { initial: 5, derivative: "${n[0]} * ${n[5]} - ${n[7]} + exp(-${n[8]})" }
  ${n[8]}: { initial: 1, derivative: "-${n[2]} * ${n[8]} * ${n[3]}" }
outputs:
  ${n[7]}: "${n[1]} * ${n[4]} * ${n[6]}"
telemetry:
  level: ${n[6]}
`;
    const plain = ['a', 'b', 'c', 'd', 'e1', 'f', 'g', 'k', 'z'];
    const iface = tankInterface();
    const results = [names, plain].map((n) => {
      const model = compileBehaviour(text(n), iface);
      const runner = createFleetRunner({
        model,
        assets: Array.from({ length: 8 }, (_, i) => ({ id: `t${i}`, parameters: { [n[0]!]: 1 + i } })),
        threads: 2,
      });
      runner.advanceTo(300);
      expect(runner.threads).toBe(2);
      const states = runner.assetIds.map((id) => [...runner.state(id)]);
      runner.close();
      return states;
    });
    expect(results[0]).toEqual(results[1]);
  });
});

describe('fleet worker threads', () => {
  const ids = Array.from({ length: 300 }, (_, i) => `p${i}`);
  function fleet(threads: number): { runner: FleetRunner; readings: ReadingSet[] } {
    const readings: ReadingSet[] = [];
    const runner = createFleetRunner({
      model: pump,
      assets: ids.map((id) => ({ id })),
      threads,
      seed: 9,
      sampleInterval: 60,
      variation: { wearRate: 0.3, motorCooling: 0.1, frictionLoss: 0.1 },
      sink: (r) => readings.push(r),
      relationships: (id, input) =>
        input.name === 'inletPressure' && id !== 'p0' ? [1 + ids.indexOf(id) / 300] : [],
      relationshipEvery: 120,
    });
    runner.command('p7', 'setRunning', false, 600.5);
    runner.command('p290', 'injectBearingDamage', undefined, 1200);
    runner.advanceTo(1800);
    runner.setInput('p150', 'setpoint', 20);
    runner.advanceTo(3600);
    return { runner, readings };
  }

  it('give the same bits on 1, 2 and 3 threads (states and every reading)', () => {
    const runs = [1, 2, 3].map(fleet);
    expect(runs.map((r) => r.runner.threads)).toEqual([1, 2, 3]);
    const [one, ...others] = runs;
    for (const other of others) {
      for (const id of ids) {
        const a = one!.runner.state(id);
        const b = other.runner.state(id);
        a.forEach((v, s) => expect(Object.is(v, b[s])).toBe(true));
      }
      expect(other.readings).toEqual(one!.readings);
    }
    // the run was not the quiet path only
    expect(one!.runner.state('p290')[2]!).toBeGreaterThan(5 * one!.runner.state('p291')[2]!);
    for (const r of runs) r.runner.close();
  });

  it('end on close(), and the runner goes on on one thread with the same results', () => {
    const a = createFleetRunner({ model: pump, assets: ids.map((id) => ({ id })), threads: 2 });
    const b = createFleetRunner({ model: pump, assets: ids.map((id) => ({ id })), threads: 1 });
    a.advanceTo(100);
    expect(a.threads).toBe(2);
    a.close();
    expect(a.threads).toBe(1);
    a.advanceTo(200);
    b.advanceTo(200);
    expect(a.threads).toBe(1);
    for (const id of ids) expect([...a.state(id)]).toEqual([...b.state(id)]);
  });

  it('name the asset that fails, whichever thread stepped it', () => {
    for (const threads of [1, 2]) {
      const runner = createFleetRunner({
        model: pump,
        assets: ids.map((id) => ({ id, ...(id === 'p250' ? { parameters: { motorHeatCapacity: 0 } } : {}) })),
        threads,
      });
      expect(() => runner.advanceTo(100)).toThrow(/Asset 'p250' failed at t ≈ 0 s/);
      expect(runner.threads).toBe(threads);
      runner.close();
    }
  });

  it('name a lone asset that fails while worker threads step the batch, after the job ends', () => {
    for (const threads of [1, 2]) {
      const runner = createFleetRunner({
        model: pump,
        assets: ids.map((id) => ({ id, ...(id === 'p250' ? { parameters: { motorHeatCapacity: 0 } } : {}) })),
        threads,
      });
      // A command takes p250 out of the batch at once: it steps alone, beside the threads.
      runner.command('p250', 'setRunning', true, 0.5);
      expect(() => runner.advanceTo(100)).toThrow(/Asset 'p250' failed at t ≈ 0 s/);
      expect(runner.threads).toBe(threads);
      runner.close();
    }
  });

  it('keep a kernel calling a function a worker cannot call on one thread', () => {
    const model = compileBehaviour(
      `behaviour: tank
interface: dtmi:test:Tank;1
parameters:
  k: 0.1
states:
  level: { initial: 5, derivative: "clamp(2 - k * level, -1, 1) + smoothstep(0, 10, level)" }
telemetry:
  level: level
`,
      tankInterface(),
    );
    const runner = createFleetRunner({
      model,
      assets: Array.from({ length: 600 }, (_, i) => ({ id: `t${i}`, parameters: { k: 0.1 + i / 1000 } })),
      threads: 2,
    });
    const alone = createFleetRunner({
      model,
      assets: [{ id: 't599', parameters: { k: 0.1 + 599 / 1000 } }],
      batch: false,
    });
    runner.advanceTo(200);
    alone.advanceTo(200);
    expect(runner.threads).toBe(1);
    expect(runner.state('t599')[0]).toBeCloseTo(alone.state('t599')[0]!, 9);
  });

  it('fail loudly, never hang, when a worker cannot start its kernel', () => {
    const rts = spreadRuntimes(4);
    const y = rts.map(() => Float64Array.of(20, 20, 0));
    const plan = planFusedRk4(pump, [], new Set([pump.layout.slots.get('speed')!]));
    const kernel = compileFusedRk4(plan)!;
    // A function table a worker refuses (not Math's own): the worker reports, the run throws.
    const broken = { ...plan, fnNames: ['clamp'] };
    const n = 3 * 4;
    const batch = {
      Y: sharedFloat64(n),
      C: [],
      S: sharedFloat64(plan.nStatic),
      H: sharedFloat64(3 * plan.nTimed),
      act: new Uint8Array(new SharedArrayBuffer(4)).fill(1),
      m: 4,
    };
    y.forEach((v, i) => v.forEach((x, s) => (batch.Y[s * 4 + i] = x)));
    const pool = createKernelPool(broken, batch, 2);
    expect(() => pool.run(kernel, 1, 1)).toThrow(/A fleet worker thread failed/);
    expect(() => pool.run(kernel, 1, 1)).toThrow(/closed/);
  });

  it('refuses a thread count that is not a whole number from 1 to 64', () => {
    for (const threads of [0, 1.5, -1, 65, NaN, '2' as unknown as number])
      expect(() => createFleetRunner({ model: pump, assets: [{ id: 'a' }], threads })).toThrow(
        /\/threads: threads must be/,
      );
  });
});
