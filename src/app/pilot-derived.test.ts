/**
 * The pump-line pilot's derived values: its files read and check against its own models and twins,
 * run through the DerivedEngine over its graph, and a broken file is refused with its file and line.
 */
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TwinContext } from '../analytics/analytics-types.js';
import { DerivedEngine } from '../analytics/derived/derived-engine.js';
import { isTwinloopError } from '../core/errors/errors.js';
import { parseDtdl } from '../core/models/dtdl/parse-dtdl.js';
import type { ModelLookup } from '../core/models/model-types.js';
import { readPilot, resolvePilotDir } from './pilot-files.js';
import { loadPilotDerived } from './pilot-loader.js';

function pilotWorld(pilot: string) {
  const files = readPilot(pilot);
  const dir = path.join(files.dir, 'models');
  const parsed = parseDtdl(
    readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ source: f, text: readFileSync(path.join(dir, f), 'utf8') })),
  );
  const models: ModelLookup = {
    getInterface: (id) => parsed.interfaces.get(id),
    isOfModel: (m, b) => m === b || (parsed.interfaces.get(m)?.ancestors.includes(b) ?? false),
  };
  const twins = new Map(files.twins.map((t) => [String(t.$dtId), t]));
  const modelOfTwin = (id: string): string | undefined =>
    (twins.get(id)?.$metadata as { $model?: string } | undefined)?.$model;
  const context: TwinContext = {
    modelOf: (_w, id) => modelOfTwin(id),
    isOfModel: (_w, m, b) => models.isOfModel(m, b),
    property: (_w, id, name) => twins.get(id)?.[name],
    related: (_w, id, name) =>
      files.relationships
        .filter((r) => r.$sourceId === id && r.$relationshipName === name)
        .map((r) => String(r.$targetId)),
  };
  return { world: { models, twinModel: modelOfTwin, modelIds: () => parsed.interfaces.keys() }, context };
}

/** A pilot folder with pump-line's models and twins and an empty derived/ folder. */
function copyPumpLineModelsAndTwins(dir: string): void {
  const from = resolvePilotDir('pump-line');
  mkdirSync(path.join(dir, 'models'));
  mkdirSync(path.join(dir, 'derived'));
  for (const f of readdirSync(path.join(from, 'models')))
    writeFileSync(path.join(dir, 'models', f), readFileSync(path.join(from, 'models', f)));
  writeFileSync(path.join(dir, 'twins.json'), readFileSync(path.join(from, 'twins.json')));
}

