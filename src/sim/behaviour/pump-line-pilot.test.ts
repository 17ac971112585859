/**
 * The pump-line pilot (pilots/pump-line) as the device simulator plays it: its models, twins,
 * behaviours (the tanks' with their geometry plug-in) and scenario checked against one another; then
 * a simulated day of pumps and tanks together on a virtual clock at the scenario's speed, wired
 * through the fleet runner's `relationships` option both ways — a tank's outflow is the flow of the
 * pumps it feeds, a pump's inlet pressure the outlet pressure of what feeds it — with the scenario's
 * events. Checked: the tanks' volume balance, level control, the supply dip and loss, the pumps
 * stopped, and the level staying between empty and full whatever happens.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
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
import { installBehaviourPlugin } from './behaviour-plugin.js';
import { compileBehaviour, validateBehaviour, type CompiledBehaviour } from './compile-behaviour.js';

const DIR = join(import.meta.dirname, '../../../pilots/pump-line');
const PUMP = 'dtmi:twinloop:pumpline:Pump;1';
const TANK = 'dtmi:twinloop:pumpline:Tank;1';
const HOUR = 3600;

// ---- the pilot's files, read as the platform reads them ----

const plugins = readdirSync(join(DIR, 'behaviours')).filter((f) => f.endsWith('.plugin.mjs'));
for (const f of plugins) {
  const file = join(DIR, 'behaviours', f);
  const mod = (await import(pathToFileURL(file).href)) as { default: unknown };
  installBehaviourPlugin(mod.default, file);
}
const parsed = parseDtdl(
  readdirSync(join(DIR, 'models'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => ({ source: f, text: readFileSync(join(DIR, 'models', f), 'utf8') })),
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
const behaviourTexts = readdirSync(join(DIR, 'behaviours'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => {
    const text = readFileSync(join(DIR, 'behaviours', f), 'utf8');
    return { file: f, text, interfaceId: String((parseYaml(text) as { interface: unknown }).interface) };
  });
const compiled = new Map<string, CompiledBehaviour>(
  behaviourTexts.map((b) => [
    b.interfaceId,
    compileBehaviour(b.text, parsed.interfaces.get(b.interfaceId)!, { source: b.file, lookup }),
  ]),
);
/** The behaviour of a model: its own, else its nearest base's (as the catalog picks it). */
const behaviourOf = (modelId: string): CompiledBehaviour | undefined =>
  compiled.get(modelId) ?? [...compiled].find(([base]) => lookup.isOfModel(modelId, base))?.[1];
const idsOf = (model: string) => twins.filter((t) => t.modelId === model).map((t) => t.id);

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

// ---- playing the pilot: pumps and tanks, one virtual clock ----

interface Play {
  runners: Map<string, FleetRunner>;
  readings: Map<string, ReadingSet[]>;
}

