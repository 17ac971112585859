/**
 * Compiles an expression tree once into a tree of closures over a Float64Array "frame" of variable
 * slots. Names are resolved at compile time against a scope (name -> slot index); no eval, no
 * Function, no property lookup at run time: a compiled expression can read only its frame slots and
 * call only whitelisted Math functions.
 *
 * Semantics: everything is a double. Comparisons and `&&`, `||`, `!` give 1 or 0; a value is true
 * when it is neither 0 nor NaN. `%` is the JavaScript remainder, `^` is power (right-associative).
 */
import { errors, TwinloopError } from '../../core/errors/errors.js';
import type { Problem } from '../../core/errors/errors.js';
import type { BinaryOp, ExprNode } from './ast.js';
import { exprProblem } from './expr-errors.js';
import { EXPR_CONSTANTS, exprFunction, isForbiddenName } from './functions.js';
import { parseExpr } from './parser.js';

/** Where each variable lives in the frame: name -> slot index. */
export type ExprScope = ReadonlyMap<string, number>;

/** A compiled expression: evaluate it as often as needed; it never allocates. */
export type Evaluator = (frame: Float64Array) => number;

export interface CompiledExpr {
  readonly source: string;
  /** Variables (scope names) the expression reads, in order of first use. */
  readonly names: readonly string[];
  readonly evaluate: Evaluator;
}

/**
 * Every problem of a tree against a scope, all at once: unknown or forbidden names, unknown
 * functions, wrong argument counts. Positions are those of the nodes (relative to the expression text).
 */
export function checkExpr(node: ExprNode, scope: ExprScope): Problem[] {
  const problems: Problem[] = [];
  const visit = (n: ExprNode): void => {
    switch (n.kind) {
      case 'number':
        return;
      case 'name':
        if (isForbiddenName(n.name)) {
          problems.push(
            exprProblem('sim.expr.forbiddenName', `'${n.name}' may not be used in an expression.`, n.pos),
          );
        } else if (!EXPR_CONSTANTS.has(n.name) && !scope.has(n.name)) {
          problems.push(exprProblem('sim.expr.unknownVariable', `Unknown variable '${n.name}'.`, n.pos));
        }
        return;
      case 'unary':
        visit(n.operand);
        return;
      case 'binary':
        visit(n.left);
        visit(n.right);
        return;
      case 'conditional':
        visit(n.test);
        visit(n.then);
        visit(n.else);
        return;
      case 'call': {
        const fn = exprFunction(n.callee);
        if (fn === undefined) {
          problems.push(
            exprProblem(
              isForbiddenName(n.callee) ? 'sim.expr.forbiddenName' : 'sim.expr.unknownFunction',
              `Unknown function '${n.callee}'.`,
              n.pos,
            ),
          );
        } else if (n.args.length < fn.minArgs || n.args.length > fn.maxArgs) {
          problems.push(
            exprProblem(
              'sim.expr.arity',
              `${n.callee} takes ${fn.minArgs === fn.maxArgs ? fn.minArgs : `${fn.minArgs} or more`} argument(s), not ${n.args.length}: ${fn.signature}.`,
              n.pos,
            ),
          );
        }
        for (const a of n.args) visit(a);
        return;
      }
    }
  };
  visit(node);
  return problems;
}

/**
 * Parses, checks and compiles an expression.
 * @throws TwinloopError('BadRequest') listing every problem (syntax, unknown names...) with line/column.
 * @example
 *   const e = compileExpr('a * 2 + sin(b)', new Map([['a', 0], ['b', 1]]));
 *   e.evaluate(Float64Array.of(3, 0)); // 6
 */
export function compileExpr(source: string | ExprNode, scope: ExprScope): CompiledExpr {
  const node = typeof source === 'string' ? parseExpr(source) : source;
  const problems = checkExpr(node, scope);
  if (problems.length > 0) throw errors.validation('BadRequest', 'Invalid expression.', problems);
  const names: string[] = [];
  const seen = new Set<string>();
  collectNames(node, scope, names, seen);
  return { source: typeof source === 'string' ? source : '', names, evaluate: compileChecked(node, scope) };
}

function collectNames(n: ExprNode, scope: ExprScope, names: string[], seen: Set<string>): void {
  if (n.kind === 'name') {
    if (scope.has(n.name) && !EXPR_CONSTANTS.has(n.name) && !seen.has(n.name)) {
      seen.add(n.name);
      names.push(n.name);
    }
  } else if (n.kind === 'unary') collectNames(n.operand, scope, names, seen);
  else if (n.kind === 'binary') {
    collectNames(n.left, scope, names, seen);
    collectNames(n.right, scope, names, seen);
  } else if (n.kind === 'conditional') {
    collectNames(n.test, scope, names, seen);
    collectNames(n.then, scope, names, seen);
    collectNames(n.else, scope, names, seen);
  } else if (n.kind === 'call') for (const a of n.args) collectNames(a, scope, names, seen);
}

