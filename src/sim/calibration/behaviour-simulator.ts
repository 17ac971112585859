/**
 * Builds the `simulate` function calibration needs from a compiled behaviour model: for given
 * values of the fitted parameters it creates a fresh runtime with them overridden, integrates the
 * model's states with DOPRI5 from t0, samples at the observation times and reads the observed
 * quantity there — a state, an output or an input by name, or a telemetry mapping's value before
 * sensor noise and sensor faults (calibration fits the process, not the noise).
 *
 * `behaviourSeriesSimulator` observes several quantities, each at its own times, from one
 * integration over the union of their times; its predictions are the series' concatenated in order.
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { BehaviourRuntime, CompiledBehaviour } from '../behaviour/index.js';
import { compileChecked } from '../expr/compile-expr.js';
import { solveIvp } from '../solvers/solve-ivp.js';

/** What is observed: a state/output/input name, or `{ telemetry: name }` for a mapped telemetry (noise-free). */
export type Observable = string | { telemetry: string };

export interface BehaviourSimulatorOptions {
  model: CompiledBehaviour;
  /** Names of the parameters being fitted, in the order of the vector `simulate` receives. */
  parameters: readonly string[];
  /** Observation times in seconds, ascending, none before t0. */
  times: ArrayLike<number>;
  /** A state/output/input name, or `{ telemetry: name }` for a mapped telemetry (noise-free). */
  observe: Observable;
  /** Start of the simulation (default: the first observation time). */
  t0?: number;
  /** Values of other parameters (not fitted) for this twin. */
  fixed?: Readonly<Record<string, number>>;
  /** Initial state (default: the model's `initial` expressions over the trial parameters). */
  initialState?: ArrayLike<number>;
  /**
   * Initial values of some states by name; the others start at their `initial` expressions over the
   * trial parameters. Ignored when `initialState` is given.
   */
  initial?: Readonly<Record<string, number>>;
  /**
   * States whose initial values are fitted too: their values follow the parameters' in the vector
   * `simulate` receives (a start that is only known with noise is estimated, not assumed).
   */
  fitInitial?: readonly string[];
  /** Sets inputs on each fresh runtime before the run (`model.setInput(rt, 'u', 1)`, commands...). */
  setup?: (rt: BehaviourRuntime) => void;
  /** Solver tolerances (defaults 1e-8 / 1e-10: tighter than the noise, so the fit sees the model). */
  rtol?: number;
  atol?: number;
  /** Largest solver step in seconds (default unbounded), so step changes of inputs are not stepped over. */
  maxStep?: number;
}

/** One observed quantity and its observation times (seconds, ascending). */
export interface ObservedSeries {
  observe: Observable;
  times: ArrayLike<number>;
}

export interface BehaviourSeriesSimulatorOptions extends Omit<
  BehaviourSimulatorOptions,
  'times' | 'observe'
> {
  /** At least one; the predictions are series 0's, then series 1's, ... */
  series: readonly ObservedSeries[];
  /** Start of the simulation (default: the earliest observation time of any series). */
  t0?: number;
}

/**
 * @throws TwinloopError BadRequest when a name is unknown or the times are not ascending / before t0.
 * @example
 *   const simulate = behaviourSimulator({ model, parameters: ['tau'], times, observe: { telemetry: 'temperature' } });
 *   const r = calibrate({ simulate, observed, parameters: [{ name: 'tau', initial: 100, min: 1 }] });
 */
export function behaviourSimulator(
  options: BehaviourSimulatorOptions,
): (params: Float64Array) => Float64Array {
  const { times, observe, ...rest } = options;
  return build(rest, [{ observe, times }], (i) => `Observation time ${i}`, 'There are no observation times.');
}

/**
 * Predictions of several observed quantities from one run of the model: the values of series 0 at
 * its times, then series 1's at its times, and so on (the layout `calibrate`'s `observed` needs).
 * @throws TwinloopError BadRequest when a name is unknown, there is no series, a series has no times,
 *   or its times are not ascending / before t0.
 * @example
 *   const simulate = behaviourSeriesSimulator({
 *     model, parameters: ['frictionLoss', 'baseVibration'],
 *     series: [{ observe: { telemetry: 'temperature' }, times: tT }, { observe: { telemetry: 'vibration' }, times: tV }],
 *   });
 */
export function behaviourSeriesSimulator(
  options: BehaviourSeriesSimulatorOptions,
): (params: Float64Array) => Float64Array {
  const { series, ...rest } = options;
  if (!Array.isArray(series) || series.length === 0) {
    throw new TwinloopError('BadRequest', 'There is no observed series.');
  }
  series.forEach((s, k) => {
    if ((s?.times?.length ?? 0) === 0)
      throw new TwinloopError('BadRequest', `Series ${k} has no observation times.`);
  });
  return build(
    rest,
    series,
    (i, k) => `Observation time ${i} of series ${k}`,
    'There are no observation times.',
  );
}

type CommonOptions = Omit<BehaviourSeriesSimulatorOptions, 'series'>;

