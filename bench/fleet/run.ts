/**
 * Fleet benchmark (npm run bench:fleet): the fleet runner stepping N pump assets (default 1,000) of
 * a realistic pump behaviour (bench/fleet/pump.behaviour.yaml, compiled against the pump-line
 * pilot's Pump interface) for H simulated hours (default 24) at 1 s RK4 ticks, without sampling or
 * publishing. Reports wall time, asset-steps/s and ns per asset-step against the < 30 s target,
 * prints a markdown block and appends it to bench/RESULTS.md.
 * Flags: --dry (print only), --assets N, --hours H.
 * Not a timed test: it reports, it does not assert.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { isValidResult, parseDtdl } from '../../src/core/models/dtdl/parse-dtdl.js';
import type { ModelLookup } from '../../src/core/models/model-types.js';
import { compileBehaviour } from '../../src/sim/behaviour/compile-behaviour.js';
import { createFleetRunner } from '../../src/sim/runner/fleet-runner.js';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const dry = argv.includes('--dry');
const numArg = (name: string, fallback: number): number => numberFlag(argv, name, fallback);
const ASSETS = Math.round(numArg('--assets', 1000));
const HOURS = numArg('--hours', 24);
const TARGET_S = 30;
const PUMP_ID = 'dtmi:twinloop:pumpline:Pump;1';
const startedAt = new Date();

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
const yamlPath = path.join(here, 'pump.behaviour.yaml');
const model = compileBehaviour(fs.readFileSync(yamlPath, 'utf8'), pump, { source: yamlPath, lookup });

const tSetup = performance.now();
const runner = createFleetRunner({
  model,
  assets: Array.from({ length: ASSETS }, (_, i) => ({ id: `pump-${String(i).padStart(4, '0')}` })),
  tick: 1,
  method: 'rk4',
  seed: 42,
  variation: { wearRate: 0.2, motorCooling: 0.05, ratedFlow: 0.03 },
});
// A few faults along the day so the run is not the quiet path only.
runner.command('pump-0001', 'injectBearingDamage', undefined, 3600);
runner.command('pump-0002', 'setRunning', false, 7200);
const setupMs = performance.now() - tSetup;

const end = HOURS * 3600;
const t1 = performance.now();
runner.advanceTo(end);
const ms = performance.now() - t1;
const { assetSteps, fevals } = runner.stats();
const perS = assetSteps / (ms / 1000);
const nsPerStep = (ms * 1e6) / assetSteps;
const fullDayEstimateS = (nsPerStep * 1000 * 86_400) / 1e9;
const s0 = runner.state('pump-0000');
const s1 = runner.state('pump-0001');

const lines: string[] = [];
lines.push(`## Fleet runner benchmark (bench/fleet/run.ts) — ${startedAt.toISOString()}`, '');
lines.push(
  `- Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}.`,
);
lines.push(`- ${loadNote()} Other engineers' work runs on this machine at the same time.`);
lines.push(`- Command: \`npm run bench:fleet${argv.length ? ' -- ' + argv.join(' ') : ''}\`.`);
lines.push(
  `- Model: bench/fleet/pump.behaviour.yaml on ${PUMP_ID} (pump-line pilot): ${model.layout.states.length} states (${model.layout.states.join(', ')}), ${model.layout.outputs.length} outputs, a scheduled daily speed profile; seeded parameter variation; RK4 at 1 s ticks, batched (structure of arrays; the two assets with actions step alone); no sampling, no publishing.`,
  '',
);
lines.push(
  '| assets | simulated | asset-steps | f evals | wall s | asset-steps/s | ns per step | setup ms |',
);
lines.push('|---:|---:|---:|---:|---:|---:|---:|---:|');
lines.push(
  `| ${ASSETS.toLocaleString('en')} | ${HOURS} h | ${assetSteps.toLocaleString('en')} | ${fevals.toLocaleString('en')} | ${(ms / 1000).toFixed(2)} | ${(perS / 1e6).toFixed(2)} M | ${nsPerStep.toFixed(0)} | ${setupMs.toFixed(0)} |`,
);
lines.push('');
lines.push(
  ASSETS === 1000 && HOURS === 24
    ? `Target: 1,000 assets × 24 h at 1 s steps in < ${TARGET_S} s: ${ms / 1000 < TARGET_S ? 'meets it' : 'MISSES it'} on this run (${(ms / 1000).toFixed(1)} s).`
    : `Not the target configuration; at this rate 1,000 assets × 24 h would take about ${fullDayEstimateS.toFixed(1)} s (target < ${TARGET_S} s).`,
);
lines.push(
  `End state, pump-0000: bearing ${s0[1]?.toFixed(1)} °C, wear ${s0[2]?.toExponential(2)}; pump-0001 (bearing damage from 1 h): wear ${s1[2]?.toExponential(2)}.`,
);
lines.push(
  'The real-time factor while publishing every reading over MQTT into Twinloop is the next block (bench/fleet/realtime.ts, run by the same `npm run bench:fleet`).',
);
const block = lines.join('\n') + '\n';
console.log(block);
if (!dry) {
  appendResults(block);
}