/** A compiled node, with its value when it is a compile-time constant (for folding). */
interface Compiled {
  ev: Evaluator;
  constant?: number;
  /** Set when the node is a plain variable read (lets arithmetic read the slot without a call). */
  slot?: number;
}

const EMPTY_FRAME = new Float64Array(0);
const truthy = (v: number): boolean => v !== 0 && v === v;

/**
 * `x ^ y`: small whole powers (2, 3, 4) as products — exact to rounding and several times faster
 * than Math.pow, which matters in physics models (`speed^3`); the batch evaluator does the same.
 */
export function power(x: number, y: number): number {
  if (y === 2) return x * x;
  if (y === 3) return x * x * x;
  if (y === 4) {
    const x2 = x * x;
    return x2 * x2;
  }
  return Math.pow(x, y);
}

/**
 * Compiles a tree already accepted by checkExpr (callers that collect problems themselves).
 * @throws TwinloopError('InternalError') on a tree checkExpr would have refused.
 */
export function compileChecked(node: ExprNode, scope: ExprScope): Evaluator {
  return compileNode(node, scope).ev;
}

function constant(value: number): Compiled {
  return { ev: () => value, constant: value };
}

function compileNode(n: ExprNode, scope: ExprScope): Compiled {
  switch (n.kind) {
    case 'number':
      return constant(n.value);
    case 'name': {
      const c = EXPR_CONSTANTS.get(n.name);
      if (c !== undefined) return constant(c);
      const slot = scope.get(n.name);
      if (slot === undefined || isForbiddenName(n.name))
        throw new TwinloopError('InternalError', `Expression was not checked: unknown name '${n.name}'.`);
      return { ev: (f) => f[slot] as number, slot };
    }
    case 'unary': {
      const o = compileNode(n.operand, scope);
      const op = n.op;
      const apply = (v: number): number => (op === '-' ? -v : op === '+' ? v : truthy(v) ? 0 : 1);
      if (o.constant !== undefined) return constant(apply(o.constant));
      const ev = o.ev;
      if (op === '-') return { ev: (f) => -ev(f) };
      if (op === '+') return { ev };
      return { ev: (f) => (truthy(ev(f)) ? 0 : 1) };
    }
    case 'binary': {
      const l = compileNode(n.left, scope);
      const r = compileNode(n.right, scope);
      if (l.constant !== undefined && r.constant !== undefined) {
        return constant(binaryEvaluator(n.op, l.ev, r.ev)(EMPTY_FRAME));
      }
      if (n.op === '^' && (r.constant === 2 || r.constant === 3 || r.constant === 4)) {
        const le = l.ev;
        if (r.constant === 2)
          return {
            ev: (f) => {
              const v = le(f);
              return v * v;
            },
          };
        if (r.constant === 3)
          return {
            ev: (f) => {
              const v = le(f);
              return v * v * v;
            },
          };
        return {
          ev: (f) => {
            const v = le(f);
            const v2 = v * v;
            return v2 * v2;
          },
        };
      }
      return { ev: arithmeticLeaf(n.op, l, r) ?? binaryEvaluator(n.op, l.ev, r.ev) };
    }
    case 'conditional': {
      const t = compileNode(n.test, scope);
      const a = compileNode(n.then, scope);
      const b = compileNode(n.else, scope);
      if (t.constant !== undefined) return truthy(t.constant) ? a : b;
      const te = t.ev;
      const ae = a.ev;
      const be = b.ev;
      return { ev: (f) => (truthy(te(f)) ? ae(f) : be(f)) };
    }
    case 'call': {
      const fn = exprFunction(n.callee);
      if (fn === undefined)
        throw new TwinloopError(
          'InternalError',
          `Expression was not checked: unknown function '${n.callee}'.`,
        );
      const args = n.args.map((a) => compileNode(a, scope));
      const impl = fn.fn;
      if (args.every((a) => a.constant !== undefined))
        return constant(impl(...args.map((a) => a.constant as number)));
      const evs = args.map((a) => a.ev);
      // Fixed-arity closures avoid allocating an argument array on every evaluation.
      if (evs.length === 1) {
        const a0 = evs[0] as Evaluator;
        return { ev: (f) => impl(a0(f)) };
      }
      if (evs.length === 2) {
        const a0 = evs[0] as Evaluator;
        const a1 = evs[1] as Evaluator;
        return { ev: (f) => impl(a0(f), a1(f)) };
      }
      if (evs.length === 3) {
        const a0 = evs[0] as Evaluator;
        const a1 = evs[1] as Evaluator;
        const a2 = evs[2] as Evaluator;
        return { ev: (f) => impl(a0(f), a1(f), a2(f)) };
      }
      const buf: number[] = new Array<number>(evs.length).fill(0);
      return {
        ev: (f) => {
          for (let i = 0; i < evs.length; i++) buf[i] = (evs[i] as Evaluator)(f);
          return impl(...buf);
        },
      };
    }
  }
}

