/**
 * Calibrating one twin: from its behaviour model and the history of one or more of its telemetry
 * series, fit chosen parameters (Levenberg–Marquardt or Nelder–Mead) and report the fit — the
 * values with their intervals, RMSE and R² overall and per telemetry, and which data was used.
 * Pure: the caller reads the history (calibration-service.ts does, through a port) and decides
 * whether to apply the values.
 *
 * Time: history is in ms since epoch, behaviours run on simulated seconds (schedules, duty cycles).
 * `simTime` maps one to the other — the device simulator's own mapping for a twin it simulates;
 * by default the first point used is 0 and one simulated second passes per second.
 *
 * The model is the healthy one, as in shadow mode: no sensor noise (each telemetry is observed
 * through its mapping, noise-free), faults off, inputs held at given constants (others at their
 * defaults; schedules and cycles follow simulated time). States that a fitted telemetry reads
 * directly (`from: bearingTemp`) have their start values fitted too, from that telemetry's first value
 * (unless `initialState: 'model'`): a window that begins on a warm pump is not mistaken for a pump
 * that warms up, and — unlike fixing the start at the first, noisy, reading — the uncertainty of the
 * start is carried into the parameters' intervals.
 */
import { errors, type Problem } from '../../core/errors/errors.js';
import type {
  CalibrationRecordParameter,
  CalibrationRecordSeries,
} from '../../core/ports/behaviour-parameter-store.js';
import type { CompiledBehaviour } from '../behaviour/index.js';
import { behaviourSeriesSimulator } from './behaviour-simulator.js';
import { calibrate, type CalibrationParameter, type CalibrationResult } from './calibrate.js';

/** One point of a twin's history: its time (ms since epoch) and its value as stored. */
export interface HistorySample {
  t: number;
  v: unknown;
}

export interface TelemetryHistory {
  /** The telemetry's name (a telemetry mapping of the behaviour). */
  name: string;
  /** Ascending by time; points that are neither numbers nor booleans are skipped. */
  points: readonly HistorySample[];
}

/** A parameter to fit; bounds default to the model's `min`/`max`, the start to the applied value or the model's. */
export interface FitParameter {
  name: string;
  min?: number;
  max?: number;
  initial?: number;
}

export interface TwinFitSpec {
  parameters: readonly FitParameter[];
  /** Default 'lm' (the one that reports standard errors and intervals). */
  method?: 'lm' | 'nelder-mead';
  /** Most points used per telemetry; more are thinned evenly, first and last kept (default 2000). */
  maxPoints?: number;
  /** Default 'estimated' (see the module comment). */
  initialState?: 'estimated' | 'model';
  /** Budget of simulations per optimisation stage (default: the optimiser's own). */
  maxEvaluations?: number;
}

export interface TwinCalibrationInput {
  model: CompiledBehaviour;
  telemetry: readonly TelemetryHistory[];
  /** History time (ms) → simulated seconds; default: first point used = 0, 1 s per second. */
  simTime?: (tsMs: number) => number;
  /** Inputs held at these values during the fit (e.g. { running: 1 }); not schedules or cycles. */
  inputs?: Readonly<Record<string, number>>;
  /** Parameters already applied to the twin: held fixed when not fitted, the start when fitted. */
  applied?: Readonly<Record<string, number>>;
  fit: TwinFitSpec;
  /** Wraps the simulation the fit calls (cooperative-fit.ts memoises it and cuts the fit into slices). */
  wrapSimulate?: (simulate: (params: Float64Array) => Float64Array) => (params: Float64Array) => Float64Array;
}

export interface TwinCalibrationResult {
  method: 'lm' | 'nelder-mead';
  converged: boolean;
  reason: string;
  iterations: number;
  evaluations: number;
  /** Over every point of every series, each in its own unit: with several telemetry, read the series'. */
  rmse: number;
  r2: number | null;
  parameters: CalibrationRecordParameter[];
  values: Record<string, number>;
  /** The applied parameters (of this model) the fit was made against. */
  base: Record<string, number>;
  inputs: Record<string, number>;
  initialState: 'estimated' | 'model';
  /** The fitted start values of states (with 'estimated'). */
  initialStates: CalibrationRecordParameter[];
  data: {
    from: number;
    to: number;
    points: number;
    simFrom: number;
    simTo: number;
    telemetry: CalibrationRecordSeries[];
  };
}

