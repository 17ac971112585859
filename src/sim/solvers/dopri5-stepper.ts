/**
 * Adaptive Dormand–Prince 5(4) (the method of Hairer's DOPRI5 and SciPy's RK45): 5th-order
 * solution, 4th-order embedded error estimate, FSAL (the 7th stage is the next step's 1st, so 6
 * right-hand-side calls per accepted step), an RMS error norm with per-component rtol/atol, a PI
 * step-size controller with safety and min/max factors, Hairer's initial step selection, and the
 * 4th-order continuous extension as dense output (built lazily: only when something interpolates).
 * No allocation per step: all work arrays are made in the constructor and swapped.
 */
import {
  badRequest,
  checkFinite,
  checkPositive,
  checkState,
  tolerance,
  type OdeRhs,
  type OdeStepper,
  type SolverStats,
  type StepperOptions,
} from './ode-types.js';

// Butcher tableau (Dormand & Prince 1980, as in Hairer's dopri5.f).
const C2 = 1 / 5,
  C3 = 3 / 10,
  C4 = 4 / 5,
  C5 = 8 / 9;
const A21 = 1 / 5;
const A31 = 3 / 40,
  A32 = 9 / 40;
const A41 = 44 / 45,
  A42 = -56 / 15,
  A43 = 32 / 9;
const A51 = 19372 / 6561,
  A52 = -25360 / 2187,
  A53 = 64448 / 6561,
  A54 = -212 / 729;
const A61 = 9017 / 3168,
  A62 = -355 / 33,
  A63 = 46732 / 5247,
  A64 = 49 / 176,
  A65 = -5103 / 18656;
const A71 = 35 / 384,
  A73 = 500 / 1113,
  A74 = 125 / 192,
  A75 = -2187 / 6784,
  A76 = 11 / 84;
// Error coefficients: 5th-order minus 4th-order weights.
const E1 = 71 / 57600,
  E3 = -71 / 16695,
  E4 = 71 / 1920,
  E5 = -17253 / 339200,
  E6 = 22 / 525,
  E7 = -1 / 40;
// Dense output (Shampine's 4th-order continuous extension, as in dopri5.f).
const D1 = -12715105075 / 11282082432,
  D3 = 87487479700 / 32700410799,
  D4 = -10690763975 / 1880347072;
const D5 = 701980252875 / 199316789632,
  D6 = -1453857185 / 822651844,
  D7 = 69997945 / 29380423;

/** PI controller exponent on the previous error (Hairer's default for DOPRI5). */
const BETA = 0.04;
const EXPO1 = 0.2 - BETA * 0.75;

/**
 * @example
 * const s = new Dopri5Stepper((t, y, d) => { d[0] = y[1]!; d[1] = -y[0]!; }, 0, [1, 0], { rtol: 1e-8 });
 * s.advanceTo(10); // s.y ≈ [cos 10, -sin 10]
 */
export class Dopri5Stepper implements OdeStepper {
  readonly method = 'dopri5' as const;
  readonly dim: number;
  readonly stats: SolverStats = { steps: 0, rejected: 0, fevals: 0 };
  private readonly f: OdeRhs;
  private readonly rtol: Float64Array;
  private readonly atol: Float64Array;
  private readonly maxStep: number;
  private readonly safety: number;
  private readonly minFactor: number;
  private readonly maxFactor: number;
  private readonly maxSteps: number;
  private readonly firstStep: number | undefined;
  private tCur: number;
  private tOld: number;
  private hNext = 0;
  private hLast = 0;
  private errOld = 1e-4;
  private yCur: Float64Array;
  private yNew: Float64Array;
  private yOld: Float64Array;
  // k1 holds f(t, y) at the current point; after a step the old k1 lives in k7 (see step()).
  private k1: Float64Array;
  private readonly k2: Float64Array;
  private readonly k3: Float64Array;
  private readonly k4: Float64Array;
  private readonly k5: Float64Array;
  private readonly k6: Float64Array;
  private k7: Float64Array;
  private readonly tmp: Float64Array;
  private readonly r5: Float64Array;
  private denseReady = false;

