/**
 * The fleet benchmarks' model and fleet, in one place: bench/fleet/pump.behaviour.yaml compiled
 * against the pump-line pilot's Pump interface; N pumps with seeded variation of wear rate, motor
 * cooling and rated flow, 1 s RK4 ticks, bearing damage on pump-0001 from 1 h and pump-0002 stopped
 * at 2 h (so the run is not the quiet path only).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isValidResult, parseDtdl } from '../../src/core/models/dtdl/parse-dtdl.js';
import type { ModelLookup } from '../../src/core/models/model-types.js';
import { compileBehaviour, type CompiledBehaviour } from '../../src/sim/behaviour/compile-behaviour.js';
import { createFleetRunner, type FleetRunner } from '../../src/sim/runner/fleet-runner.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PUMP_ID = 'dtmi:twinloop:pumpline:Pump;1';
export const PUMP_YAML = path.join(here, 'pump.behaviour.yaml');
export const VARIATION = { wearRate: 0.2, motorCooling: 0.05, ratedFlow: 0.03 } as const;
export const DAMAGE = { asset: 1, at: 3600 } as const;
export const STOP = { asset: 2, at: 7200 } as const;

export function loadPumpModel(): CompiledBehaviour {
  const modelsDir = path.join(here, '../../pilots/pump-line/models');
  const parsed = parseDtdl(
    fs
      .readdirSync(modelsDir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ source: f, text: fs.readFileSync(path.join(modelsDir, f), 'utf8') })),
  );
  if (!isValidResult(parsed)) throw new Error('The pump-line pilot models do not parse.');
  const lookup: ModelLookup = {
    getInterface: (id) => parsed.interfaces.get(id),
    isOfModel: (m, b) => m === b || (parsed.interfaces.get(m)?.ancestors.includes(b) ?? false),
  };
  const pump = parsed.interfaces.get(PUMP_ID);
  if (!pump) throw new Error(`The pilot has no ${PUMP_ID}.`);
  return compileBehaviour(fs.readFileSync(PUMP_YAML, 'utf8'), pump, { source: PUMP_YAML, lookup });
}

export const pumpId = (i: number): string => `pump-${String(i).padStart(4, '0')}`;

/** The benchmark fleet of `assets` pumps (threads: see FleetRunnerOptions.threads). */
export function createPumpFleet(model: CompiledBehaviour, assets: number, threads?: number): FleetRunner {
  const runner = createFleetRunner({
    model,
    assets: Array.from({ length: assets }, (_, i) => ({ id: pumpId(i) })),
    tick: 1,
    method: 'rk4',
    seed: 42,
    variation: VARIATION,
    ...(threads === undefined ? {} : { threads }),
  });
  runner.command(pumpId(DAMAGE.asset), 'injectBearingDamage', undefined, DAMAGE.at);
  runner.command(pumpId(STOP.asset), 'setRunning', false, STOP.at);
  return runner;
}
