/**
 * The noise-free values of a behaviour's telemetry and reported-property mappings at (t, y): what a
 * perfect sensor would read — no noise, no quantisation, no sensor fault (process faults, which act
 * on the model itself, do count). A what-if run samples them and feeds them to the relationship
 * inputs of the other twins of the run. Compiled once per behaviour; evaluation does not allocate.
 */
import { compileChecked, type Evaluator } from '../expr/compile-expr.js';
import type { BehaviourRuntime, CompiledBehaviour } from '../behaviour/compile-behaviour.js';

/** One mapped telemetry or property. */
export interface Probe {
  name: string;
  kind: 'telemetry' | 'property';
  ev: Evaluator;
  /** The state a bare `from: state` reads, else -1 (such a state can start from a measurement). */
  state: number;
}

/** Every mapping of a behaviour, telemetry first. */
export interface Probes {
  readonly list: readonly Probe[];
  /** Index in `list` by name (telemetry wins over a property of the same name). */
  readonly index: ReadonlyMap<string, number>;
  /**
   * Fills `outputs` (layout.outputs order) and `values` (`list` order) at (t, y). Evaluating
   * rewrites rt.frame, as every evaluation of the model does.
   */
  evaluate(
    t: number,
    y: Float64Array,
    rt: BehaviourRuntime,
    outputs: Float64Array,
    values: Float64Array,
  ): void;
}

/** Compiles the probes of a behaviour. */
export function probesOf(model: CompiledBehaviour): Probes {
  const states = model.layout.states;
  const list: Probe[] = [
    ...model.spec.telemetry.map((m) => ({ m, kind: 'telemetry' as const })),
    ...model.spec.properties.map((m) => ({ m, kind: 'property' as const })),
  ].map(({ m, kind }) => ({
    name: m.name,
    kind,
    ev: compileChecked(m.from.ast, model.layout.slots),
    state: m.from.ast.kind === 'name' ? states.indexOf(m.from.ast.name) : -1,
  }));
  const index = new Map<string, number>();
  list.forEach((p, i) => {
    if (!index.has(p.name)) index.set(p.name, i);
  });
  return {
    list,
    index,
    evaluate(t, y, rt, outputs, values) {
      model.outputs(t, y, rt, outputs); // leaves the frame at (t, y): inputs, states, outputs
      for (let i = 0; i < list.length; i++) values[i] = (list[i] as Probe).ev(rt.frame);
    },
  };
}