export const DEFAULT_MAX_POINTS = 2000;
export const MAX_MAX_POINTS = 100_000;

/**
 * Fits `fit.parameters` of `model` to the twin's telemetry history.
 * @throws TwinloopError BadRequest with every problem (pointer into the request: /parameters/0/min,
 *   /telemetry/1, /inputs/speed...) for unknown names, bad bounds, or too few numeric points.
 * @example
 *   const r = calibrateTwin({
 *     model, telemetry: [{ name: 'temperature', points }], inputs: { running: 1 },
 *     fit: { parameters: [{ name: 'bearingCooling', min: 0.001, max: 1 }] },
 *   });
 *   r.values; // { bearingCooling: 0.0248 }
 */
export function calibrateTwin(input: TwinCalibrationInput): TwinCalibrationResult {
  const { model } = input;
  const checked = checkInput(input);
  const { fitted, names, inputs, base, method } = checked;

  // ---- the data: numeric points, on simulated time, thinned to maxPoints per series
  const numeric = input.telemetry.map((s) => numericPoints(s.points));
  let first = Infinity;
  for (const s of numeric) if (s.ms.length) first = Math.min(first, s.ms[0] as number);
  const simTime = input.simTime ?? ((ms: number) => (ms - first) / 1000);
  const series = numeric.map((s, k) => {
    const onSim = toSimTime(s, simTime);
    const used = thin(onSim, checked.maxPoints);
    return {
      name: (input.telemetry[k] as TelemetryHistory).name,
      read: (input.telemetry[k] as TelemetryHistory).points.length,
      skipped: (input.telemetry[k] as TelemetryHistory).points.length - onSim.t.length,
      ...used,
    };
  });
  const problems: Problem[] = [];
  series.forEach((s, k) => {
    if (s.t.length === 0) {
      problems.push({
        code: 'calibration.points',
        pointer: `/telemetry/${k}`,
        message: `Telemetry '${s.name}' has no numeric point in the window (${s.read} read, ${s.skipped} not numbers or booleans).`,
      });
    }
  });
  const total = series.reduce((n, s) => n + s.t.length, 0);
  const estimated = input.fit.initialState === 'model' ? [] : statesReadBy(model, series);
  const unknowns = names.length + estimated.length;
  if (total < unknowns + 1) {
    const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
    const what = `${plural(names.length, 'parameter')}${estimated.length ? ` and ${plural(estimated.length, 'start value')}` : ''}`;
    problems.push({
      code: 'calibration.points',
      pointer: '/telemetry',
      message: `Found ${plural(total, 'numeric point')} in the window; fitting ${what} needs at least ${unknowns + 1}.`,
    });
  }
  if (problems.length) throw errors.validation('BadRequest', 'Too little history to calibrate on.', problems);

  // ---- the simulation
  const t0 = Math.min(...series.filter((s) => s.t.length).map((s) => s.t[0] as number));
  const fixed = Object.fromEntries(Object.entries(base).filter(([p]) => !names.includes(p)));
  const simulateRaw = behaviourSeriesSimulator({
    model,
    parameters: names,
    fitInitial: estimated.map((e) => e.name),
    series: series.map((s) => ({ observe: { telemetry: s.name }, times: s.t })),
    t0,
    fixed,
    setup: (rt) => {
      rt.faultStart.fill(NaN); // the healthy model: faults the behaviour schedules itself stay off
      for (const [name, v] of Object.entries(inputs)) model.setInput(rt, name, v);
    },
    ...maxStepFor(model),
  });
  const simulate = input.wrapSimulate ? input.wrapSimulate(simulateRaw) : simulateRaw;
  /** Everything fitted: the parameters, then the estimated start values. */
  const unknownsStart: CalibrationParameter[] = [...fitted, ...estimated];
  const observed = new Float64Array(total);
  let at = 0;
  for (const s of series) {
    observed.set(s.v, at);
    at += s.v.length;
  }

  // ---- the fit
  // Several telemetry are fitted together, but their units differ (°C, mm/s, bar): unweighted,
  // whichever series has the largest numbers would dominate the sum of squares. Each series is
  // first weighted by 1/variance of its own observations, which makes every series dimensionless
  // and of equal standing whatever its unit. Those weights are not the inverse noise variances,
  // though, so the standard errors LM derives from them (which assume one common residual
  // variance) would be wrong; a second fit, started at the first one's values, re-weights each
  // series by 1/(its residual mean square at the first fit) — each series' weighted residuals
  // then have unit variance, and the reported intervals hold (iteratively re-weighted least
  // squares). A series whose observations are all equal has no variance to scale by: its mean
  // square (or 1, when it is all zeros) stands in.
  const scales = series.map((s) => seriesScale(s.v));
  const weightsFor = (perSeries: readonly number[]): Float64Array => {
    const w = new Float64Array(total);
    let i = 0;
    series.forEach((s, k) => {
      w.fill(perSeries[k] as number, i, i + s.v.length);
      i += s.v.length;
    });
    return w;
  };
  const run = (start: readonly CalibrationParameter[], weights?: Float64Array): CalibrationResult =>
    calibrate({
      simulate,
      observed,
      parameters: start,
      method,
      ...(weights ? { weights } : {}),
      ...(input.fit.maxEvaluations !== undefined ? { maxEvaluations: input.fit.maxEvaluations } : {}),
    });
  let r: CalibrationResult;
  let evaluations = 0;
  let iterations = 0;
  if (series.length === 1) {
    r = run(unknownsStart);
  } else {
    const stage1 = run(unknownsStart, weightsFor(scales.map((s) => 1 / s)));
    const ms = perSeriesStats(series, stage1.residuals).map((st, k) =>
      Math.max(st.rmse ** 2, 1e-6 * (scales[k] as number)),
    );
    evaluations += stage1.evaluations;
    iterations += stage1.iterations;
    r = run(
      unknownsStart.map((p, j) => ({ ...p, initial: stage1.parameters[j]?.value as number })),
      weightsFor(ms.map((m) => 1 / m)),
    );
  }
  evaluations += r.evaluations;
  iterations += r.iterations;

  const stats = perSeriesStats(series, r.residuals);
  const units = new Map<string, string | undefined>([
    ...model.spec.parameters.map((p) => [p.name, p.unit] as const),
    ...model.spec.states.map((st) => [st.name, st.unit] as const),
  ]);
  const reported = r.parameters.map((p, j) => {
    const f = unknownsStart[j] as CalibrationParameter;
    const out: CalibrationRecordParameter = { name: p.name, value: p.value, initial: f.initial };
    if (f.min !== undefined && Number.isFinite(f.min)) out.min = f.min;
    if (f.max !== undefined && Number.isFinite(f.max)) out.max = f.max;
    if (p.stdError !== undefined) out.stdError = p.stdError;
    if (p.low !== undefined && Number.isFinite(p.low)) out.low = p.low;
    if (p.high !== undefined && Number.isFinite(p.high)) out.high = p.high;
    const unit = units.get(p.name);
    if (unit !== undefined) out.unit = unit;
    return out;
  });
  const allT = series.flatMap((s) =>
    s.t.length ? [s.ms[0] as number, s.ms[s.ms.length - 1] as number] : [],
  );
  return {
    method,
    converged: r.converged,
    reason: r.reason,
    iterations,
    evaluations,
    rmse: r.rmse,
    r2: Number.isFinite(r.r2) ? r.r2 : null,
    parameters: reported.slice(0, names.length),
    values: Object.fromEntries(names.map((n) => [n, r.values[n] as number])),
    base,
    inputs,
    initialState: input.fit.initialState ?? 'estimated',
    initialStates: reported.slice(names.length),
    data: {
      from: Math.min(...allT),
      to: Math.max(...allT),
      points: total,
      simFrom: t0,
      simTo: Math.max(...series.filter((s) => s.t.length).map((s) => s.t[s.t.length - 1] as number)),
      telemetry: series.map((s, k) => ({
        name: s.name,
        from: s.ms[0] as number,
        to: s.ms[s.ms.length - 1] as number,
        points: s.t.length,
        read: s.read,
        skipped: s.skipped,
        std: Math.sqrt(variance(s.v)),
        ...(stats[k] as SeriesStats),
      })),
    },
  };
}

