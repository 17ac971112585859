/**
 * The pump-line pilot's tanks: a behaviour using a TypeScript/JavaScript plug-in function (the
 * level of a volume in a horizontal cylinder, tank-geometry.plugin.mjs) and a relationship input
 * (the flow of the pumps a tank feeds); and the plug-in interface refusing malformed plug-ins.
 */
import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../src/core/errors/errors.js';
import { pilotWorkspace } from '../../src/app/pilot-workspace.js';
import { installBehaviourPlugin } from '../../src/sim/behaviour/behaviour-plugin.js';
import { compileExpr } from '../../src/sim/expr/compile-expr.js';
import { createFleetRunner } from '../../src/sim/runner/fleet-runner.js';

const ws = await pilotWorkspace('pump-line');
const TANK = 'dtmi:twinloop:pumpline:Tank;1';
const PUMP = 'dtmi:twinloop:pumpline:Pump;1';

describe('the tank-geometry plug-in', () => {
  const level = compileExpr('tankGeometry.levelFromVolume(v, 40, 2.5)', new Map([['v', 0]]));
  const at = (v: number) => level.evaluate(Float64Array.of(v));

  it('is callable from expressions once the pilot is loaded, and solves the geometry', () => {
    expect(at(20)).toBeCloseTo(1.25, 9); // half full: the level is the radius
    expect(at(0)).toBe(0);
    expect(at(40)).toBe(2.5);
    expect(at(50)).toBe(2.5);
    // a thin layer at the bottom: level rises faster than linearly at first (narrow bottom)
    expect(at(4)).toBeGreaterThan(0.1 * 2.5);
    // monotonic
    let last = -1;
    for (let v = 0; v <= 40; v += 0.5) {
      expect(at(v)).toBeGreaterThan(last);
      last = at(v);
    }
  });

  it('refuses malformed plug-ins with the file named', () => {
    const bad = (p: unknown) => () => installBehaviourPlugin(p, 'x.plugin.mjs');
    expect(bad(undefined)).toThrow(TwinloopError);
    expect(bad(undefined)).toThrow(/x\.plugin\.mjs/);
    expect(bad({ name: 'a b', functions: { f: { args: 1, fn: Math.abs } } })).toThrow(/name/);
    expect(bad({ name: 'p', functions: {} })).toThrow(/at least one/);
    expect(bad({ name: 'p', functions: { f: { args: 1 } } })).toThrow(/fn/);
    expect(bad({ name: 'p', functions: { f: { args: -1, fn: Math.abs } } })).toThrow(/args/);
    expect(bad({ name: 'constructor', functions: { f: { args: 1, fn: Math.abs } } })).toThrow();
    // and an expression still cannot reach anything else: unknown functions stay unknown
    expect(() => compileExpr('tankGeometry.toString(1)', new Map())).toThrow(/Unknown function/);
  });
});

describe('the pump-line tanks', () => {
  const tanks = ws.catalog.forModel(TANK)!.model;
  const pumps = ws.catalog.forModel(PUMP)!.model;
  const world = ws.world!;

  it('hold their level under control while the pumps draw, and drain with a leak', () => {
    // The pumps first, for their flows; then the tanks fed back those flows through `feeds`.
    const pumpIds = [...ws.twins].filter((t) => t.modelId === PUMP).map((t) => t.id);
    const flows = new Map<string, number>();
    const pumpRunner = createFleetRunner({
      model: pumps,
      assets: pumpIds.map((id) => ({ id })),
      sampleInterval: 60,
      seed: 2,
      sink: (r) => flows.set(r.assetId, r.values.flow as number),
    });
    const levels: Record<string, number[]> = { 'tank-1': [], 'tank-3': [] };
    const tankRunner = createFleetRunner({
      model: tanks,
      assets: [{ id: 'tank-1' }, { id: 'tank-3' }],
      sampleInterval: 60,
      seed: 3,
      sink: (r) => levels[r.assetId]!.push(r.values.level as number),
      relationships: (id, input) =>
        world
          .related(id, (input.source as { relationship: string }).relationship, 'outgoing')
          .map((p) => flows.get(p) ?? 0),
    });
    for (const id of ['tank-1', 'tank-3'])
      tankRunner.setInput(id, 'capacity', Number(world.property(id, 'capacity')));
    tankRunner.command('tank-3', 'injectLeak', undefined, 12 * 3600);
    for (let t = 60; t <= 24 * 3600; t += 60) {
      pumpRunner.advanceTo(t);
      tankRunner.advanceTo(t);
    }
    expect(world.related('tank-1', 'feeds', 'outgoing').sort()).toEqual(['pump-1a', 'pump-1c']);
    expect(Math.min(...flows.values())).toBeGreaterThan(20); // the pumps really draw
    const t1 = levels['tank-1']!;
    // the level sensor's 1 mm resolution, printed as a sensor prints it (1.511, not 1.5110000000000001)
    expect(t1.every((v) => (String(v).split('.')[1] ?? '').length <= 3)).toBe(true);
    // tank-1 (40 m³, Ø 2.5 m): held near 65 % full ≈ 1.5 m, never empty nor overflowing
    expect(Math.min(...t1)).toBeGreaterThan(0.5);
    expect(Math.max(...t1)).toBeLessThan(2.5);
    expect(t1.at(-1)!).toBeGreaterThan(1.3);
    expect(t1.at(-1)!).toBeLessThan(1.8);
    // tank-3 leaks from 12 h: the controller compensates partly; the level sags below tank-1's
    const t3 = levels['tank-3']!;
    const beforeLeak = t3[12 * 60 - 1]!;
    expect(t3.at(-1)!).toBeLessThan(beforeLeak - 0.05);
  });
});
