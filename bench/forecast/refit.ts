/**
 * Refit benchmark (npx tsx bench/forecast/refit.ts): what one refit of a streaming forecast costs
 * — the unit the forecast rule condition and the continuous forecasts budget per tick
 * (docs/forecasting.md). A full buffer (512 cells over 8 h, readings every 10 s) of four shapes is
 * refitted over and over; each refit is timed on its own (wall) and the process CPU time is read
 * around the whole run. Also: the heap held by 1,000 full buffers. Prints a markdown block and
 * appends it to bench/RESULTS.md (--dry: print only). Reports, does not assert.
 */
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';
import {
  addReading,
  bufferShape,
  forecastBuffer,
  type BufferForecastOptions,
  type ForecastBuffer,
} from '../../src/analytics/forecast/forecast-buffer.js';

const argv = process.argv.slice(2);
const dry = argv.includes('--dry');
const runs = numberFlag(argv, '--runs', 50);
const H = 3_600_000;
const within = 2 * H;
const shape = bufferShape(4 * within);

let seed = 1;
const uniform = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
let walk = 0;
const shapes: Record<string, (t: number) => number> = {
  'flat + noise': () => 1.5 + 0.003 * normal(),
  'ramp + noise': (t) => 1.5 - (0.1 * t) / H + 0.003 * normal(),
  '30-min cycle + noise': (t) => 1.5 + 0.2 * Math.sin((2 * Math.PI * t) / (30 * 60_000)) + 0.01 * normal(),
  'random walk': () => (walk += 0.01 * normal()),
};
const full = (f: (t: number) => number): ForecastBuffer => {
  let buf: ForecastBuffer | undefined;
  for (let t = 0; t < shape.historyMs; t += 10_000) buf = addReading(buf, shape, t, f(t));
  return buf!;
};
const q = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

const configs: [string, BufferForecastOptions][] = [
  ['forecast rule (trends N, A)', { trends: ['N', 'A'] }],
  ['continuous forecast (trends N, A, Ad)', {}],
];
const rows: string[] = [];
for (const [config, options] of configs)
  for (const [name, f] of Object.entries(shapes)) {
    const buf = full(f);
    forecastBuffer(buf, shape, 1.25 * within, options); // warm the JIT
    const times: number[] = [];
    let model = '';
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const r = forecastBuffer(buf, shape, 1.25 * within, { ...options, from: buf.lastTime });
      times.push(performance.now() - t0);
      model = r?.fitted.model ?? 'none';
    }
    const cpu = process.cpuUsage(cpu0);
    rows.push(
      `| ${config} | ${name} | ${model} | ${q(times, 0.5).toFixed(1)} | ${q(times, 0.95).toFixed(1)} | ${Math.max(...times).toFixed(1)} | ${((cpu.user + cpu.system) / 1000 / runs).toFixed(1)} |`,
    );
  }

// Heap held by full buffers (plain number arrays: 2 × 512 doubles and a little).
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const before = process.memoryUsage().heapUsed;
const kept: ForecastBuffer[] = [];
for (let i = 0; i < 1000; i++) kept.push(full(shapes['flat + noise']!));
gc?.();
const perBuffer = (process.memoryUsage().heapUsed - before) / kept.length;

const block = [
  `## Forecast refits (bench/forecast/refit.ts) — ${new Date().toISOString()}`,
  '',
  `- ${loadNote()}`,
  `- A full buffer: 512 cells over 8 h (a forecast rule with \`within: 2h\`), readings every 10 s; each refit forecasts 2.5 h (clearWhen.within) past the newest reading. ${runs} refits per row, each timed alone (wall ms); CPU ms is the process CPU time over the row divided by the refits.`,
  '',
  '| configuration | series | model chosen | median ms | p95 ms | max ms | CPU ms/refit |',
  '|---|---|---|---:|---:|---:|---:|',
  ...rows,
  '',
  `Heap per full buffer: ${(perBuffer / 1024).toFixed(1)} KiB (1,000 buffers${gc ? ', after gc' : ', no --expose-gc: indicative'}).`,
  '',
].join('\n');
console.log(block);
if (!dry) appendResults(block);