/** Plays pumps and tanks for `hours` at the scenario's speed; `setup` schedules events. */
function play(hours: number, setup: (p: Play) => void = applyScenario): Play {
  const speed = scenario.simulation.speed ?? 1;
  const sampleInterval = scenario.simulation.sampleInterval ?? 10;
  const clock = new VirtualClock();
  const latest = new Map<string, Record<string, number | boolean>>();
  const readings = new Map<string, ReadingSet[]>();
  const runners = new Map<string, FleetRunner>();
  for (const [interfaceId, model] of compiled) {
    const ids = idsOf(interfaceId);
    for (const id of ids) readings.set(id, []);
    const runner = createFleetRunner({
      model,
      assets: ids.map((id) => ({ id })),
      sampleInterval,
      seed: scenario.simulation.seed ?? 1,
      clock,
      speed,
      timerMs: (sampleInterval * 1000) / speed,
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
  const p: Play = { runners, readings };
  setup(p);
  for (const r of runners.values()) r.start(hours * HOUR);
  clock.advance(((hours * HOUR) / speed) * 1000 + 1000);
  for (const r of runners.values()) expect(r.t).toBe(hours * HOUR);
  return p;
}

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
const series = (p: Play, id: string, name: string, from = 0, to = Infinity): number[] =>
  p.readings
    .get(id)!
    .filter((r) => r.time >= from && r.time <= to)
    .map((r) => num(r.values[name]));
const valueAt = (p: Play, id: string, name: string, t: number): number =>
  num(p.readings.get(id)!.find((r) => r.time >= t)!.values[name]);
const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

/** Volume (m³) at level h in a horizontal cylinder (the closed form the plug-in inverts). */
function volumeAt(h: number, capacity: number, diameter: number): number {
  const r = diameter / 2;
  const len = capacity / (Math.PI * r * r);
  const d = r - h;
  return len * (r * r * Math.acos(d / r) - d * Math.sqrt(Math.max(0, 2 * r * h - h * h)));
}

const capacity = (id: string): number => num(property(id, 'capacity') as number);
const diameter = (id: string): number => num(property(id, 'diameter') as number);
const tankState = (p: Play, id: string): number =>
  p.runners.get(TANK)!.state(id)[compiled.get(TANK)!.layout.states.indexOf('fill')]!;

// ---- the checks ----

describe('the pump-line pilot files', () => {
  it('parse: models, twins, relationships; every behaviour compiles cleanly; the scenario plays', () => {
    expect(parsed.problems).toEqual([]);
    expect(isValidResult(parsed)).toBe(true);
    expect(read.problems).toEqual([]);
    expect(plugins).toEqual(['tank-geometry.plugin.mjs']);
    for (const t of allTwins) {
      const iface = parsed.interfaces.get(String((t.$metadata as { $model: string }).$model))!;
      const contents = Object.fromEntries(Object.entries(t).filter(([k]) => !k.startsWith('$')));
      expect(
        checkTwinContents(iface, contents, lookup, { requireComponents: true }),
        String(t.$dtId),
      ).toEqual([]);
    }
    for (const r of allRels) {
      const source = twins.find((t) => t.id === r.$sourceId)!;
      const target = twins.find((t) => t.id === r.$targetId)!;
      const rel = parsed.interfaces.get(source.modelId)!.contents.get(String(r.$relationshipName));
      expect(rel?.kind, JSON.stringify(r)).toBe('Relationship');
      if (rel?.kind === 'Relationship' && rel.target)
        expect(lookup.isOfModel(target.modelId, rel.target)).toBe(true);
    }
    expect(behaviourTexts.map((b) => b.interfaceId).sort()).toEqual([PUMP, TANK]);
    for (const b of behaviourTexts) {
      const { problems } = validateBehaviour(b.text, parsed.interfaces.get(b.interfaceId)!, {
        source: b.file,
        lookup,
      });
      expect(
        problems.filter((x) => x.severity !== 'warning'),
        b.file,
      ).toEqual([]);
      // the one warning: a tank `feeds` Equipment, which declares no `flow`; the pumps it feeds do
      expect(problems.map((x) => [b.file, x.code, x.pointer])).toEqual(
        b.interfaceId === TANK
          ? [['tank.behaviour.yaml', 'sim.behaviour.unknownContent', '/inputs/demand']]
          : [],
      );
    }
    expect(
      checkScenario(scenario, {
        twins,
        isOfModel: lookup.isOfModel,
        behaviourOf,
        modelExists: (m) => parsed.interfaces.has(m),
      }),
    ).toEqual([]);
    expect(scenario.simulation).toEqual({ speed: 60, sampleInterval: 10, seed: 1 });
    expect(relatedTo('tank-1', 'feeds', 'outgoing').sort()).toEqual(['pump-1a', 'pump-1c']);
    expect(relatedTo('tank-3', 'feeds', 'outgoing').sort()).toEqual(['pump-3a', 'pump-3c']);
  });
});

describe('a simulated day of the pump-line pilot, its scenario playing', () => {
  const p = play(24);

  it('sends valid telemetry of the models, tanks included', () => {
    for (const id of [...idsOf(PUMP), ...idsOf(TANK)]) {
      const iface = parsed.interfaces.get(twins.find((t) => t.id === id)!.modelId)!;
      const rs = p.readings.get(id)!;
      expect(rs).toHaveLength((24 * HOUR) / 10 + 1);
      for (const r of rs.filter((_, i) => i % 30 === 0)) {
        expect(r.invalid).toEqual([]);
        for (const [name, value] of Object.entries(r.values)) {
          const c = iface.contents.get(name);
          expect(c?.kind, `${id}.${name}`).toBe('Telemetry');
          if (c?.kind === 'Telemetry') expect(validateValue(c.schema, value, `/${name}`)).toEqual([]);
        }
      }
    }
    expect(Object.keys(p.readings.get('tank-1')![0]!.values).sort()).toEqual([
      'dischargePressure',
      'inflow',
      'level',
    ]);
  });

  it('balances each tank: the change in volume is what came in minus what its pumps drew', () => {
    for (const tank of ['tank-1', 'tank-3']) {
      const pumps = relatedTo(tank, 'feeds', 'outgoing');
      const rs = p.readings.get(tank)!;
      // 08:00 to 12:00: no event, no leak, the tank neither empty nor full
      const from = rs.findIndex((r) => r.time === 8 * HOUR);
      const to = rs.findIndex((r) => r.time === 12 * HOUR);
      let flowed = 0;
      for (let i = from + 1; i <= to; i++) {
        // the tank saw its pumps' previous readings (the relationship is read from the latest reading)
        const drawn = pumps.reduce((s, pump) => s + num(p.readings.get(pump)![i - 1]!.values.flow), 0);
        flowed += ((num(rs[i]!.values.inflow) - drawn) * 10) / 3600;
      }
      const v = (i: number) => volumeAt(num(rs[i]!.values.level), capacity(tank), diameter(tank));
      const throughput = mean(series(p, tank, 'inflow', 8 * HOUR, 12 * HOUR)) * 4;
      expect(throughput).toBeGreaterThan(200); // m³ in 4 h: the balance is not trivially 0 = 0
      expect(Math.abs(v(to) - v(from) - flowed)).toBeLessThan(0.01 * throughput);
    }
  });

  it('holds the level near two-thirds full, sags in the supply dip at 03:00 and recovers', () => {
    for (const tank of ['tank-1', 'tank-3']) {
      const d = diameter(tank);
      const level = (t: number) => valueAt(p, tank, 'level', t);
      const held = mean(series(p, tank, 'level', 9 * HOUR, 12 * HOUR));
      // fill 0.65 of a horizontal cylinder is a level of ≈ 0.62 of its diameter
      expect(held / d).toBeGreaterThan(0.58);
      expect(held / d).toBeLessThan(0.66);
      expect(level(3.5 * HOUR)).toBeLessThan(level(3 * HOUR) - 0.2);
      const dip = valueAt(p, tank, 'inflow', 3.2 * HOUR); // all the main can give: 60 m³/h
      expect(Math.abs(dip - 60)).toBeLessThan(1.5);
      expect(Math.abs(level(4.5 * HOUR) - held)).toBeLessThan(0.05);
      // the outlet pressure is atmospheric plus the head of water
      const pressure = valueAt(p, tank, 'dischargePressure', 10 * HOUR);
      expect(pressure).toBeCloseTo(1.013 + (1000 * 9.81 * level(10 * HOUR)) / 1e5, 2);
    }
  });

  it('wires the relationships both ways: tanks read their pumps, pumps read what feeds them', () => {
    // line 1's feed pumps stopped from 5 h to 5 h 30: tank-1 takes in less, its level holds;
    // pump-1b, fed by pump-1a, loses its inlet pressure
    const inflow = (from: number, to: number) => mean(series(p, 'tank-1', 'inflow', from, to));
    expect(inflow(5.1 * HOUR, 5.5 * HOUR)).toBeLessThan(5);
    expect(inflow(4.6 * HOUR, 5 * HOUR)).toBeGreaterThan(60);
    const l1 = series(p, 'tank-1', 'level', 4.5 * HOUR, 6 * HOUR);
    expect(Math.max(...l1) - Math.min(...l1)).toBeLessThan(0.1);
    const p1b = (from: number, to: number) => mean(series(p, 'pump-1b', 'dischargePressure', from, to));
    expect(p1b(5.1 * HOUR, 5.5 * HOUR)).toBeLessThan(p1b(4.6 * HOUR, 5 * HOUR) - 2);
    // the pumps fed by a tank start from its outlet pressure (atmospheric + head), not the default 1 bar
    const pumps = p.runners.get(PUMP)!;
    const inlet = compiled.get(PUMP)!.layout.inputs.indexOf('inletPressure');
    const tank3 = p.readings.get('tank-3')!.at(-1)!.values;
    expect(pumps.snapshot('pump-3a').inputs[inlet]).toBe(tank3.dischargePressure);
    expect(pumps.snapshot('pump-3a').inputs[inlet]).toBeGreaterThan(1.1);
  });

  it('drains tank-3 when its supply fails, never below empty, and refills it', () => {
    const level = series(p, 'tank-3', 'level', 6 * HOUR, 6.4 * HOUR);
    expect(level[0]! - Math.min(...level)).toBeGreaterThan(0.6);
    expect(Math.min(...series(p, 'tank-3', 'level'))).toBeGreaterThan(0);
    expect(valueAt(p, 'tank-3', 'inflow', 6.1 * HOUR)).toBeCloseTo(0, 0);
    expect(valueAt(p, 'tank-3', 'level', 8 * HOUR)).toBeGreaterThan(0.55 * diameter('tank-3'));
  });
});

describe('the pump-line tank at its bounds', () => {
  it('never empties below 0 nor fills above full: pumps lose suction, the overflow spills', () => {
    const p = play(4, (pl) => {
      const tanks = pl.runners.get(TANK)!;
      const pumps = pl.runners.get(PUMP)!;
      // tank-1: the main fails for 2 h (the 20-minute fault, six times over)
      for (let k = 0; k < 6; k++) tanks.activateFault('tank-1', 'supplyLoss', 600 + k * 1200);
      // tank-3: its inlet valve sticks open at 30 min, then its pumps stop
      tanks.activateFault('tank-3', 'valveStuck', 1800);
      for (const pump of ['pump-3a', 'pump-3c']) pumps.command(pump, 'setRunning', false, 2400);
    });
    // (readings carry the level transmitter's noise, σ = 3 mm, around the true level)
    const empty = series(p, 'tank-1', 'level');
    expect(Math.min(...empty)).toBeGreaterThan(-0.012);
    expect(Math.min(...empty)).toBeLessThan(0.1); // as good as empty: the pumps run dry
    const dry = series(p, 'tank-1', 'level', 1.5 * HOUR, 2 * HOUR);
    expect(Math.max(...dry)).toBeLessThan(0.1); // and it stays there, drawn no lower
    expect(tankState(p, 'tank-1')).toBeGreaterThan(0.05); // refilling from 2 h 10
    const full = series(p, 'tank-3', 'level');
    expect(Math.max(...full)).toBeGreaterThan(diameter('tank-3') - 0.05); // it filled up...
    expect(Math.max(...full)).toBeLessThanOrEqual(diameter('tank-3') + 0.01); // ...and no further
    expect(valueAt(p, 'tank-3', 'inflow', 3 * HOUR)).toBeGreaterThan(30); // the stuck valve still lets in
    expect(tankState(p, 'tank-3')).toBeLessThanOrEqual(1 + 1e-6);
    expect(tankState(p, 'tank-3')).toBeGreaterThan(0.97);
  });

  it('drains with a leak: the controller makes up most of it, the level settles lower', () => {
    const leaking = play(12, (pl) =>
      pl.runners.get(TANK)!.command('tank-3', 'injectLeak', undefined, 6 * HOUR),
    );
    const before = mean(series(leaking, 'tank-3', 'level', 5 * HOUR, 6 * HOUR));
    const after = mean(series(leaking, 'tank-3', 'level', 10 * HOUR, 12 * HOUR));
    const healthy = mean(series(leaking, 'tank-1', 'level', 10 * HOUR, 12 * HOUR));
    // the controller makes up most of it (20·√0.65 ≈ 16 m³/h), the level settles lower
    expect(after).toBeLessThan(before - 0.05);
    expect(after).toBeGreaterThan(before - 0.3);
    expect(healthy).toBeGreaterThan(1.4);
  });
});
