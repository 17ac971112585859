/**
 * Calibration: fits chosen parameters of a simulation to observed history and reports the fit —
 * RMSE, R², and each parameter's value with a standard error and an approximate 95% interval
 * (Levenberg–Marquardt) — so that the caller can decide to apply them. Pure: `simulate` is any
 * function from parameter values to predictions at the observation times (see
 * behaviour-simulator.ts for one built from a behaviour model).
 */
import { TwinloopError, type Problem } from '../../core/errors/errors.js';
import { studentTQuantile } from './dense.js';
import { levenbergMarquardt } from './levenberg-marquardt.js';
import { nelderMead } from './nelder-mead.js';

export interface CalibrationParameter {
  name: string;
  initial: number;
  min?: number;
  max?: number;
}

export interface CalibrationRequest {
  /** Predictions at the observation times for the given parameter values (in `parameters` order). */
  simulate: (params: Float64Array) => Float64Array;
  observed: ArrayLike<number>;
  parameters: readonly CalibrationParameter[];
  /** Default 'lm'. */
  method?: 'lm' | 'nelder-mead';
  /** Per-observation weights (e.g. 1/σᵢ²), >= 0; the fit minimises Σ wᵢ(predᵢ − obsᵢ)². */
  weights?: ArrayLike<number>;
  /**
   * LM's finite-difference Jacobian (default 'central'). Central differences with a relative step of
   * 1e-4 (the default `diffStep`) suit simulated models: an adaptive ODE solver's output is only
   * smooth in the parameters to about its tolerance, and √ε-sized steps would difference that noise.
   */
  jacobian?: 'forward' | 'central';
  diffStep?: number;
  /** Budget of `simulate` calls (default: the optimiser's own). */
  maxEvaluations?: number;
  /** Confidence level of the reported intervals (default 0.95). */
  confidence?: number;
}

export interface CalibratedParameter {
  name: string;
  value: number;
  /** LM only, when the covariance exists and the parameter is not held at a bound. */
  stdError?: number;
  /** value ∓ t·stdError (Student-t, m − n degrees of freedom), clipped to min/max. */
  low?: number;
  high?: number;
}

export interface CalibrationResult {
  method: 'lm' | 'nelder-mead';
  parameters: CalibratedParameter[];
  /** Unweighted root mean square of predicted − observed. */
  rmse: number;
  /** 1 − SS_res/SS_tot (unweighted); NaN when the observations are all equal. */
  r2: number;
  /** Calls of `simulate`. */
  evaluations: number;
  iterations: number;
  converged: boolean;
  /** Why the optimiser stopped. */
  reason: string;
  /** predicted − observed at the fitted values (unweighted). */
  residuals: Float64Array;
  /** The fitted values by name, ready for `model.createRuntime(values)` when the caller applies them. */
  values: Record<string, number>;
}

/**
 * Fits `parameters` so that `simulate` matches `observed`.
 * @throws TwinloopError ValidationFailed (with problems pointing at the bad field) for empty or
 *   non-finite data, mismatched lengths, duplicate names, min > max, an initial value outside its
 *   bounds, or a `simulate` that returns the wrong number of values or non-finite ones at the start.
 */