function build(
  options: CommonOptions,
  series: readonly ObservedSeries[],
  label: (i: number, k: number) => string,
  noTimes: string,
): (params: Float64Array) => Float64Array {
  const { model, parameters } = options;
  const known = new Set(model.layout.parameters);
  for (const name of [...parameters, ...Object.keys(options.fixed ?? {})]) {
    if (!known.has(name)) {
      throw new TwinloopError(
        'BadRequest',
        `Behaviour '${model.spec.behaviour}' has no parameter '${name}'.`,
        {
          details: { parameters: model.layout.parameters },
        },
      );
    }
  }
  const fixedOverlap = parameters.filter((p) => options.fixed && p in options.fixed);
  if (fixedOverlap.length) {
    throw new TwinloopError('BadRequest', `Parameters both fitted and fixed: ${fixedOverlap.join(', ')}.`);
  }
  const perSeries = series.map((s) => Float64Array.from(s.times));
  const total = perSeries.reduce((n, t) => n + t.length, 0);
  if (total === 0) throw new TwinloopError('BadRequest', noTimes);
  const t0 = options.t0 ?? perSeries.reduce((m, t) => (t.length ? Math.min(m, t[0] as number) : m), Infinity);
  perSeries.forEach((times, k) => {
    for (let i = 0; i < times.length; i++) {
      const t = times[i] as number;
      if (!Number.isFinite(t) || t < t0 || (i > 0 && t <= (times[i - 1] as number))) {
        throw new TwinloopError(
          'BadRequest',
          `${label(i, k)} (${t}) must be finite, not before t0 (${t0}) and after the previous one.`,
        );
      }
    }
  });
  const readers = series.map((s) => observer(model, s.observe));
  const initialOverrides = initialOf(model, options.initial);
  const fitInitial = (options.fitInitial ?? []).map((name) => {
    const s = model.layout.states.indexOf(name);
    if (s < 0)
      throw new TwinloopError('BadRequest', `Behaviour '${model.spec.behaviour}' has no state '${name}'.`);
    return s;
  });
  const nValues = parameters.length + fitInitial.length;

  // The union of all observation times (one integration serves every series), and for each union
  // time the (series, output position) pairs read there, as CSR arrays.
  const union = Float64Array.from(new Set(perSeries.flatMap((t) => Array.from(t)))).sort();
  const at = new Map<number, number>();
  union.forEach((t, i) => at.set(t, i));
  const counts = new Int32Array(union.length + 1);
  for (const times of perSeries) for (const t of times) counts[(at.get(t) as number) + 1]!++;
  for (let i = 0; i < union.length; i++) counts[i + 1]! += counts[i] as number;
  const fill = counts.slice(0, union.length);
  const whichSeries = new Int32Array(total);
  const outPos = new Int32Array(total);
  let offset = 0;
  perSeries.forEach((times, k) => {
    times.forEach((t, i) => {
      const slot = fill[at.get(t) as number]!++;
      whichSeries[slot] = k;
      outPos[slot] = offset + i;
    });
    offset += times.length;
  });

  const outputs = new Float64Array(model.layout.outputs.length);
  const tEnd = union[union.length - 1] as number;

  return (params) => {
    if (params.length !== nValues) {
      throw new TwinloopError('BadRequest', `Expected ${nValues} parameter values, got ${params.length}.`);
    }
    const overrides: Record<string, number> = { ...options.fixed };
    parameters.forEach((name, j) => (overrides[name] = params[j] as number));
    const rt = model.createRuntime(overrides);
    options.setup?.(rt);
    let y0: Float64Array;
    if (options.initialState) y0 = Float64Array.from(options.initialState);
    else {
      y0 = model.initialState(rt);
      for (const [s, v] of initialOverrides) y0[s] = v;
    }
    fitInitial.forEach((s, j) => (y0[s] = params[parameters.length + j] as number));
    const pred = new Float64Array(total);
    const sample = (i: number, y: Float64Array): void => {
      model.outputs(union[i] as number, y, rt, outputs); // evaluates the whole frame at (t, y)
      for (let j = counts[i] as number; j < (counts[i + 1] as number); j++) {
        pred[outPos[j] as number] = (readers[whichSeries[j] as number] as Reader)(rt);
      }
    };
    if (y0.length === 0) {
      // A model with no states is purely algebraic: nothing to integrate.
      for (let i = 0; i < union.length; i++) sample(i, y0);
      return pred;
    }
    const sol = solveIvp(model.rhs(rt), t0, y0, tEnd, {
      method: 'dopri5',
      rtol: options.rtol ?? 1e-8,
      atol: options.atol ?? 1e-10,
      tEval: union,
      ...(options.maxStep !== undefined ? { maxStep: options.maxStep } : {}),
    });
    for (let i = 0; i < union.length; i++) sample(i, sol.row(i));
    return pred;
  };
}

type Reader = (rt: BehaviourRuntime) => number;

/** State index -> value for the named initial values. */
function initialOf(
  model: CompiledBehaviour,
  initial: Readonly<Record<string, number>> | undefined,
): [number, number][] {
  return Object.entries(initial ?? {}).map(([name, v]) => {
    const s = model.layout.states.indexOf(name);
    if (s < 0)
      throw new TwinloopError('BadRequest', `Behaviour '${model.spec.behaviour}' has no state '${name}'.`);
    if (!Number.isFinite(v))
      throw new TwinloopError('BadRequest', `Initial value of '${name}' must be a finite number.`);
    return [s, v];
  });
}

/** Reads the observed value from an evaluated frame. */
function observer(model: CompiledBehaviour, observe: Observable): Reader {
  const { slots } = model.layout;
  if (typeof observe === 'string') {
    const slot = slots.get(observe);
    if (slot === undefined || observe === 't') {
      throw new TwinloopError(
        'BadRequest',
        `Behaviour '${model.spec.behaviour}' has no state, output or input '${observe}'.`,
      );
    }
    return (rt) => rt.frame[slot] as number;
  }
  const mapping = model.spec.telemetry.find((m) => m.name === observe?.telemetry);
  if (mapping === undefined) {
    throw new TwinloopError(
      'BadRequest',
      `Behaviour '${model.spec.behaviour}' maps no telemetry '${String(observe?.telemetry)}'.`,
    );
  }
  // The mapping's `from` expression was already checked against these slots when compiling.
  const ev = compileChecked(mapping.from.ast, slots);
  return (rt) => ev(rt.frame);
}
