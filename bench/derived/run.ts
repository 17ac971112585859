/**
 * Micro-benchmark of the DerivedEngine: readings per second through the pump-line Pump model with
 * five derived values (an expression, an EWMA, a 10-minute sliding max, a 15-minute tumbling mean,
 * a rate of change), against the same loop through an engine with no definitions, measured side by
 * side in one process. Prints the figures (median of the rounds); `--write` appends them to
 * bench/RESULTS.md. Usage: npx tsx bench/derived/run.ts [--pumps 1000] [--seconds 600] [--rounds 5]
 */
import os from 'node:os';
import type { TelemetryObservation, TwinContext } from '../../src/analytics/analytics-types.js';
import { checkDerived } from '../../src/analytics/derived/check-derived.js';
import { DerivedEngine } from '../../src/analytics/derived/derived-engine.js';
import type { DerivedSet } from '../../src/analytics/derived/derived-types.js';
import { readDerived } from '../../src/analytics/derived/read-derived.js';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { resolvePilotDir } from '../../src/app/pilot-files.js';
import { parseDtdl } from '../../src/core/models/dtdl/parse-dtdl.js';
import type { ModelLookup } from '../../src/core/models/model-types.js';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';

const PUMP = 'dtmi:twinloop:pumpline:Pump;1';
const DEFS = `model: ${PUMP}
values:
  hydraulicPower: { expr: 'flow * max(dischargePressure - 1.01325, 0) / 36' }
  vibrationEwma: { ewma: { of: vibration, halfLife: 5min } }
  vibrationMax10min: { sliding: { of: vibration, size: 10min, aggregate: max } }
  flowMean15min: { tumbling: { of: flow, size: 15min, aggregate: mean } }
  temperatureRate: { rate: { of: temperature, per: min } }
`;

const argv = process.argv.slice(2);
const pumps = numberFlag(argv, '--pumps', 1000);
const seconds = numberFlag(argv, '--seconds', 600);
const rounds = numberFlag(argv, '--rounds', 5);

const modelsDir = path.join(resolvePilotDir('pump-line'), 'models');
const parsed = parseDtdl(
  readdirSync(modelsDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => ({ source: f, text: readFileSync(path.join(modelsDir, f), 'utf8') })),
);
const lookup: ModelLookup = {
  getInterface: (id) => parsed.interfaces.get(id),
  isOfModel: (m, b) => m === b || (parsed.interfaces.get(m)?.ancestors.includes(b) ?? false),
};
const spec = readDerived(DEFS, 'bench.yaml').spec;
if (!spec) throw new Error('bench definitions do not read');
const checked = checkDerived([spec], { models: lookup, twinModel: () => undefined });
if (checked.problems.length) throw new Error(JSON.stringify(checked.problems));

const context: TwinContext = {
  modelOf: () => PUMP,
  isOfModel: (_w, m, b) => lookup.isOfModel(m, b),
  property: () => undefined,
  related: () => [],
};

// Readings prepared up front so the loop measures the engine, not the generator.
const obs: TelemetryObservation[] = [];
for (let s = 0; s < seconds; s++)
  for (let p = 0; p < pumps; p++)
    obs.push({
      workspace: 'default',
      twinId: `pump-${p}`,
      modelId: PUMP,
      time: 1_700_000_000_000 + s * 1000,
      values: {
        vibration: 2 + Math.sin(s / 30 + p),
        temperature: 40 + s / 100,
        flow: 40 + Math.cos(s / 50 + p),
        dischargePressure: 4 + 0.01 * Math.sin(s + p),
        running: true,
      },
    });

function once(sets: readonly DerivedSet[]): { rate: number; written: number } {
  let written = 0;
  const e = new DerivedEngine({
    sets,
    context,
    sink: { write: (_w, _t, _time, v) => void (written += Object.keys(v).length) },
  });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < obs.length; i++) {
    e.observe(obs[i] as TelemetryObservation);
    if (i % pumps === pumps - 1) e.tick((obs[i] as TelemetryObservation).time);
  }
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  return { rate: obs.length / sec, written };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
once(checked.sets); // warm-up
const withDefs: number[] = [];
const without: number[] = [];
let written = 0;
for (let r = 0; r < rounds; r++) {
  const a = once(checked.sets);
  withDefs.push(a.rate);
  written = a.written;
  without.push(once([]).rate);
}
const line = `${Math.round(median(withDefs)).toLocaleString('en')} readings/s with 5 derived values (${written.toLocaleString('en')} values written per round) vs ${Math.round(median(without)).toLocaleString('en')} readings/s through an engine with none; ratio ${(median(withDefs) / median(without)).toFixed(2)}`;
const block = [
  `## Derived values engine (${new Date().toISOString().slice(0, 10)})`,
  '',
  `\`npx tsx bench/derived/run.ts --pumps ${pumps} --seconds ${seconds} --rounds ${rounds}\` — one process, ${os.cpus().length} cores, Node ${process.version}. ${loadNote()}`,
  '',
  `- ${line} (median of ${rounds} rounds, ${obs.length.toLocaleString('en')} readings each; one reading = one observation of 5 values).`,
  '',
].join('\n');
console.log(block);
if (argv.includes('--write')) appendResults(block);
