/**
 * Bounded Nelder–Mead simplex minimisation (derivative-free). Bounds are handled by a smooth
 * change of variables (see bounds.ts), so every point evaluated lies inside the box and the
 * simplex never collapses against a wall as it does with clamping. Standard coefficients
 * (reflection 1, expansion 2, contraction 1/2, shrink 1/2) and SciPy's stopping rule: stop when
 * both the spread of the vertices (xatol, in the caller's units) and of their values (fatol) are
 * small, or when an iteration/evaluation budget runs out.
 */
import { TwinloopError } from '../../core/errors/errors.js';
import { checkBounds, toExternal, toInternal, type Bounds } from './bounds.js';

export interface NelderMeadOptions {
  lower?: ArrayLike<number>;
  upper?: ArrayLike<number>;
  /**
   * Size of the initial simplex along each axis, in the caller's units (default: 5% of |x0|, or
   * 0.00025 where x0 is 0, as SciPy; shrunk to fit the bounds).
   */
  initialStep?: number | ArrayLike<number>;
  /** Absolute spread of vertex values to stop at (default 1e-8). */
  fatol?: number;
  /** Absolute spread of vertex coordinates to stop at (default 1e-8). */
  xatol?: number;
  /** Default 200 × number of parameters. */
  maxIterations?: number;
  /** Default 200 × number of parameters. */
  maxEvaluations?: number;
}

export interface NelderMeadResult {
  /** The best point found (inside the bounds). */
  x: Float64Array;
  /** f(x). */
  fun: number;
  iterations: number;
  evaluations: number;
  /** True when the xatol/fatol test stopped the search, false when a budget did. */
  converged: boolean;
  reason: 'tolerance' | 'maxIterations' | 'maxEvaluations';
}

/**
 * Minimises f from x0 inside optional bounds. A non-finite f(x) (a failed simulation) counts as
 * +Infinity so the simplex moves away from it; a non-finite f(x0) is an error.
 * @throws TwinloopError ValidationFailed for bad x0/bounds/options or a non-finite f(x0).
 */
export function nelderMead(
  f: (x: Float64Array) => number,
  x0In: ArrayLike<number>,
  options: NelderMeadOptions = {},
): NelderMeadResult {
  const { x0, bounds } = checkBounds(x0In, options.lower, options.upper);
  const n = x0.length;
  const fatol = positiveOption(options.fatol, 1e-8, 'fatol');
  const xatol = positiveOption(options.xatol, 1e-8, 'xatol');
  const maxIterations = positiveOption(options.maxIterations, 200 * n, 'maxIterations');
  const maxEvaluations = positiveOption(options.maxEvaluations, 200 * n, 'maxEvaluations');

  const external = (z: Float64Array): Float64Array =>
    Float64Array.from(z, (zi, i) => toExternal(zi, bounds.lower[i] as number, bounds.upper[i] as number));
  let evaluations = 0;
  const evaluate = (z: Float64Array): number => {
    evaluations++;
    const v = f(external(z));
    return Number.isFinite(v) ? v : Infinity;
  };

  // Initial simplex, built in the caller's units then mapped inside.
  const simplex: Float64Array[] = [internal(x0, bounds)];
  for (let i = 0; i < n; i++) {
    const x = Float64Array.from(x0);
    x[i] = stepInside(x0[i] as number, initialStep(options.initialStep, x0, i), bounds, i);
    simplex.push(internal(x, bounds));
  }
  const values = simplex.map((z, k) => {
    const v = evaluate(z);
    if (k === 0 && v === Infinity) {
      throw new TwinloopError('ValidationFailed', 'The objective is not finite at the starting point.', {
        details: { x0: Array.from(x0) },
      });
    }
    return v;
  });

  const order = (): void => {
    const idx = simplex.map((_, k) => k).sort((a, b) => (values[a] as number) - (values[b] as number));
    const s = idx.map((k) => simplex[k] as Float64Array);
    const v = idx.map((k) => values[k] as number);
    simplex.splice(0, simplex.length, ...s);
    values.splice(0, values.length, ...v);
  };
  const combine = (c: Float64Array, w: Float64Array, coef: number): Float64Array =>
    Float64Array.from(c, (ci, j) => ci + coef * ((w[j] as number) - ci));

  let iterations = 0;
  let reason: NelderMeadResult['reason'] = 'maxIterations';
  order();
  for (;;) {
    if (converged(simplex, values, bounds, xatol, fatol)) {
      reason = 'tolerance';
      break;
    }
    if (iterations >= maxIterations) {
      reason = 'maxIterations';
      break;
    }
    if (evaluations >= maxEvaluations) {
      reason = 'maxEvaluations';
      break;
    }
    iterations++;
    const worst = simplex[n] as Float64Array;
    const fWorst = values[n] as number;
    const centroid = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const z = simplex[k] as Float64Array;
      for (let j = 0; j < n; j++) centroid[j] = (centroid[j] as number) + (z[j] as number) / n;
    }

    const xr = combine(centroid, worst, -1);
    const fr = evaluate(xr);
    const fBest = values[0] as number;
    const fSecondWorst = values[n - 1] as number;
    let accepted: [Float64Array, number] | undefined;
    if (fr < fBest) {
      const xe = combine(centroid, worst, -2);
      const fe = evaluate(xe);
      accepted = fe < fr ? [xe, fe] : [xr, fr];
    } else if (fr < fSecondWorst) {
      accepted = [xr, fr];
    } else {
      // Outside contraction when the reflection beat the worst point, inside otherwise.
      const outside = fr < fWorst;
      const xc = combine(centroid, worst, outside ? -0.5 : 0.5);
      const fc = evaluate(xc);
      if (fc < (outside ? fr : fWorst)) accepted = [xc, fc];
    }
    if (accepted) {
      simplex[n] = accepted[0];
      values[n] = accepted[1];
    } else {
      const best = simplex[0] as Float64Array;
      for (let k = 1; k <= n; k++) {
        simplex[k] = combine(best, simplex[k] as Float64Array, 0.5);
        values[k] = evaluate(simplex[k] as Float64Array);
      }
    }
    order();
  }
  return {
    x: external(simplex[0] as Float64Array),
    fun: values[0] as number,
    iterations,
    evaluations,
    converged: reason === 'tolerance',
    reason,
  };
}