describe('pilot derived values', () => {
  it('the pump-line pilot ships derived values that check and run', () => {
    const { world, context } = pilotWorld('pump-line');
    const { sets, warnings } = loadPilotDerived('pump-line', world);
    expect(warnings).toEqual([]);
    expect(sets.map((s) => s.target)).toEqual([
      { model: 'dtmi:twinloop:pumpline:ProductionLine;1' },
      { model: 'dtmi:twinloop:pumpline:Pump;1' },
      { model: 'dtmi:twinloop:pumpline:Tank;1' },
    ]);
    const writes: { twin: string; time: number; values: Record<string, number> }[] = [];
    const props: { twin: string; name: string; value: number; everyMs: number; deadband: number }[] = [];
    const e = new DerivedEngine({
      sets,
      context,
      sink: { write: (_w, twin, time, values) => writes.push({ twin, time, values: { ...values } }) },
      propertySink: {
        write: (_w, twin, _time, name, value, p) =>
          props.push({ twin, name, value, everyMs: p.everyMs, deadband: p.deadband }),
      },
    });
    const PUMP = 'dtmi:twinloop:pumpline:Pump;1';
    e.watch('default', 'line-1');
    for (const [id, flow] of [
      ['pump-1a', 40],
      ['pump-1b', 30],
      ['pump-1c', 20],
    ] as const)
      e.observe({
        workspace: 'default',
        twinId: id,
        modelId: PUMP,
        time: 0,
        values: { flow, dischargePressure: 4.01325, vibration: 2, running: true, temperature: 40 },
      });
    e.observe({
      workspace: 'default',
      twinId: 'tank-1',
      modelId: 'dtmi:twinloop:pumpline:Tank;1',
      time: 0,
      values: { level: 1, inflow: 100 },
    });
    e.tick(1000);
    const last = (twin: string, name: string) =>
      writes.filter((w) => w.twin === twin && name in w.values).at(-1)?.values[name];
    expect(last('pump-1a', 'hydraulicPower')).toBeCloseTo((40 * 3) / 36, 12);
    expect(last('pump-1a', 'vibrationMargin')).toBeCloseTo(7.1 - 2, 12);
    expect(last('tank-1', 'fillFraction')).toBeCloseTo(1 / 2.5, 12);
    expect(last('tank-1', 'pumpedOut')).toBe(60); // tank-1 feeds pump-1a and pump-1c
    expect(last('tank-1', 'netInflow')).toBe(40);
    expect(last('line-1', 'totalFlow')).toBe(90);
    expect(last('line-1', 'runningPumps')).toBe(3);
    // The pump's health index goes to its twin's property (vibration 2 against 7.1; bearing at 40 °C).
    expect(props.filter((p) => p.twin === 'pump-1a')).toEqual([
      { twin: 'pump-1a', name: 'healthIndex', value: expect.any(Number), everyMs: 60_000, deadband: 0.01 },
    ]);
    expect(props.find((p) => p.twin === 'pump-1a')?.value).toBeCloseTo(
      ((7.1 - 2) / 7.1) * ((80 - 40) / 60),
      12,
    );
    expect(Object.keys(writes.find((w) => w.twin === 'pump-1a')?.values ?? {})).not.toContain('healthIndex');
  });

  it('refuses a broken pilot file with every problem at its file and line', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pilot-derived-'));
    copyPumpLineModelsAndTwins(dir);
    writeFileSync(
      path.join(dir, 'derived', 'bad.yaml'),
      'model: dtmi:twinloop:pumpline:Pump;1\nvalues:\n  flow: { expr: vibration }\n  x: { expr: "sum(hasEquipment, flow)" }\n',
    );
    const { world } = pilotWorld(dir);
    try {
      loadPilotDerived(dir, world);
      expect.unreachable();
    } catch (e) {
      expect(isTwinloopError(e) && e.code).toBe('ValidationFailed');
      const ps = isTwinloopError(e) ? (e.problems ?? []) : [];
      expect(ps.map((p) => [p.code, path.basename(p.source ?? ''), p.line])).toEqual([
        ['analytics.derived.nameClash', 'bad.yaml', 3],
        ['analytics.derived.aggregate', 'bad.yaml', 4],
      ]);
    }
  });

  it('lenient (a data folder started before): leaves out a file that does not fit the models, and what reads it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pilot-derived-lenient-'));
    copyPumpLineModelsAndTwins(dir);
    // A property the (stored) model does not declare: what a pilot newer than the folder looks like.
    writeFileSync(
      path.join(dir, 'derived', 'a-pump.yaml'),
      'model: dtmi:twinloop:pumpline:Pump;1\nvalues:\n  wearIndex: { expr: vibration / 10, target: property }\n  vibTenth: { expr: vibration / 10 }\n',
    );
    // Reads the pump file's value through the line's equipment: left out with it.
    writeFileSync(
      path.join(dir, 'derived', 'b-line.yaml'),
      'model: dtmi:twinloop:pumpline:ProductionLine;1\nvalues:\n  worstTenth: { expr: "max(hasEquipment, vibTenth)" }\n',
    );
    // Fits: kept.
    writeFileSync(
      path.join(dir, 'derived', 'c-tank.yaml'),
      'model: dtmi:twinloop:pumpline:Tank;1\nvalues:\n  levelTwice: { expr: level * 2 }\n',
    );
    const { world } = pilotWorld(dir);
    expect(() => loadPilotDerived(dir, world)).toThrow(/Pilot derived values are invalid/);
    const r = loadPilotDerived(dir, world, { lenient: true });
    expect(r.sets.map((x) => x.target)).toEqual([{ model: 'dtmi:twinloop:pumpline:Tank;1' }]);
    expect(r.skipped.map((f) => path.basename(f)).sort()).toEqual(['a-pump.yaml', 'b-line.yaml']);
    expect(r.warnings.some((w) => w.code === 'analytics.derived.propertyNotDeclared' && w.line === 3)).toBe(
      true,
    );
    expect(r.warnings.every((w) => w.severity === 'warning')).toBe(true);
  });
});
