/**
 * The ev-fleet pilot (pilots/ev-fleet) as the device simulator plays it: its models, twins, generated
 * cars, behaviours and scenario checked against one another; then three simulated days of the whole
 * pilot — cars, charging stations and the fleet, wired through their relationships, the scenario's
 * events applied — on a virtual clock at the scenario's speed, checked against physics and everyday
 * experience: energy per km, state of charge falling while driving and rising while charging and
 * never leaving [0, 100], the pack temperature in a sane band, cells ageing slowly and faster with
 * the degradation fault, sensor faults showing only in the readings, and every reading valid for
 * its DTDL telemetry.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { isValidResult, parseDtdl } from '../../core/models/dtdl/parse-dtdl.js';
import type { ModelLookup } from '../../core/models/model-types.js';
import { validateValue } from '../../core/models/validate-value.js';
import { checkTwinContents } from '../../core/twins/twin-validation.js';
import { VirtualClock } from '../runner/clock.js';
import { createFleetRunner, type FleetRunner, type ReadingSet } from '../runner/fleet-runner.js';
import { expandScenarioAssets } from '../scenario/expand-assets.js';
import { readScenario } from '../scenario/read-scenario.js';
import { checkScenario, resolveScenarioEvents, scheduleScenarioEvent } from '../scenario/scenario-events.js';
import { compileBehaviour, validateBehaviour, type CompiledBehaviour } from './compile-behaviour.js';

const DIR = join(import.meta.dirname, '../../../pilots/ev-fleet');
const VEHICLE = 'dtmi:twinloop:evfleet:Vehicle;1';
const STATION = 'dtmi:twinloop:evfleet:ChargingStation;1';
const FLEET = 'dtmi:twinloop:evfleet:Fleet;1';
const HOUR = 3600;
const DAY = 86_400;
const DAYS = 3;

// ---- the pilot's files, read as the platform reads them ----

const modelFiles = readdirSync(join(DIR, 'models')).filter((f) => f.endsWith('.json'));
const parsed = parseDtdl(
  modelFiles.map((f) => ({ source: f, text: readFileSync(join(DIR, 'models', f), 'utf8') })),
);
const lookup: ModelLookup = {
  getInterface: (id) => parsed.interfaces.get(id),
  isOfModel: (m, b) => m === b || (parsed.interfaces.get(m)?.ancestors.includes(b) ?? false),
};
const graph = JSON.parse(readFileSync(join(DIR, 'twins.json'), 'utf8')) as {
  twins: Record<string, unknown>[];
  relationships: Record<string, unknown>[];
};
const scenarioFile = join(DIR, 'scenario.yaml');
const read = readScenario(readFileSync(scenarioFile, 'utf8'), scenarioFile);
const scenario = read.scenario!;
const generated = expandScenarioAssets(scenario);
const allTwins = [...graph.twins, ...generated.twins];
const allRels = [...graph.relationships, ...generated.relationships];
const twins = allTwins.map((t) => ({
  id: String(t.$dtId),
  modelId: String((t.$metadata as { $model: string }).$model),
}));
const behaviourFiles = readdirSync(join(DIR, 'behaviours')).filter((f) => f.endsWith('.yaml'));
const behaviourTexts = behaviourFiles.map((f) => {
  const text = readFileSync(join(DIR, 'behaviours', f), 'utf8');
  return { file: f, text, interfaceId: String((parseYaml(text) as { interface: unknown }).interface) };
});
const compiled = new Map<string, CompiledBehaviour>(
  behaviourTexts.map((b) => [
    b.interfaceId,
    compileBehaviour(b.text, parsed.interfaces.get(b.interfaceId)!, { source: b.file, lookup }),
  ]),
);
const idsOf = (model: string) => twins.filter((t) => t.modelId === model).map((t) => t.id);
const CARS = idsOf(VEHICLE);

/** Related twins by (twin, relationship, direction), computed once. */
const related = new Map<string, string[]>();
for (const r of allRels) {
  const out = `${String(r.$sourceId)} ${String(r.$relationshipName)} outgoing`;
  const inc = `${String(r.$targetId)} ${String(r.$relationshipName)} incoming`;
  related.set(out, [...(related.get(out) ?? []), String(r.$targetId)]);
  related.set(inc, [...(related.get(inc) ?? []), String(r.$sourceId)]);
}
const relatedTo = (id: string, name: string, dir: string): string[] =>
  related.get(`${id} ${name} ${dir}`) ?? [];