/**
 * Arithmetic whose operands are variable reads or constants, read in place: every closure call
 * saved matters, because a tree of closures makes megamorphic calls (measured: most of a fleet
 * simulation's time is spent here). Returns undefined when no operand is a leaf.
 */
function arithmeticLeaf(op: BinaryOp, l: Compiled, r: Compiled): Evaluator | undefined {
  const ls = l.slot;
  const rs = r.slot;
  const rc = r.constant;
  const lc = l.constant;
  const le = l.ev;
  const re = r.ev;
  switch (op) {
    case '+':
      if (ls !== undefined && rs !== undefined) return (f) => (f[ls] as number) + (f[rs] as number);
      if (ls !== undefined && rc !== undefined) return (f) => (f[ls] as number) + rc;
      if (lc !== undefined && rs !== undefined) return (f) => lc + (f[rs] as number);
      if (rs !== undefined) return (f) => le(f) + (f[rs] as number);
      if (ls !== undefined) return (f) => (f[ls] as number) + re(f);
      if (rc !== undefined) return (f) => le(f) + rc;
      if (lc !== undefined) return (f) => lc + re(f);
      return undefined;
    case '-':
      if (ls !== undefined && rs !== undefined) return (f) => (f[ls] as number) - (f[rs] as number);
      if (ls !== undefined && rc !== undefined) return (f) => (f[ls] as number) - rc;
      if (lc !== undefined && rs !== undefined) return (f) => lc - (f[rs] as number);
      if (rs !== undefined) return (f) => le(f) - (f[rs] as number);
      if (ls !== undefined) return (f) => (f[ls] as number) - re(f);
      if (rc !== undefined) return (f) => le(f) - rc;
      if (lc !== undefined) return (f) => lc - re(f);
      return undefined;
    case '*':
      if (ls !== undefined && rs !== undefined) return (f) => (f[ls] as number) * (f[rs] as number);
      if (ls !== undefined && rc !== undefined) return (f) => (f[ls] as number) * rc;
      if (lc !== undefined && rs !== undefined) return (f) => lc * (f[rs] as number);
      if (rs !== undefined) return (f) => le(f) * (f[rs] as number);
      if (ls !== undefined) return (f) => (f[ls] as number) * re(f);
      if (rc !== undefined) return (f) => le(f) * rc;
      if (lc !== undefined) return (f) => lc * re(f);
      return undefined;
    case '/':
      if (ls !== undefined && rs !== undefined) return (f) => (f[ls] as number) / (f[rs] as number);
      if (ls !== undefined && rc !== undefined) return (f) => (f[ls] as number) / rc;
      if (lc !== undefined && rs !== undefined) return (f) => lc / (f[rs] as number);
      if (rs !== undefined) return (f) => le(f) / (f[rs] as number);
      if (ls !== undefined) return (f) => (f[ls] as number) / re(f);
      if (rc !== undefined) return (f) => le(f) / rc;
      if (lc !== undefined) return (f) => lc / re(f);
      return undefined;
    default:
      return undefined;
  }
}

/** One closure per operator, so the hot path has no switch and no extra call. */
function binaryEvaluator(op: BinaryOp, l: Evaluator, r: Evaluator): Evaluator {
  switch (op) {
    case '+':
      return (f) => l(f) + r(f);
    case '-':
      return (f) => l(f) - r(f);
    case '*':
      return (f) => l(f) * r(f);
    case '/':
      return (f) => l(f) / r(f);
    case '%':
      return (f) => l(f) % r(f);
    case '^':
      return (f) => power(l(f), r(f));
    case '<':
      return (f) => (l(f) < r(f) ? 1 : 0);
    case '<=':
      return (f) => (l(f) <= r(f) ? 1 : 0);
    case '>':
      return (f) => (l(f) > r(f) ? 1 : 0);
    case '>=':
      return (f) => (l(f) >= r(f) ? 1 : 0);
    case '==':
      return (f) => (l(f) === r(f) ? 1 : 0);
    case '!=':
      return (f) => (l(f) !== r(f) ? 1 : 0);
    case '&&':
      return (f) => (truthy(l(f)) && truthy(r(f)) ? 1 : 0);
    case '||':
      return (f) => (truthy(l(f)) || truthy(r(f)) ? 1 : 0);
  }
}
