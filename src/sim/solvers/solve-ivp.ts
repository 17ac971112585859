/**
 * solveIvp: integrate an initial value problem from t0 to tEnd with RK4 or DOPRI5, sampling the
 * solution at requested times (dense output), locating zero crossings of event functions
 * (Illinois on the dense output), and stopping exactly at scheduled discrete events to let a
 * callback change the state. The step-by-step steppers underneath are in rk4-stepper.ts and
 * dopri5-stepper.ts; this module is the batch driver on top of them.
 */
import { TwinloopError } from '../../core/errors/errors.js';
import { Dopri5Stepper } from './dopri5-stepper.js';
import { illinoisRoot } from './event-location.js';
import {
  badRequest,
  checkFinite,
  type OdeRhs,
  type OdeStepper,
  type SolverMethod,
  type SolverStats,
  type StepperOptions,
} from './ode-types.js';
import { Rk4Stepper } from './rk4-stepper.js';

export type EventDirection = 'rising' | 'falling' | 'both';

/** A zero-crossing event: fires when g(t, y) crosses 0 in the given direction. */
export interface ZeroCrossingEvent {
  name?: string;
  /** Must not keep or write `y` (it may be a scratch array). */
  g: (t: number, y: Float64Array) => number;
  /** 'rising': g goes from < 0 to >= 0; 'falling': from > 0 to <= 0; 'both' (default). */
  direction?: EventDirection;
  /**
   * Stop the integration at the first such crossing (default false). Crossings are detected by
   * the sign of g at step ends (two crossings inside one step cancel out, as in SciPy); a state
   * jump made by a discrete action is not a crossing.
   */
  terminal?: boolean;
}

/** A discrete event: the integration lands exactly on `t`, then `action` may change y in place. */
export interface ScheduledEvent {
  name?: string;
  t: number;
  /** Changes `y` in place (it is a copy); return 'stop' to end the integration there. */
  action?: (t: number, y: Float64Array) => void | 'stop';
}

export interface SolveIvpOptions extends StepperOptions {
  /** Default 'dopri5'. */
  method?: SolverMethod;
  /**
   * Output times (ascending, within [t0, tEnd]), sampled from the dense output; at the time of a
   * discrete event they give the state BEFORE its action (the left limit). Default: t0, the end of
   * every accepted step, and after each discrete action the changed state again at the same time.
   */
  tEval?: ArrayLike<number>;
  events?: readonly ZeroCrossingEvent[];
  discrete?: readonly ScheduledEvent[];
  /** Absolute tolerance on event times (default 1e-12 × max(1, |tEnd|)). */
  eventTol?: number;
}

export interface OdeEventRecord {
  kind: 'crossing' | 'discrete';
  /** Index into options.events or options.discrete. */
  index: number;
  name: string | undefined;
  t: number;
  /** State at t (for a discrete event: after its action). */
  y: Float64Array;
  /** Crossings only: which way g crossed zero. */
  direction?: 'rising' | 'falling';
  terminal: boolean;
}

export interface OdeSolution {
  /** 'terminated' when a terminal event or a discrete action returning 'stop' ended the run. */
  status: 'completed' | 'terminated';
  dim: number;
  /** Output times. */
  t: Float64Array;
  /** States, flat row-major: the state at t[i] is y[i*dim .. i*dim+dim). */
  y: Float64Array;
  /** The state at t[i] (a view, no copy). */
  row(i: number): Float64Array;
  /** Component j over all output times (a copy). */
  component(j: number): Float64Array;
  events: OdeEventRecord[];
  /** Where the integration ended (tEnd, or where it was terminated) and the state there. */
  tFinal: number;
  yFinal: Float64Array;
  stats: SolverStats;
}

/** Makes the stepper for a method: what a real-time runner calls to advance a model step by step. */
export function createStepper(
  method: SolverMethod,
  f: OdeRhs,
  t0: number,
  y0: ArrayLike<number>,
  options: StepperOptions = {},
): OdeStepper {
  if (method === 'rk4') return new Rk4Stepper(f, t0, y0, options);
  if (method === 'dopri5') return new Dopri5Stepper(f, t0, y0, options);
  throw badRequest(`Unknown solver method '${String(method)}': use 'rk4' or 'dopri5'.`);
}

/** A growable Float64Array (doubling), so output never allocates per point. */
class F64Buffer {
  data: Float64Array;
  length = 0;
  constructor(capacity: number) {
    this.data = new Float64Array(Math.max(16, capacity));
  }
  reserve(extra: number): void {
    if (this.length + extra <= this.data.length) return;
    const next = new Float64Array(Math.max(this.data.length * 2, this.length + extra));
    next.set(this.data.subarray(0, this.length));
    this.data = next;
  }
  push(v: number): void {
    this.reserve(1);
    this.data[this.length++] = v;
  }
  pushAll(v: Float64Array): void {
    this.reserve(v.length);
    this.data.set(v, this.length);
    this.length += v.length;
  }
  view(): Float64Array {
    return this.data.slice(0, this.length);
  }
}

