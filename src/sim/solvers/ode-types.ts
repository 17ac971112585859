/**
 * Shared contracts of Twinloop's ODE solvers: the right-hand side signature, the options every
 * stepper understands, and the counters they keep. Pure types and argument checks, no I/O.
 *
 * A system is `f(t, y, dydt)` that WRITES the derivative into the preallocated `dydt` (never
 * allocates): the solvers call it millions of times for a fleet of assets, so a per-call array
 * would dominate the cost.
 */
import { TwinloopError, type Problem } from '../../core/errors/errors.js';

/** Right-hand side of y' = f(t, y): writes f(t, y) into `dydt` (same length as `y`). */
export type OdeRhs = (t: number, y: Float64Array, dydt: Float64Array) => void;

export type SolverMethod = 'rk4' | 'dopri5';

/** Counters of one stepper (or one solveIvp run). */
export interface SolverStats {
  /** Accepted steps. */
  steps: number;
  /** Rejected step attempts (always 0 for RK4). */
  rejected: number;
  /** Calls of the right-hand side. */
  fevals: number;
}

/** Options for the steppers; every field has a default. */
export interface StepperOptions {
  /** RK4: the fixed step (required for rk4). DOPRI5: the first step (default: Hairer's selection). */
  h?: number;
  /** DOPRI5 relative tolerance, scalar or per component (default 1e-6). */
  rtol?: number | ArrayLike<number>;
  /** DOPRI5 absolute tolerance, scalar or per component (default 1e-9). */
  atol?: number | ArrayLike<number>;
  /** Largest step the adaptive method may take (default: unbounded). */
  maxStep?: number;
  /** DOPRI5 step-size control: safety factor (default 0.9). */
  safety?: number;
  /** DOPRI5 step-size control: smallest factor a step may shrink by (default 0.2). */
  minFactor?: number;
  /** DOPRI5 step-size control: largest factor a step may grow by (default 10). */
  maxFactor?: number;
  /**
   * Most step attempts (accepted + rejected) over the stepper's life before it gives up with an
   * error (default 1,000,000 for dopri5, 100,000,000 for rk4).
   */
  maxSteps?: number;
}

/**
 * A solver that advances one step at a time: what a real-time simulator drives. `y` is the state
 * at `t`; it is owned by the stepper (read it, copy it, never write it: use `reset` to change it)
 * and its array may be a different one after each step.
 */
export interface OdeStepper {
  readonly method: SolverMethod;
  readonly dim: number;
  /** Current time. */
  readonly t: number;
  /** Start of the last step (equals `t` before the first step and after a reset). */
  readonly tPrev: number;
  /** Current state (see the interface note: read-only, valid until the next step). */
  readonly y: Float64Array;
  /** Step size the next step will try (RK4: the fixed step). */
  readonly h: number;
  readonly stats: SolverStats;
  /**
   * Takes one accepted step that ends no later than `tLimit` (it ends exactly there when the
   * natural step would pass it) and returns the new `t`.
   * @throws TwinloopError BadRequest when tLimit <= t, or when the step size underflows or
   *   maxSteps is reached (details: t reached, h, steps).
   */
  step(tLimit: number): number;
  /** Steps until `t === tTarget` exactly (no-op when already there). Same errors as `step`. */
  advanceTo(tTarget: number): void;
  /**
   * Writes the state at `tq` into `out`, from the continuous extension of the last step
   * (DOPRI5: its 4th-order dense output; RK4: cubic Hermite), for tq in [tPrev, t].
   * @throws TwinloopError BadRequest when tq is outside [tPrev, t].
   */
  interpolate(tq: number, out: Float64Array): void;
  /**
   * Replaces the state (after a discrete change: a valve opens, a setpoint jumps) and restarts:
   * the derivative is evaluated again and the last step's dense output is dropped.
   * @throws TwinloopError ValidationFailed when y has the wrong length or a non-finite value.
   */
  reset(t: number, y: ArrayLike<number>): void;
}

// ---- argument checks shared by the steppers and solveIvp ----

export function badRequest(message: string, details?: Record<string, unknown>): TwinloopError {
  return new TwinloopError('BadRequest', message, details ? { details } : {});
}

/** Checks a state vector; every non-finite component is reported at once with its index. */
export function checkState(y: ArrayLike<number>, what: string, dim?: number): Float64Array {
  if (y === null || typeof y !== 'object' || typeof y.length !== 'number') {
    throw new TwinloopError('ValidationFailed', `${what} must be an array of numbers.`);
  }
  if (dim !== undefined && y.length !== dim) {
    throw new TwinloopError('ValidationFailed', `${what} has ${y.length} components; the system has ${dim}.`);
  }
  if (y.length === 0)
    throw new TwinloopError('ValidationFailed', `${what} must have at least one component.`);
  const problems: Problem[] = [];
  for (let i = 0; i < y.length; i++) {
    const v = y[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      problems.push({
        code: 'solver.state.nonFinite',
        source: what,
        pointer: `/${i}`,
        message: `component ${i} is ${String(v)}, not a finite number`,
      });
    }
  }
  if (problems.length) {
    throw new TwinloopError(
      'ValidationFailed',
      `${what} has non-finite components:\n${problems.map((p) => `${p.pointer}: ${p.message}`).join('\n')}`,
      { problems },
    );
  }
  return Float64Array.from(y);
}

export function checkFinite(x: number, what: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) {
    throw new TwinloopError('ValidationFailed', `${what} must be a finite number, got ${String(x)}.`);
  }
  return x;
}

export function checkPositive(x: number, what: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) {
    throw new TwinloopError('ValidationFailed', `${what} must be a finite number > 0, got ${String(x)}.`);
  }
  return x;
}

/** Expands a scalar or per-component tolerance to one value per component, all > 0 (or >= 0). */
export function tolerance(
  v: number | ArrayLike<number> | undefined,
  fallback: number,
  dim: number,
  what: string,
  allowZero: boolean,
): Float64Array {
  const out = new Float64Array(dim);
  const ok = (x: unknown): x is number =>
    typeof x === 'number' && Number.isFinite(x) && (allowZero ? x >= 0 : x > 0);
  if (v === undefined) return out.fill(fallback);
  if (typeof v === 'number') {
    if (!ok(v))
      throw new TwinloopError('ValidationFailed', `${what} must be ${allowZero ? '>= 0' : '> 0'}, got ${v}.`);
    return out.fill(v);
  }
  if (v.length !== dim) {
    throw new TwinloopError('ValidationFailed', `${what} has ${v.length} components; the system has ${dim}.`);
  }
  for (let i = 0; i < dim; i++) {
    const x = v[i];
    if (!ok(x)) {
      throw new TwinloopError(
        'ValidationFailed',
        `${what}[${i}] must be ${allowZero ? '>= 0' : '> 0'}, got ${String(x)}.`,
        {
          problems: [
            { code: 'solver.tolerance.invalid', source: what, pointer: `/${i}`, message: 'invalid' },
          ],
        },
      );
    }
    out[i] = x;
  }
  return out;
}
