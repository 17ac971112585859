/**
 * The what-if engine on the first-order heater of test-heater.ts, whose answer is known in closed
 * form: plans come from the real planner over a real InMemoryTwinGraph, runs from runWhatIf.
 */
import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { createStepper } from '../solvers/solve-ivp.js';
import { graphJson, heaterWorld, lag, twin, type HeaterWorld } from './test-heater.js';
import { runWhatIf, type RunControl } from './what-if-engine.js';
import { DEFAULT_WHAT_IF_LIMITS, planWhatIf } from './what-if-plan.js';
import type { WhatIfResult, WhatIfWorld } from './what-if-types.js';

const immediate = (): Promise<void> => new Promise((res) => setImmediate(res));

function plan(w: HeaterWorld, request: unknown, world: WhatIfWorld = w.world) {
  return planWhatIf(request, {
    catalog: w.catalog,
    world,
    limits: { ...DEFAULT_WHAT_IF_LIMITS },
    interfaces: w.lookup,
  }).plan;
}

async function run(w: HeaterWorld, request: unknown, ctl: Partial<RunControl> = {}): Promise<WhatIfResult> {
  return runWhatIf(plan(w, request), { yieldNow: immediate, ...ctl });
}

const byId = (r: WhatIfResult, id: string) => {
  const t = r.twins.find((x) => x.twinId === id);
  if (!t) throw new Error(`no trajectory for ${id}`);
  return t;
};