function checkedTimes(tEval: ArrayLike<number>, t0: number, tEnd: number): Float64Array {
  const ts = Float64Array.from(tEval);
  for (let i = 0; i < ts.length; i++) {
    const v = ts[i]!;
    if (!Number.isFinite(v) || v < t0 || v > tEnd) {
      throw new TwinloopError(
        'ValidationFailed',
        `tEval[${i}] = ${v} is not within [t0, tEnd] = [${t0}, ${tEnd}].`,
        {
          problems: [
            { code: 'solver.tEval.range', source: 'tEval', pointer: `/${i}`, message: 'out of range' },
          ],
        },
      );
    }
    if (i > 0 && v < ts[i - 1]!) {
      throw new TwinloopError(
        'ValidationFailed',
        `tEval must be ascending: tEval[${i}] = ${v} < tEval[${i - 1}].`,
        {
          problems: [
            { code: 'solver.tEval.order', source: 'tEval', pointer: `/${i}`, message: 'not ascending' },
          ],
        },
      );
    }
  }
  return ts;
}

function checkedSchedule(discrete: readonly ScheduledEvent[], t0: number, tEnd: number): number[] {
  discrete.forEach((d, i) => {
    if (!d || typeof d.t !== 'number' || !Number.isFinite(d.t) || d.t < t0 || d.t > tEnd) {
      throw new TwinloopError(
        'ValidationFailed',
        `discrete[${i}].t must be a finite time within [${t0}, ${tEnd}].`,
        {
          problems: [
            { code: 'solver.discrete.time', source: 'discrete', pointer: `/${i}/t`, message: 'out of range' },
          ],
        },
      );
    }
    if (d.action !== undefined && typeof d.action !== 'function') {
      throw new TwinloopError('ValidationFailed', `discrete[${i}].action must be a function.`);
    }
  });
  // Indices in time order (stable for equal times: declaration order).
  return discrete.map((_, i) => i).sort((a, b) => discrete[a]!.t - discrete[b]!.t || a - b);
}

/**
 * Solves y' = f(t, y), y(t0) = y0 on [t0, tEnd] (forward in time only).
 *
 * @example
 * const sol = solveIvp((t, y, d) => { d[0] = -0.5 * y[0]!; }, 0, [2], 10, { rtol: 1e-8, tEval: [0, 5, 10] });
 * sol.row(2)[0]; // ≈ 2 * Math.exp(-5)
 * @throws TwinloopError ValidationFailed for bad y0/tolerances/tEval/events, BadRequest for
 *   tEnd < t0, a missing rk4 step, step-size underflow or maxSteps (details.t = time reached).
 */