export function calibrate(request: CalibrationRequest): CalibrationResult {
  const { observed, weights, params } = checkRequest(request);
  const method = request.method ?? 'lm';
  const m = observed.length;
  const sqrtW = weights ? weights.map(Math.sqrt) : undefined;
  let simulations = 0;

  /** Predictions; a throwing simulation (solver failure at absurd values) becomes non-finite. */
  const predict = (p: Float64Array, strict: boolean): Float64Array => {
    simulations++;
    let pred: Float64Array;
    try {
      pred = request.simulate(Float64Array.from(p));
    } catch (e) {
      // A cooperative fit's slice ending is not a failed simulation (cooperative-fit.ts).
      if (strict || (e instanceof Error && e.name === 'FitSuspended')) throw e;
      return new Float64Array(m).fill(NaN);
    }
    if (pred?.length !== m) {
      throw new TwinloopError(
        'ValidationFailed',
        `simulate returned ${String(pred?.length)} values; there are ${m} observations.`,
      );
    }
    return pred;
  };
  const residualsOf = (p: Float64Array, strict = false): Float64Array => {
    const pred = predict(p, strict);
    return Float64Array.from(
      pred,
      (v, i) => (v - (observed[i] as number)) * (sqrtW ? (sqrtW[i] as number) : 1),
    );
  };
  // The first call is strict: a model that fails at the starting point is the caller's error.
  const first = residualsOf(
    Float64Array.from(params, (p) => p.initial),
    true,
  );
  const bad = first.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new TwinloopError(
      'ValidationFailed',
      `simulate returned a non-finite prediction at observation ${bad} for the initial parameter values.`,
    );
  }

  const x0 = params.map((p) => p.initial);
  const lower = params.map((p) => p.min ?? -Infinity);
  const upper = params.map((p) => p.max ?? Infinity);
  let x: Float64Array;
  let stdErrors: Float64Array | undefined;
  let dof = m - params.length;
  let iterations: number;
  let converged: boolean;
  let reason: string;
  if (method === 'lm') {
    const r = levenbergMarquardt((p) => residualsOf(p), x0, {
      lower,
      upper,
      jacobian: request.jacobian ?? 'central',
      diffStep: request.diffStep ?? 1e-4,
      ...(request.maxEvaluations !== undefined ? { maxEvaluations: request.maxEvaluations } : {}),
    });
    ({ x, stdErrors, dof, iterations, converged, reason } = r);
  } else {
    const r = nelderMead(
      (p) => {
        let s = 0;
        for (const v of residualsOf(p)) s += v * v;
        return s;
      },
      x0,
      {
        lower,
        upper,
        fatol: 1e-12,
        xatol: 1e-10,
        // A fit needs more than SciPy's generic 200·n budget to settle to these tolerances.
        maxIterations: 1000 * params.length,
        maxEvaluations: request.maxEvaluations ?? 1000 * params.length,
      },
    );
    ({ x, iterations, converged, reason } = r);
  }

  const pred = predict(x, true);
  const residuals = Float64Array.from(pred, (v, i) => v - (observed[i] as number));
  let ssRes = 0;
  let mean = 0;
  for (let i = 0; i < m; i++) {
    ssRes += (residuals[i] as number) ** 2;
    mean += (observed[i] as number) / m;
  }
  let ssTot = 0;
  for (let i = 0; i < m; i++) ssTot += ((observed[i] as number) - mean) ** 2;

  const level = request.confidence ?? 0.95;
  const tq = dof > 0 ? studentTQuantile(0.5 + level / 2, dof) : NaN;
  const fitted = params.map((p, j): CalibratedParameter => {
    const value = x[j] as number;
    const out: CalibratedParameter = { name: p.name, value };
    const se = stdErrors?.[j];
    if (se !== undefined && Number.isFinite(se) && Number.isFinite(tq)) {
      out.stdError = se;
      out.low = Math.max(p.min ?? -Infinity, value - tq * se);
      out.high = Math.min(p.max ?? Infinity, value + tq * se);
    }
    return out;
  });
  return {
    method,
    parameters: fitted,
    rmse: Math.sqrt(ssRes / m),
    r2: ssTot > 0 ? 1 - ssRes / ssTot : NaN,
    evaluations: simulations,
    iterations,
    converged,
    reason,
    residuals,
    values: Object.fromEntries(fitted.map((p) => [p.name, p.value])),
  };
}

