/**
 * Twinloop against hand-written NumPy on the same fleet (npm run bench:fleet:numpy): 1,000 pumps ×
 * 24 h at 1 s RK4 (bench/fleet/pump-fleet.ts), and the same model, schedule, per-asset parameters
 * (the ones Twinloop drew, passed in a file) and actions written in NumPy (pump_numpy.py). Runs them
 * side by side in one invocation, alternating Twinloop on one thread, NumPy and Twinloop on two
 * threads `--rounds` times (default 3), and reports the medians, the ratio Twinloop / NumPy (< 1:
 * Twinloop is faster), the speed-up of two threads over one, and CPU seconds beside wall seconds
 * (on a shared machine wall time says how busy it was; CPU time what the work cost). Checks that NumPy's end states
 * equal Twinloop's to 1e-9 (relative) and that one and two threads give the same bits.
 * Flags: --assets N, --hours H, --rounds R, --dry (print only).
 * Not a timed test: it reports, it does not assert.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';
import { createPumpFleet, DAMAGE, loadPumpModel, STOP } from './pump-fleet.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const dry = argv.includes('--dry');
const ASSETS = Math.round(numberFlag(argv, '--assets', 1000));
const HOURS = numberFlag(argv, '--hours', 24);
const ROUNDS = Math.round(numberFlag(argv, '--rounds', 3));
const startedAt = new Date();
const loadAt = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');

const model = loadPumpModel();
const end = HOURS * 3600;

interface TwinloopRun {
  seconds: number;
  /** CPU seconds of the whole process (every thread) while stepping. */
  cpu: number;
  threads: number;
  states: Float64Array[];
}
function runTwinloop(threads: number): TwinloopRun {
  const runner = createPumpFleet(model, ASSETS, threads);
  const c = process.cpuUsage();
  const t = performance.now();
  runner.advanceTo(end);
  const seconds = (performance.now() - t) / 1000;
  const used = process.cpuUsage(c);
  const cpu = (used.user + used.system) / 1e6;
  const threadsUsed = runner.threads;
  runner.close();
  return { seconds, cpu, threads: threadsUsed, states: runner.assetIds.map((id) => runner.state(id)) };
}

/** The first python that imports numpy (pyenv's python3 first, then Debian's). */
function findNumpyPython(): string | undefined {
  for (const py of ['python3', '/usr/bin/python3', 'python']) {
    try {
      execFileSync(py, ['-c', 'import numpy'], { stdio: 'ignore' });
      return py;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

// The NumPy side gets exactly Twinloop's parameters and actions.
const probe = createPumpFleet(model, ASSETS, 1);
const params = probe.assetIds.map((id) => probe.parameters(id));
probe.close();
const spec = model.spec;
const speed = spec.inputs.find((i) => i.name === 'speed')?.source;
const damage = spec.faults.find((f) => f.name === 'bearingDamage');
if (speed?.kind !== 'schedule' || speed.interpolation !== 'linear' || !damage)
  throw new Error('pump.behaviour.yaml changed: update pump_numpy.py with it.');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'twinloop-fleet-numpy-'));
const cfgFile = path.join(tmp, 'config.json');
fs.writeFileSync(
  cfgFile,
  JSON.stringify({
    hours: HOURS,
    base: Object.fromEntries(spec.parameters.map((p) => [p.name, p.value])),
    params: Object.fromEntries(
      ['wearRate', 'motorCooling', 'ratedFlow'].map((n) => [n, params.map((p) => p[n])]),
    ),
    schedule: speed.points,
    period: speed.period,
    damage: { asset: DAMAGE.asset, at: DAMAGE.at, rate: damage.rate },
    stop: { asset: STOP.asset, at: STOP.at },
  }),
);
interface NumpyRun {
  seconds: number;
  cpu: number;
  states: number[][];
  numpy: string;
  python: string;
}
const py = findNumpyPython();
const runNumpy = (): NumpyRun =>
  JSON.parse(
    execFileSync(py as string, [path.join(here, 'pump_numpy.py'), cfgFile], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    }),
  ) as NumpyRun;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

const one: TwinloopRun[] = [];
const two: TwinloopRun[] = [];
const np: NumpyRun[] = [];
const loads: string[] = [];
runTwinloop(1); // JIT warm-up, not counted (NumPy's ufuncs are compiled ahead of time)
for (let r = 0; r < ROUNDS; r++) {
  loads.push(loadAt());
  one.push(runTwinloop(1));
  if (py) np.push(runNumpy());
  two.push(runTwinloop(2));
  console.log(
    `round ${r + 1}: Twinloop 1 thread ${one.at(-1)?.seconds.toFixed(2)} s, NumPy ${np.at(-1)?.seconds.toFixed(2) ?? '—'} s, Twinloop ${two.at(-1)?.threads} threads ${two.at(-1)?.seconds.toFixed(2)} s (load ${loads.at(-1)})`,
  );
}
fs.rmSync(tmp, { recursive: true, force: true });

