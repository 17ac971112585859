/**
 * The noise-free value of a behaviour's telemetry mappings: what a perfect sensor would read, with
 * no noise, no quantisation and no sensor faults (process faults, which act on the model itself, do
 * count). Used where a model is compared or predicted rather than played as a device: shadow mode,
 * what-if trajectories, relationship inputs between twins of one run.
 */
import { compileChecked, type Evaluator } from '../expr/compile-expr.js';
import type { BehaviourRuntime, CompiledBehaviour } from './compile-behaviour.js';

export interface IdealProbe {
  name: string;
  /** How the double becomes the content's schema (booleans as 0/1 here). */
  encoding: 'double' | 'integer' | 'boolean';
  ev: Evaluator;
  /** The state a bare `from: state` reads, else -1 (such states can be set from a measurement). */
  state: number;
}

export interface IdealTelemetry {
  readonly probes: readonly IdealProbe[];
  /** Evaluates the frame at (t, y) and returns every mapped telemetry's noise-free value. */
  values(t: number, y: Float64Array, rt: BehaviourRuntime): Record<string, number>;
}

/** Compiles the probes of a model's telemetry mappings once; `values` allocates only its result. */
export function idealTelemetry(model: CompiledBehaviour): IdealTelemetry {
  const states = model.layout.states;
  const probes: IdealProbe[] = model.spec.telemetry.map((m) => ({
    name: m.name,
    encoding: m.encoding,
    ev: compileChecked(m.from.ast, model.layout.slots),
    state: m.from.ast.kind === 'name' ? states.indexOf(m.from.ast.name) : -1,
  }));
  const out = new Float64Array(model.layout.outputs.length);
  return {
    probes,
    values(t, y, rt) {
      model.outputs(t, y, rt, out); // fills rt.frame (inputs, states, outputs) at (t, y)
      const r: Record<string, number> = {};
      for (const p of probes) r[p.name] = p.ev(rt.frame);
      return r;
    },
  };
}
