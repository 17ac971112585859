/**
 * Batch evaluation of an expression for n assets at once (structure of arrays). A slot of the
 * frame is either uniform — the same for every asset (time, schedules, parameters without spread):
 * read from one Float64Array frame like the scalar evaluator — or varying: a column of n values.
 * Subtrees over uniform slots compile to the ordinary scalar evaluator, run once per evaluation;
 * every other node is one closure with one tight loop over the n assets writing its own column. So
 * the closure calls happen once per node per evaluation, not once per node per asset, and each inner
 * loop sees only Float64Arrays: that is what makes a 1,000-asset fleet fast (bench:fleet).
 *
 * Same language, same results as compile-expr.ts: the same operators with the same semantics
 * (small whole powers as products, as there: `power`), the same functions.
 * No eval/Function: closures only.
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { ExprNode } from './ast.js';
import { compileChecked, power, type Evaluator, type ExprScope } from './compile-expr.js';
import { EXPR_CONSTANTS, exprFunction } from './functions.js';

/** A column-producing evaluation: returns a column of n values (owned by the node or a slot's). */
export type ColumnEvaluator = (uniform: Float64Array) => Float64Array;

export type BatchCompiled = { uniform: true; ev: Evaluator } | { uniform: false; run: ColumnEvaluator };

export interface BatchScope {
  /** name → slot, as for the scalar evaluator. */
  slots: ExprScope;
  /** The column of a varying slot, or undefined when the slot is uniform. */
  column(slot: number): Float64Array | undefined;
  /** Assets per column. */
  n: number;
}

const truthy = (v: number): boolean => v !== 0 && v === v;

/** Compiles a checked expression for batch evaluation. */
export function compileBatch(node: ExprNode, scope: BatchScope): BatchCompiled {
  if (isUniform(node, scope)) return { uniform: true, ev: compileChecked(node, scope.slots) };
  return { uniform: false, run: column(node, scope) };
}

function isUniform(node: ExprNode, scope: BatchScope): boolean {
  switch (node.kind) {
    case 'number':
      return true;
    case 'name': {
      if (EXPR_CONSTANTS.has(node.name)) return true;
      const slot = scope.slots.get(node.name);
      return slot !== undefined && scope.column(slot) === undefined;
    }
    case 'unary':
      return isUniform(node.operand, scope);
    case 'binary':
      return isUniform(node.left, scope) && isUniform(node.right, scope);
    case 'conditional':
      return isUniform(node.test, scope) && isUniform(node.then, scope) && isUniform(node.else, scope);
    case 'call':
      return node.args.every((a) => isUniform(a, scope));
  }
}

/** An operand of a column node: a column, or a uniform value evaluated once per call. */
type Operand = { col: ColumnEvaluator } | { uni: Evaluator };

function operand(node: ExprNode, scope: BatchScope): Operand {
  const c = compileBatch(node, scope);
  return c.uniform ? { uni: c.ev } : { col: c.run };
}

function column(node: ExprNode, scope: BatchScope): ColumnEvaluator {
  const n = scope.n;
  switch (node.kind) {
    case 'name': {
      const slot = scope.slots.get(node.name) as number;
      const col = scope.column(slot) as Float64Array;
      return () => col;
    }
    case 'unary': {
      const o = column(node.operand, scope);
      const out = new Float64Array(n);
      if (node.op === '+') return o;
      if (node.op === '-')
        return (u) => {
          const a = o(u);
          for (let i = 0; i < n; i++) out[i] = -(a[i] as number);
          return out;
        };
      return (u) => {
        const a = o(u);
        for (let i = 0; i < n; i++) out[i] = truthy(a[i] as number) ? 0 : 1;
        return out;
      };
    }
    case 'binary':
      return binary(node.op, operand(node.left, scope), operand(node.right, scope), n);
    case 'conditional': {
      const t = asColumn(operand(node.test, scope), n);
      const a = asColumn(operand(node.then, scope), n);
      const b = asColumn(operand(node.else, scope), n);
      const out = new Float64Array(n);
      return (u) => {
        const tc = t(u);
        const ac = a(u);
        const bc = b(u);
        for (let i = 0; i < n; i++) out[i] = truthy(tc[i] as number) ? (ac[i] as number) : (bc[i] as number);
        return out;
      };
    }
    case 'call':
      return call(
        node.callee,
        node.args.map((a) => operand(a, scope)),
        n,
      );
    case 'number':
      throw new TwinloopError('InternalError', 'A constant is never a column.');
  }
}

/** A uniform operand as a column filled with its value (for the rare mixed cases). */
function asColumn(o: Operand, n: number): ColumnEvaluator {
  if ('col' in o) return o.col;
  const ev = o.uni;
  const out = new Float64Array(n);
  return (u) => out.fill(ev(u));
}