const property = (id: string, name: string): unknown => allTwins.find((t) => t.$dtId === id)?.[name];

// ---- playing the pilot: one fleet runner per behaviour, one virtual clock ----

interface Play {
  runners: Map<string, FleetRunner>;
  readings: Map<string, ReadingSet[]>;
  model: (id: string) => CompiledBehaviour;
}

/**
 * Plays the pilot (or only the twins `only`) for `days` on a virtual clock at the scenario's speed:
 * relationship inputs read the related twins' latest readings (or their properties), property
 * inputs start from the twins' properties, and `setup` schedules events (the scenario's by default).
 */
function play(days: number, setup: (p: Play) => void = applyScenario, only?: readonly string[]): Play {
  const speed = scenario.simulation.speed ?? 1;
  const sampleInterval = scenario.simulation.sampleInterval ?? 10;
  const clock = new VirtualClock();
  const latest = new Map<string, Record<string, number | boolean>>();
  const readings = new Map<string, ReadingSet[]>();
  const runners = new Map<string, FleetRunner>();
  const modelOf = new Map<string, CompiledBehaviour>();
  for (const [interfaceId, model] of compiled) {
    const ids = idsOf(interfaceId).filter((id) => !only || only.includes(id));
    if (ids.length === 0) continue;
    for (const id of ids) readings.set(id, []);
    for (const id of ids) modelOf.set(id, model);
    const runner = createFleetRunner({
      model,
      assets: ids.map((id) => ({ id })),
      sampleInterval,
      seed: scenario.simulation.seed ?? 1,
      clock,
      speed,
      timerMs: (sampleInterval * 1000) / speed,
      relationshipEvery: sampleInterval,
      sink: (r) => {
        readings.get(r.assetId)!.push(r);
        latest.set(r.assetId, { ...latest.get(r.assetId), ...r.values });
      },
      relationships: (id, input) => {
        const src = input.source;
        if (src.kind !== 'relationship') return [];
        return relatedTo(id, src.relationship, src.direction).flatMap((other) => {
          const v = latest.get(other)?.[src.source] ?? property(other, src.source);
          return typeof v === 'number' ? [v] : typeof v === 'boolean' ? [v ? 1 : 0] : [];
        });
      },
    });
    for (const input of model.spec.inputs)
      if (input.source.kind === 'property')
        for (const id of ids) {
          const v = property(id, input.source.property);
          if (typeof v === 'number') runner.setInput(id, input.name, v);
        }
    runners.set(interfaceId, runner);
  }
  const p: Play = { runners, readings, model: (id) => modelOf.get(id)! };
  setup(p);
  for (const r of runners.values()) r.start(days * DAY);
  clock.advance(((days * DAY) / speed) * 1000 + 1000);
  for (const r of runners.values()) expect(r.t).toBe(days * DAY);
  return p;
}

/** The scenario's events, scheduled as the device simulator schedules them. */
function applyScenario(p: Play): void {
  for (const e of resolveScenarioEvents(scenario, twins, lookup.isOfModel)) {
    const runner = p.runners.get(twins.find((t) => t.id === e.twin)!.modelId)!;
    scheduleScenarioEvent(runner, e);
  }
}

const num = (v: number | boolean | undefined): number => {
  if (typeof v !== 'number') throw new Error(`not a number: ${String(v)}`);
  return v;
};

/** The reading of `id` at simulated time t (the first at or after it). */
function at(p: Play, id: string, t: number): Record<string, number | boolean> {
  const r = p.readings.get(id)!.find((x) => x.time >= t);
  if (!r) throw new Error(`no reading of ${id} at ${t}`);
  return r.values;
}

const stateOf = (p: Play, id: string, name: string): number =>
  p.runners.get(VEHICLE)!.state(id)[p.model(id).layout.states.indexOf(name)]!;

// ---- the checks ----

