/**
 * What the DerivedEngine runs for the twins of one model (and one twin, when it has its own set):
 * the applicable checked sets merged (general model first, then more specific models, then the
 * twin's own set: a later value replaces an earlier one of the same name), in dependency order,
 * with expressions compiled once over a frame of input slots.
 */
import type { TwinContext } from '../analytics-types.js';
import { compileChecked } from '../../sim/expr/compile-expr.js';
import type { Evaluator } from '../../sim/expr/compile-expr.js';
import { dependencyOrder } from './check-derived.js';
import type { DerivedSet, DerivedValue, ExprInput } from './derived-types.js';

export interface PlanValue {
  value: DerivedValue;
  /** Compiled expression and its frame (kind 'expr'). */
  evaluate?: Evaluator;
  frame?: Float64Array;
  inputs?: readonly ExprInput[];
  /** Per input, the twin property it reads (`component/name`; '' for inputs of other kinds), made once. */
  propertyKeys?: readonly string[];
  /** The telemetry and derived values whose change triggers the expression. */
  triggers?: readonly string[];
  /** The expression reads no telemetry or derived value: evaluated on every reading. */
  always: boolean;
  usesNeighbours: boolean;
}

export interface DerivedPlan {
  values: readonly PlanValue[];
  usesNeighbours: boolean;
  hasTickWork: boolean;
  /** Telemetry whose last reading time a `since` value needs. */
  sinceOf: ReadonlySet<string>;
}

export const EMPTY_PLAN: DerivedPlan = {
  values: [],
  usesNeighbours: false,
  hasTickWork: false,
  sinceOf: new Set(),
};

/** The sets of a model and of each twin, to build plans from. */
export class PlanBook {
  private readonly modelSets: DerivedSet[] = [];
  private readonly twinSets = new Map<string, DerivedSet[]>();
  private readonly cache = new Map<string, DerivedPlan>();

  constructor(
    sets: readonly DerivedSet[],
    private readonly context: TwinContext,
  ) {
    for (const s of sets) {
      if ('twin' in s.target) {
        const list = this.twinSets.get(s.target.twin) ?? [];
        list.push(s);
        this.twinSets.set(s.target.twin, list);
      } else this.modelSets.push(s);
    }
  }

  /** The plan of a twin of `modelId` (memoised per workspace and model, and per twin with its own set). */
  plan(workspace: string, modelId: string, twinId: string): DerivedPlan {
    const own = this.twinSets.get(twinId);
    const key = `${workspace}\u0000${modelId}\u0000${own ? twinId : ''}`;
    let p = this.cache.get(key);
    if (!p) {
      p = this.build(workspace, modelId, own ?? []);
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, p);
    }
    return p;
  }

  private build(ws: string, modelId: string, own: readonly DerivedSet[]): DerivedPlan {
    const isOf = (m: string, b: string): boolean => this.context.isOfModel(ws, m, b);
    const sets = this.modelSets
      .filter((s) => !('twin' in s.target) && isOf(modelId, s.target.model as string))
      .sort((a, b) => {
        const am = (a.target as { model: string }).model;
        const bm = (b.target as { model: string }).model;
        return isOf(am, bm) && am !== bm ? 1 : isOf(bm, am) && am !== bm ? -1 : 0;
      });
    const merged = new Map<string, DerivedValue>();
    for (const s of [...sets, ...own])
      for (const v of s.values) {
        merged.delete(v.name);
        merged.set(v.name, v);
      }
    if (merged.size === 0) return EMPTY_PLAN;
    const values = dependencyOrder([...merged.values()]).map((value): PlanValue => {
      if (value.kind !== 'expr') return { value, always: false, usesNeighbours: false };
      const scope = new Map(value.inputs.map((i, k) => [i.slot, k]));
      return {
        value,
        evaluate: compileChecked(value.ast, scope),
        frame: new Float64Array(value.inputs.length),
        inputs: value.inputs,
        propertyKeys: value.inputs.map((i) => (i.from === 'property' ? i.name.replace('.', '/') : '')),
        triggers: value.inputs.flatMap((i) =>
          i.from === 'telemetry' || i.from === 'derived' ? [i.name] : [],
        ),
        always: !value.inputs.some((i) => i.from === 'telemetry' || i.from === 'derived'),
        usesNeighbours: value.inputs.some((i) => i.from === 'neighbours'),
      };
    });
    const usesNeighbours = values.some((v) => v.usesNeighbours);
    return {
      values,
      usesNeighbours,
      hasTickWork:
        usesNeighbours || values.some((v) => v.value.kind === 'since' || v.value.kind === 'tumbling'),
      sinceOf: new Set(
        values.flatMap((v) => (v.value.kind === 'since' && v.value.of !== undefined ? [v.value.of] : [])),
      ),
    };
  }
}