function binary(op: string, l: Operand, r: Operand, n: number): ColumnEvaluator {
  const out = new Float64Array(n);
  // The arithmetic that dominates physics models gets its own loops (monomorphic, no call per value).
  if ('col' in l && 'col' in r) {
    const a = l.col;
    const b = r.col;
    switch (op) {
      case '+':
        return (u) => {
          const x = a(u);
          const y = b(u);
          for (let i = 0; i < n; i++) out[i] = (x[i] as number) + (y[i] as number);
          return out;
        };
      case '-':
        return (u) => {
          const x = a(u);
          const y = b(u);
          for (let i = 0; i < n; i++) out[i] = (x[i] as number) - (y[i] as number);
          return out;
        };
      case '*':
        return (u) => {
          const x = a(u);
          const y = b(u);
          for (let i = 0; i < n; i++) out[i] = (x[i] as number) * (y[i] as number);
          return out;
        };
      case '/':
        return (u) => {
          const x = a(u);
          const y = b(u);
          for (let i = 0; i < n; i++) out[i] = (x[i] as number) / (y[i] as number);
          return out;
        };
    }
  } else if ('col' in l && 'uni' in r) {
    const a = l.col;
    const s = r.uni;
    switch (op) {
      case '+':
        return (u) => {
          const x = a(u);
          const k = s(u);
          for (let i = 0; i < n; i++) out[i] = (x[i] as number) + k;
          return out;
        };
      case '-':
        return (u) => {
          const x = a(u);
          const k = s(u);
          for (let i = 0; i < n; i++) out[i] = (x[i] as number) - k;
          return out;
        };
      case '*':
        return (u) => {
          const x = a(u);
          const k = s(u);
          for (let i = 0; i < n; i++) out[i] = (x[i] as number) * k;
          return out;
        };
      case '/':
        return (u) => {
          const x = a(u);
          const k = s(u);
          for (let i = 0; i < n; i++) out[i] = (x[i] as number) / k;
          return out;
        };
      case '^':
        return (u) => {
          const x = a(u);
          const k = s(u);
          if (k === 2)
            for (let i = 0; i < n; i++) {
              const v = x[i] as number;
              out[i] = v * v;
            }
          else if (k === 3)
            for (let i = 0; i < n; i++) {
              const v = x[i] as number;
              out[i] = v * v * v;
            }
          else for (let i = 0; i < n; i++) out[i] = power(x[i] as number, k);
          return out;
        };
    }
  } else if ('uni' in l && 'col' in r) {
    const s = l.uni;
    const b = r.col;
    switch (op) {
      case '+':
        return (u) => {
          const k = s(u);
          const y = b(u);
          for (let i = 0; i < n; i++) out[i] = k + (y[i] as number);
          return out;
        };
      case '-':
        return (u) => {
          const k = s(u);
          const y = b(u);
          for (let i = 0; i < n; i++) out[i] = k - (y[i] as number);
          return out;
        };
      case '*':
        return (u) => {
          const k = s(u);
          const y = b(u);
          for (let i = 0; i < n; i++) out[i] = k * (y[i] as number);
          return out;
        };
      case '/':
        return (u) => {
          const k = s(u);
          const y = b(u);
          for (let i = 0; i < n; i++) out[i] = k / (y[i] as number);
          return out;
        };
    }
  }
  // Everything else: one loop calling the operator (correct, slower; rare in physics).
  const f = BINARY[op];
  if (!f) throw new TwinloopError('InternalError', `Unknown operator '${op}'.`);
  const a = asColumn(l, n);
  const b = asColumn(r, n);
  return (u) => {
    const x = a(u);
    const y = b(u);
    for (let i = 0; i < n; i++) out[i] = f(x[i] as number, y[i] as number);
    return out;
  };
}

const BINARY: Record<string, (a: number, b: number) => number> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '%': (a, b) => a % b,
  '^': power,
  '<': (a, b) => (a < b ? 1 : 0),
  '<=': (a, b) => (a <= b ? 1 : 0),
  '>': (a, b) => (a > b ? 1 : 0),
  '>=': (a, b) => (a >= b ? 1 : 0),
  '==': (a, b) => (a === b ? 1 : 0),
  '!=': (a, b) => (a !== b ? 1 : 0),
  '&&': (a, b) => (truthy(a) && truthy(b) ? 1 : 0),
  '||': (a, b) => (truthy(a) || truthy(b) ? 1 : 0),
};

function call(callee: string, args: Operand[], n: number): ColumnEvaluator {
  const fn = exprFunction(callee);
  if (!fn)
    throw new TwinloopError('InternalError', `Expression was not checked: unknown function '${callee}'.`);
  const out = new Float64Array(n);
  const cols = args.map((a) => asColumn(a, n));
  if (cols.length === 1) {
    const a = cols[0] as ColumnEvaluator;
    if (callee === 'exp')
      return (u) => {
        const x = a(u);
        for (let i = 0; i < n; i++) out[i] = Math.exp(x[i] as number);
        return out;
      };
    const impl = fn.fn;
    return (u) => {
      const x = a(u);
      for (let i = 0; i < n; i++) out[i] = impl(x[i] as number);
      return out;
    };
  }
  if (cols.length === 2) {
    const a = cols[0] as ColumnEvaluator;
    const b = cols[1] as ColumnEvaluator;
    const impl = fn.fn;
    return (u) => {
      const x = a(u);
      const y = b(u);
      for (let i = 0; i < n; i++) out[i] = impl(x[i] as number, y[i] as number);
      return out;
    };
  }
  const impl = fn.fn;
  const buf = new Array<number>(cols.length).fill(0);
  const vals: Float64Array[] = [];
  return (u) => {
    for (let k = 0; k < cols.length; k++) vals[k] = (cols[k] as ColumnEvaluator)(u);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < cols.length; k++) buf[k] = (vals[k] as Float64Array)[i] as number;
      out[i] = impl(...buf);
    }
    return out;
  };
}