describe('the ev-fleet pilot files', () => {
  it('parse: models, twins and generated cars, relationships, behaviours and scenario', () => {
    expect(parsed.problems).toEqual([]);
    expect(isValidResult(parsed)).toBe(true);
    expect(read.problems).toEqual([]);
    expect(CARS).toEqual(['ev-001', 'ev-002', 'ev-003', 'ev-004', 'ev-005', 'ev-006', 'ev-007', 'ev-008']);
    expect(idsOf(STATION)).toHaveLength(3);
    expect(idsOf(FLEET)).toEqual(['fleet-lyon']);
    expect(String(property('ev-008', 'vin'))).toMatch(/^[A-HJ-NPR-Z0-9]{17}$/); // a VIN: 17, no I, O, Q
    for (const t of allTwins) {
      const iface = parsed.interfaces.get(String((t.$metadata as { $model: string }).$model));
      expect(iface, String(t.$dtId)).toBeDefined();
      const contents = Object.fromEntries(Object.entries(t).filter(([k]) => !k.startsWith('$')));
      expect(
        checkTwinContents(iface!, contents, lookup, { requireComponents: true }),
        String(t.$dtId),
      ).toEqual([]);
    }
    for (const r of allRels) {
      const source = twins.find((t) => t.id === r.$sourceId);
      const target = twins.find((t) => t.id === r.$targetId);
      expect(source && target, JSON.stringify(r)).toBeTruthy();
      const rel = parsed.interfaces.get(source!.modelId)!.contents.get(String(r.$relationshipName));
      expect(rel?.kind, JSON.stringify(r)).toBe('Relationship');
      if (rel?.kind === 'Relationship' && rel.target)
        expect(lookup.isOfModel(target!.modelId, rel.target)).toBe(true);
    }
    expect(relatedTo('ev-001', 'chargesAt', 'outgoing')).toEqual(['station-home-a']);
    expect(relatedTo('ev-002', 'chargesAt', 'outgoing')).toEqual(['station-home-b']);
    expect(relatedTo('fleet-lyon', 'hasVehicle', 'outgoing')).toEqual(CARS);
  });

  it('compile every behaviour against the pilot models without a problem or warning', () => {
    expect(behaviourTexts.map((b) => b.interfaceId).sort()).toEqual([STATION, FLEET, VEHICLE].sort());
    for (const b of behaviourTexts) {
      const iface = parsed.interfaces.get(b.interfaceId)!;
      expect(validateBehaviour(b.text, iface, { source: b.file, lookup }).problems, b.file).toEqual([]);
    }
  });

  it('have a scenario whose events its twins can play, and whose assets scale with --assets', () => {
    expect(
      checkScenario(scenario, {
        twins,
        isOfModel: lookup.isOfModel,
        behaviourOf: (m) => compiled.get(m),
        modelExists: (m) => parsed.interfaces.has(m),
      }),
    ).toEqual([]);
    expect(scenario.simulation).toEqual({ speed: 120, sampleInterval: 30, seed: 7 });
    const big = expandScenarioAssets(scenario, 500);
    expect(big.twins).toHaveLength(500);
    expect(big.twins.at(-1)?.$dtId).toBe('ev-500');
    expect(big.relationships.filter((r) => r.$sourceId === 'fleet-lyon')).toHaveLength(500);
  });
});

