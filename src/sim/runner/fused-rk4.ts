/**
 * One fused RK4 kernel per behaviour model and batch: the four stages of a step, with every output
 * the derivatives read and every derivative, printed as one JavaScript function over typed arrays
 * (src/sim/expr/emit-js.ts prints the expressions) and compiled once with `new Function`. Per tick
 * and asset: one read and one write of its states, the stages in locals, no closure call and no
 * allocation. Ticks are the outer loop and assets the inner one, so consecutive iterations are
 * independent and the processor overlaps them.
 *
 * What is the same for every asset is hoisted out of the asset loop, exactly: a subtree over
 * parameters without spread is computed once (`s<j>`), a subtree over time and time-driven inputs
 * (schedules, duty cycles) once per tick and stage (`g<j>`, a table `H` filled by `fillHoisted` with
 * the scalar evaluator of compile-expr.ts, so the values are those the scalar path computes).
 *
 * The kernel: `fusedRk4(Y, C, S, H, act, m, i0, i1, nTicks, h, res)` steps batch positions i0..i1-1
 * (skipping those with act[i] = 0) nTicks ticks of size h. Y holds the states state-major
 * (Y[s·m + i]); C the per-asset columns (parameters with spread, inputs that are not time-driven);
 * res receives the first tick whose states stopped being finite and the first such position in it
 * (-1, -1 when none); the kernel stops after that tick.
 * Each asset's arithmetic depends only on its own values: any split of the positions between
 * threads gives the same bits. The arithmetic is the scalar evaluator's, operation for operation,
 * except `exp`, the kernel's own (emit-js.ts, within 2 ulp of Math.exp) unless `fastExp: false`.
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { CompiledBehaviour } from '../behaviour/compile-behaviour.js';
import { printExpr, type ExprNode } from '../expr/ast.js';
import { compileChecked, type Evaluator } from '../expr/compile-expr.js';
import {
  assertSafeSource,
  emitExpr,
  formatNumber,
  FunctionTable,
  KERNEL_HELPERS,
  type EmitScope,
} from '../expr/emit-js.js';
import { EXPR_CONSTANTS } from '../expr/functions.js';

/** What a value is across the batch: folded, per batch, per tick and stage, or per asset. */
type Kind = 0 | 1 | 2 | 3;
const CONST: Kind = 0;
const STATIC: Kind = 1;
const TIMED: Kind = 2;
const VARY: Kind = 3;

export type FusedKernel = (
  Y: Float64Array,
  C: readonly Float64Array[],
  S: Float64Array,
  H: Float64Array,
  act: Uint8Array,
  m: number,
  i0: number,
  i1: number,
  nTicks: number,
  h: number,
  res: Int32Array,
) => void;

export interface FusedPlan {
  /** The factory's body: `new Function('F', source)(impls)` returns the kernel. */
  readonly source: string;
  /** Implementations of `f0, f1, ...` and the language names they were found under. */
  readonly impls: readonly ((...args: number[]) => number)[];
  readonly fnNames: readonly string[];
  /** Slots of the columns C, in order. */
  readonly columns: readonly number[];
  /** Values per tick and stage point in H. */
  readonly nTimed: number;
  /** Values in S. */
  readonly nStatic: number;
  /** Fills S (static hoists) from a frame holding the batch's uniform parameters. */
  fillStatic(frame: Float64Array, S: Float64Array): void;
  /**
   * Fills H for nTicks ticks from t = t0 + k·tick (3 points per tick: t, t + h/2, t + h), `setTimed`
   * writing the time-driven inputs into the frame for a time.
   */
  fillHoisted(
    frame: Float64Array,
    H: Float64Array,
    t0: number,
    tick: number,
    k: number,
    nTicks: number,
    setTimed: (frame: Float64Array, t: number) => void,
  ): void;
}