  constructor(f: OdeRhs, t0: number, y0: ArrayLike<number>, options: StepperOptions = {}) {
    if (typeof f !== 'function') throw badRequest('The system must be a function f(t, y, dydt).');
    this.f = f;
    this.tCur = this.tOld = checkFinite(t0, 't0');
    this.yCur = checkState(y0, 'y0');
    const n = (this.dim = this.yCur.length);
    this.rtol = tolerance(options.rtol, 1e-6, n, 'rtol', false);
    this.atol = tolerance(options.atol, 1e-9, n, 'atol', true);
    this.maxStep = options.maxStep === undefined ? Infinity : checkPositive(options.maxStep, 'maxStep');
    this.safety = options.safety === undefined ? 0.9 : checkPositive(options.safety, 'safety');
    this.minFactor = options.minFactor === undefined ? 0.2 : checkPositive(options.minFactor, 'minFactor');
    this.maxFactor = options.maxFactor === undefined ? 10 : checkPositive(options.maxFactor, 'maxFactor');
    if (this.safety >= 1) throw badRequest(`safety must be < 1, got ${this.safety}.`);
    if (this.minFactor >= 1 || this.maxFactor <= 1) {
      throw badRequest(`minFactor must be < 1 and maxFactor > 1 (got ${this.minFactor}, ${this.maxFactor}).`);
    }
    this.maxSteps = options.maxSteps === undefined ? 1e6 : checkPositive(options.maxSteps, 'maxSteps');
    this.firstStep = options.h === undefined ? undefined : checkPositive(options.h, 'h');
    const mk = (): Float64Array => new Float64Array(n);
    this.yNew = mk();
    this.yOld = mk();
    this.k1 = mk();
    this.k2 = mk();
    this.k3 = mk();
    this.k4 = mk();
    this.k5 = mk();
    this.k6 = mk();
    this.k7 = mk();
    this.tmp = mk();
    this.r5 = mk();
    this.restart();
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
    return this.hNext;
  }

  /** Evaluates f at the current point and chooses a first step (given, or Hairer's estimate). */
  private restart(): void {
    this.f(this.tCur, this.yCur, this.k1);
    this.stats.fevals++;
    this.denseReady = false;
    this.errOld = 1e-4;
    this.hNext = Math.min(this.firstStep ?? this.initialStep(), this.maxStep);
  }

  /**
   * Hairer & Wanner's starting step (Solving ODEs I, II.4), in RMS norms: the step for which an
   * explicit Euler step's error would be 0.01, refined by a second-derivative estimate.
   */
  private initialStep(): number {
    const n = this.dim;
    const y = this.yCur;
    const f0 = this.k1;
    let d0 = 0,
      d1 = 0;
    for (let i = 0; i < n; i++) {
      const sk = this.atol[i]! + this.rtol[i]! * Math.abs(y[i]!);
      d0 += (y[i]! / sk) ** 2;
      d1 += (f0[i]! / sk) ** 2;
    }
    d0 = Math.sqrt(d0 / n);
    d1 = Math.sqrt(d1 / n);
    let h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : (0.01 * d0) / d1;
    h0 = Math.min(h0, this.maxStep);
    const y1 = this.tmp;
    for (let i = 0; i < n; i++) y1[i] = y[i]! + h0 * f0[i]!;
    const f1 = this.k2;
    this.f(this.tCur + h0, y1, f1);
    this.stats.fevals++;
    let d2 = 0;
    for (let i = 0; i < n; i++) {
      const sk = this.atol[i]! + this.rtol[i]! * Math.abs(y[i]!);
      d2 += ((f1[i]! - f0[i]!) / sk) ** 2;
    }
    d2 = Math.sqrt(d2 / n) / h0;
    const dm = Math.max(d1, d2);
    const h1 = dm <= 1e-15 ? Math.max(1e-6, h0 * 1e-3) : (0.01 / dm) ** (1 / 5);
    const h = Math.min(100 * h0, h1);
    return Number.isFinite(h) && h > 0 ? h : 1e-6;
  }