describe('three simulated days of the ev-fleet pilot, its scenario playing', () => {
  const p = play(DAYS);
  const healthy = CARS.filter((c) => !['ev-003', 'ev-005', 'ev-006', 'ev-007'].includes(c));

  it('sends readings that are valid telemetry of each twin’s model: every one, with the right types', () => {
    for (const t of twins) {
      const iface = parsed.interfaces.get(t.modelId)!;
      const telemetry = [...iface.contents.values()].filter((c) => c.kind === 'Telemetry');
      const rs = p.readings.get(t.id)!;
      expect(rs).toHaveLength((DAYS * DAY) / 30 + 1);
      const names = telemetry.map((c) => c.name).sort();
      rs.forEach((r, i) => {
        // nothing withheld as not a number, but the fleet's figures before its cars' first readings
        // reach it (relationship inputs are read every sample: from the third sample on)
        expect(r.invalid).toEqual(
          t.id === 'fleet-lyon' && r.time < 60
            ? ['averageStateOfCharge', 'lowestStateOfCharge', 'lowestStateOfHealth']
            : [],
        );
        // every telemetry of the model, except what a dropout or that withholds
        const sent = Object.keys(r.values).sort();
        expect(sent).toEqual(names.filter((n) => !r.dropped.includes(n) && !r.invalid.includes(n)));
        // each value valid for its schema (the DTDL validator is slow: every 10 simulated minutes)
        if (i % 20 !== 0 && !r.dropped.length && !r.invalid.length) return;
        for (const [name, value] of Object.entries(r.values)) {
          const c = iface.contents.get(name);
          if (c?.kind !== 'Telemetry') throw new Error(`${name} is not telemetry`);
          expect(validateValue(c.schema, value, `/${name}`), `${t.id}.${name} = ${value}`).toEqual([]);
        }
      });
    }
    expect(typeof at(p, 'ev-001', 0).charging).toBe('boolean');
    expect(Number.isInteger(at(p, 'station-home-a', 20 * HOUR).activeSessions)).toBe(true);
  });

  it('keeps the state of charge in [0, 100]: falling while driving, rising while charging', () => {
    for (const id of CARS) {
      const rs = p.readings.get(id)!;
      for (const r of rs) {
        expect(num(r.values.stateOfCharge)).toBeGreaterThanOrEqual(0);
        expect(num(r.values.stateOfCharge)).toBeLessThanOrEqual(90.5); // the charge limit, plus sensor noise
      }
      if (id === 'ev-006') continue; // its gauge is stuck from 26 h
      for (let day = 0; day < DAYS; day++) {
        const before = num(at(p, id, day * DAY + 7.4 * HOUR).stateOfCharge);
        const after = num(at(p, id, day * DAY + 8.3 * HOUR).stateOfCharge);
        expect(after, `${id} day ${day}: the morning commute`).toBeLessThan(before - 8);
      }
      // over every half hour spent charging, the charge rises; over every half hour driving, it falls
      let charging = 0;
      let driving = 0;
      for (let i = 60; i < rs.length; i++) {
        const a = rs[i - 60]!.values;
        const b = rs[i]!.values;
        const window = rs.slice(i - 60, i + 1);
        if (num(a.stateOfCharge) < 80 && window.every((r) => r.values.charging === true)) {
          expect(num(b.stateOfCharge)).toBeGreaterThan(num(a.stateOfCharge) + 2);
          charging++;
        }
        if (window.every((r) => num(r.values.speed ?? 0) > 20)) {
          expect(num(b.stateOfCharge)).toBeLessThan(num(a.stateOfCharge) - 2);
          driving++;
        }
      }
      expect(charging, id).toBeGreaterThan(30);
      expect(driving, id).toBeGreaterThan(3);
    }
  });

  it('uses 0.12–0.25 kWh per km, and charges at the power of its station', () => {
    for (const id of [...healthy, 'ev-003']) {
      for (let day = 0; day < DAYS; day++) {
        // 07:00 (unplugged) to 18:30 (plugged in again): driving only
        const a = at(p, id, day * DAY + 7 * HOUR);
        const b = at(p, id, day * DAY + 18.4 * HOUR);
        const km = num(b.odometer) - num(a.odometer);
        const capacity = (60 * num(b.stateOfHealth)) / 100;
        const kwh = ((num(a.stateOfCharge) - num(b.stateOfCharge)) / 100) * capacity;
        expect(km).toBeGreaterThan(100);
        expect(km).toBeLessThan(160);
        expect(kwh / km, `${id} day ${day}`).toBeGreaterThan(0.12);
        expect(kwh / km, `${id} day ${day}`).toBeLessThan(0.25);
      }
    }
    const rise = (id: string) =>
      num(at(p, id, DAY + 20 * HOUR).stateOfCharge) - num(at(p, id, DAY + 19 * HOUR).stateOfCharge);
    expect(num(at(p, 'ev-001', DAY + 19.5 * HOUR).chargingPower)).toBeCloseTo(11, 1);
    expect(num(at(p, 'ev-002', DAY + 19.5 * HOUR).chargingPower)).toBeCloseTo(7.4, 1);
    expect(rise('ev-001')).toBeCloseTo(((11 * 0.92) / 60) * 100, 0); // ≈ 17 % an hour
    expect(rise('ev-002') / rise('ev-001')).toBeCloseTo(7.4 / 11, 1);
    const power = p.readings.get('ev-004')!.map((r) => num(r.values.motorPower));
    expect(Math.max(...power)).toBeGreaterThan(15); // onto the highway
    expect(Math.min(...power)).toBeLessThan(-0.5); // regenerative braking
  });

  it('keeps the pack temperature in a sane band, colder in the cold snap', () => {
    for (const id of CARS.filter((c) => c !== 'ev-005')) {
      const temps = p.readings.get(id)!.map((r) => num(r.values.batteryTemperature));
      expect(Math.min(...temps)).toBeGreaterThan(-10);
      expect(Math.max(...temps)).toBeLessThan(40);
    }
    const mean = (id: string, from: number, to: number, name: string) => {
      const xs = p.readings
        .get(id)!
        .filter((r) => r.time >= from && r.time < to)
        .map((r) => num(r.values[name]));
      return xs.reduce((s, x) => s + x, 0) / xs.length;
    };
    // the cold snap (1d 12h to 2d 12h): the outside 12 °C colder, the packs several degrees colder
    for (const id of healthy) {
      const before = (name: string) => mean(id, 0.6 * DAY, 1.4 * DAY, name);
      const during = (name: string) => mean(id, 1.6 * DAY, 2.4 * DAY, name);
      expect(during('outsideTemperature')).toBeCloseTo(before('outsideTemperature') - 12, 0);
      expect(during('batteryTemperature')).toBeLessThan(before('batteryTemperature') - 5);
      // and heating the cabin costs range: the cold morning commute takes more energy per km
      const perKm = (day: number) => {
        const a = at(p, id, day * DAY + 7.4 * HOUR);
        const b = at(p, id, day * DAY + 8.3 * HOUR);
        return (num(a.stateOfCharge) - num(b.stateOfCharge)) / (num(b.odometer) - num(a.odometer));
      };
      expect(perKm(2)).toBeGreaterThan(perKm(1) * 1.05);
    }
  });

  it('ages the cells slowly (a few % a year), and fast with the degradation fault', () => {
    for (const id of CARS) {
      const soh = p.readings.get(id)!.map((r) => num(r.values.stateOfHealth));
      for (let i = 1; i < soh.length; i++) expect(soh[i]!).toBeLessThanOrEqual(soh[i - 1]!);
    }
    const loss = (id: string) => 100 - num(at(p, id, DAYS * DAY).stateOfHealth);
    for (const id of healthy) {
      const perYear = (loss(id) / DAYS) * 365;
      expect(perYear).toBeGreaterThan(1);
      expect(perYear).toBeLessThan(8);
    }
    expect(loss('ev-003')).toBeGreaterThan(5 * loss('ev-001'));
    expect(stateOf(p, 'ev-003', 'fade')).toBeGreaterThan(stateOf(p, 'ev-001', 'fade'));
  });

  it('shows the scenario: a missed charge, a drifting sensor, a stuck gauge, a dropout', () => {
    // ev-007 was not allowed to charge on the first night: it ends day 2 far lower than the others
    const evening = DAY + 18.4 * HOUR;
    expect(num(at(p, 'ev-007', evening).stateOfCharge)).toBeLessThan(25);
    for (const id of healthy) expect(num(at(p, id, evening).stateOfCharge)).toBeGreaterThan(45);
    expect(num(at(p, 'ev-007', 2 * DAY + 6 * HOUR).stateOfCharge)).toBeGreaterThan(85); // allowed again
    // ev-005's temperature reading drifts away from its pack's temperature; the others' do not
    const drift = (id: string) => num(at(p, id, DAYS * DAY).batteryTemperature) - stateOf(p, id, 'packTemp');
    expect(drift('ev-005')).toBeCloseTo(5e-5 * (DAYS * DAY - 4 * HOUR), 0);
    expect(Math.abs(drift('ev-001'))).toBeLessThan(0.5);
    // ev-006's gauge freezes at 26 h while its charge keeps moving
    // (the held value still carries the sensor's noise, ±0.05 %)
    const frozen = p.readings.get('ev-006')!.filter((r) => r.time > 26 * HOUR);
    const shown = frozen.map((r) => num(r.values.stateOfCharge));
    expect(Math.max(...shown) - Math.min(...shown)).toBeLessThan(0.5);
    const truth = p.readings
      .get('ev-001')!
      .filter((r) => r.time > 26 * HOUR)
      .map((r) => num(r.values.stateOfCharge));
    expect(Math.max(...truth) - Math.min(...truth)).toBeGreaterThan(30); // what a working gauge shows
    // on the evening of day 2 it still shows a full pack; ev-008, driven the same way, shows the truth
    const evening2 = 2 * DAY + 18.4 * HOUR;
    expect(
      num(at(p, 'ev-006', evening2).stateOfCharge) - num(at(p, 'ev-008', evening2).stateOfCharge),
    ).toBeGreaterThan(30);
    // ev-002 loses its speed signal for 10 minutes from 32 h, and only that
    const lost = p.readings.get('ev-002')!.filter((r) => r.dropped.length > 0);
    expect(lost.map((r) => r.time)).toEqual(Array.from({ length: 20 }, (_, i) => 32 * HOUR + i * 30));
    expect(lost.every((r) => r.dropped.join() === 'speed' && !('speed' in r.values))).toBe(true);
  });

  it('sums the cars charging at each station and across the fleet', () => {
    const t = DAY + 20 * HOUR; // everyone plugged in and charging
    const at20 = (id: string) => at(p, id, t);
    const cars = (station: string) =>
      CARS.filter((c) => relatedTo(c, 'chargesAt', 'outgoing')[0] === station);
    for (const station of ['station-home-a', 'station-home-b']) {
      const s = at20(station);
      // the station reads its cars' previous readings: compare with them
      const prev = cars(station).map((c) => at(p, c, t - 30));
      expect(num(s.power)).toBeCloseTo(
        prev.reduce((sum, r) => sum + num(r.chargingPower), 0),
        0,
      );
      expect(s.activeSessions).toBe(prev.filter((r) => r.charging === true).length);
    }
    expect(num(at20('station-home-a').power)).toBeCloseTo(4 * 11, 0);
    expect(at20('station-depot')).toMatchObject({ power: 0, activeSessions: 0, energyDelivered: 0 });
    // the meters: over a night, what the station delivered is what its cars' packs took in, over the
    // charger's efficiency (energy conserved across the relationship). Home base A: B has ev-006,
    // whose stuck gauge hides what its pack took in.
    const meter = (id: string, time: number) => num(at(p, id, time).energyDelivered);
    const [dusk, dawn] = [DAY + 18.3 * HOUR, 2 * DAY + 7 * HOUR];
    for (const station of ['station-home-a']) {
      const stored = cars(station).reduce((sum, c) => {
        const capacity = (60 * num(at(p, c, dawn).stateOfHealth)) / 100;
        return (
          sum + ((num(at(p, c, dawn).stateOfCharge) - num(at(p, c, dusk).stateOfCharge)) / 100) * capacity
        );
      }, 0);
      expect(stored).toBeGreaterThan(60);
      const delivered = meter(station, dawn) - meter(station, dusk);
      expect(delivered).toBeGreaterThan((stored / 0.92) * 0.98);
      expect(delivered).toBeLessThan((stored / 0.92) * 1.02);
    }
    const f = at20('fleet-lyon');
    const prev = CARS.map((c) => at(p, c, t - 30));
    expect(num(f.averageStateOfCharge)).toBeCloseTo(
      prev.reduce((s, r) => s + num(r.stateOfCharge), 0) / CARS.length,
      0,
    );
    expect(f.vehiclesCharging).toBe(prev.filter((r) => r.charging === true).length);
    expect(num(f.lowestStateOfHealth)).toBeLessThan(num(at20('ev-001').stateOfHealth));
    const end = at(p, 'fleet-lyon', DAYS * DAY);
    const stations = ['station-home-a', 'station-home-b'].map((s) => meter(s, DAYS * DAY));
    expect(num(end.energyCharged)).toBeCloseTo(stations[0]! + stations[1]!, -1);
    expect(num(end.totalDistance)).toBeGreaterThan(8 * DAYS * 100);
  });
});

