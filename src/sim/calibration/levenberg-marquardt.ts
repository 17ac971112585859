/**
 * Levenberg–Marquardt for nonlinear least squares: minimises Σ rᵢ(p)² with a finite-difference
 * Jacobian (forward or central), Marquardt's diagonal scaling (so parameters of very different
 * magnitudes — a time constant of 600 s and a gain of 0.4 — are damped alike), and box bounds by
 * projection: a parameter held at a bound by the gradient leaves the step (a simple active set),
 * the others are clamped into the box. At the solution it estimates the parameter covariance
 * σ²(JᵀJ)⁻¹ with σ² = SSR/(m − n), which gives each parameter a standard error.
 */
import { TwinloopError } from '../../core/errors/errors.js';
import { checkBounds, clampInto, type Bounds } from './bounds.js';
import { cholesky, choleskySolve, inverseSpd } from './dense.js';

/** Residuals r(p) (model − data, weighted as the caller wishes); always the same length. */
export type ResidualFunction = (p: Float64Array) => Float64Array;

export interface LevenbergMarquardtOptions {
  lower?: ArrayLike<number>;
  upper?: ArrayLike<number>;
  /** Finite differences for the Jacobian (default 'forward'; 'central' costs twice as much). */
  jacobian?: 'forward' | 'central';
  /** Relative difference step (default √ε for forward, ∛ε for central), times max(|pⱼ|, 1). */
  diffStep?: number;
  /** Stop when the projected gradient's largest component is below this (default 1e-10). */
  gtol?: number;
  /** Stop when the step is below xtol·(‖p‖ + xtol) (default 1e-10). */
  xtol?: number;
  /** Stop when an accepted step lowers the cost by less than ftol relative (default 1e-10). */
  ftol?: number;
  /** Default 200. */
  maxIterations?: number;
  /**
   * Residual evaluations, Jacobian ones included (default 200 × (n + 1)); the covariance may take
   * one more Jacobian after the budget is spent.
   */
  maxEvaluations?: number;
  /** Initial damping (default 1e-3). */
  lambda?: number;
}

export interface LevenbergMarquardtResult {
  x: Float64Array;
  /** Residuals at x. */
  residuals: Float64Array;
  /** Σ rᵢ² at x. */
  sumSquares: number;
  /** σ²(JᵀJ)⁻¹ (n×n, row-major) at x; undefined when JᵀJ is singular or m <= n. */
  covariance: Float64Array | undefined;
  /** √diag(covariance); undefined with it. A parameter at an active bound gets NaN. */
  stdErrors: Float64Array | undefined;
  /** Degrees of freedom m − n (observations minus parameters). */
  dof: number;
  iterations: number;
  evaluations: number;
  converged: boolean;
  reason: 'gtol' | 'xtol' | 'ftol' | 'zeroResidual' | 'maxIterations' | 'maxEvaluations' | 'noProgress';
}

/**
 * Fits p to minimise Σ r(p)². A residual vector with a non-finite entry (a failed simulation)
 * rejects the step; at the start it is an error.
 * @throws TwinloopError ValidationFailed for bad x0/bounds/options, residuals of changing length,
 *   or non-finite residuals at the start.
 */