function internal(x: Float64Array, b: Bounds): Float64Array {
  return Float64Array.from(x, (xi, i) => toInternal(xi, b.lower[i] as number, b.upper[i] as number));
}

function converged(
  simplex: readonly Float64Array[],
  values: readonly number[],
  b: Bounds,
  xatol: number,
  fatol: number,
): boolean {
  const f0 = values[0] as number;
  for (const v of values) if (!(Math.abs(v - f0) <= fatol)) return false;
  const ext = (z: Float64Array, j: number): number =>
    toExternal(z[j] as number, b.lower[j] as number, b.upper[j] as number);
  const best = simplex[0] as Float64Array;
  for (const z of simplex) {
    for (let j = 0; j < z.length; j++) if (!(Math.abs(ext(z, j) - ext(best, j)) <= xatol)) return false;
  }
  return true;
}

function initialStep(step: number | ArrayLike<number> | undefined, x0: Float64Array, i: number): number {
  const s = typeof step === 'number' ? step : step?.[i];
  if (s !== undefined) {
    if (!(Number.isFinite(s) && s > 0)) {
      throw new TwinloopError(
        'ValidationFailed',
        `initialStep[${i}] must be a finite number > 0, got ${String(s)}.`,
      );
    }
    return s;
  }
  const x = x0[i] as number;
  return x === 0 ? 0.00025 : 0.05 * Math.abs(x);
}

/** x + step, or x − step when that leaves the box, or halfway to the farther bound when both do. */
function stepInside(x: number, step: number, b: Bounds, i: number): number {
  const lo = b.lower[i] as number;
  const hi = b.upper[i] as number;
  if (x + step <= hi) return x + step;
  if (x - step >= lo) return x - step;
  return hi - x >= x - lo ? (x + hi) / 2 : (x + lo) / 2;
}

function positiveOption(v: number | undefined, fallback: number, what: string): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !(v > 0) || Number.isNaN(v)) {
    throw new TwinloopError('ValidationFailed', `${what} must be a number > 0, got ${String(v)}.`);
  }
  return v;
}
