/**
 * The batched fleet (structure of arrays) and the asset-by-asset fleet give the same trajectories:
 * the pump-line pump behaviour with parameter spread, a relationship input, commands at and between
 * ticks, a fault, sampling — compared state by state after two simulated hours.
 */
import { describe, expect, it } from 'vitest';
import { pilotBehaviour } from '../../../test/support/pilot-behaviour.js';
import { createFleetRunner, type ReadingSet } from './fleet-runner.js';

const model = pilotBehaviour('pump-line', 'pump.behaviour.yaml', 'dtmi:twinloop:pumpline:Pump;1');
const ids = Array.from({ length: 12 }, (_, i) => `p${i}`);

function run(batch: boolean) {
  const readings: ReadingSet[] = [];
  const runner = createFleetRunner({
    model,
    assets: ids.map((id) => ({ id })),
    batch,
    seed: 5,
    sampleInterval: 600,
    variation: { wearRate: 0.3, motorCooling: 0.1, frictionLoss: 0.1 },
    sink: (r) => readings.push(r),
    // p(i) is fed by p(i-1): its inlet pressure is the upstream discharge pressure
    relationships: (id, input) => {
      const i = ids.indexOf(id);
      if (input.name !== 'inletPressure' || i === 0) return [];
      const up = readings.filter((r) => r.assetId === ids[i - 1]).at(-1);
      return up ? [up.values.dischargePressure as number] : [];
    },
    relationshipEvery: 60,
  });
  runner.command('p1', 'setRunning', false, 1800.5); // between ticks
  runner.command('p2', 'injectBearingDamage', undefined, 600);
  runner.advanceTo(3600);
  runner.setInput('p3', 'setpoint', 20); // now, stays batched
  runner.command('p4', 'injectCavitation'); // now, a fault: leaves the batch
  runner.advanceTo(7200);
  return { runner, readings };
}

describe('batched RK4 fleet', () => {
  it('matches the asset-by-asset fleet to rounding', () => {
    const a = run(true);
    const b = run(false);
    for (const id of ids) {
      const x = a.runner.state(id);
      const y = b.runner.state(id);
      x.forEach((v, s) => expect(v).toBeCloseTo(y[s]!, 9));
    }
    // same steps; a lone stepper spends a few more evaluations restarting after input changes
    expect(a.runner.stats().assetSteps).toBe(b.runner.stats().assetSteps);
    expect(a.readings.map((r) => r.values)).toEqual(b.readings.map((r) => r.values)); // same noise draws too
    // and the actions did something: p1 stopped, p2 worn, p3 throttled
    const last = (id: string) => a.readings.filter((r) => r.assetId === id).at(-1)!.values;
    expect(last('p1').running).toBe(false);
    expect(a.runner.state('p2')[2]!).toBeGreaterThan(10 * a.runner.state('p5')[2]!);
    expect(last('p3').flow as number).toBeLessThan(21);
  });

  it('names the asset whose state stops being finite', () => {
    const runner = createFleetRunner({ model, assets: [{ id: 'ok' }, { id: 'bad' }], batch: true });
    // A huge heat capacity of 0 makes the temperature derivative infinite for one asset only.
    const bad = createFleetRunner({
      model,
      assets: [{ id: 'ok' }, { id: 'bad', parameters: { motorHeatCapacity: 0 } }],
      batch: true,
    });
    runner.advanceTo(10);
    expect(() => bad.advanceTo(10)).toThrow(/Asset 'bad'/);
  });
});