export function levenbergMarquardt(
  residualFn: ResidualFunction,
  x0In: ArrayLike<number>,
  options: LevenbergMarquardtOptions = {},
): LevenbergMarquardtResult {
  const { x0, bounds } = checkBounds(x0In, options.lower, options.upper);
  const n = x0.length;
  const central = checkEnum(options.jacobian ?? 'forward', ['forward', 'central'], 'jacobian') === 'central';
  const diffStep = positive(
    options.diffStep,
    central ? Math.cbrt(Number.EPSILON) : Math.sqrt(Number.EPSILON),
    'diffStep',
  );
  const gtol = positive(options.gtol, 1e-10, 'gtol');
  const xtol = positive(options.xtol, 1e-10, 'xtol');
  const ftol = positive(options.ftol, 1e-10, 'ftol');
  const maxIterations = positive(options.maxIterations, 200, 'maxIterations');
  const maxEvaluations = positive(options.maxEvaluations, 200 * (n + 1), 'maxEvaluations');
  let lambda = positive(options.lambda, 1e-3, 'lambda');

  let evaluations = 0;
  let m = -1;
  const residuals = (p: Float64Array): Float64Array => {
    evaluations++;
    const r = residualFn(p);
    if (!(r instanceof Float64Array) && !Array.isArray(r)) {
      throw new TwinloopError('ValidationFailed', 'The residual function must return an array of numbers.');
    }
    if (m >= 0 && r.length !== m) {
      throw new TwinloopError(
        'ValidationFailed',
        `The residual function returned ${r.length} values, earlier ${m}: it must always return the same number.`,
      );
    }
    return Float64Array.from(r);
  };

  let x = x0;
  let r = residuals(x);
  m = r.length;
  if (m === 0) throw new TwinloopError('ValidationFailed', 'The residual function returned no values.');
  let cost = sumSquares(r);
  if (!Number.isFinite(cost)) {
    throw new TwinloopError('ValidationFailed', 'The residuals are not finite at the starting point.', {
      details: { x0: Array.from(x0), nonFinite: nonFiniteIndices(r) },
    });
  }

  let iterations = 0;
  let reason: LevenbergMarquardtResult['reason'] = 'maxIterations';
  const jacobianCost = central ? 2 * n : n;
  let jac = jacobian(residuals, x, r, bounds, diffStep, central);
  let jacAtX = true;
  outer: for (;;) {
    if (cost === 0) {
      reason = 'zeroResidual';
      break;
    }
    const { jtj, g } = normalEquations(jac, r, m, n);
    const free = freeMask(x, g, bounds);
    let gmax = 0;
    for (let j = 0; j < n; j++) if (free[j]) gmax = Math.max(gmax, Math.abs(g[j] as number));
    if (gmax <= gtol) {
      reason = 'gtol';
      break;
    }
    if (iterations >= maxIterations) {
      reason = 'maxIterations';
      break;
    }
    iterations++;
    // Inner loop: raise the damping until a step lowers the cost.
    for (;;) {
      if (evaluations >= maxEvaluations) {
        reason = 'maxEvaluations';
        break outer;
      }
      const a = new Float64Array(n * n);
      const b = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) a[i * n + j] = free[i] && free[j] ? (jtj[i * n + j] as number) : 0;
        const d = Math.max(jtj[i * n + i] as number, 1e-12);
        a[i * n + i] = free[i] ? (a[i * n + i] as number) + lambda * d : 1;
        b[i] = free[i] ? -(g[i] as number) : 0;
      }
      const l = cholesky(a, n);
      if (l === undefined) {
        lambda *= 10;
        if (lambda > 1e16) {
          reason = 'noProgress';
          break outer;
        }
        continue;
      }
      const step = choleskySolve(l, n, b);
      const xNew = clampInto(
        Float64Array.from(x, (xi, j) => xi + (step[j] as number)),
        bounds,
      );
      let stepNorm = 0;
      let xNorm = 0;
      for (let j = 0; j < n; j++) {
        stepNorm += ((xNew[j] as number) - (x[j] as number)) ** 2;
        xNorm += (x[j] as number) ** 2;
      }
      stepNorm = Math.sqrt(stepNorm);
      const rNew = residuals(xNew);
      const costNew = sumSquares(rNew);
      if (Number.isFinite(costNew) && costNew < cost) {
        const reduction = (cost - costNew) / cost;
        x = xNew;
        r = rNew;
        cost = costNew;
        jacAtX = false;
        lambda = Math.max(lambda / 10, 1e-12);
        // The step test only on accepted steps: a rejected step is small because it is damped,
        // not because we are there.
        if (stepNorm <= xtol * (Math.sqrt(xNorm) + xtol)) {
          reason = 'xtol';
          break outer;
        }
        if (reduction <= ftol) {
          reason = 'ftol';
          break outer;
        }
        if (evaluations + jacobianCost > maxEvaluations) {
          reason = 'maxEvaluations';
          break outer;
        }
        jac = jacobian(residuals, x, r, bounds, diffStep, central);
        jacAtX = true;
        break;
      }
      lambda *= 10;
      if (lambda > 1e16) {
        // No damping gives a lower cost: we are at a minimum to within rounding.
        reason = 'noProgress';
        break outer;
      }
    }
  }

  // Covariance at the solution, from a fresh Jacobian when x moved since the last one (this one
  // Jacobian may go beyond maxEvaluations: a fit without its uncertainty is only half a report).
  const dof = m - n;
  let covariance: Float64Array | undefined;
  let stdErrors: Float64Array | undefined;
  if (dof > 0) {
    const jFinal = jacAtX ? jac : jacobian(residuals, x, r, bounds, diffStep, central);
    const { jtj, g } = normalEquations(jFinal, r, m, n);
    const inv = inverseSpd(jtj, n);
    if (inv !== undefined) {
      const s2 = cost / dof;
      covariance = inv.map((v) => v * s2);
      const free = freeMask(x, g, bounds);
      stdErrors = Float64Array.from({ length: n }, (_, j) =>
        free[j] ? Math.sqrt(Math.max(0, covariance?.[j * n + j] as number)) : NaN,
      );
    }
  }
  const converged = ['gtol', 'xtol', 'ftol', 'zeroResidual', 'noProgress'].includes(reason);
  return {
    x,
    residuals: r,
    sumSquares: cost,
    covariance,
    stdErrors,
    dof,
    iterations,
    evaluations,
    converged,
    reason,
  };
}