function checkRequest(request: CalibrationRequest): {
  observed: Float64Array;
  weights: Float64Array | undefined;
  params: readonly CalibrationParameter[];
} {
  const problems: Problem[] = [];
  const bad = (pointer: string, message: string, code = 'sim.calibration.invalid'): void => {
    problems.push({ code, source: 'calibration', pointer, message });
  };
  if (typeof request?.simulate !== 'function') bad('/simulate', 'simulate must be a function.');
  const observed = request?.observed;
  const m = typeof observed?.length === 'number' ? observed.length : -1;
  if (m < 0) bad('/observed', 'observed must be an array of numbers.');
  else if (m === 0) bad('/observed', 'observed is empty: there is nothing to fit.');
  for (let i = 0; i < m; i++) {
    const v = observed[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      bad(`/observed/${i}`, `observation ${i} is ${String(v)}, not a finite number.`);
    }
  }
  const weights = request?.weights;
  if (weights !== undefined) {
    if (weights.length !== m) bad('/weights', `weights has ${weights.length} entries; observed has ${m}.`);
    else {
      let positive = 0;
      for (let i = 0; i < m; i++) {
        const w = weights[i];
        if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
          bad(`/weights/${i}`, `weight ${i} is ${String(w)}; weights must be finite and >= 0.`);
        } else if (w > 0) positive++;
      }
      if (positive === 0 && m > 0) bad('/weights', 'every weight is 0: there is nothing to fit.');
    }
  }
  const params = request?.parameters;
  if (!Array.isArray(params) || params.length === 0) {
    bad('/parameters', 'parameters must list at least one parameter to fit.');
  } else {
    const seen = new Set<string>();
    params.forEach((p: CalibrationParameter, j) => {
      const at = `/parameters/${j}`;
      if (typeof p?.name !== 'string' || p.name === '') bad(`${at}/name`, 'name must be a non-empty string.');
      else if (seen.has(p.name)) bad(`${at}/name`, `parameter '${p.name}' is listed twice.`);
      else seen.add(p.name);
      const label = typeof p?.name === 'string' ? `'${p.name}'` : `${j}`;
      const num = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v);
      if (!num(p?.initial) || !Number.isFinite(p.initial)) {
        bad(`${at}/initial`, `initial value of ${label} is ${String(p?.initial)}, not a finite number.`);
      }
      if (p?.min !== undefined && (!num(p.min) || p.min === Infinity))
        bad(`${at}/min`, `min of ${label} is ${String(p.min)}.`);
      if (p?.max !== undefined && (!num(p.max) || p.max === -Infinity))
        bad(`${at}/max`, `max of ${label} is ${String(p.max)}.`);
      const lo = p?.min ?? -Infinity;
      const hi = p?.max ?? Infinity;
      if (num(lo) && num(hi) && lo > hi)
        bad(`${at}/min`, `min of ${label} (${lo}) is greater than its max (${hi}).`);
      else if (num(p?.initial) && (p.initial < lo || p.initial > hi)) {
        bad(`${at}/initial`, `initial value of ${label} (${p.initial}) is outside [${lo}, ${hi}].`);
      }
    });
  }
  if (request?.method !== undefined && request.method !== 'lm' && request.method !== 'nelder-mead') {
    bad('/method', `method must be 'lm' or 'nelder-mead', got '${String(request.method)}'.`);
  }
  const maxEval = request?.maxEvaluations;
  if (maxEval !== undefined && !(typeof maxEval === 'number' && maxEval >= 1)) {
    bad('/maxEvaluations', `maxEvaluations must be a number >= 1, got ${String(maxEval)}.`);
  }
  const level = request?.confidence;
  if (level !== undefined && !(typeof level === 'number' && level > 0 && level < 1)) {
    bad('/confidence', `confidence must be in (0, 1), got ${String(level)}.`);
  }
  if (problems.length) {
    throw new TwinloopError(
      'ValidationFailed',
      `Invalid calibration request:\n${problems.map((p) => `${p.pointer}: ${p.message}`).join('\n')}`,
      { problems },
    );
  }
  return {
    observed: Float64Array.from(observed),
    weights: weights === undefined ? undefined : Float64Array.from(weights),
    params,
  };
}
