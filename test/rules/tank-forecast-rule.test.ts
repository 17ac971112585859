/**
 * The pump-line pilot's forecast rule on its own simulation: the tanks' behaviour (level control,
 * the supply main's dip at 03:00, tank-3's supply failing at 06:00 as in scenario.yaml) run with
 * the pumps they feed, their level readings (every 10 s) fed to a rule engine holding the pilot's
 * tank-level-forecast-low and tank-level-low rules. The forecast rule must raise before the
 * threshold rule on every fall below 1 m, and stay quiet while the level is held.
 */
import { describe, expect, it } from 'vitest';
import type { AlarmConditionCleared, AlarmRaise } from '../../src/analytics/analytics-types.js';
import { readRuleText } from '../../src/analytics/rules/read-rule.js';
import { RuleEngine } from '../../src/analytics/rules/rule-engine.js';
import { pilotWorkspace } from '../../src/app/pilot-workspace.js';
import { readPilotRules } from '../../src/app/pilot-files.js';
import { createFleetRunner } from '../../src/sim/runner/fleet-runner.js';

const TANK = 'dtmi:twinloop:pumpline:Tank;1';
const PUMP = 'dtmi:twinloop:pumpline:Pump;1';
const MIN = 60_000;

describe('pump-line: the tank level forecast rule', () => {
  it('raises before the threshold rule when a tank drains, and not while the level is held', async () => {
    const ws = await pilotWorkspace('pump-line');
    const world = ws.world!;
    const rules = readPilotRules('pump-line')
      .filter((f) => /tank-level-(forecast-)?low\.yaml$/.test(f.source))
      .map((f) => {
        const r = readRuleText(f.text, 'yaml', { source: f.source });
        if (!r.rule) throw new Error(JSON.stringify(r.problems));
        return { spec: r.rule, version: 1 };
      });
    expect(rules.map((r) => r.spec.id).sort()).toEqual(['tank-level-forecast-low', 'tank-level-low']);
    const raised: AlarmRaise[] = [];
    const cleared: AlarmConditionCleared[] = [];
    const engine = new RuleEngine({
      sink: { raise: (a) => raised.push(a), conditionCleared: (c) => cleared.push(c) },
      context: {
        modelOf: () => TANK,
        isOfModel: (_ws, m, b) => m === b,
        property: (_ws, id, name) => world.property(id, name),
        related: () => [],
      },
    });
    engine.setRules('default', rules, 0);

    const flows = new Map<string, number>();
    const pumps = createFleetRunner({
      model: ws.catalog.forModel(PUMP)!.model,
      assets: [...ws.twins].filter((t) => t.modelId === PUMP).map((t) => ({ id: t.id })),
      sampleInterval: 10,
      seed: 2,
      sink: (r) => flows.set(r.assetId, r.values.flow as number),
    });
    const tanks = createFleetRunner({
      model: ws.catalog.forModel(TANK)!.model,
      assets: [{ id: 'tank-1' }, { id: 'tank-3' }],
      sampleInterval: 10,
      seed: 3,
      sink: (r) => {
        const time = (r.time ?? 0) * 1000;
        engine.tick(time);
        engine.observe({
          workspace: 'default',
          twinId: r.assetId,
          modelId: TANK,
          time,
          values: { level: r.values.level },
        });
      },
      relationships: (id, input) =>
        world
          .related(id, (input.source as { relationship: string }).relationship, 'outgoing')
          .map((p) => flows.get(p) ?? 0),
    });
    for (const id of ['tank-1', 'tank-3'])
      for (const p of ['capacity', 'diameter']) tanks.setInput(id, p, Number(world.property(id, p)));
    tanks.command('tank-3', 'injectSupplyLoss', undefined, 6 * 3600); // scenario.yaml: at 6h
    for (let t = 10; t <= 7 * 3600; t += 10) {
      pumps.advanceTo(t);
      tanks.advanceTo(t);
    }

    const first = (ruleId: string, twinId: string, from: number, to: number) =>
      raised.find((a) => a.ruleId === ruleId && a.twinId === twinId && a.time >= from && a.time < to);
    // The supply main's dip at 03:00 (180 min): tank-1 falls below 1 m within the half hour.
    const dipLow = first('tank-level-low', 'tank-1', 180 * MIN, 240 * MIN);
    const dipForecast = first('tank-level-forecast-low', 'tank-1', 180 * MIN, 240 * MIN);
    expect(dipLow).toBeDefined();
    expect(dipForecast).toBeDefined();
    expect(dipForecast!.time).toBeLessThan(dipLow!.time - 10 * MIN);
    expect(dipForecast!.value!).toBeGreaterThan(0); // an ETA, not "already below"
    expect(dipForecast!.message).toMatch(
      /^tank tank-1 level 1\.\d+ m, forecast to fall below 1 m in \d+ min \(\d+ %\)$/,
    );
    // tank-3's supply failing at 06:00 (360 min).
    const lossLow = first('tank-level-low', 'tank-3', 360 * MIN, 420 * MIN);
    const lossForecast = first('tank-level-forecast-low', 'tank-3', 360 * MIN, 420 * MIN);
    expect(lossLow).toBeDefined();
    expect(lossForecast).toBeDefined();
    expect(lossForecast!.time).toBeLessThan(lossLow!.time - 5 * MIN);
    // Quiet while the level is held: no forecast alarm before the dip, nor between the dip's end
    // and the supply loss; and each forecast alarm cleared once its tank recovered.
    const forecasts = raised.filter((a) => a.ruleId === 'tank-level-forecast-low');
    expect(forecasts.every((a) => (a.time > 180 * MIN && a.time < 215 * MIN) || a.time > 360 * MIN)).toBe(
      true,
    );
    expect(cleared.filter((c) => c.ruleId === 'tank-level-forecast-low')).toHaveLength(forecasts.length);
    expect(engine.stats()).toMatchObject({ refitsDeferred: 0, forecastPairs: 2 });
  }, 60_000);
});