/** m×n Jacobian (row-major) by finite differences, stepping away from a bound when needed. */
function jacobian(
  residuals: ResidualFunction,
  x: Float64Array,
  r0: Float64Array,
  b: Bounds,
  rel: number,
  central: boolean,
): Float64Array {
  const m = r0.length;
  const n = x.length;
  const jac = new Float64Array(m * n);
  for (let j = 0; j < n; j++) {
    const xj = x[j] as number;
    const lo = b.lower[j] as number;
    const hi = b.upper[j] as number;
    const h = rel * Math.max(Math.abs(xj), 1);
    const at = (v: number): Float64Array => {
      const p = Float64Array.from(x);
      p[j] = v;
      return residuals(p);
    };
    let col: (i: number) => number;
    if (central && xj - h >= lo && xj + h <= hi) {
      const rp = at(xj + h);
      const rm = at(xj - h);
      col = (i) => ((rp[i] as number) - (rm[i] as number)) / (2 * h);
    } else {
      const hs = xj + h <= hi ? h : -h;
      const rp = at(xj + hs);
      col = (i) => ((rp[i] as number) - (r0[i] as number)) / hs;
    }
    for (let i = 0; i < m; i++) {
      const v = col(i);
      if (!Number.isFinite(v)) {
        throw new TwinloopError(
          'ValidationFailed',
          `The residuals are not finite near the current point (parameter ${j} = ${xj}): cannot form the Jacobian.`,
        );
      }
      jac[i * n + j] = v;
    }
  }
  return jac;
}

/** JᵀJ and the gradient Jᵀr. */
function normalEquations(
  jac: Float64Array,
  r: Float64Array,
  m: number,
  n: number,
): { jtj: Float64Array; g: Float64Array } {
  const jtj = new Float64Array(n * n);
  const g = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    const ri = r[i] as number;
    for (let a = 0; a < n; a++) {
      const ja = jac[i * n + a] as number;
      g[a] = (g[a] as number) + ja * ri;
      for (let c = 0; c <= a; c++)
        jtj[a * n + c] = (jtj[a * n + c] as number) + ja * (jac[i * n + c] as number);
    }
  }
  for (let a = 0; a < n; a++) for (let c = 0; c < a; c++) jtj[c * n + a] = jtj[a * n + c] as number;
  return { jtj, g };
}

/** A parameter is held when it sits on a bound and the descent direction −g points out of the box. */
function freeMask(x: Float64Array, g: Float64Array, b: Bounds): boolean[] {
  return Array.from(x, (xj, j) => {
    const gj = g[j] as number;
    if (xj <= (b.lower[j] as number) && gj > 0) return false;
    if (xj >= (b.upper[j] as number) && gj < 0) return false;
    return (b.lower[j] as number) < (b.upper[j] as number);
  });
}

function sumSquares(r: Float64Array): number {
  let s = 0;
  for (const v of r) s += v * v;
  return s; // NaN or Infinity when any residual is not finite
}

function nonFiniteIndices(r: Float64Array): number[] {
  const out: number[] = [];
  r.forEach((v, i) => {
    if (!Number.isFinite(v) && out.length < 20) out.push(i);
  });
  return out;
}

function positive(v: number | undefined, fallback: number, what: string): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !(v > 0) || Number.isNaN(v)) {
    throw new TwinloopError('ValidationFailed', `${what} must be a number > 0, got ${String(v)}.`);
  }
  return v;
}

function checkEnum<T extends string>(v: string, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly string[]).includes(v)) {
    throw new TwinloopError('ValidationFailed', `${what} must be one of ${allowed.join(', ')}, got '${v}'.`);
  }
  return v as T;
}