describe('what-if engine', () => {
  it('matches the closed form of a first-order model, noise-free, from the model start', async () => {
    const w = heaterWorld();
    const r = await run(w, { twins: ['h1'], horizon: '500s', sampleInterval: 50 });
    const tr = byId(r, 'h1');
    expect(tr).toMatchObject({ twinId: 'h1', behaviour: 'heater', fork: 'model', forkTime: 5000 });
    expect(tr.times).toEqual([0, 50, 100, 150, 200, 250, 300, 350, 400, 450, 500]);
    tr.times.forEach((t, i) => {
      const exact = lag(t, 20, 40); // ambient 20 + gain 2 · power 10
      expect(Math.abs(tr.states.temp![i]! - exact)).toBeLessThan(1e-8); // RK4 at 1 s
      // noise-free: no noise, and the sensor fault on from the file's `at: 0` is not applied
      expect(tr.telemetry.temperature![i]).toBe(tr.states.temp![i]);
      expect(tr.outputs.heatLoss![i]).toBeCloseTo(exact - 20, 8);
      expect(tr.telemetry.loss![i]).toBe(tr.outputs.heatLoss![i]);
      expect(tr.properties.reportedPower![i]).toBe(10);
    });
    expect(tr.units).toMatchObject({
      temp: 'degreeCelsius',
      temperature: 'degreeCelsius',
      heatLoss: 'kelvin',
      loss: 'kelvin',
    });
    // DOPRI5 (adaptive, largest step 60 s) agrees within its tolerance
    const d = byId(await run(w, { twins: ['h1'], horizon: 500, sampleInterval: 50, method: 'dopri5' }), 'h1');
    d.times.forEach((t, i) => expect(Math.abs(d.states.temp![i]! - lag(t, 20, 40))).toBeLessThan(1e-4));
  });

  it('continues exactly where a live snapshot left off (states, inputs, faults on, parameters)', async () => {
    const w = heaterWorld();
    const model = w.heater;
    // The "live" twin: gain 2.5, power 12 from t = 1000, the degradation fault on since t = 1040.
    const rt = model.createRuntime({ gain: 2.5 });
    rt.faultStart.fill(NaN);
    model.applyCommand(rt, 1000, 'setPower', 12);
    const live = createStepper('rk4', model.rhs(rt), 1000, model.initialState(rt), { h: 1 });
    live.advanceTo(1040);
    model.activateFault(rt, 'drifting', 1040);
    live.reset(1040, Float64Array.from(live.y));
    live.advanceTo(1300);
    const snapshot = {
      t: 1300,
      state: Float64Array.from(live.y),
      inputs: Float64Array.from(rt.inputs),
      faultStart: Float64Array.from(rt.faultStart),
      faultHold: Float64Array.from(rt.faultHold),
      parameters: { tau: 100, gain: 2.5, ambient: 20 },
    };
    const before = JSON.stringify(snapshot, (_k, v: unknown) => (v instanceof Float64Array ? [...v] : v));
    w.snapshots.set('h1', { source: 'simulator', snapshot });
    // The live twin goes on: the same stepper, sampled where the fork samples.
    const expected: number[] = [live.y[0]!];
    for (let k = 1; k <= 6; k++) {
      live.advanceTo(1300 + 50 * k);
      expected.push(live.y[0]!);
    }

    const tr = byId(await run(w, { twins: ['h1'], horizon: 300, sampleInterval: 50 }), 'h1');
    expect(tr).toMatchObject({ fork: 'simulator', forkTime: 1300 });
    expect(tr.states.temp).toEqual(expected); // bit for bit
    // the degradation (0.01/s) is really there: without it the twin would settle lower
    expect(tr.states.temp!.at(-1)!).toBeGreaterThan(lag(600, 20, 50) + 0.5);
    // and the snapshot the world handed out is as it was
    expect(JSON.stringify(snapshot, (_k, v: unknown) => (v instanceof Float64Array ? [...v] : v))).toBe(
      before,
    );
  });

  it('changed parameters, inputs, states and timed events change the trajectory as the model says', async () => {
    const w = heaterWorld();
    const base = byId(await run(w, { twins: ['h1'], horizon: 900, sampleInterval: 100 }), 'h1');
    const tr = byId(
      await run(w, {
        twins: ['h1'],
        horizon: 900,
        sampleInterval: 100,
        changes: { h1: { parameters: { gain: 3 }, states: { temp: 50 } } },
        events: [
          { at: 300, twin: 'h1', command: 'setPower', payload: 5 },
          { at: '10min', twin: 'h1', fault: 'stuckHeater' },
          { at: 800, twin: 'h1', fault: 'stuckHeater', off: true },
        ],
      }),
      'h1',
    );
    const temp = tr.states.temp!;
    expect(temp[0]).toBe(50);
    const t300 = lag(300, 50, 50); // 20 + 3·10 = 50: starts at its steady state
    expect(temp[3]).toBeCloseTo(t300, 6);
    const t600 = lag(300, t300, 35); // power 5 → T∞ 35
    expect(temp[6]).toBeCloseTo(t600, 6);
    const t800 = lag(200, t600, 50); // the stuck heater's bias +5 kW → T∞ 50
    expect(temp[8]).toBeCloseTo(t800, 6);
    expect(temp[9]).toBeCloseTo(lag(100, t800, 35), 6);
    // the sample at an event's time shows what changed then (power is an algebraic input)
    expect(tr.properties.reportedPower!.slice(2, 5)).toEqual([10, 5, 5]);
    expect(base.states.temp!.at(-1)).toBeCloseTo(lag(900, 20, 40), 6);
    // an input set at the fork
    const input = byId(
      await run(w, {
        twins: ['h1'],
        horizon: 900,
        sampleInterval: 900,
        changes: { h1: { inputs: { power: 0 } } },
      }),
      'h1',
    );
    expect(input.states.temp!.at(-1)).toBeCloseTo(20, 9);
  });

  it('wires relationship inputs between twins of the run, and holds those of twins outside', async () => {
    const w = heaterWorld();
    w.graph.putTwin(twin('h3', 'dtmi:test:Heater;1', {}, { temperature: 50 }));
    // h1 → h2 inside the run; h3 → h2 from outside (its latest 50, held; aggregate: sum)
    const r = await run(w, { twins: ['h1', 'h2'], horizon: 600, sampleInterval: 60 });
    const h1 = byId(r, 'h1');
    const h2 = byId(r, 'h2');
    // h1 = 40 − 20 e^(−t/τ);  h2' = (40 + 0.1·(h1 + 50) − h2)/τ  ⇒  h2 = 49 + (−29 − 0.02 t) e^(−t/τ)
    h1.times.forEach((t, i) => {
      expect(h1.states.temp![i]).toBeCloseTo(lag(t, 20, 40), 7);
      const exact = 49 + (-29 - 0.02 * t) * Math.exp(-t / 100);
      expect(Math.abs(h2.states.temp![i]! - exact)).toBeLessThan(0.01); // inputs refreshed every 1 s step
    });
    // Were h1's value held at the fork instead, h2 would head for 49 − 0.1·20 = 47 instead of 49.
    expect(h2.states.temp!.at(-1)).toBeGreaterThan(48.5);

    // h2 alone: both feeders are outside the run; h1 has no reading (no value), h3's 50 is held.
    const alone = byId(await run(w, { twins: ['h2'], horizon: '3h', sampleInterval: '1h' }), 'h2');
    expect(alone.states.temp!.at(-1)).toBeCloseTo(45, 6); // 40 + 0.1·50

    // an input set by the request is pinned: no longer re-read from relationships
    const pinned = await run(w, {
      twins: ['h1', 'h2'],
      horizon: '3h',
      sampleInterval: '1h',
      changes: { h2: { inputs: { upstream: 0 } } },
      events: [{ at: '1h', twin: 'h1', command: 'setPower', payload: 0 }],
    });
    expect(byId(pinned, 'h2').states.temp!.at(-1)).toBeCloseTo(40, 6);
  });

  it('runs a subgraph from a root: chains settle along relationships, twins without states run too', async () => {
    const w = heaterWorld();
    const near = plan(w, { root: 'room', depth: 1, horizon: '2h', sampleInterval: '10min' });
    expect(near.twins.map((t) => t.twinId)).toEqual(['h1', 'lamp']); // room has no behaviour; contains → h1, lamp
    const all = plan(w, { root: 'room', horizon: '2h', sampleInterval: '10min' });
    expect(all.twins.map((t) => t.twinId)).toEqual(['h1', 'lamp', 'h2', 'h4']); // every hop, every name
    const chain = await run(w, { root: 'h1', follow: ['feeds'], horizon: '6h', sampleInterval: '1h' });
    expect(chain.twins.map((t) => t.twinId)).toEqual(['h1', 'h2', 'h4']);
    // steady state: h1 40, h2 40 + 0.1·40 = 44 (h3 outside, no reading), h4 40 + 4.4 = 44.4
    expect(byId(chain, 'h4').states.temp!.at(-1)).toBeCloseTo(44.4, 3);
    const lamp = byId(await run(w, { twins: ['lamp'], horizon: 60, sampleInterval: 30 }), 'lamp');
    expect(lamp.telemetry.brightness).toEqual([200, 200, 200]); // 800 lm · level 0.25 (its property)
    expect(lamp.states).toEqual({});
  });

  it('reports increasing progress and stops promptly when cancelled, even inside one long interval', async () => {
    const w = heaterWorld();
    // 3 twins × 30 days at 1 s, one sample at the end: one interval of 7.8 million steps
    const p = plan(w, { twins: ['h1', 'h2', 'h3'], horizon: '30d', sampleInterval: '30d' });
    const abort = new AbortController();
    const progress: number[] = [];
    let yields = 0;
    let abortedAt = 0;
    const running = runWhatIf(p, {
      signal: abort.signal,
      sliceMs: 1,
      yieldNow: async () => {
        if (++yields === 5) {
          abort.abort();
          abortedAt = performance.now();
        }
        await immediate();
      },
      onProgress: (s) => progress.push(s),
    });
    const err = await running.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TwinloopError);
    expect((err as TwinloopError).code).toBe('Conflict');
    expect((err as TwinloopError).message).toMatch(/cancelled/);
    expect(performance.now() - abortedAt).toBeLessThan(200);
    expect(progress.length).toBeGreaterThanOrEqual(5);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThan(progress[i - 1]!);
    expect(progress.at(-1)!).toBeLessThan(30 * 86_400);
    expect(progress[0]).toBeGreaterThan(0);
  });

  it('reads the world only while forking and leaves the live graph and snapshots untouched', async () => {
    const w = heaterWorld();
    w.graph.putTwin(twin('h1', 'dtmi:test:Heater;1', { offset: 3 }, { temperature: 33 }));
    w.snapshots.set('h2', {
      source: 'shadow',
      snapshot: { t: 4000, state: Float64Array.of(41) },
    });
    w.calibrated.set('h3', { gain: 4, unknownParameter: 1 });
    const before = graphJson(w.graph);
    let forked = false;
    const calls: string[] = [];
    // Every reader refuses once the fork is done: the run must not look at the world again.
    const guarded = Object.fromEntries(
      Object.entries(w.world).map(([k, f]) => [
        k,
        (...args: unknown[]) => {
          if (forked) throw new Error(`the run read the world after the fork: ${k}`);
          calls.push(k);
          return (f as (...a: unknown[]) => unknown)(...args);
        },
      ]),
    ) as unknown as WhatIfWorld;
    const p = plan(
      w,
      { root: 'h1', follow: ['feeds'], twins: ['h3'], horizon: '1h', sampleInterval: '10min' },
      guarded,
    );
    forked = true;
    const r = await runWhatIf(p, { yieldNow: immediate });
    expect(calls).toEqual(
      expect.arrayContaining(['modelOf', 'outgoing', 'related', 'latest', 'property', 'snapshot']),
    );
    expect(graphJson(w.graph)).toBe(before);
    expect([...w.snapshots.get('h2')!.snapshot.state]).toEqual([41]);
    // and the fork used what it read: h1 from its latest 33 with offset 3, h2 from the shadow at 4000,
    // h3 with its calibrated gain 4 (T∞ 60)
    expect(byId(r, 'h1').states.temp![0]).toBe(33);
    expect(byId(r, 'h1').states.temp!.at(-1)).toBeCloseTo(lag(3600, 33, 43), 6);
    expect(byId(r, 'h2')).toMatchObject({ fork: 'shadow', forkTime: 4000 });
    expect(byId(r, 'h2').states.temp![0]).toBe(41);
    expect(byId(r, 'h3').states.temp!.at(-1)).toBeCloseTo(lag(3600, 20, 60), 6);
  });

  it('fails with the twin and the time when the model cannot be integrated', async () => {
    const w = heaterWorld();
    const err = await run(w, {
      twins: ['h1'],
      horizon: '1d',
      changes: { h1: { parameters: { tau: -1 } } },
    }).then(
      () => undefined,
      (e: unknown) => e as TwinloopError,
    );
    expect(err?.code).toBe('BadRequest');
    expect(err?.message).toMatch(
      /Twin 'h1' cannot be simulated past [\d.]+ s after the fork: rk4 produced a non-finite state/,
    );
  });
});
