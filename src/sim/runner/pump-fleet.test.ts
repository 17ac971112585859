/**
 * The fleet benchmark's pump behaviour (bench/fleet/pump.behaviour.yaml) against the pump-line
 * pilot's real Pump interface, run by the fleet runner: it validates cleanly and behaves like a
 * pump (warms up to a steady state, wears, vibrates more with bearing damage, stops on command).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isValidResult, parseDtdl } from '../../core/models/dtdl/parse-dtdl.js';
import type { ModelLookup } from '../../core/models/model-types.js';
import { compileBehaviour, validateBehaviour } from '../behaviour/compile-behaviour.js';
import { createFleetRunner, type ReadingSet } from './fleet-runner.js';

const ROOT = join(import.meta.dirname, '../../..');
const MODELS_DIR = join(ROOT, 'pilots/pump-line/models');
const YAML = readFileSync(join(ROOT, 'bench/fleet/pump.behaviour.yaml'), 'utf8');

function pilot(): { lookup: ModelLookup; pump: NonNullable<ReturnType<ModelLookup['getInterface']>> } {
  const r = parseDtdl(
    readdirSync(MODELS_DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ source: f, text: readFileSync(join(MODELS_DIR, f), 'utf8') })),
  );
  expect(isValidResult(r)).toBe(true);
  const lookup: ModelLookup = {
    getInterface: (id) => r.interfaces.get(id),
    isOfModel: (m, b) => m === b || (r.interfaces.get(m)?.ancestors.includes(b) ?? false),
  };
  const pump = r.interfaces.get('dtmi:twinloop:pumpline:Pump;1');
  if (!pump) throw new Error('no pump');
  return { lookup, pump };
}

describe('the fleet benchmark pump behaviour', () => {
  const { lookup, pump } = pilot();

  it('validates against the pilot Pump interface without problems', () => {
    expect(validateBehaviour(YAML, pump, { lookup }).problems).toEqual([]);
  });

  it('runs a small fleet for two hours with plausible telemetry', () => {
    const model = compileBehaviour(YAML, pump, { lookup });
    const readings: ReadingSet[] = [];
    const runner = createFleetRunner({
      model,
      assets: [{ id: 'p0' }, { id: 'p1' }, { id: 'p2' }],
      sampleInterval: 600,
      seed: 3,
      variation: { wearRate: 0.2 },
      sink: (r) => readings.push(r),
    });
    runner.command('p1', 'injectBearingDamage', undefined, 600);
    runner.command('p2', 'setRunning', false, 3600);
    runner.advanceTo(7200);
    const last = (id: string): ReadingSet => readings.filter((r) => r.assetId === id).at(-1) as ReadingSet;
    const first = readings[0] as ReadingSet;
    expect(Object.keys(first.values).sort()).toEqual([
      'dischargePressure',
      'flow',
      'running',
      'temperature',
      'vibration',
    ]);
    expect(first.values.temperature as number).toBeCloseTo(20, 0);
    const p0 = last('p0');
    expect(p0.values.temperature as number).toBeGreaterThan(25); // bearing warmed by friction and the motor
    expect(p0.values.temperature as number).toBeLessThan(45);
    expect(p0.values.flow as number).toBeGreaterThan(30);
    expect(p0.values.dischargePressure as number).toBeGreaterThan(3);
    expect(p0.values.running).toBe(true);
    // bearing damage: far more wear, more vibration
    expect(runner.state('p1')[2]!).toBeGreaterThan(10 * runner.state('p0')[2]!);
    expect(last('p1').values.vibration as number).toBeGreaterThan((p0.values.vibration as number) + 0.05);
    // stopped pump: no flow, inlet pressure only, cooling down
    const p2 = last('p2');
    expect(p2.values.running).toBe(false);
    expect(Math.abs(p2.values.flow as number)).toBeLessThan(2);
    expect(p2.values.dischargePressure as number).toBeCloseTo(1, 1);
    expect(p2.values.temperature as number).toBeLessThan(p0.values.temperature as number);
  });
});
