/**
 * What-if runs on a first-order heater model, whose answer is known in closed form:
 * temp(t) = T∞ + (T0 − T∞)·e^(−t/τ), T∞ = ambient + gain·power + 0.1·upstream.
 */
import { describe, expect, it } from 'vitest';
import type { TwinloopError } from '../../core/errors/errors.js';
import { isValidResult, parseDtdl } from '../../core/models/dtdl/parse-dtdl.js';
import type { ModelLookup } from '../../core/models/model-types.js';
import { BehaviourCatalog } from '../behaviour/behaviour-catalog.js';
import { compileBehaviour } from '../behaviour/compile-behaviour.js';
import type { TwinSimSnapshot, WhatIfWorld } from './what-if-types.js';
import { WhatIfService } from './what-if-service.js';

const HEATER = 'dtmi:test:Heater;1';
const dtdl = {
  '@context': 'dtmi:dtdl:context;3',
  '@id': HEATER,
  '@type': 'Interface',
  contents: [
    { '@type': 'Telemetry', name: 'temperature', schema: 'double' },
    { '@type': 'Property', name: 'powerSetpoint', schema: 'double', writable: true },
    { '@type': 'Relationship', name: 'feeds' },
    { '@type': 'Command', name: 'setPower', request: { name: 'kw', schema: 'double' } },
  ],
};
const YAML = `
behaviour: heater
interface: ${HEATER}
parameters:
  tau: { value: 100 }
  gain: { value: 2 }
  ambient: { value: 20 }
inputs:
  power: { command: setPower, default: 10 }
  upstream: { relationship: feeds, direction: incoming, source: temperature, default: 0 }
states:
  temp: { initial: ambient, derivative: '(ambient + gain*power + 0.1*upstream - temp)/tau' }
telemetry:
  temperature: { from: temp, noise: { std: 0.5 } }
faults:
  stuckHeater: { kind: bias, target: power, magnitude: 5, command: injectStuck }
`;

function setup(opts: { snapshot?: Record<string, TwinSimSnapshot>; latest?: Record<string, number> } = {}) {
  const r = parseDtdl([{ source: 'heater.json', text: JSON.stringify(dtdl) }]);
  if (!isValidResult(r)) throw new Error('bad test model');
  const lookup: ModelLookup = { getInterface: (id) => r.interfaces.get(id), isOfModel: (m, b) => m === b };
  const model = compileBehaviour(YAML, lookup.getInterface(HEATER)!, { lookup });
  const catalog = new BehaviourCatalog([{ source: 'heater.yaml', interfaceId: HEATER, model }], lookup);
  const twins: Record<string, string> = { h1: HEATER, h2: HEATER, h3: HEATER, room: 'dtmi:test:Room;1' };
  const rels = [
    { source: 'h1', name: 'feeds', target: 'h2' },
    { source: 'h2', name: 'contains', target: 'room' },
  ];
  const world: WhatIfWorld = {
    modelOf: (id) => twins[id],
    property: () => undefined,
    related: (id, name, dir) =>
      dir === 'outgoing'
        ? rels.filter((x) => x.source === id && x.name === name).map((x) => x.target)
        : rels.filter((x) => x.target === id && x.name === name).map((x) => x.source),
    outgoing: (id) => rels.filter((x) => x.source === id).map((x) => ({ name: x.name, targetId: x.target })),
    latest: (id, name) => opts.latest?.[`${id}.${name}`],
    now: () => 5000,
    snapshot: (id) => {
      const s = opts.snapshot?.[id];
      return s ? { source: 'simulator', snapshot: s } : undefined;
    },
  };
  const service = new WhatIfService({
    catalog,
    world,
    yieldNow: () => new Promise((res) => setImmediate(res)),
  });
  return { service, model };
}

async function run(service: WhatIfService, request: unknown) {
  const job = service.create(request);
  const done = await service.wait(job.id, 20_000);
  expect(done.status).toBe('succeeded');
  return { job: done, result: service.result(job.id) };
}

const exact = (t: number, T0: number, Tinf: number, tau = 100): number =>
  Tinf + (T0 - Tinf) * Math.exp(-t / tau);

