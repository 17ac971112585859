/**
 * Solver benchmark (npm run bench:solver): Twinloop's DOPRI5 (and RK4) against SciPy's solve_ivp
 * (RK45, DOP853) on decay [0,10], harmonic [0,100] and Van der Pol μ=10 [0,100], at rtol/atol
 * 1e-6/1e-9 and 1e-9/1e-12: max error over 101 output times (exact solution, or a DOP853
 * rtol 1e-13 reference for Van der Pol) and median wall time, side by side in one run.
 * "At equal accuracy": the cheapest Twinloop tolerance (from a ladder) whose error is at most
 * SciPy's, and the time ratio against it. Prints a markdown block and appends it to
 * bench/RESULTS.md (--dry: print only; --reps N: repetitions, default 7; --fleet N: assets in the
 * fleet-scale run, default 1,000, 0 to skip).
 * Not a timed test: it reports, it does not assert.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Rk4Stepper } from '../../src/sim/solvers/rk4-stepper.js';
import { solveIvp, type SolveIvpOptions } from '../../src/sim/solvers/solve-ivp.js';
import { decay, harmonic, vanDerPol, type TestProblem } from '../../src/sim/solvers/test-problems.js';
import { loadNote } from '../machine-note.js';
import { appendResults } from '../results-file.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const dry = argv.includes('--dry');
const repsArg = argv.indexOf('--reps');
const REPS = repsArg >= 0 ? Number(argv[repsArg + 1]) : 7;
const fleetArg = argv.indexOf('--fleet');
const FLEET = fleetArg >= 0 ? Number(argv[fleetArg + 1]) : 1000;
const N_EVAL = 101;
const TOLS: [number, number][] = [
  [1e-6, 1e-9],
  [1e-9, 1e-12],
];
const SCIPY_METHODS = ['RK45', 'DOP853'];
const problems: TestProblem[] = [decay, harmonic, vanDerPol];
const startedAt = new Date();

interface ScipyCase {
  problem: string;
  method: string;
  rtol: number;
  atol: number;
  err: number;
  ms: number;
  nfev: number;
}
interface ScipyOut {
  version: string;
  python: string;
  numpy: string;
  cases: ScipyCase[];
  refs: Record<string, number[]>;
}

/** The first python that imports scipy (pyenv's python3 first, then Debian's). */
function findScipyPython(): string | undefined {
  for (const py of ['python3', '/usr/bin/python3', 'python']) {
    try {
      execFileSync(py, ['-c', 'import scipy'], { stdio: 'ignore' });
      return py;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

function runScipy(py: string): ScipyOut {
  const cfg = {
    reps: REPS,
    nEval: N_EVAL,
    problems: problems.map((p) => p.name),
    methods: SCIPY_METHODS,
    tols: TOLS,
  };
  const out = execFileSync(py, [path.join(here, 'scipy_bench.py'), JSON.stringify(cfg)], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out) as ScipyOut;
}

/** Median ms per call over REPS batches; a batch repeats fast calls to >= 20 ms (same as the Python side). */
function timed(fn: () => void): number {
  for (let i = 0; i < 3; i++) fn(); // JIT warm-up
  let t = performance.now();
  fn();
  const one = performance.now() - t;
  const perBatch = Math.max(1, Math.floor(20 / Math.max(one, 1e-4)));
  const samples: number[] = [];
  for (let r = 0; r < REPS; r++) {
    t = performance.now();
    for (let i = 0; i < perBatch; i++) fn();
    samples.push((performance.now() - t) / perBatch);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

const tEvalOf = (p: TestProblem): Float64Array =>
  Float64Array.from({ length: N_EVAL }, (_, i) => p.t0 + ((p.tEnd - p.t0) * i) / (N_EVAL - 1));

function reference(p: TestProblem, scipy: ScipyOut | undefined): Float64Array {
  const fromScipy = scipy?.refs[p.name];
  if (fromScipy) return Float64Array.from(fromScipy);
  const tEval = tEvalOf(p);
  if (p.exact) {
    const out = new Float64Array(N_EVAL * p.y0.length);
    tEval.forEach((t, i) => p.exact!(t, out.subarray(i * p.y0.length)));
    return out;
  }
  return solveIvp(p.f, p.t0, p.y0, p.tEnd, { rtol: 1e-13, atol: 1e-15, tEval }).y;
}

interface TwinCase {
  problem: string;
  method: string;
  rtol: number;
  atol: number;
  err: number;
  ms: number;
  fevals: number;
  steps: number;
}

function runTwin(p: TestProblem, ref: Float64Array, opts: SolveIvpOptions, label: string): TwinCase {
  const tEval = tEvalOf(p);
  const run = () => solveIvp(p.f, p.t0, p.y0, p.tEnd, { ...opts, tEval });
  const sol = run();
  let err = 0;
  for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(sol.y[i]! - ref[i]!));
  return {
    problem: p.name,
    method: label,
    rtol: opts.rtol as number,
    atol: opts.atol as number,
    err,
    ms: timed(run),
    fevals: sol.stats.fevals,
    steps: sol.stats.steps,
  };
}

const fmtE = (x: number): string => x.toExponential(1);
const fmtMs = (x: number): string => (x < 0.1 ? x.toFixed(4) : x < 10 ? x.toFixed(3) : x.toFixed(1));

const py = findScipyPython();
let scipy: ScipyOut | undefined;
let scipyNote: string;
if (py) {
  scipy = runScipy(py);
  scipyNote = `SciPy ${scipy.version} (NumPy ${scipy.numpy}, Python ${scipy.python} via \`${py}\`), solve_ivp with the same t_eval.`;
} else {
  scipyNote =
    'SciPy is not importable by python3 here: Twinloop figures only. Install it with `sudo apt-get install python3-scipy` (Debian, for /usr/bin/python3) or `pip install scipy`.';
  console.error(scipyNote);
}

// JIT warm-up over every problem and method before anything is timed, so the first case measured
// is not the one that pays for compilation.
for (let k = 0; k < 5; k++) {
  for (const p of problems) {
    for (const rtol of [1e-4, 1e-8])
      solveIvp(p.f, p.t0, p.y0, p.tEnd, { rtol, atol: rtol * 1e-3, tEval: tEvalOf(p) });
    solveIvp(p.f, p.t0, p.y0, p.tEnd, { method: 'rk4', h: 0.01, tEval: tEvalOf(p) });
  }
}

/**
 * Fleet scale: FLEET assets, each a 2-state thermal model (body and heater, heater on half of
 * every hour) on its own RK4 stepper, advanced together one 1 s tick at a time for a simulated day.
 */
function fleetRun(n: number): { ms: number; steps: number } {
  const f = (t: number, y: Float64Array, d: Float64Array): void => {
    d[0] = 0.01 * (20 - y[0]!) + 0.005 * (y[1]! - y[0]!);
    d[1] = 0.02 * (y[0]! - y[1]!) + (t % 3600 < 1800 ? 0.5 : 0);
  };
  const steppers = Array.from({ length: n }, (_, i) => new Rk4Stepper(f, 0, [20 + i * 1e-3, 20], { h: 1 }));
  const t = performance.now();
  for (let s = 1; s <= 86_400; s++) for (const st of steppers) st.step(s);
  const ms = performance.now() - t;
  let steps = 0;
  for (const st of steppers) steps += st.stats.steps;
  return { ms, steps };
}

const lines: string[] = [];
const twin: TwinCase[] = [];
const ladder = new Map<string, TwinCase[]>();
for (const p of problems) {
  const ref = reference(p, scipy);
  for (const [rtol, atol] of TOLS)
    twin.push(runTwin(p, ref, { method: 'dopri5', rtol, atol }, 'Twinloop dopri5'));
  // Tolerance ladder for the equal-accuracy comparison.
  const rungs: TwinCase[] = [];
  for (let e = 3; e <= 13; e += 0.5) {
    const rtol = 10 ** -e;
    rungs.push(runTwin(p, ref, { method: 'dopri5', rtol, atol: rtol * 1e-3 }, 'ladder'));
  }
  ladder.set(p.name, rungs);
}
// RK4 at a fixed step for scale (no SciPy counterpart).
const rk4Cases = problems.map((p) => {
  const h = p.name === 'vanderpol-mu10' ? 1e-3 : 1e-2;
  const c = runTwin(p, reference(p, scipy), { method: 'rk4', h }, `Twinloop rk4 h=${h}`);
  return c;
});

lines.push(`## Solver benchmark (bench/solver/run.ts) — ${startedAt.toISOString()}`, '');
lines.push(
  `- Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}.`,
);
lines.push(`- ${loadNote()} Other engineers' work runs on this machine at the same time.`);
lines.push(
  `- Command: \`npm run bench:solver${argv.length ? ' -- ' + argv.join(' ') : ''}\`; median of ${REPS} repetitions (fast solves batched to ≥ 20 ms).`,
);
lines.push(`- ${scipyNote}`);
lines.push(
  `- Error: max |y − y_ref| over ${N_EVAL} evenly spaced output times (dense output on both sides); reference: exact solution, Van der Pol: SciPy DOP853 at rtol 1e-13/atol 1e-15${scipy ? '' : ' (here: Twinloop DOPRI5 at 1e-13)'}.`,
  '',
);
lines.push('| problem | rtol / atol | solver | max error | f evals | median ms | SciPy ms ÷ Twinloop ms |');
lines.push('|---|---|---|---:|---:|---:|---:|');
for (const p of problems) {
  for (const [rtol, atol] of TOLS) {
    const t = twin.find((c) => c.problem === p.name && c.rtol === rtol)!;
    lines.push(
      `| ${p.name} | ${rtol.toExponential(0)} / ${atol.toExponential(0)} | Twinloop dopri5 | ${fmtE(t.err)} | ${t.fevals} | ${fmtMs(t.ms)} | |`,
    );
    for (const s of scipy?.cases.filter((c) => c.problem === p.name && c.rtol === rtol) ?? []) {
      lines.push(
        `| | | SciPy ${s.method} | ${fmtE(s.err)} | ${s.nfev} | ${fmtMs(s.ms)} | ${(s.ms / t.ms).toFixed(0)}× (same tolerance) |`,
      );
    }
  }
}
for (const c of rk4Cases) {
  lines.push(`| ${c.problem} | fixed step | ${c.method} | ${fmtE(c.err)} | ${c.fevals} | ${fmtMs(c.ms)} | |`);
}
const fleet = FLEET > 0 ? fleetRun(FLEET) : undefined;
if (fleet) {
  lines.push(
    '',
    `**Fleet scale** (RK4 steppers, one per asset, 2-state model, 1 s ticks for a simulated day): ${FLEET.toLocaleString('en')} assets × 86,400 steps = ${fleet.steps.toLocaleString('en')} steps in ${(fleet.ms / 1000).toFixed(1)} s (${((fleet.ms * 1e6) / fleet.steps).toFixed(0)} ns per step); target for 1,000 assets < 30 s.`,
  );
}
if (scipy) {
  lines.push(
    '',
    "**At equal accuracy** (Twinloop: cheapest dopri5 run, from rtol 1e-3 … 1e-13 with atol = rtol·1e-3, whose error ≤ SciPy's):",
    '',
  );
  lines.push(
    '| problem | SciPy run | SciPy error | SciPy ms | Twinloop rtol | Twinloop error | Twinloop ms | speed-up |',
  );
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|');
  let minSpeedup = Infinity;
  for (const s of scipy.cases) {
    const rungs = (ladder.get(s.problem) ?? []).filter((r) => r.err <= s.err);
    const best = rungs.sort((a, b) => a.ms - b.ms)[0];
    if (!best) {
      lines.push(
        `| ${s.problem} | ${s.method} ${s.rtol.toExponential(0)}/${s.atol.toExponential(0)} | ${fmtE(s.err)} | ${fmtMs(s.ms)} | — | not reached | — | — |`,
      );
      continue;
    }
    const speedup = s.ms / best.ms;
    minSpeedup = Math.min(minSpeedup, speedup);
    lines.push(
      `| ${s.problem} | ${s.method} ${s.rtol.toExponential(0)}/${s.atol.toExponential(0)} | ${fmtE(s.err)} | ${fmtMs(s.ms)} | ${best.rtol.toExponential(1)} | ${fmtE(best.err)} | ${fmtMs(best.ms)} | ${speedup.toFixed(0)}× |`,
    );
  }
  lines.push(
    '',
    `Smallest speed-up at equal accuracy: ${minSpeedup.toFixed(0)}× (target ≥ 2×: ${minSpeedup >= 2 ? 'meets it' : 'MISSES it'} on this run). SciPy's solve_ivp steps in Python and calls a Python right-hand side, which is most of its time on these small systems.`,
  );
}
const block = lines.join('\n') + '\n';
console.log(block);
if (!dry) {
  appendResults(block);
}
