/**
 * Run-to-failure data from the pump-line pilot's own behaviour (pilots/pump-line/behaviours/
 * pump.behaviour.yaml), for the RUL tests: a fleet of pumps, each with seeded parameter variation,
 * whose bearing starts to fail (the pilot's `bearingDamage` fault) at a different time; a pump
 * *fails* at the first sample whose measured vibration is above its `vibrationLimit` (7.1 mm/s, as
 * the pilot's rule says). Its readings up to then are its history. Deterministic for a seed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isValidResult, parseDtdl } from '../../core/models/dtdl/parse-dtdl.js';
import type { ModelLookup } from '../../core/models/model-types.js';
import { compileBehaviour } from '../../sim/behaviour/compile-behaviour.js';
import { createFleetRunner } from '../../sim/runner/fleet-runner.js';

const DIR = join(import.meta.dirname, '../../../pilots/pump-line');
export const PUMP_MODEL = 'dtmi:twinloop:pumpline:Pump;1';
export const VIBRATION_LIMIT = 7.1;
/** The telemetry a pump reports (the learner's sensors). */
export const PUMP_SENSORS = ['vibration', 'temperature', 'flow', 'dischargePressure'] as const;

export interface PumpRun {
  id: string;
  /** Sample times (simulated seconds) and values per sensor, up to and including the failure. */
  times: number[];
  values: Record<(typeof PUMP_SENSORS)[number], number[]>;
  /** When the bearing damage began, s. */
  damageAt: number;
  /** When it failed (the last sample), s. */
  failedAt: number;
}

/**
 * Simulates `count` pumps until each fails (or `maxHours` pass: such pumps are left out).
 * @example const runs = pumpRunsToFailure({ count: 12, seed: 3, sampleSeconds: 600 });
 */
export function pumpRunsToFailure(o: {
  count: number;
  seed: number;
  sampleSeconds: number;
  maxHours?: number;
}): PumpRun[] {
  const files = readdirSync(join(DIR, 'models')).filter((f) => f.endsWith('.json'));
  const parsed = parseDtdl(
    files.map((f) => ({ source: f, text: readFileSync(join(DIR, 'models', f), 'utf8') })),
  );
  if (!isValidResult(parsed)) throw new Error('The pump-line pilot models do not parse.');
  const lookup: ModelLookup = {
    getInterface: (id) => parsed.interfaces.get(id),
    isOfModel: (m, b) => m === b || (parsed.interfaces.get(m)?.ancestors.includes(b) ?? false),
  };
  const file = join(DIR, 'behaviours/pump.behaviour.yaml');
  const model = compileBehaviour(readFileSync(file, 'utf8'), parsed.interfaces.get(PUMP_MODEL)!, {
    source: file,
    lookup,
  });
  const runs = new Map<string, PumpRun>();
  const failed = new Set<string>();
  const ids = Array.from({ length: o.count }, (_, i) => `pump-${String(i + 1).padStart(2, '0')}`);
  const runner = createFleetRunner({
    model,
    assets: ids.map((id) => ({ id })),
    tick: 5, // RK4 at 5 s: the thermal time constants are minutes, wear takes hours
    sampleInterval: o.sampleSeconds,
    seed: o.seed,
    variation: { wearRate: 0.3, frictionLoss: 0.15, bearingCooling: 0.1, baseVibration: 0.05 },
    sink: (r) => {
      if (failed.has(r.assetId)) return;
      const run = runs.get(r.assetId)!;
      run.times.push(r.time);
      for (const s of PUMP_SENSORS) {
        const v = r.values[s];
        run.values[s].push(typeof v === 'number' ? v : NaN);
      }
      const vib = r.values.vibration;
      if (typeof vib === 'number' && vib > VIBRATION_LIMIT) {
        failed.add(r.assetId);
        run.failedAt = r.time;
      }
    },
  });
  ids.forEach((id, i) => {
    // Damage begins between 1 h and 13 h in, spread over the fleet.
    const at = Math.round((3600 * (1 + (((i * 5) % o.count) / o.count) * 12)) / 5) * 5;
    runs.set(id, {
      id,
      times: [],
      values: { vibration: [], temperature: [], flow: [], dischargePressure: [] },
      damageAt: at,
      failedAt: NaN,
    });
    runner.activateFault(id, 'bearingDamage', at);
  });
  const end = (o.maxHours ?? 96) * 3600;
  while (runner.t < end && failed.size < ids.length) runner.runFor(3600);
  return [...runs.values()].filter((r) => failed.has(r.id));
}