// ---------------------------------------------------------------- checks

interface Checked {
  fitted: CalibrationParameter[];
  names: string[];
  inputs: Record<string, number>;
  base: Record<string, number>;
  method: 'lm' | 'nelder-mead';
  maxPoints: number;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function checkInput(input: TwinCalibrationInput): Checked {
  const { model, fit } = input;
  const problems: Problem[] = [];
  const bad = (pointer: string, message: string, code = 'calibration.invalid'): void => {
    problems.push({ code, pointer, message, source: 'calibration request' });
  };
  const behaviour = model.spec.behaviour;
  const specs = new Map(model.spec.parameters.map((p) => [p.name, p]));
  const known = model.spec.parameters.map((p) => p.name);

  // Applied values of parameters this model no longer has are ignored: the model may have changed.
  const base: Record<string, number> = {};
  for (const [name, v] of Object.entries(input.applied ?? {}))
    if (specs.has(name) && isNum(v)) base[name] = v;

  const fitted: CalibrationParameter[] = [];
  if (!Array.isArray(fit?.parameters) || fit.parameters.length === 0) {
    bad('/parameters', 'Name at least one parameter to fit.', 'calibration.parameters');
  } else {
    const seen = new Set<string>();
    const unknown: string[] = [];
    fit.parameters.forEach((p, j) => {
      const at = `/parameters/${j}`;
      const name = p?.name;
      if (typeof name !== 'string' || name === '')
        return bad(`${at}/name`, 'name must be a non-empty string.');
      const spec = specs.get(name);
      if (!spec) {
        unknown.push(name);
        return bad(
          `${at}/name`,
          `Behaviour '${behaviour}' has no parameter '${name}'; its parameters are: ${known.join(', ')}.`,
          'calibration.parameter.unknown',
        );
      }
      if (seen.has(name)) return bad(`${at}/name`, `Parameter '${name}' is listed twice.`);
      seen.add(name);
      for (const key of ['min', 'max', 'initial'] as const) {
        if (p[key] !== undefined && !isNum(p[key]))
          bad(`${at}/${key}`, `${key} of '${name}' must be a finite number, not ${JSON.stringify(p[key])}.`);
      }
      const lo = isNum(p.min) ? p.min : (spec.min ?? -Infinity);
      const hi = isNum(p.max) ? p.max : (spec.max ?? Infinity);
      // The model's own range is where its equations mean something: a fit may narrow it, not widen it.
      if (spec.min !== undefined && lo < spec.min)
        bad(
          `${at}/min`,
          `min of '${name}' (${lo}) is below the model's minimum (${spec.min}).`,
          'calibration.bounds',
        );
      if (spec.max !== undefined && hi > spec.max)
        bad(
          `${at}/max`,
          `max of '${name}' (${hi}) is above the model's maximum (${spec.max}).`,
          'calibration.bounds',
        );
      if (lo > hi) {
        bad(`${at}/min`, `min of '${name}' (${lo}) is greater than its max (${hi}).`, 'calibration.bounds');
        return;
      }
      if (isNum(p.initial) && (p.initial < lo || p.initial > hi))
        bad(
          `${at}/initial`,
          `initial value of '${name}' (${p.initial}) is outside [${lo}, ${hi}].`,
          'calibration.bounds',
        );
      // Default start: the applied value, else the model's, moved inside the bounds when outside.
      const start = isNum(p.initial) ? p.initial : Math.min(hi, Math.max(lo, base[name] ?? spec.value));
      fitted.push({
        name,
        initial: start,
        ...(Number.isFinite(lo) ? { min: lo } : {}),
        ...(Number.isFinite(hi) ? { max: hi } : {}),
      });
    });
  }

  const mapped = model.spec.telemetry.map((m) => m.name);
  if (!Array.isArray(input.telemetry) || input.telemetry.length === 0) {
    bad(
      '/telemetry',
      `Name at least one telemetry to fit to: ${mapped.join(', ')}.`,
      'calibration.telemetry',
    );
  } else {
    const seen = new Set<string>();
    input.telemetry.forEach((s, k) => {
      if (!mapped.includes(s?.name)) {
        bad(
          `/telemetry/${k}`,
          `Behaviour '${behaviour}' maps no telemetry '${String(s?.name)}'; it maps: ${mapped.join(', ')}.`,
          'calibration.telemetry.unknown',
        );
      } else if (seen.has(s.name)) bad(`/telemetry/${k}`, `Telemetry '${s.name}' is listed twice.`);
      else seen.add(s.name);
    });
  }

  const inputs: Record<string, number> = {};
  for (const [name, v] of Object.entries(input.inputs ?? {})) {
    const spec = model.spec.inputs.find((i) => i.name === name);
    if (!spec) {
      bad(
        `/inputs/${name}`,
        `Behaviour '${behaviour}' has no input '${name}'; its inputs are: ${model.layout.inputs.join(', ')}.`,
        'calibration.input.unknown',
      );
    } else if (spec.source.kind === 'schedule' || spec.source.kind === 'cycle') {
      bad(
        `/inputs/${name}`,
        `Input '${name}' follows its ${spec.source.kind} on simulated time; it cannot be held constant.`,
        'calibration.input.timed',
      );
    } else if (!isNum(v)) bad(`/inputs/${name}`, `Input '${name}' must be a finite number.`);
    else inputs[name] = v;
  }

  const method = fit?.method ?? 'lm';
  if (method !== 'lm' && method !== 'nelder-mead')
    bad('/method', `method must be 'lm' or 'nelder-mead', not '${String(method)}'.`);
  const maxPoints = fit?.maxPoints ?? DEFAULT_MAX_POINTS;
  if (!Number.isSafeInteger(maxPoints) || maxPoints < 2 || maxPoints > MAX_MAX_POINTS)
    bad('/maxPoints', `maxPoints must be a whole number from 2 to ${MAX_MAX_POINTS}.`);
  const initialState = fit?.initialState;
  if (initialState !== undefined && initialState !== 'estimated' && initialState !== 'model')
    bad('/initialState', `initialState must be 'estimated' or 'model', not '${String(initialState)}'.`);
  const maxEvaluations = fit?.maxEvaluations;
  if (maxEvaluations !== undefined && !(isNum(maxEvaluations) && maxEvaluations >= 1))
    bad('/maxEvaluations', 'maxEvaluations must be a number >= 1.');

  if (problems.length)
    throw errors.validation('BadRequest', 'The calibration request is not valid.', problems);
  return { fitted, names: fitted.map((p) => p.name), inputs, base, method, maxPoints };
}

// ---------------------------------------------------------------- data

interface Points {
  /** Time as given (ms). */
  ms: Float64Array;
  v: Float64Array;
}

interface SimPoints extends Points {
  /** Simulated seconds. */
  t: Float64Array;
}

/** Numbers as they are, booleans as 0/1; anything else (strings, objects, null, NaN) is skipped. */
function numericPoints(points: readonly HistorySample[]): Points {
  const ms: number[] = [];
  const v: number[] = [];
  for (const p of points) {
    const x = typeof p?.v === 'boolean' ? (p.v ? 1 : 0) : p?.v;
    if (isNum(x) && isNum(p.t)) {
      ms.push(p.t);
      v.push(x);
    }
  }
  // History comes ascending; a stable sort keeps a caller's unsorted points usable all the same.
  const order = ms.map((_, i) => i).sort((a, b) => (ms[a] as number) - (ms[b] as number));
  return {
    ms: Float64Array.from(order, (i) => ms[i] as number),
    v: Float64Array.from(order, (i) => v[i] as number),
  };
}

/** Maps to simulated time; a point whose simulated time does not advance (a repeated time) is dropped. */
function toSimTime(p: Points, simTime: (ms: number) => number): SimPoints {
  const ms: number[] = [];
  const v: number[] = [];
  const t: number[] = [];
  for (let i = 0; i < p.ms.length; i++) {
    const s = simTime(p.ms[i] as number);
    if (!Number.isFinite(s) || (t.length > 0 && s <= (t[t.length - 1] as number))) continue;
    ms.push(p.ms[i] as number);
    v.push(p.v[i] as number);
    t.push(s);
  }
  return { ms: Float64Array.from(ms), v: Float64Array.from(v), t: Float64Array.from(t) };
}

/** At most `max` points, evenly spread by index, the first and the last kept. */
function thin(p: SimPoints, max: number): SimPoints {
  const n = p.t.length;
  if (n <= max) return p;
  const pick = Array.from({ length: max }, (_, i) => Math.round((i * (n - 1)) / (max - 1)));
  return {
    ms: Float64Array.from(pick, (i) => p.ms[i] as number),
    v: Float64Array.from(pick, (i) => p.v[i] as number),
    t: Float64Array.from(pick, (i) => p.t[i] as number),
  };
}

function variance(v: Float64Array): number {
  if (v.length === 0) return 0;
  let mean = 0;
  for (const x of v) mean += x / v.length;
  let s = 0;
  for (const x of v) s += (x - mean) ** 2;
  return s / v.length;
}

/** The variance a series is weighted by (see the comment at the fit). */
function seriesScale(v: Float64Array): number {
  const s = variance(v);
  if (s > 0) return s;
  let ms = 0;
  for (const x of v) ms += (x * x) / Math.max(1, v.length);
  return ms > 0 ? ms : 1;
}

type SeriesStats = Pick<CalibrationRecordSeries, 'rmse' | 'r2' | 'bias'>;

function perSeriesStats(series: readonly { v: Float64Array }[], residuals: Float64Array): SeriesStats[] {
  let at = 0;
  return series.map((s) => {
    const n = s.v.length;
    let ss = 0;
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const r = residuals[at + i] as number;
      ss += r * r;
      sum += r;
    }
    at += n;
    const tot = variance(s.v) * n;
    return { rmse: Math.sqrt(ss / n), r2: tot > 0 ? 1 - ss / tot : null, bias: sum / n };
  });
}