describe('the ev-fleet car at its bounds', () => {
  it('never drains below 0 % nor charges above 100 %: an empty car limps to a stop', () => {
    const p = play(
      4,
      (pl) => {
        const cars = pl.runners.get(VEHICLE)!;
        cars.command('ev-001', 'setCharging', false); // never charged
        cars.setInput('ev-002', 'chargeLimit', 150); // an impossible limit: charges to 100 %
      },
      ['ev-001', 'ev-002'],
    );
    const empty = p.readings.get('ev-001')!;
    const soc = empty.map((r) => num(r.values.stateOfCharge));
    expect(Math.min(...soc)).toBeGreaterThanOrEqual(0);
    expect(stateOf(p, 'ev-001', 'soc')).toBeGreaterThan(0);
    expect(stateOf(p, 'ev-001', 'soc')).toBeLessThan(0.04);
    // on the last day it barely moves: the pack gives no more power
    const km = (d: number) =>
      num(at(p, 'ev-001', (d + 1) * DAY).odometer) - num(at(p, 'ev-001', d * DAY).odometer);
    expect(km(0)).toBeGreaterThan(100);
    expect(km(3)).toBeLessThan(20);
    const full = p.readings.get('ev-002')!.map((r) => num(r.values.stateOfCharge));
    expect(Math.max(...full)).toBeGreaterThan(99);
    expect(Math.max(...full)).toBeLessThanOrEqual(100.2);
    expect(stateOf(p, 'ev-002', 'soc')).toBeLessThanOrEqual(1);
  });
});
