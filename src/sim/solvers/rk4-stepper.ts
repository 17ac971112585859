/**
 * Classic fixed-step 4th-order Runge–Kutta, as a stepper a real-time simulator can drive tick by
 * tick. Four right-hand-side calls per step: the derivative at the end of a step is computed once
 * and reused as the next step's first stage (and for the cubic Hermite dense output).
 * No allocation per step: every work array is made in the constructor and swapped, never copied.
 */
import {
  badRequest,
  checkFinite,
  checkPositive,
  checkState,
  type OdeRhs,
  type OdeStepper,
  type SolverStats,
  type StepperOptions,
} from './ode-types.js';

/** A step shorter than this fraction of h before a limit is merged into the step (no slivers). */
const SLIVER = 1e-9;

/**
 * @example
 * const s = new Rk4Stepper((t, y, d) => { d[0] = -y[0]!; }, 0, [1], { h: 0.01 });
 * s.advanceTo(1); // s.y[0] ≈ Math.exp(-1)
 */
export class Rk4Stepper implements OdeStepper {
  readonly method = 'rk4' as const;
  readonly dim: number;
  readonly stats: SolverStats = { steps: 0, rejected: 0, fevals: 0 };
  private readonly f: OdeRhs;
  private readonly hFixed: number;
  private readonly maxSteps: number;
  private tCur: number;
  private tOld: number;
  private hLast = 0;
  private yCur: Float64Array;
  private yOld: Float64Array;
  private k1: Float64Array;
  private k1Old: Float64Array;
  private readonly k2: Float64Array;
  private readonly k3: Float64Array;
  private readonly k4: Float64Array;
  private readonly tmp: Float64Array;

  constructor(f: OdeRhs, t0: number, y0: ArrayLike<number>, options: StepperOptions = {}) {
    if (typeof f !== 'function') throw badRequest('The system must be a function f(t, y, dydt).');
    this.f = f;
    this.tCur = this.tOld = checkFinite(t0, 't0');
    if (options.h === undefined) throw badRequest('rk4 needs a fixed step size: options.h.');
    this.hFixed = checkPositive(options.h, 'h');
    this.maxSteps = options.maxSteps === undefined ? 1e8 : checkPositive(options.maxSteps, 'maxSteps');
    this.yCur = checkState(y0, 'y0');
    const n = (this.dim = this.yCur.length);
    this.yOld = new Float64Array(n);
    this.k1 = new Float64Array(n);
    this.k1Old = new Float64Array(n);
    this.k2 = new Float64Array(n);
    this.k3 = new Float64Array(n);
    this.k4 = new Float64Array(n);
    this.tmp = new Float64Array(n);
    this.f(this.tCur, this.yCur, this.k1);
    this.stats.fevals++;
  }

  get t(): number {
    return this.tCur;
  }
  get tPrev(): number {
    return this.tOld;
  }
  get y(): Float64Array {
    return this.yCur;
  }
  get h(): number {
    return this.hFixed;
  }

  step(tLimit: number): number {
    const t = this.tCur;
    if (!(tLimit > t)) throw badRequest(`step(tLimit): tLimit ${tLimit} must be after t = ${t}.`, { t });
    if (this.stats.steps >= this.maxSteps) {
      throw badRequest(`rk4 gave up at t = ${t}: maxSteps (${this.maxSteps}) reached.`, {
        reason: 'maxSteps',
        t,
        steps: this.stats.steps,
      });
    }
    let h = this.hFixed;
    const last = t + h * (1 + SLIVER) >= tLimit;
    if (last) h = tLimit - t;
    else if (t + h === t) {
      // h below the spacing of doubles at t: time would stand still.
      throw badRequest(`rk4 step size ${h} is too small to advance from t = ${t}.`, {
        reason: 'stepUnderflow',
        t,
        h,
      });
    }
    const n = this.dim;
    const f = this.f;
    const y = this.yCur;
    const k1 = this.k1;
    const k2 = this.k2;
    const k3 = this.k3;
    const k4 = this.k4;
    const tmp = this.tmp;
    const h2 = 0.5 * h;
    for (let i = 0; i < n; i++) tmp[i] = y[i]! + h2 * k1[i]!;
    f(t + h2, tmp, k2);
    for (let i = 0; i < n; i++) tmp[i] = y[i]! + h2 * k2[i]!;
    f(t + h2, tmp, k3);
    for (let i = 0; i < n; i++) tmp[i] = y[i]! + h * k3[i]!;
    const tNew = last ? tLimit : t + h;
    f(tNew, tmp, k4);
    const yNew = this.yOld; // recycled: the old-old state is no longer needed
    const h6 = h / 6;
    let bad = false;
    for (let i = 0; i < n; i++) {
      const v = y[i]! + h6 * (k1[i]! + 2 * (k2[i]! + k3[i]!) + k4[i]!);
      yNew[i] = v;
      if (v - v !== 0) bad = true; // NaN or ±Infinity
    }
    if (bad) {
      throw badRequest(`rk4 produced a non-finite state stepping from t = ${t} (h = ${h}).`, {
        reason: 'nonFinite',
        t,
        h,
      });
    }
    const kNew = this.k1Old;
    f(tNew, yNew, kNew);
    this.stats.fevals += 4;
    this.stats.steps++;
    this.yOld = y;
    this.yCur = yNew;
    this.k1Old = k1;
    this.k1 = kNew;
    this.tOld = t;
    this.tCur = tNew;
    this.hLast = tNew - t;
    return tNew;
  }

  advanceTo(tTarget: number): void {
    checkFinite(tTarget, 'tTarget');
    if (tTarget < this.tCur) throw badRequest(`advanceTo(${tTarget}) is before t = ${this.tCur}.`);
    while (this.tCur < tTarget) this.step(tTarget);
  }

  interpolate(tq: number, out: Float64Array): void {
    const t0 = this.tOld;
    const t1 = this.tCur;
    if (!(tq >= t0 && tq <= t1))
      throw badRequest(`interpolate(${tq}) is outside the last step [${t0}, ${t1}].`);
    const n = this.dim;
    if (t1 === t0 || tq === t1) {
      out.set(this.yCur);
      return;
    }
    // Cubic Hermite through (y0, f0) and (y1, f1): 3rd order, uses only stored values.
    const h = this.hLast;
    const s = (tq - t0) / h;
    const s2 = s * s;
    const s3 = s2 * s;
    const h00 = 2 * s3 - 3 * s2 + 1;
    const h10 = (s3 - 2 * s2 + s) * h;
    const h01 = -2 * s3 + 3 * s2;
    const h11 = (s3 - s2) * h;
    const y0 = this.yOld;
    const y1 = this.yCur;
    const f0 = this.k1Old;
    const f1 = this.k1;
    for (let i = 0; i < n; i++) out[i] = h00 * y0[i]! + h10 * f0[i]! + h01 * y1[i]! + h11 * f1[i]!;
  }

  reset(t: number, y: ArrayLike<number>): void {
    const yy = checkState(y, 'reset(y)', this.dim);
    this.tCur = this.tOld = checkFinite(t, 'reset(t)');
    this.yCur.set(yy);
    this.f(this.tCur, this.yCur, this.k1);
    this.stats.fevals++;
  }
}