  step(tLimit: number): number {
    const t = this.tCur;
    if (!(tLimit > t)) throw badRequest(`step(tLimit): tLimit ${tLimit} must be after t = ${t}.`, { t });
    const n = this.dim;
    const f = this.f;
    const y = this.yCur;
    const yNew = this.yNew;
    const k1 = this.k1,
      k2 = this.k2,
      k3 = this.k3,
      k4 = this.k4,
      k5 = this.k5,
      k6 = this.k6,
      k7 = this.k7;
    const tmp = this.tmp;
    const rtol = this.rtol,
      atol = this.atol;
    const hProposed = this.hNext;
    let h = hProposed;
    let rejectedBefore = false;
    for (;;) {
      if (this.stats.steps + this.stats.rejected >= this.maxSteps) {
        throw badRequest(`dopri5 gave up at t = ${t}: maxSteps (${this.maxSteps}) step attempts reached.`, {
          reason: 'maxSteps',
          t,
          h,
          steps: this.stats.steps,
          rejected: this.stats.rejected,
        });
      }
      // Land exactly on tLimit when the step would reach it or leave a sliver (Hairer: 1.01 h).
      const last = t + 1.01 * h >= tLimit;
      if (last) h = tLimit - t;
      else if (h < 16 * Number.EPSILON * Math.max(Math.abs(t), 1e-300)) {
        throw badRequest(
          `dopri5 step size underflow at t = ${t} (h = ${h}): the problem may be stiff or singular.`,
          {
            reason: 'stepUnderflow',
            t,
            h,
            steps: this.stats.steps,
          },
        );
      }
      for (let i = 0; i < n; i++) tmp[i] = y[i]! + h * A21 * k1[i]!;
      f(t + C2 * h, tmp, k2);
      for (let i = 0; i < n; i++) tmp[i] = y[i]! + h * (A31 * k1[i]! + A32 * k2[i]!);
      f(t + C3 * h, tmp, k3);
      for (let i = 0; i < n; i++) tmp[i] = y[i]! + h * (A41 * k1[i]! + A42 * k2[i]! + A43 * k3[i]!);
      f(t + C4 * h, tmp, k4);
      for (let i = 0; i < n; i++) {
        tmp[i] = y[i]! + h * (A51 * k1[i]! + A52 * k2[i]! + A53 * k3[i]! + A54 * k4[i]!);
      }
      f(t + C5 * h, tmp, k5);
      for (let i = 0; i < n; i++) {
        tmp[i] = y[i]! + h * (A61 * k1[i]! + A62 * k2[i]! + A63 * k3[i]! + A64 * k4[i]! + A65 * k5[i]!);
      }
      const tNew = last ? tLimit : t + h;
      f(tNew, tmp, k6);
      for (let i = 0; i < n; i++) {
        yNew[i] = y[i]! + h * (A71 * k1[i]! + A73 * k3[i]! + A74 * k4[i]! + A75 * k5[i]! + A76 * k6[i]!);
      }
      f(tNew, yNew, k7);
      this.stats.fevals += 6;
      let err = 0;
      for (let i = 0; i < n; i++) {
        const ei = h * (E1 * k1[i]! + E3 * k3[i]! + E4 * k4[i]! + E5 * k5[i]! + E6 * k6[i]! + E7 * k7[i]!);
        const sk = atol[i]! + rtol[i]! * Math.max(Math.abs(y[i]!), Math.abs(yNew[i]!));
        const r = ei / sk;
        err += r * r;
      }
      err = Math.sqrt(err / n);
      if (err <= 1) {
        // PI controller: fac = err^(expo1) / errOld^beta, bounded by the min/max factors.
        const fac11 = err ** EXPO1;
        let fac = fac11 / this.errOld ** BETA / this.safety;
        fac = Math.max(1 / this.maxFactor, Math.min(1 / this.minFactor, fac));
        let hn = h / fac;
        if (rejectedBefore) hn = Math.min(hn, h);
        // A step clipped to tLimit says nothing against the step proposed before the clip.
        if (last && !rejectedBefore) hn = Math.max(hn, hProposed);
        this.hNext = Math.min(hn, this.maxStep);
        this.errOld = Math.max(err, 1e-4);
        this.stats.steps++;
        // Swap arrays: new state becomes current; k7 (= f at the new point) becomes k1 (FSAL);
        // the old k1 is kept in this.k7 for the dense output of this step.
        this.yNew = this.yOld;
        this.yOld = y;
        this.yCur = yNew;
        this.k1 = k7;
        this.k7 = k1;
        this.tOld = t;
        this.tCur = tNew;
        this.hLast = h;
        this.denseReady = false;
        return tNew;
      }
      // Rejected (or NaN/Inf in the stages): shrink and retry from the same point.
      this.stats.rejected++;
      const shrink = Number.isNaN(err)
        ? this.minFactor
        : Math.max(this.minFactor, this.safety / err ** EXPO1);
      h *= Math.min(shrink, 1);
      rejectedBefore = true;
    }
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
    if (t1 === t0 || tq === t1) {
      out.set(this.yCur);
      return;
    }
    const n = this.dim;
    const h = this.hLast;
    const y0 = this.yOld,
      y1 = this.yCur;
    const k1 = this.k7; // f at the start of the last step (swapped there on acceptance)
    const k7 = this.k1; // f at its end
    const r5 = this.r5;
    if (!this.denseReady) {
      const k3 = this.k3,
        k4 = this.k4,
        k5 = this.k5,
        k6 = this.k6;
      for (let i = 0; i < n; i++) {
        r5[i] = h * (D1 * k1[i]! + D3 * k3[i]! + D4 * k4[i]! + D5 * k5[i]! + D6 * k6[i]! + D7 * k7[i]!);
      }
      this.denseReady = true;
    }
    const s = (tq - t0) / h;
    const s1 = 1 - s;
    for (let i = 0; i < n; i++) {
      const dy = y1[i]! - y0[i]!;
      const b = h * k1[i]! - dy;
      const c = dy - h * k7[i]! - b;
      out[i] = y0[i]! + s * (dy + s1 * (b + s * (c + s1 * r5[i]!)));
    }
  }

  reset(t: number, y: ArrayLike<number>): void {
    const yy = checkState(y, 'reset(y)', this.dim);
    this.tCur = this.tOld = checkFinite(t, 'reset(t)');
    this.yCur.set(yy);
    const keep = this.hNext;
    this.restart();
    // Keep the step size the integration had reached when it is smaller than a fresh estimate:
    // a state jump rarely makes the dynamics easier.
    if (keep > 0 && this.stats.steps > 0) this.hNext = Math.min(this.hNext, keep);
  }
}