export function solveIvp(
  f: OdeRhs,
  t0: number,
  y0: ArrayLike<number>,
  tEnd: number,
  options: SolveIvpOptions = {},
): OdeSolution {
  checkFinite(t0, 't0');
  checkFinite(tEnd, 'tEnd');
  if (tEnd < t0)
    throw badRequest(`tEnd (${tEnd}) is before t0 (${t0}): only forward integration is supported.`);
  const method = options.method ?? 'dopri5';
  const stepper = createStepper(method, f, t0, y0, options);
  const n = stepper.dim;
  const tEval = options.tEval === undefined ? undefined : checkedTimes(options.tEval, t0, tEnd);
  const events = options.events ?? [];
  events.forEach((e, i) => {
    if (!e || typeof e.g !== 'function')
      throw new TwinloopError('ValidationFailed', `events[${i}].g must be a function.`);
    if (e.direction !== undefined && !['rising', 'falling', 'both'].includes(e.direction)) {
      throw new TwinloopError(
        'ValidationFailed',
        `events[${i}].direction must be 'rising', 'falling' or 'both'.`,
      );
    }
  });
  const discrete = options.discrete ?? [];
  const order = checkedSchedule(discrete, t0, tEnd);
  const eventTol = options.eventTol ?? 1e-12 * Math.max(1, Math.abs(tEnd), Math.abs(t0));

  const outT = new F64Buffer(tEval ? tEval.length : 256);
  const outY = new F64Buffer(tEval ? tEval.length * n : 256 * n);
  const records: OdeEventRecord[] = [];
  const scratch = new Float64Array(n);
  let evalIdx = 0;
  let status: OdeSolution['status'] = 'completed';

  const gPrev = new Float64Array(events.length);
  const refreshG = (): void => {
    for (let i = 0; i < events.length; i++) gPrev[i] = events[i]!.g(stepper.t, stepper.y);
  };
  /** Emits tEval points in (tPrev, upTo] (or [t0, t0] at the start) from the dense output. */
  const emitEval = (upTo: number): void => {
    if (!tEval) return;
    while (evalIdx < tEval.length && tEval[evalIdx]! <= upTo) {
      stepper.interpolate(tEval[evalIdx]!, scratch);
      outT.push(tEval[evalIdx]!);
      outY.pushAll(scratch);
      evalIdx++;
    }
  };
  const emitPoint = (t: number, y: Float64Array): void => {
    if (tEval) return;
    outT.push(t);
    outY.pushAll(y);
  };

  let di = 0;
  /** Applies every scheduled event at the current time; returns true when one asked to stop. */
  const applyDiscrete = (): boolean => {
    let changed = false;
    let stop = false;
    const y = Float64Array.from(stepper.y);
    while (di < order.length && discrete[order[di]!]!.t <= stepper.t) {
      const idx = order[di++]!;
      const d = discrete[idx]!;
      if (d.action && d.action(stepper.t, y) === 'stop') stop = true;
      changed = true;
      records.push({
        kind: 'discrete',
        index: idx,
        name: d.name,
        t: stepper.t,
        y: Float64Array.from(y),
        terminal: stop,
      });
      if (stop) break;
    }
    if (changed) {
      stepper.reset(stepper.t, y); // validates y: an action writing NaN is reported, not integrated
      emitPoint(stepper.t, stepper.y);
      refreshG();
    }
    return stop;
  };

  emitPoint(t0, stepper.y);
  refreshG();
  emitEval(t0);
  let stopped = applyDiscrete();
  let tFinal = t0;
  let yFinal = Float64Array.from(stepper.y);
  const crossings: { i: number; t: number; rising: boolean }[] = [];

  while (!stopped && stepper.t < tEnd) {
    const limit = di < order.length ? Math.min(tEnd, discrete[order[di]!]!.t) : tEnd;
    const ta = stepper.t;
    stepper.step(limit);
    const tb = stepper.t;
    // Zero crossings over this step: sign changes of g between its ends, located on dense output.
    crossings.length = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const ga = gPrev[i]!;
      const gb = e.g(tb, stepper.y);
      gPrev[i] = gb;
      const rising = ga < 0 && gb >= 0;
      const falling = ga > 0 && gb <= 0;
      const dir = e.direction ?? 'both';
      if ((rising && dir !== 'falling') || (falling && dir !== 'rising')) {
        const g = (tq: number): number => {
          stepper.interpolate(tq, scratch);
          return e.g(tq, scratch);
        };
        crossings.push({ i, t: illinoisRoot(g, ta, tb, ga, gb, eventTol).t, rising });
      }
    }
    let terminalAt = -1;
    if (crossings.length) {
      crossings.sort((a, b) => a.t - b.t || a.i - b.i);
      for (const c of crossings) {
        if (terminalAt >= 0 && c.t > terminalAt) break;
        const e = events[c.i]!;
        stepper.interpolate(c.t, scratch);
        records.push({
          kind: 'crossing',
          index: c.i,
          name: e.name,
          t: c.t,
          y: Float64Array.from(scratch),
          direction: c.rising ? 'rising' : 'falling',
          terminal: e.terminal === true,
        });
        if (e.terminal && terminalAt < 0) terminalAt = c.t;
      }
    }
    if (terminalAt >= 0) {
      emitEval(terminalAt);
      stepper.interpolate(terminalAt, scratch);
      emitPoint(terminalAt, scratch);
      tFinal = terminalAt;
      yFinal = Float64Array.from(scratch);
      status = 'terminated';
      break;
    }
    emitEval(tb);
    emitPoint(tb, stepper.y);
    tFinal = tb;
    if (di < order.length && discrete[order[di]!]!.t <= tb) stopped = applyDiscrete();
    yFinal = Float64Array.from(stepper.y);
  }
  if (stopped) status = 'terminated';

  const tOut = outT.view();
  const yOut = outY.view();
  return {
    status,
    dim: n,
    t: tOut,
    y: yOut,
    row: (i) => yOut.subarray(i * n, i * n + n),
    component: (j) => {
      const c = new Float64Array(tOut.length);
      for (let i = 0; i < tOut.length; i++) c[i] = yOut[i * n + j]!;
      return c;
    },
    events: records,
    tFinal,
    yFinal,
    stats: { ...stepper.stats },
  };
}
