/**
 * Builds the `simulate` function calibration needs from a compiled behaviour model: for given
 * values of the fitted parameters it creates a fresh runtime with them overridden, integrates the
 * model's states with DOPRI5 from t0, samples at the observation times and reads the observed
 * quantity there — a state, an output or an input by name, or a telemetry mapping's value before
 * sensor noise and sensor faults (calibration fits the process, not the noise).
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { BehaviourRuntime, CompiledBehaviour } from '../behaviour/index.js';
import { compileChecked } from '../expr/compile-expr.js';
import { solveIvp } from '../solvers/solve-ivp.js';

export interface BehaviourSimulatorOptions {
  model: CompiledBehaviour;
  /** Names of the parameters being fitted, in the order of the vector `simulate` receives. */
  parameters: readonly string[];
  /** Observation times in seconds, ascending, none before t0. */
  times: ArrayLike<number>;
  /** A state/output/input name, or `{ telemetry: name }` for a mapped telemetry (noise-free). */
  observe: string | { telemetry: string };
  /** Start of the simulation (default: the first observation time). */
  t0?: number;
  /** Values of other parameters (not fitted) for this twin. */
  fixed?: Readonly<Record<string, number>>;
  /** Initial state (default: the model's `initial` expressions over the trial parameters). */
  initialState?: ArrayLike<number>;
  /** Sets inputs on each fresh runtime before the run (`model.setInput(rt, 'u', 1)`, commands...). */
  setup?: (rt: BehaviourRuntime) => void;
  /** Solver tolerances (defaults 1e-8 / 1e-10: tighter than the noise, so the fit sees the model). */
  rtol?: number;
  atol?: number;
}

/**
 * @throws TwinloopError BadRequest when a name is unknown or the times are not ascending / before t0.
 */
export function behaviourSimulator(
  options: BehaviourSimulatorOptions,
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
  const times = Float64Array.from(options.times);
  if (times.length === 0) throw new TwinloopError('BadRequest', 'There are no observation times.');
  const t0 = options.t0 ?? (times[0] as number);
  for (let i = 0; i < times.length; i++) {
    const t = times[i] as number;
    if (!Number.isFinite(t) || t < t0 || (i > 0 && t <= (times[i - 1] as number))) {
      throw new TwinloopError(
        'BadRequest',
        `Observation time ${i} (${t}) must be finite, not before t0 (${t0}) and after the previous one.`,
      );
    }
  }
  const read = observer(model, options.observe);
  const outputs = new Float64Array(model.layout.outputs.length);
  const tEnd = times[times.length - 1] as number;

  return (params) => {
    if (params.length !== parameters.length) {
      throw new TwinloopError(
        'BadRequest',
        `Expected ${parameters.length} parameter values, got ${params.length}.`,
      );
    }
    const overrides: Record<string, number> = { ...options.fixed };
    parameters.forEach((name, j) => (overrides[name] = params[j] as number));
    const rt = model.createRuntime(overrides);
    options.setup?.(rt);
    const y0 = options.initialState ? Float64Array.from(options.initialState) : model.initialState(rt);
    const pred = new Float64Array(times.length);
    const sample = (i: number, y: Float64Array): void => {
      const t = times[i] as number;
      model.outputs(t, y, rt, outputs); // evaluates the whole frame at (t, y)
      pred[i] = read(rt);
    };
    if (y0.length === 0) {
      // A model with no states is purely algebraic: nothing to integrate.
      for (let i = 0; i < times.length; i++) sample(i, y0);
      return pred;
    }
    const sol = solveIvp(model.rhs(rt), t0, y0, tEnd, {
      method: 'dopri5',
      rtol: options.rtol ?? 1e-8,
      atol: options.atol ?? 1e-10,
      tEval: times,
    });
    for (let i = 0; i < times.length; i++) sample(i, sol.row(i));
    return pred;
  };
}

/** Reads the observed value from an evaluated frame. */
function observer(
  model: CompiledBehaviour,
  observe: string | { telemetry: string },
): (rt: BehaviourRuntime) => number {
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