// Same bits whatever the thread count; NumPy's states to 1e-9.
let sameBits = true;
for (const run of [...one, ...two])
  run.states.forEach((s, i) =>
    s.forEach((v, k) => {
      if (!Object.is(v, one[0]?.states[i]?.[k])) sameBits = false;
    }),
  );
let maxRel = 0;
const ref = one[0] as TwinloopRun;
for (const run of np)
  run.states.forEach((s, i) =>
    s.forEach((v, k) => {
      const w = ref.states[i]?.[k] as number;
      maxRel = Math.max(maxRel, Math.abs(v - w) / Math.max(Math.abs(w), 1e-300));
    }),
  );

const t1 = median(one.map((r) => r.seconds));
const t2 = median(two.map((r) => r.seconds));
const tn = np.length ? median(np.map((r) => r.seconds)) : NaN;
const steps = ASSETS * end;
const lines: string[] = [];
lines.push(
  `## Fleet: Twinloop against hand-written NumPy (bench/fleet/numpy.ts) — ${startedAt.toISOString()}`,
  '',
);
lines.push(
  `- Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}${np[0] ? `, Python ${np[0].python}, NumPy ${np[0].numpy}` : ''}.`,
);
lines.push(`- ${loadNote()} Load average (1 / 5 / 15 min) at each round: ${loads.join('; ')}.`);
lines.push(`- Command: \`npm run bench:fleet:numpy${argv.length ? ' -- ' + argv.join(' ') : ''}\`.`);
lines.push(
  `- ${ASSETS.toLocaleString('en')} pumps × ${HOURS} h at 1 s RK4 (bench/fleet/pump.behaviour.yaml; pump-0001 bearing damage from 1 h, pump-0002 stopped at 2 h); NumPy: bench/fleet/pump_numpy.py, the same equations, schedule, per-asset parameters and actions, in-place ufuncs over state arrays. ${ROUNDS} rounds alternating the three, medians; stepping only (no start-up).`,
  '',
);
lines.push('| | wall s (median) | all rounds | ns per asset-step | CPU s (median, all threads) |');
lines.push('|---|---:|---|---:|---:|');
const row = (name: string, runs: { seconds: number; cpu: number }[], med: number): string =>
  `| ${name} | ${med.toFixed(2)} | ${runs.map((x) => x.seconds.toFixed(2)).join(', ')} | ${((med * 1e9) / steps).toFixed(0)} | ${median(runs.map((r) => r.cpu)).toFixed(2)} |`;
lines.push(row('Twinloop, 1 thread', one, t1));
if (np.length) lines.push(row('NumPy', np, tn));
lines.push(row(`Twinloop, ${two[0]?.threads ?? 2} threads`, two, t2));
lines.push('');
lines.push(
  np.length
    ? `Ratio Twinloop (1 thread) / NumPy: **${(t1 / tn).toFixed(2)}** (target < 1.0: ${t1 / tn < 1 ? 'met' : 'MISSED'}); Twinloop (2 threads) / NumPy: ${(t2 / tn).toFixed(2)}.`
    : 'NumPy not available (see bench/fleet/ensure-numpy.sh): no ratio.',
);
lines.push(
  `Two threads over one: **${(t1 / t2).toFixed(2)}×** (target ≥ 1.6×: ${t1 / t2 >= 1.6 ? 'met' : 'MISSED'}); CPU seconds two threads / one: ${(median(two.map((r) => r.cpu)) / median(one.map((r) => r.cpu))).toFixed(2)} (near 1: the split costs little work, so wall time halves when two cores are free).`,
);
lines.push(
  `Same end states: 1 and 2 threads ${sameBits ? 'bit for bit' : '**DIFFER**'}; NumPy against Twinloop, largest relative difference ${np.length ? maxRel.toExponential(1) : '—'} (${np.length ? (maxRel <= 1e-9 ? 'within 1e-9' : '**over 1e-9**') : 'not compared'}).`,
);
const block = lines.join('\n') + '\n';
console.log(block);
if (!dry) appendResults(block);
if (!sameBits || (np.length && maxRel > 1e-9)) process.exitCode = 1;
