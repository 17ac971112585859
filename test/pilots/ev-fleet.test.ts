/**
 * The ev-fleet pilot behaves like electric cars: three simulated days of its generated fleet (the
 * scenario's 8 cars, wired to their wallboxes through `chargesAt`), checked against physics and
 * everyday experience — energy per km, state of charge falling while driving and rising while plugged
 * in up to the charge limit, a slower wallbox charging slower, the pack temperature in a sane band,
 * and cells ageing slowly, faster with the degradation fault.
 */
import { describe, expect, it } from 'vitest';
import { pilotWorkspace } from '../../src/app/pilot-workspace.js';
import { createFleetRunner, type ReadingSet } from '../../src/sim/runner/fleet-runner.js';

const VEHICLE = 'dtmi:twinloop:evfleet:Vehicle;1';
const DAY = 86_400;
const HOUR = 3600;

const ws = await pilotWorkspace('ev-fleet');

function simulate(days: number, setup?: (r: ReturnType<typeof createFleetRunner>) => void) {
  const entry = ws.catalog.forModel(VEHICLE);
  if (!entry) throw new Error('no vehicle behaviour');
  const cars = [...ws.twins].filter((t) => t.modelId === VEHICLE).map((t) => t.id);
  const world = ws.world!;
  const readings = new Map<string, ReadingSet[]>(cars.map((c) => [c, []]));
  const runner = createFleetRunner({
    model: entry.model,
    assets: cars.map((id) => ({ id })),
    sampleInterval: 60,
    seed: 7,
    sink: (r) => readings.get(r.assetId)?.push(r),
    relationships: (id, input) => {
      const src = input.source;
      if (src.kind !== 'relationship') return [];
      return world
        .related(id, src.relationship, src.direction)
        .map((t) => world.latest(t, src.source))
        .filter((v): v is number => typeof v === 'number');
    },
  });
  for (const id of cars) runner.setInput(id, 'chargeLimit', Number(world.property(id, 'chargeLimit')));
  setup?.(runner);
  runner.advanceTo(days * DAY);
  const at = (id: string, t: number): Record<string, number | boolean> => {
    const r = readings.get(id)!.find((x) => x.time >= t);
    if (!r) throw new Error(`no reading of ${id} at ${t}`);
    return r.values;
  };
  return { cars, runner, readings, at, model: entry.model };
}

describe('the ev-fleet pilot', () => {
  const run = simulate(3, (r) => r.activateFault('ev-003', 'cellDegradation', 2 * HOUR));
  const num = (v: number | boolean | undefined): number => v as number;

  it('generates the scenario fleet, wired to the wallboxes', () => {
    expect(run.cars).toEqual([
      'ev-001',
      'ev-002',
      'ev-003',
      'ev-004',
      'ev-005',
      'ev-006',
      'ev-007',
      'ev-008',
    ]);
    expect(ws.world!.related('ev-001', 'chargesAt', 'outgoing')).toEqual(['station-home-a']);
    expect(ws.world!.related('ev-002', 'chargesAt', 'outgoing')).toEqual(['station-home-b']);
    expect(ws.world!.related('ev-002', 'hasVehicle', 'incoming')).toEqual(['fleet-lyon']);
  });

  it('uses a realistic amount of energy per km, and drains while driving', () => {
    for (const id of ['ev-001', 'ev-002']) {
      // Day 2, 07:00 (unplugged, full) to 18:30 (plugged in again): driving only.
      const a = run.at(id, DAY + 7 * HOUR);
      const b = run.at(id, DAY + 18.5 * HOUR);
      const km = num(b.odometer) - num(a.odometer);
      const kwh = ((num(a.stateOfCharge) - num(b.stateOfCharge)) / 100) * 60;
      expect(km).toBeGreaterThan(80);
      expect(km).toBeLessThan(160);
      expect(kwh / km).toBeGreaterThan(0.12);
      expect(kwh / km).toBeLessThan(0.25);
      expect(num(run.at(id, DAY + 8.3 * HOUR).stateOfCharge)).toBeLessThan(
        num(run.at(id, DAY + 7.4 * HOUR).stateOfCharge) - 5,
      );
    }
  });

  it('charges when plugged in, up to the charge limit, slower at the 7.4 kW wallbox', () => {
    const rise = (id: string) =>
      num(run.at(id, DAY + 20 * HOUR).stateOfCharge) - num(run.at(id, DAY + 19 * HOUR).stateOfCharge);
    expect(run.at('ev-001', DAY + 19.5 * HOUR).charging).toBe(true);
    expect(run.at('ev-001', DAY + 12 * HOUR).charging).toBe(false);
    const fast = rise('ev-001'); // 11 kW · 0.92 for an hour ≈ 17 % of 60 kWh
    const slow = rise('ev-002'); // 7.4 kW
    expect(fast).toBeGreaterThan(14);
    expect(fast).toBeLessThan(19);
    expect(slow / fast).toBeCloseTo(7.4 / 11, 1);
    for (const id of run.cars) {
      const socs = run.readings.get(id)!.map((r) => num(r.values.stateOfCharge));
      expect(Math.min(...socs)).toBeGreaterThan(0);
      expect(Math.max(...socs)).toBeLessThan(90.6); // the charge limit (plus sensor noise)
      expect(num(run.at(id, 2 * DAY + 6.9 * HOUR).stateOfCharge)).toBeGreaterThan(85); // full again by morning
    }
  });

  it('keeps the pack temperature in a sane band and reports motor power both ways', () => {
    const rs = run.readings.get('ev-004')!;
    const temps = rs.map((r) => num(r.values.batteryTemperature));
    expect(Math.min(...temps)).toBeGreaterThan(0);
    expect(Math.max(...temps)).toBeLessThan(45);
    const power = rs.map((r) => num(r.values.motorPower));
    expect(Math.max(...power)).toBeGreaterThan(15); // accelerating onto the highway
    expect(Math.min(...power)).toBeLessThan(-0.5); // regenerative braking (sampled once a minute)
    const speeds = rs.map((r) => num(r.values.speed));
    expect(Math.max(...speeds)).toBeGreaterThan(110);
    expect(Math.min(...speeds)).toBeGreaterThanOrEqual(0);
    expect(typeof rs[0]!.values.charging).toBe('boolean');
  });

  it('ages its cells slowly, and faster with the degradation fault', () => {
    const soh = (id: string) => num(run.at(id, 3 * DAY - 60).stateOfHealth);
    const healthyLoss = 100 - soh('ev-001');
    const faultyLoss = 100 - soh('ev-003');
    expect(healthyLoss).toBeGreaterThan(0.01); // ~0.03 %/day: a few % a year
    expect(healthyLoss).toBeLessThan(0.2);
    expect(faultyLoss).toBeGreaterThan(5 * healthyLoss);
    const fade = run.model.layout.states.indexOf('fade');
    expect(run.runner.state('ev-003')[fade]!).toBeGreaterThan(run.runner.state('ev-001')[fade]!);
  });
});
