/**
 * Fixed-step RK4 for many assets of one behaviour at once, in structure of arrays: states are
 * state-major Float64Arrays (y[s·m + i]), every expression is evaluated for all m members in one
 * loop per node (src/sim/expr/compile-batch.ts), time-driven inputs and parameters without spread
 * are evaluated once per stage, not once per asset, and only the outputs the derivatives read are
 * computed during the stages. The fleet runner keeps an asset here while nothing is special about it;
 * an asset with an action (command, fault, input) moves to its own stepper for good (`remove`).
 *
 * Faults are not evaluated here: the runner never puts an asset with a fault switched on (or
 * scheduled by the model) in a batch.
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { BehaviourRuntime, CompiledBehaviour } from '../behaviour/compile-behaviour.js';
import { cycleAt, scheduleAt } from '../behaviour/input-signals.js';
import { namesIn } from '../expr/ast.js';
import { compileBatch, type BatchCompiled } from '../expr/compile-batch.js';

export interface BatchRk4 {
  /** Asset indices (into the runner's assets) in the batch, in order. */
  readonly members: readonly number[];
  /** One RK4 step of size h from t for every member. @throws naming the first asset that failed. */
  step(t: number, h: number): void;
  /** Copies a member's state into `out`. */
  stateOf(asset: number, out: Float64Array): Float64Array;
  /** Takes an asset out of the batch and returns its state. */
  remove(asset: number): Float64Array;
  /** Members' inputs were changed in their runtimes (relationship refresh): re-read them. */
  inputsChanged(): void;
  readonly stats: { steps: number; fevals: number };
}

/**
 * A batch of `members` (asset indices) with their runtimes and starting states, or undefined when
 * the model has nothing to batch (no states).
 */
