/**
 * Fits the smoothing parameters of one ETS(A,T,S) model by minimising the sum of squared one-step
 * errors with Nelder–Mead (bounded parameters through a logistic), and scores it by AICc (Gaussian likelihood, parameters plus
 * initial states counted). Parameters are searched in a box that keeps the usual constraints:
 * β = α·b*, γ = (1 − α)·g*, with α, b*, g* in (0, 1) and φ in [0.8, 0.98].
 */
import { simplexMinimise } from './simplex.js';
import {
  initialState,
  parameterCount,
  runEts,
  type EtsParams,
  type EtsRun,
  type EtsSpec,
  type EtsState,
} from './ets-model.js';

export interface EtsFit {
  spec: EtsSpec;
  params: EtsParams;
  init: EtsState;
  run: EtsRun;
  /** Observations the fit used. */
  n: number;
  /** ML estimate of the one-step error variance, SSE / n. */
  sigma2: number;
  /** Undefined when there are too few observations for the model's parameter count. */
  aicc: number | undefined;
}

const LO = 1e-4;
const HI = 1 - 1e-4;

/** x = [level0, (slope0), alpha, (b*), (phi), (g*)] → smoothing parameters. */
function toParams(spec: EtsSpec, x: Float64Array): EtsParams {
  let i = spec.trend === 'N' ? 1 : 2;
  const alpha = x[i++] as number;
  const bStar = spec.trend === 'N' ? 0 : (x[i++] as number);
  const phi = spec.trend === 'Ad' ? (x[i++] as number) : spec.trend === 'A' ? 1 : 0;
  const gStar = spec.season === 'N' ? 0 : (x[i++] as number);
  return { alpha, beta: alpha * bStar, gamma: (1 - alpha) * gStar, phi };
}

/** AICc of a fit with this SSE over n observations and k counted parameters (plus σ). */
export function aiccOf(sse: number, n: number, k: number): number | undefined {
  const kk = k + 1;
  if (n - kk - 1 <= 0) return undefined;
  // A perfect fit would give log(0): floor the variance so that ties go to the simpler model.
  const s2 = Math.max(sse / n, 1e-300);
  const m2ll = n * (Math.log(2 * Math.PI * s2) + 1);
  return m2ll + 2 * kk + (2 * kk * (kk + 1)) / (n - kk - 1);
}

/**
 * Fits `spec` to y (finite values, at least two seasons when seasonal). Undefined when the model
 * cannot run on these data (a multiplicative model on data that reach zero).
 * @param maxEvaluations objective evaluations allowed (each is one pass over y).
 */
export function fitEts(y: Float64Array, spec: EtsSpec, maxEvaluations = 400): EtsFit | undefined {
  const heuristic = initialState(y, spec);
  // The initial level and slope are fitted with the smoothing parameters (from the heuristic
  // start); the seasonal states keep their heuristic values (m of them would be too many).
  const box: [number, number, number][] = [[heuristic.level, -Infinity, Infinity]];
  if (spec.trend !== 'N') box.push([heuristic.trend, -Infinity, Infinity]);
  box.push([0.5, LO, HI]);
  if (spec.trend !== 'N') box.push([0.1, LO, HI]);
  if (spec.trend === 'Ad') box.push([0.95, 0.8, 0.98]);
  if (spec.season !== 'N') box.push([0.1, LO, HI]);
  const x0 = box.map((b) => b[0]);
  const lower = box.map((b) => b[1]);
  const upper = box.map((b) => b[2]);
  const stateOf = (x: Float64Array): EtsState => ({
    level: x[0] as number,
    trend: spec.trend === 'N' ? 0 : (x[1] as number),
    season: heuristic.season,
  });
  // Bounded coordinates are searched through a logistic, unbounded ones (level, slope) as they are.
  const ext = (z: Float64Array): Float64Array =>
    Float64Array.from(z, (zi, i) => {
      const lo = lower[i] as number;
      const hi = upper[i] as number;
      return Number.isFinite(lo) ? lo + (hi - lo) / (1 + Math.exp(-zi)) : zi;
    });
  const z0 = x0.map((xi, i) => {
    const lo = lower[i] as number;
    const hi = upper[i] as number;
    return Number.isFinite(lo) ? Math.log((xi - lo) / (hi - xi)) : xi;
  });
  const steps = x0.map((xi, i) =>
    Number.isFinite(lower[i] as number) ? 0.5 : Math.max(0.05 * Math.abs(xi), 0.01),
  );
  const objective = (z: Float64Array): number => {
    const x = ext(z);
    return runEts(y, spec, toParams(spec, x), stateOf(x)).sse;
  };
  const f0 = objective(Float64Array.from(z0));
  if (!Number.isFinite(f0)) return undefined;
  const best = simplexMinimise(objective, z0, steps, {
    maxEvaluations,
    fatol: Math.max(f0 * 1e-10, 1e-300),
  });
  const res = { x: ext(best.x) };
  const params = toParams(spec, res.x);
  const init = stateOf(res.x);
  const run = runEts(y, spec, params, init);
  if (!Number.isFinite(run.sse)) return undefined;
  const n = y.length;
  return {
    spec,
    params,
    init,
    run,
    n,
    sigma2: run.sse / n,
    aicc: aiccOf(run.sse, n, parameterCount(spec)),
  };
}