describe('what-if runs', () => {
  it('matches the closed form, noise-free, from the model start when the twin is not simulated', async () => {
    const { service } = setup();
    const { job, result } = await run(service, { twins: ['h1'], horizon: '500s', sampleInterval: 50 });
    expect(job.progress).toBe(1);
    const tr = result.twins[0]!;
    expect(tr).toMatchObject({ twinId: 'h1', behaviour: 'heater', fork: 'model', forkTime: 5000 });
    expect(tr.times).toEqual([0, 50, 100, 150, 200, 250, 300, 350, 400, 450, 500]);
    tr.times.forEach((t, i) => {
      expect(tr.telemetry.temperature![i]).toBeCloseTo(exact(t, 20, 40), 6); // RK4 at 1 s: ~1e-9
      expect(tr.states.temp![i]).toBe(tr.telemetry.temperature![i]);
    });
  });

  it('applies changed parameters, inputs and timed events (command, fault on and off)', async () => {
    const { service } = setup();
    const { result } = await run(service, {
      twins: ['h1'],
      horizon: 900,
      sampleInterval: 100,
      changes: { h1: { parameters: { gain: 3 }, states: { temp: 50 } } },
      events: [
        { at: 300, twin: 'h1', command: 'setPower', payload: 5 },
        { at: '10min', twin: 'h1', fault: 'stuckHeater' },
        { at: 800, twin: 'h1', fault: 'stuckHeater', off: true },
      ],
    });
    const temp = result.twins[0]!.telemetry.temperature!;
    const t300 = exact(300, 50, 50); // gain 3·10 + 20 = 50: starts at its steady state
    expect(temp[3]).toBeCloseTo(t300, 6);
    const t600 = exact(300, t300, 35); // power 5 → T∞ 35
    expect(temp[6]).toBeCloseTo(t600, 6);
    const t800 = exact(200, t600, 50); // bias +5 kW → T∞ 50
    expect(temp[8]).toBeCloseTo(t800, 6);
    expect(temp[9]).toBeCloseTo(exact(100, t800, 35), 6);
  });

  it('forks from the live state and continues exactly from it', async () => {
    const { service } = setup({
      snapshot: { h1: { t: 1234, state: Float64Array.of(31), inputs: Float64Array.of(12, 0) } },
    });
    const { result } = await run(service, { twins: ['h1'], horizon: 200, sampleInterval: 100 });
    const tr = result.twins[0]!;
    expect(tr).toMatchObject({ fork: 'simulator', forkTime: 1234 });
    expect(tr.telemetry.temperature).toHaveLength(3);
    expect(tr.telemetry.temperature![0]).toBe(31);
    expect(tr.telemetry.temperature![2]).toBeCloseTo(exact(200, 31, 44), 6); // power 12 from the fork
  });

  it('runs a subgraph: relationship inputs between twins of the run, held values from outside', async () => {
    const { service } = setup({ latest: { 'h1.temperature': 70 } });
    const { job, result } = await run(service, {
      root: 'h1',
      follow: ['feeds', 'contains'],
      horizon: '2h',
      sampleInterval: 600,
    });
    expect(job.twins).toEqual(['h1', 'h2']);
    expect(job.skipped).toEqual([{ twinId: 'room', reason: 'model dtmi:test:Room;1 has no behaviour' }]);
    const [h1, h2] = result.twins;
    // h1 warms from 70 (its latest reading) towards 40; h2 reads h1 inside the run, not the live 70
    expect(h1!.telemetry.temperature![0]).toBe(70);
    expect(h1!.telemetry.temperature!.at(-1)).toBeCloseTo(40, 1);
    expect(h2!.telemetry.temperature!.at(-1)).toBeCloseTo(44, 1); // 20 + 20 + 0.1·40
    // h2 alone: h1 is outside the run, so its latest value (70) is held as h2's upstream input
    const alone = await run(service, { twins: ['h2'], horizon: '2h', sampleInterval: 600 });
    expect(alone.result.twins[0]!.telemetry.temperature!.at(-1)).toBeCloseTo(47, 1); // 20 + 20 + 7
  });

  it('reports progress, and stops a long run when cancelled', async () => {
    const { service } = setup();
    const job = service.create({ twins: ['h1', 'h2', 'h3'], horizon: '30d', sampleInterval: '1h' });
    let seen = 0;
    while (seen === 0) {
      await new Promise((r) => setTimeout(r, 5));
      seen = service.get(job.id).progress;
    }
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(1);
    service.cancel(job.id);
    const done = await service.wait(job.id, 5000);
    expect(done.status).toBe('cancelled');
    expect(done.progress).toBeLessThan(1);
    expect(() => service.result(job.id)).toThrow(/cancelled/);
  });

  it('refuses a bad request with every problem and its pointer, before running anything', () => {
    const { service } = setup();
    const err = (() => {
      try {
        service.create({
          twins: ['h1'],
          horizon: 'soon',
          sampleInterval: -1,
          colour: 'red',
          changes: { h1: { parameters: { tau: 'slow', nope: 1 } } },
          events: [
            { at: 10, twin: 'h1', fault: 'meltdown' },
            { at: 5, twin: 'h1', command: 'setPower', payload: 'high' },
          ],
        });
      } catch (e) {
        return e as TwinloopError;
      }
      throw new Error('expected an error');
    })();
    expect(err.code).toBe('BadRequest');
    expect(err.problems.map((p) => p.pointer).sort()).toEqual(
      [
        '/colour',
        '/horizon',
        '/sampleInterval',
        '/changes/h1/parameters/tau',
        '/changes/h1/parameters/nope',
        '/events/0/fault',
        '/events/1/payload',
      ].sort(),
    );
    expect(err.message).toContain("has no parameter 'nope'");
    expect(() => service.create({ twins: ['ghost'], horizon: 10 })).toThrow(/ghost/);
    expect(() => service.create({ twins: ['room'], horizon: 10 })).toThrow(/no behaviour/);
    expect(service.list()).toEqual([]);
  });
});