export function createBatchRk4(
  model: CompiledBehaviour,
  runtimes: readonly BehaviourRuntime[],
  members: readonly number[],
  states: readonly Float64Array[],
): BatchRk4 | undefined {
  const nStates = model.layout.states.length;
  if (nStates === 0 || members.length === 0) return undefined;
  const slots = model.layout.slots;
  const spec = model.spec;
  const frameSize = slots.size;
  let ids = [...members];
  let m = ids.length;
  let built = build();

  function build() {
    const uni = new Float64Array(frameSize);
    const cols = new Map<number, Float64Array>();
    const first = runtimes[ids[0] as number] as BehaviourRuntime;
    uni.set(first.frame);
    // Parameters: uniform unless the members differ.
    for (const p of spec.parameters) {
      const s = slots.get(p.name) as number;
      const v = first.frame[s] as number;
      if (ids.some((a) => (runtimes[a] as BehaviourRuntime).frame[s] !== v)) {
        cols.set(
          s,
          Float64Array.from(ids, (a) => (runtimes[a] as BehaviourRuntime).frame[s] as number),
        );
      }
    }
    // Inputs: time-driven ones are uniform; the others are columns gathered each stage.
    const timed: { slot: number; at: (t: number) => number }[] = [];
    const gathered: { slot: number; k: number; col: Float64Array }[] = [];
    spec.inputs.forEach((input, k) => {
      const s = slots.get(input.name) as number;
      const src = input.source;
      if (src.kind === 'schedule') timed.push({ slot: s, at: (t) => scheduleAt(src, t) });
      else if (src.kind === 'cycle') timed.push({ slot: s, at: (t) => cycleAt(src, t) });
      else {
        const col = new Float64Array(m);
        cols.set(s, col);
        gathered.push({ slot: s, k, col });
      }
    });
    // States: columns of one stage buffer, filled before each evaluation.
    const stage = new Float64Array(nStates * m);
    model.layout.states.forEach((name, si) =>
      cols.set(slots.get(name) as number, stage.subarray(si * m, (si + 1) * m)),
    );
    // Outputs the derivatives need, in evaluation order; each uniform or a column of its own.
    const needed = new Set<string>();
    for (const st of spec.states) namesIn(st.derivative.ast, needed);
    const outputSpecs = new Map(spec.outputs.map((o) => [o.name, o]));
    const order = model.layout.outputs;
    for (let i = order.length - 1; i >= 0; i--) {
      const name = order[i] as string;
      if (needed.has(name))
        namesIn((outputSpecs.get(name) as (typeof spec.outputs)[number]).expr.ast, needed);
    }
    const scope = { slots, n: m, column: (s: number) => cols.get(s) };
    const outputs: { slot: number; c: BatchCompiled; col?: Float64Array }[] = [];
    for (const name of order) {
      if (!needed.has(name)) continue;
      const s = slots.get(name) as number;
      const c = compileBatch((outputSpecs.get(name) as (typeof spec.outputs)[number]).expr.ast, scope);
      if (c.uniform) outputs.push({ slot: s, c });
      else {
        const col = new Float64Array(m);
        cols.set(s, col);
        outputs.push({ slot: s, c, col });
      }
    }
    const derivs = spec.states.map((st) => compileBatch(st.derivative.ast, scope));
    return { uni, timed, gathered, stage, outputs, derivs };
  }

  const b = {
    k1: new Float64Array(0),
    k2: new Float64Array(0),
    k3: new Float64Array(0),
    k4: new Float64Array(0),
    tmp: new Float64Array(0),
    y: new Float64Array(0),
  };
  const alloc = (): void => {
    const len = nStates * m;
    b.k1 = new Float64Array(len);
    b.k2 = new Float64Array(len);
    b.k3 = new Float64Array(len);
    b.k4 = new Float64Array(len);
    b.tmp = new Float64Array(len);
  };
  b.y = new Float64Array(nStates * m);
  ids.forEach((_, i) => {
    const y0 = states[i] as Float64Array;
    for (let s = 0; s < nStates; s++) b.y[s * m + i] = y0[s] as number;
  });
  alloc();

  /** Members' inputs change only through relationship refreshes (actions take an asset out). */
  let inputsStale = true;
  const gather = (): void => {
    for (const g of built.gathered)
      for (let i = 0; i < m; i++)
        g.col[i] = (runtimes[ids[i] as number] as BehaviourRuntime).inputs[g.k] as number;
    inputsStale = false;
  };

  /** dy/dt for every member at (t, y) into dydt. */
  const derivatives = (t: number, y: Float64Array, dydt: Float64Array): void => {
    const { uni, timed, stage, outputs, derivs } = built;
    uni[0] = t;
    for (const ti of timed) uni[ti.slot] = ti.at(t);
    if (inputsStale) gather();
    stage.set(y);
    for (const o of outputs) {
      if (o.c.uniform) uni[o.slot] = o.c.ev(uni);
      else (o.col as Float64Array).set(o.c.run(uni));
    }
    for (let s = 0; s < nStates; s++) {
      const d = derivs[s] as BatchCompiled;
      if (d.uniform) dydt.fill(d.ev(uni), s * m, (s + 1) * m);
      else dydt.set(d.run(uni), s * m);
    }
  };

  const stats = { steps: 0, fevals: 0 };
  return {
    get members() {
      return ids;
    },
    stats,
    step(t, h) {
      const { k1, k2, k3, k4, tmp, y } = b;
      const len = y.length;
      derivatives(t, y, k1);
      for (let j = 0; j < len; j++) tmp[j] = (y[j] as number) + 0.5 * h * (k1[j] as number);
      derivatives(t + 0.5 * h, tmp, k2);
      for (let j = 0; j < len; j++) tmp[j] = (y[j] as number) + 0.5 * h * (k2[j] as number);
      derivatives(t + 0.5 * h, tmp, k3);
      for (let j = 0; j < len; j++) tmp[j] = (y[j] as number) + h * (k3[j] as number);
      derivatives(t + h, tmp, k4);
      const h6 = h / 6;
      let bad = -1;
      for (let j = 0; j < len; j++) {
        const v =
          (y[j] as number) +
          h6 * ((k1[j] as number) + 2 * (k2[j] as number) + 2 * (k3[j] as number) + (k4[j] as number));
        if (!Number.isFinite(v) && bad < 0) bad = j;
        y[j] = v;
      }
      stats.steps += m;
      stats.fevals += 4 * m;
      if (bad >= 0) {
        const asset = ids[bad % m] as number;
        throw Object.assign(
          new TwinloopError(
            'BadRequest',
            `state '${model.layout.states[Math.floor(bad / m)]}' is not finite after the step from t = ${t} s`,
          ),
          { asset },
        );
      }
    },
    inputsChanged() {
      inputsStale = true;
    },
    stateOf(asset, out) {
      const i = ids.indexOf(asset);
      for (let s = 0; s < nStates; s++) out[s] = b.y[s * m + i] as number;
      return out;
    },
    remove(asset) {
      const i = ids.indexOf(asset);
      const y = new Float64Array(nStates);
      for (let s = 0; s < nStates; s++) y[s] = b.y[s * m + i] as number;
      const old = b.y;
      const oldM = m;
      ids = ids.filter((a) => a !== asset);
      m = ids.length;
      b.y = new Float64Array(nStates * m);
      for (let s = 0; s < nStates; s++)
        for (let j = 0, o = 0; j < oldM; j++) if (j !== i) b.y[s * m + o++] = old[s * oldM + j] as number;
      alloc();
      if (m > 0) built = build();
      inputsStale = true;
      return y;
    },
  };
}