/**
 * Work budget: a kernel's source at most this long (a model far beyond any pilot's). Past it the
 * model is not batched (the runner steps its assets one by one), rather than handing V8 a function
 * it would compile slowly and never optimise.
 */
export const MAX_KERNEL_SOURCE = 512 * 1024;

const internal = (message: string): TwinloopError => new TwinloopError('InternalError', message);

/**
 * Plans the kernel of a model for a batch in which `columns` (slots) differ between assets and
 * `timed` (slots) follow the time; every other parameter is the same for all.
 */
export function planFusedRk4(
  model: CompiledBehaviour,
  columns: readonly number[],
  timed: ReadonlySet<number>,
  options: { fastExp?: boolean } = {},
): FusedPlan {
  const { slots, states } = model.layout;
  const spec = model.spec;
  const stateIndex = new Map(states.map((name, s) => [slots.get(name) as number, s]));
  const columnIndex = new Map(columns.map((slot, c) => [slot, c]));
  const outputSpecs = new Map(spec.outputs.map((o) => [o.name, o]));
  const outputSlots = new Set(model.layout.outputs.map((o) => slots.get(o) as number));
  const kinds = new Map<ExprNode, Kind>();
  const outputKind = new Map<number, Kind>();

  const kindOf = (n: ExprNode): Kind => {
    const known = kinds.get(n);
    if (known !== undefined) return known;
    let k: Kind;
    switch (n.kind) {
      case 'number':
        k = CONST;
        break;
      case 'name': {
        const slot = slots.get(n.name);
        if (EXPR_CONSTANTS.has(n.name)) k = CONST;
        else if (slot === undefined) throw internal('Expression was not checked: unknown name.');
        else if (slot === 0 || timed.has(slot)) k = TIMED;
        else if (stateIndex.has(slot) || columnIndex.has(slot)) k = VARY;
        else if (outputSlots.has(slot)) k = outputKind.get(slot) ?? VARY;
        else k = STATIC;
        break;
      }
      case 'unary':
        k = kindOf(n.operand);
        break;
      case 'binary':
        k = Math.max(kindOf(n.left), kindOf(n.right)) as Kind;
        break;
      case 'conditional':
        k = Math.max(kindOf(n.test), kindOf(n.then), kindOf(n.else)) as Kind;
        break;
      case 'call':
        k = n.args.reduce<Kind>((a, x) => Math.max(a, kindOf(x)) as Kind, CONST);
        break;
      default:
        throw internal('Unknown expression node.');
    }
    kinds.set(n, k);
    return k;
  };

  // Outputs in evaluation order, each classified before anything reads it.
  const outputOrder = model.layout.outputs.map((name) => {
    const slot = slots.get(name) as number;
    const ast = (outputSpecs.get(name) as (typeof spec.outputs)[number]).expr.ast;
    const k = kindOf(ast);
    outputKind.set(slot, k);
    return { name, slot, ast, kind: k };
  });
  const outputBySlot = new Map(outputOrder.map((o) => [o.slot, o]));
  // Only the outputs the derivatives read (directly or through other outputs) are computed.
  const needed = new Set<number>();
  const markNeeded = (n: ExprNode): void => {
    if (n.kind === 'name') {
      const slot = slots.get(n.name);
      if (slot !== undefined && outputSlots.has(slot) && !needed.has(slot)) {
        needed.add(slot);
        const o = outputBySlot.get(slot);
        if (o) markNeeded(o.ast);
      }
    } else if (n.kind === 'unary') markNeeded(n.operand);
    else if (n.kind === 'binary') {
      markNeeded(n.left);
      markNeeded(n.right);
    } else if (n.kind === 'conditional') {
      markNeeded(n.test);
      markNeeded(n.then);
      markNeeded(n.else);
    } else if (n.kind === 'call') n.args.forEach(markNeeded);
  };
  for (const st of spec.states) markNeeded(st.derivative.ast);
  const uniformOutputs = outputOrder.filter((o) => needed.has(o.slot) && o.kind !== VARY);
  const varyOutputs = outputOrder.filter((o) => needed.has(o.slot) && o.kind === VARY);
  const varyIndex = new Map(varyOutputs.map((o, j) => [o.slot, j]));

  // Hoisted subtrees, deduplicated by their printed form (the same text is the same value).
  const staticHoists: Evaluator[] = [];
  const timedHoists: Evaluator[] = [];
  const hoistIndex = [new Map<string, number>(), new Map<string, number>()] as const;
  const hoist = (n: ExprNode, kind: Kind): number => {
    const list = kind === STATIC ? staticHoists : timedHoists;
    const index = hoistIndex[kind === STATIC ? 0 : 1];
    const key = printExpr(n);
    let j = index.get(key);
    if (j === undefined) {
      j = list.length;
      list.push(compileChecked(n, slots));
      index.set(key, j);
    }
    return j;
  };

  const fns = new FunctionTable(options.fastExp ?? true);
  const STAGES = ['a', 'b', 'c', 'd'] as const;
  const stageOffset = ['', ' + NH', ' + NH', ' + NH2'] as const;
  const lines: string[] = [];
  const stageCode: string[][] = [];
  const usedTimed: Set<number>[] = [];
  const usedStatic = new Set<number>();
  const usedColumns = new Set<number>();
  STAGES.forEach((st, si) => {
    const used = new Set<number>();
    usedTimed.push(used);
    const x = (s: number): string => (si === 0 ? `y${s}` : `${st}_x${s}`);
    const scope: EmitScope = {
      slots,
      ref(name) {
        const slot = slots.get(name);
        if (slot === undefined) return undefined;
        const s = stateIndex.get(slot);
        if (s !== undefined) return x(s);
        const c = columnIndex.get(slot);
        if (c !== undefined) {
          usedColumns.add(c);
          return `p${c}`;
        }
        const o = varyIndex.get(slot);
        return o === undefined ? undefined : `${st}_v${o}`;
      },
      hoisted(n) {
        const k = kindOf(n);
        if (k === STATIC) {
          const j = hoist(n, STATIC);
          usedStatic.add(j);
          return `s${j}`;
        }
        if (k === TIMED) {
          const j = hoist(n, TIMED);
          used.add(j);
          return `${st}_g${j}`;
        }
        return undefined;
      },
    };
    const code: string[] = [];
    varyOutputs.forEach((o, j) => code.push(`const ${st}_v${j} = ${emitExpr(o.ast, scope, fns)};`));
    spec.states.forEach((s, j) =>
      code.push(`const ${st}_k${j} = ${emitExpr(s.derivative.ast, scope, fns)};`),
    );
    stageCode.push(code);
  });
  const nStates = states.length;
  const nTimed = timedHoists.length;
  const nStatic = staticHoists.length;
  const num = formatNumber;

  lines.push(KERNEL_HELPERS);
  fns.impls.forEach((_, k) => lines.push(`const f${k} = F[${num(k)}];`));
  lines.push('return function fusedRk4(Y, C, S, H, act, m, i0, i1, nTicks, h, res) {');
  for (const c of usedColumns) lines.push(`const c${c} = C[${num(c)}];`);
  for (let j = 0; j < nStatic; j++) if (usedStatic.has(j)) lines.push(`const s${j} = S[${num(j)}];`);
  lines.push(`const NH = ${num(nTimed)};`, 'const NH2 = NH + NH;', 'const NH3 = NH2 + NH;');
  lines.push('const hh = 0.5 * h;', 'const h6 = h / 6;');
  lines.push('let badTick = -1;', 'let badAsset = -1;');
  // Ticks outside, assets inside: consecutive assets are independent, so the processor overlaps
  // their work (an asset's ticks are one long dependency chain).
  lines.push('for (let q = 0, o = 0; q < nTicks; q++, o += NH3) {');
  STAGES.forEach((st, si) => {
    for (const j of usedTimed[si] as Set<number>)
      lines.push(`const ${st}_g${j} = H[o${stageOffset[si]} + ${num(j)}];`);
  });
  lines.push('for (let i = i0; i < i1; i++) {', 'if (act[i] === 0) continue;');
  for (let s = 0; s < nStates; s++) lines.push(`const y${s} = Y[${num(s)} * m + i];`);
  for (const c of usedColumns) lines.push(`const p${c} = c${c}[i];`);
  STAGES.forEach((st, si) => {
    lines.push(...(stageCode[si] as string[]));
    if (si < 3) {
      const next = STAGES[si + 1] as string;
      const step = si < 2 ? 'hh' : 'h';
      for (let s = 0; s < nStates; s++) lines.push(`const ${next}_x${s} = y${s} + ${step} * ${st}_k${s};`);
    }
  });
  for (let s = 0; s < nStates; s++)
    lines.push(`const z${s} = y${s} + h6 * (a_k${s} + 2 * b_k${s} + 2 * c_k${s} + d_k${s});`);
  for (let s = 0; s < nStates; s++) lines.push(`Y[${num(s)} * m + i] = z${s};`);
  const finite = Array.from({ length: nStates }, (_, s) => `z${s} - z${s} === 0`).join(' && ');
  lines.push(`if (!(${finite}) && badTick < 0) { badTick = q; badAsset = i; }`);
  lines.push('}', 'if (badTick >= 0) break;', '}');
  lines.push('res[0] = badTick;', 'res[1] = badAsset;', '};');
  const source = lines.join('\n');
  if (source.length > MAX_KERNEL_SOURCE)
    throw new TwinloopError(
      'BadRequest',
      `The fused kernel of '${spec.behaviour}' would be ${source.length} characters (limit ${MAX_KERNEL_SOURCE}).`,
    );
  assertSafeSource(source);

  const uniformEvs = uniformOutputs.map((o) => ({ slot: o.slot, ev: compileChecked(o.ast, slots) }));
  const staticEvs = staticHoists;
  const timedEvs = timedHoists;
  const evalOutputs = (f: Float64Array): void => {
    for (const o of uniformEvs) f[o.slot] = o.ev(f);
  };
  return {
    source,
    impls: fns.impls,
    fnNames: fns.names,
    columns,
    nTimed,
    nStatic,
    fillStatic(frame, S) {
      evalOutputs(frame);
      for (let j = 0; j < staticEvs.length; j++) S[j] = (staticEvs[j] as Evaluator)(frame);
    },
    fillHoisted(frame, H, t0, tick, k, nTicks, setTimed) {
      if (nTimed === 0) return;
      const h = tick;
      let o = 0;
      for (let q = 0; q < nTicks; q++) {
        const t = t0 + (k + q) * tick;
        for (let p = 0; p < 3; p++) {
          const tp = p === 0 ? t : p === 1 ? t + 0.5 * h : t + h;
          frame[0] = tp;
          setTimed(frame, tp);
          evalOutputs(frame);
          for (let j = 0; j < nTimed; j++) H[o + j] = (timedEvs[j] as Evaluator)(frame);
          o += nTimed;
        }
      }
    },
  };
}

/**
 * Compiles a plan's kernel in this thread, or returns undefined where code generation from
 * strings is switched off (node --disallow-code-generation-from-strings): the caller steps the
 * assets one by one instead.
 */
export function compileFusedRk4(plan: FusedPlan): FusedKernel | undefined {
  assertSafeSource(plan.source);
  let factory: (F: readonly ((...args: number[]) => number)[]) => FusedKernel;
  try {
    factory = new Function('F', plan.source) as typeof factory;
  } catch (e) {
    if (e instanceof EvalError) return undefined;
    throw e;
  }
  return factory(plan.impls);
}
