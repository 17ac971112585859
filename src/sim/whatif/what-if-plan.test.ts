/**
 * Checking and forking what-if requests: every problem at once with its pointer, clear limits,
 * which twins run, and where each starts from (parameters, states, inputs, faults).
 */
import { describe, expect, it } from 'vitest';
import type { TwinloopError } from '../../core/errors/errors.js';
import { heaterWorld, twin, type HeaterWorld } from './test-heater.js';
import { DEFAULT_WHAT_IF_LIMITS, planWhatIf, type WhatIfLimits } from './what-if-plan.js';

function plan(w: HeaterWorld, request: unknown, limits: Partial<WhatIfLimits> = {}) {
  return planWhatIf(request, {
    catalog: w.catalog,
    world: w.world,
    limits: { ...DEFAULT_WHAT_IF_LIMITS, ...limits },
  });
}

function refusal(f: () => unknown): TwinloopError {
  try {
    f();
  } catch (e) {
    return e as TwinloopError;
  }
  throw new Error('expected the request to be refused');
}

const param = (p: ReturnType<typeof plan>, i: number, name: string): number => {
  const tw = p.plan.twins[i]!;
  return tw.rt.frame[tw.model.layout.slots.get(name)!]!;
};

describe('what-if plans', () => {
  it('parses horizons and intervals with units, and fills in the defaults', () => {
    const w = heaterWorld();
    expect(plan(w, { twins: ['h1'], horizon: '90min' }).plan).toMatchObject({
      horizon: 5400,
      sampleInterval: 10.8, // horizon / 500
      method: 'rk4',
      step: 1,
    });
    expect(plan(w, { twins: ['h1'], horizon: '24h', sampleInterval: '15min' }).plan).toMatchObject({
      horizon: 86_400,
      sampleInterval: 900,
    });
    expect(plan(w, { twins: ['h1'], horizon: '7d', method: 'dopri5' }).plan).toMatchObject({
      horizon: 604_800,
      method: 'dopri5',
      step: 60,
    });
    expect(plan(w, { twins: ['h1'], horizon: 30 }).plan.sampleInterval).toBe(1); // never below the step
  });

  it('refuses a bad request with every problem and its pointer, listing what exists', () => {
    const w = heaterWorld();
    const err = refusal(() =>
      plan(w, {
        twins: ['h1'],
        horizon: 'soon',
        sampleInterval: -1,
        method: 'euler',
        colour: 'red',
        changes: {
          h1: { parameters: { tau: 'slow', nope: 1 }, inputs: { wave: 1 }, states: { heat: 1 }, extra: {} },
          h9: { parameters: { tau: 1 } },
        },
        events: [
          { at: 10, twin: 'h1', fault: 'meltdown' },
          { at: 5, twin: 'h1', command: 'setPower', payload: 'high' },
          { at: 5, twin: 'h1', command: 'explode' },
          { at: 'later', twin: 'h1', input: 'power' },
          { at: 1, twin: 'h7', fault: 'drifting' },
          { at: 1, twin: 'h1', fault: 'drifting', input: 'power', value: 1 },
        ],
      }),
    );
    expect(err.code).toBe('BadRequest');
    expect(err.problems.map((p) => p.pointer).sort()).toEqual(
      [
        '/colour',
        '/horizon',
        '/sampleInterval',
        '/method',
        '/changes/h1/parameters/tau',
        '/changes/h1/parameters/nope',
        '/changes/h1/inputs/wave',
        '/changes/h1/states/heat',
        '/changes/h1/extra',
        '/changes/h9',
        '/events/0/fault',
        '/events/1/payload',
        '/events/2/command',
        '/events/3/at',
        '/events/3/value',
        '/events/4/twin',
        '/events/5',
      ].sort(),
    );
    const msg = (pointer: string): string => err.problems.find((p) => p.pointer === pointer)!.message;
    expect(msg('/changes/h1/parameters/nope')).toBe(
      "Behaviour 'heater' has no parameter 'nope' (it has: tau, gain, ambient).",
    );
    expect(msg('/changes/h1/inputs/wave')).toMatch(
      /follows a schedule .* \(settable: power, offset, upstream\)/,
    );
    expect(msg('/changes/h1/states/heat')).toMatch(/has no state 'heat' \(it has: temp\)/);
    expect(msg('/events/0/fault')).toMatch(/it has: stuckHeater, drifting, noisyProbe/);
    expect(msg('/events/2/command')).toMatch(/it handles: setPower, injectStuck/);
    expect(msg('/events/1/payload')).toMatch(/needs a number or boolean/);
    expect(err.message).toContain('/horizon:');
  });

  it('answers NotFound for an unknown twin or root, and BadRequest naming the model for one without behaviour', () => {
    const w = heaterWorld();
    const ghost = refusal(() => plan(w, { twins: ['h1', 'ghost'], horizon: 10 }));
    expect(ghost.code).toBe('DigitalTwinNotFound');
    expect(ghost.message).toContain("'ghost'");
    expect(refusal(() => plan(w, { root: 'nowhere', horizon: 10 })).code).toBe('DigitalTwinNotFound');
    const room = refusal(() => plan(w, { twins: ['h1', 'room'], horizon: 10 }));
    expect(room.code).toBe('BadRequest');
    expect(room.problems[0]).toMatchObject({
      pointer: '/twins/1',
      code: 'whatif.noBehaviour',
      message: "Twin 'room' (model dtmi:test:Room;1) has no behaviour model to simulate it.",
    });
    expect(refusal(() => plan(w, { horizon: 10 })).problems[0]!.message).toMatch(/Name the twins to run/);
    // reached from a root, a twin without behaviour is skipped, not refused
    const fromRoot = plan(w, { root: 'room', follow: ['contains'], horizon: 10 });
    expect(fromRoot.plan.twins.map((t) => t.twinId)).toEqual(['h1', 'lamp']);
    expect(fromRoot.skipped).toEqual([{ twinId: 'room', reason: 'model dtmi:test:Room;1 has no behaviour' }]);
    // follow + depth
    expect(
      plan(w, { root: 'h1', follow: ['feeds'], depth: 1, horizon: 10 }).plan.twins.map((t) => t.twinId),
    ).toEqual(['h1', 'h2']);
  });

  it('states its limits and how to change the request', () => {
    const w = heaterWorld();
    const twins = refusal(() => plan(w, { twins: ['h1', 'h2', 'h3'], horizon: 10 }, { maxTwins: 2 }));
    expect(twins.problems[0]).toMatchObject({ pointer: '/twins', code: 'whatif.limit' });
    expect(twins.problems[0]!.message).toBe(
      "3 twins to simulate; a run has at most 2: list fewer 'twins', or narrow 'follow' or 'depth'.",
    );
    const samples = refusal(() => plan(w, { twins: ['h1', 'h2', 'h3'], horizon: '1d', sampleInterval: 1 }));
    expect(samples.problems[0]!.pointer).toBe('/sampleInterval');
    expect(samples.problems[0]!.message).toMatch(
      /86401 samples per twin × 3 twins = 259203; a run keeps at most 250000: take a 'sampleInterval' of at least 2 s, or fewer twins/,
    );
    const steps = refusal(() =>
      plan(w, { twins: ['h1'], horizon: '100d', sampleInterval: '1d' }, { maxSteps: 1e6 }),
    );
    expect(steps.problems[0]!.pointer).toBe('/step');
    expect(steps.problems[0]!.message).toMatch(
      /8640000 solver steps .* at most 1000000: take a 'step' of at least 9 s/,
    );
    const horizon = refusal(() => plan(w, { twins: ['h1'], horizon: '400d' }));
    expect(horizon.problems[0]!.message).toMatch(/at most 31622400 s \(366 days\): split it/);
  });

  it('forks parameters as model < calibration < live snapshot < request, and states and inputs likewise', () => {
    const w = heaterWorld();
    w.calibrated.set('h1', { gain: 3, tau: 50 });
    w.calibrated.set('h2', { gain: 3, tau: 50 });
    w.snapshots.set('h2', {
      source: 'simulator',
      snapshot: {
        t: 777,
        state: Float64Array.of(30),
        inputs: Float64Array.of(7, 0, 0, 0),
        faultStart: Float64Array.of(NaN, 700, NaN),
        faultHold: Float64Array.of(NaN, NaN, NaN),
        parameters: { tau: 80, gain: 3.5, ambient: 20 },
      },
    });
    w.graph.putTwin(twin('h1', 'dtmi:test:Heater;1', { offset: 2 }, { temperature: 25 }));
    const p = plan(w, {
      twins: ['h1', 'h2'],
      horizon: 10,
      changes: {
        '*': { parameters: { ambient: 15 } },
        h2: { parameters: { tau: 90 }, states: { temp: 31 } },
      },
    });
    const [h1, h2] = p.plan.twins;
    expect([param(p, 0, 'tau'), param(p, 0, 'gain'), param(p, 0, 'ambient')]).toEqual([50, 3, 15]);
    expect([param(p, 1, 'tau'), param(p, 1, 'gain'), param(p, 1, 'ambient')]).toEqual([90, 3.5, 15]);
    // h1 forks from its model: the temperature reading sets the state it maps; its property sets `offset`
    expect(h1).toMatchObject({ fork: 'model', forkTime: 5000 });
    expect([...h1!.y0]).toEqual([25]);
    expect(h1!.rt.inputs[1]).toBe(2);
    expect([...h1!.rt.faultStart].every(Number.isNaN)).toBe(true); // the file's `at` faults are not carried over
    // h2 forks from the simulator: its state (then the request's), inputs and the fault it has on
    expect(h2).toMatchObject({ fork: 'simulator', forkTime: 777 });
    expect([...h2!.y0]).toEqual([31]);
    expect(h2!.rt.inputs[0]).toBe(7);
    expect(h2!.rt.faultStart[1]).toBe(700);
    // a snapshot that does not fit the behaviour (another version of it) is not used
    w.snapshots.set('h3', { source: 'shadow', snapshot: { t: 1, state: Float64Array.of(1, 2) } });
    expect(plan(w, { twins: ['h3'], horizon: 10 }).plan.twins[0]).toMatchObject({
      fork: 'model',
      forkTime: 5000,
    });
  });
});