/**
 * The states fitted telemetry read directly (`from: state`), each with its telemetry's first value
 * as the starting guess of its start value (unbounded: a start value is whatever the data says).
 */
function statesReadBy(
  model: CompiledBehaviour,
  series: readonly ({ name: string } & SimPoints)[],
): CalibrationParameter[] {
  const out: CalibrationParameter[] = [];
  for (const s of series) {
    const ast = model.spec.telemetry.find((m) => m.name === s.name)?.from.ast;
    if (ast?.kind !== 'name' || !model.layout.states.includes(ast.name) || s.t.length === 0) continue;
    if (out.some((e) => e.name === ast.name)) continue;
    out.push({ name: ast.name, initial: s.v[0] as number });
  }
  return out;
}

/**
 * A step bound for models with schedules or cycles: half the shortest piece of any of them, so the
 * adaptive solver cannot step over a pulse while the states are quiet. Unbounded otherwise.
 */
function maxStepFor(model: CompiledBehaviour): { maxStep?: number } {
  let shortest = Infinity;
  for (const i of model.spec.inputs) {
    const s = i.source;
    if (s.kind === 'schedule') {
      for (let k = 1; k < s.points.length; k++) {
        const gap = (s.points[k]?.[0] as number) - (s.points[k - 1]?.[0] as number);
        if (gap > 0) shortest = Math.min(shortest, gap);
      }
    } else if (s.kind === 'cycle') {
      for (const piece of [s.duty * s.period, (1 - s.duty) * s.period]) {
        if (piece > 0) shortest = Math.min(shortest, piece);
      }
    }
  }
  return Number.isFinite(shortest) ? { maxStep: shortest / 2 } : {};
}
