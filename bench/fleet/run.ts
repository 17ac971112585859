/**
 * Fleet benchmark (npm run bench:fleet): the fleet runner stepping N pump assets (default 1,000) of
 * a realistic pump behaviour (bench/fleet/pump.behaviour.yaml, compiled against the pump-line
 * pilot's Pump interface) for H simulated hours (default 24) at 1 s RK4 ticks, without sampling or
 * publishing. Reports wall time, asset-steps/s and ns per asset-step against the < 30 s target,
 * prints a markdown block and appends it to bench/RESULTS.md.
 * Flags: --dry (print only), --assets N, --hours H, --threads T (default: as many as pay off).
 * Not a timed test: it reports, it does not assert.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { createPumpFleet, loadPumpModel, PUMP_ID } from './pump-fleet.js';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';

const argv = process.argv.slice(2);
const dry = argv.includes('--dry');
const numArg = (name: string, fallback: number): number => numberFlag(argv, name, fallback);
const ASSETS = Math.round(numArg('--assets', 1000));
const HOURS = numArg('--hours', 24);
/** Threads stepping the batch (default: as many as pay off on this machine). */
const THREADS = argv.includes('--threads') ? Math.round(numArg('--threads', 1)) : undefined;
const TARGET_S = 30;
const startedAt = new Date();

const model = loadPumpModel();

const tSetup = performance.now();
const runner = createPumpFleet(model, ASSETS, THREADS);
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
  `- Model: bench/fleet/pump.behaviour.yaml on ${PUMP_ID} (pump-line pilot): ${model.layout.states.length} states (${model.layout.states.join(', ')}), ${model.layout.outputs.length} outputs, a scheduled daily speed profile; seeded parameter variation; RK4 at 1 s ticks, batched (one fused kernel over typed arrays, ${runner.threads} thread(s); the two assets with actions step alone); no sampling, no publishing.`,
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
runner.close();
