/**
 * The series bench:forecast measures: NAB files without labelled anomalies (empty windows in
 * labels/combined_windows.json) and the pump-line pilot's pump behaviour run headless by the fleet
 * runner (a healthy pump, one with bearing damage, one with a drifting temperature sensor), sampled
 * every 5 minutes like NAB, after a day of warm-up.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isValidResult, parseDtdl } from '../../src/core/models/dtdl/parse-dtdl.js';
import type { ModelLookup } from '../../src/core/models/model-types.js';
import { compileBehaviour } from '../../src/sim/behaviour/compile-behaviour.js';
import { createFleetRunner, type ReadingSet } from '../../src/sim/runner/fleet-runner.js';

export interface BenchSeries {
  name: string;
  /** ms */
  times: number[];
  values: number[];
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** NAB files whose label window list is empty, read as (ms, value). */
export function nabUnlabelled(dir: string): BenchSeries[] {
  const labels = JSON.parse(
    fs.readFileSync(path.join(dir, 'labels/combined_windows.json'), 'utf8'),
  ) as Record<string, unknown[]>;
  const out: BenchSeries[] = [];
  for (const [file, windows] of Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))) {
    const csv = path.join(dir, 'data', file);
    if (windows.length > 0 || !fs.existsSync(csv)) continue;
    const rows = fs.readFileSync(csv, 'utf8').trim().split('\n').slice(1);
    const times: number[] = [];
    const values: number[] = [];
    for (const row of rows) {
      const [ts, v] = row.split(',');
      times.push(Date.parse(`${ts!.trim().replace(' ', 'T')}Z`));
      values.push(Number(v));
    }
    out.push({ name: `nab/${file.replace(/\.csv$/, '')}`, times, values });
  }
  return out;
}

/**
 * The pilot's pump behaviour, three pumps for `days` after a day of warm-up, sampled every 300 s;
 * the faults start one day into the kept part.
 */
export function simulatedPumps(days: number): BenchSeries[] {
  const root = path.join(here, '../../pilots/pump-line');
  const parsed = parseDtdl(
    fs
      .readdirSync(path.join(root, 'models'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ source: f, text: fs.readFileSync(path.join(root, 'models', f), 'utf8') })),
  );
  if (!isValidResult(parsed)) throw new Error('The pump-line pilot models do not parse.');
  const lookup: ModelLookup = {
    getInterface: (id) => parsed.interfaces.get(id),
    isOfModel: (m, b) => m === b || (parsed.interfaces.get(m)?.ancestors.includes(b) ?? false),
  };
  const pump = parsed.interfaces.get('dtmi:twinloop:pumpline:Pump;1');
  if (!pump) throw new Error('The pilot has no Pump interface.');
  const yamlPath = path.join(root, 'behaviours/pump.behaviour.yaml');
  const model = compileBehaviour(fs.readFileSync(yamlPath, 'utf8'), pump, { source: yamlPath, lookup });
  const readings: ReadingSet[] = [];
  const ids = ['healthy', 'bearing-damage', 'sensor-drift'];
  const runner = createFleetRunner({
    model,
    assets: ids.map((id) => ({ id })),
    tick: 1,
    sampleInterval: 300,
    method: 'rk4',
    seed: 7,
    variation: { wearRate: 0.2, motorCooling: 0.05, ratedFlow: 0.03 },
    sink: (r) => readings.push(r),
  });
  // One more day than asked: the first (warm-up from ambient temperature) is dropped.
  runner.command('bearing-damage', 'injectBearingDamage', undefined, 2 * 86_400);
  runner.command('sensor-drift', 'injectSensorDrift', undefined, 2 * 86_400);
  runner.advanceTo((days + 1) * 86_400);
  const t0 = Date.UTC(2026, 0, 1);
  const out: BenchSeries[] = [];
  for (const id of ids) {
    for (const name of ['vibration', 'temperature', 'flow', 'dischargePressure']) {
      const mine = readings.filter(
        (r) => r.assetId === id && r.time >= 86_400 && typeof r.values[name] === 'number',
      );
      out.push({
        name: `pump/${id}/${name}`,
        times: mine.map((r) => t0 + r.time * 1000),
        values: mine.map((r) => r.values[name] as number),
      });
    }
  }
  return out;
}
