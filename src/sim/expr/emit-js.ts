/**
 * Prints a checked expression tree as JavaScript source, for kernels generated with `new Function`
 * (src/sim/runner/fused-rk4.ts). Nothing the user wrote reaches the text: a variable becomes the
 * generated identifier its caller maps it to (checked against SAFE_IDENTIFIER), a function becomes
 * `f<index>` into a table of the whitelisted implementations, an operator comes from a fixed table,
 * and a number is printed by `formatNumber`, which accepts only a JavaScript number and prints only
 * digits, '.', 'e', signs or one of the fixed texts for NaN and ±Infinity. `assertSafeSource` then
 * checks the whole kernel: no quote, backslash, backtick, comment, brace outside the fixed frame...
 *
 * Semantics are those of compile-expr.ts exactly (same operations in the same order, the same
 * `power` rule for small whole exponents, constant subtrees folded by the scalar evaluator), so a
 * generated kernel gives bit for bit what the scalar evaluator gives — with one chosen exception,
 * `exp`, which a kernel computes inline within 2 ulp of Math.exp (`FunctionTable`'s fastExp).
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { ExprNode } from './ast.js';
import { compileChecked } from './compile-expr.js';
import { EXPR_CONSTANTS, exprFunction, isForbiddenName } from './functions.js';

/** What a generated identifier may look like: a lower-case letter, then letters, digits, '_'. */
export const SAFE_IDENTIFIER = /^[a-z][A-Za-z0-9_]{0,63}$/;

/** Words a generated identifier may never be (JavaScript's reserved words and dangerous globals). */
const RESERVED = new Set(
  (
    'break case catch class const continue debugger default delete do else enum export extends false ' +
    'finally for function if import in instanceof let new null return static super switch this throw ' +
    'true try typeof var void while with yield await arguments eval globalThis constructor prototype ' +
    'require process module exports'
  ).split(' '),
);

const internal = (message: string): TwinloopError => new TwinloopError('InternalError', message);

/** @throws TwinloopError InternalError unless `id` is a safe generated identifier. */
export function checkIdentifier(id: unknown): string {
  if (typeof id !== 'string' || !SAFE_IDENTIFIER.test(id) || RESERVED.has(id))
    throw internal(`Refusing to emit identifier ${JSON.stringify(String(id)).slice(0, 80)}.`);
  return id;
}

const NUMBER_TEXT = /^(0|[1-9][0-9]*)(\.[0-9]+)?(e[+-][0-9]+)?$/;

/**
 * A number as JavaScript source that reads back as the same double (sign of zero included):
 * `(0/0)` for NaN, `(1/0)` and `(-1/0)` for the infinities, `(-0)`, and otherwise the shortest
 * round-trip text (String), parenthesised when negative.
 * @throws TwinloopError InternalError for anything but a number (a string, a boxed number...).
 */
export function formatNumber(v: unknown): string {
  if (typeof v !== 'number') throw internal(`Refusing to emit a ${typeof v} as a number.`);
  if (v !== v) return '(0/0)';
  if (v === Infinity) return '(1/0)';
  if (v === -Infinity) return '(-1/0)';
  if (Object.is(v, -0)) return '(-0)';
  const abs = v < 0 ? -v : v;
  const text = String(abs);
  if (!NUMBER_TEXT.test(text) || Number(text) !== abs)
    throw internal(`Number ${text.slice(0, 40)} does not print safely.`);
  return v < 0 ? `(-${text})` : text;
}

/**
 * A whole generated kernel's last check before `new Function`: only the characters arithmetic
 * needs, no string or template quote, no backslash (so no unicode escape), no comment.
 * @throws TwinloopError InternalError naming the first offending character.
 */
export function assertSafeSource(source: string): void {
  const badChar = /[^A-Za-z0-9_ \n().,;:?!=<>+\-*/%&|[\]{}]/.exec(source);
  if (badChar) throw internal(`Generated source contains '${badChar[0]}' at ${badChar.index}.`);
  const comment = /\/\/|\/\*|\*\//.exec(source);
  if (comment) throw internal(`Generated source contains a comment opener at ${comment.index}.`);
}

/** The implementations a kernel calls, by index: `f<index>` in the source. */
export class FunctionTable {
  readonly names: string[] = [];
  readonly impls: ((...args: number[]) => number)[] = [];
  /**
   * @param fastExp `exp` as the kernel's own `fexp` (KERNEL_HELPERS: within 2 ulp of Math.exp, about
   *   twice as fast); false calls Math.exp, for results bit for bit those of the scalar evaluator.
   */
  constructor(readonly fastExp = true) {}
  /** The identifier of a whitelisted function's implementation. @throws InternalError otherwise. */
  ref(callee: string): string {
    const fn = exprFunction(callee);
    if (fn === undefined || isForbiddenName(callee))
      throw internal(`Expression was not checked: unknown function '${callee}'.`);
    if (callee === 'exp' && this.fastExp && fn.fn === Math.exp) return 'fexp';
    let k = this.impls.indexOf(fn.fn);
    if (k < 0) {
      k = this.impls.length;
      this.impls.push(fn.fn);
      this.names.push(callee);
    }
    return `f${k}`;
  }
}

/** How the printer resolves names and subtrees. */
export interface EmitScope {
  /** The scalar scope (name → slot), for folding constant subtrees exactly as compile-expr.ts does. */
  slots: ReadonlyMap<string, number>;
  /** The generated identifier holding a variable's value; undefined for an unknown name. */
  ref(name: string): string | undefined;
  /** A generated identifier holding a subtree's (hoisted) value, or undefined to print the subtree. */
  hoisted?(node: ExprNode): string | undefined;
}

/**
 * The fixed helpers every kernel's source starts with: truthiness and powers by the same rules as
 * compile-expr.ts, and `fexp`, e^x by table and polynomial — x = (128k + j)·ln2/128 + r with
 * |r| ≤ ln2/256, e^x = 2^k · 2^(j/128) · (1 + expm1(r)), expm1 to degree 5 (truncation < 1e-18,
 * evaluated in Estrin's form: a shorter dependency chain than Horner's) —
 * within 2 ulp of Math.exp (emit-js.test.ts measures it), Math.exp itself outside (−708, 709) and
 * for NaN. V8 calls out to C for Math.exp; this stays inline in the kernel.
 */
export const KERNEL_HELPERS = [
  'const EXT = new Float64Array(128);',
  'for (let j = 0; j < 128; j++) EXT[j] = Math.pow(2, j / 128);',
  'const EXP2 = new Float64Array(2047);',
  'for (let e = -1023; e < 1024; e++) EXP2[e + 1023] = Math.pow(2, e);',
  'const LN2HI = 6.93147180369123816490e-01 / 128;',
  'const LN2LO = 1.90821492927058770002e-10 / 128;',
  'const fexp = (x) => {',
  'if (!(x > -708 && x < 709)) return Math.exp(x);',
  'const kf = Math.round(x * 184.66496523378731);',
  'const r = x - kf * LN2HI - kf * LN2LO;',
  'const ki = kf | 0;',
  'const t = EXT[ki & 127];',
  'const r2 = r * r;',
  'const p = r + r2 * (0.5 + r * (1 / 6) + r2 * (1 / 24 + r * (1 / 120)));',
  'return (t + t * p) * EXP2[(ki >> 7) + 1023];',
  '};',
  'const tr = (v) => v !== 0 && v === v;',
  'const sq = (v) => v * v;',
  'const cu = (v) => v * v * v;',
  'const qu = (v) => { const w = v * v; return w * w; };',
  'const pw = (x, y) => y === 2 ? x * x : y === 3 ? x * x * x : y === 4 ? qu(x) : Math.pow(x, y);',
].join('\n');

const EMPTY = new Float64Array(0);

/** As compile-expr.ts decides it: a constant once folded (a constant test picks its branch). */
function isConstant(n: ExprNode, slots: ReadonlyMap<string, number>): boolean {
  const c = (x: ExprNode): boolean => isConstant(x, slots);
  switch (n.kind) {
    case 'number':
      return true;
    case 'name':
      return EXPR_CONSTANTS.has(n.name);
    case 'unary':
      return c(n.operand);
    case 'binary':
      return c(n.left) && c(n.right);
    case 'conditional': {
      if (!c(n.test)) return false;
      const t = compileChecked(n.test, slots)(EMPTY);
      return c(t !== 0 && t === t ? n.then : n.else);
    }
    case 'call':
      return n.args.every(c);
    default:
      return false;
  }
}

/**
 * JavaScript source for a checked expression.
 * @throws TwinloopError InternalError for a tree checkExpr would refuse or anything unsafe to print.
 */
export function emitExpr(node: ExprNode, scope: EmitScope, fns: FunctionTable): string {
  const h = scope.hoisted?.(node);
  if (h !== undefined) return checkIdentifier(h);
  if (node.kind === 'conditional' && isConstant(node.test, scope.slots)) {
    // compile-expr.ts picks the branch at compile time; so does the kernel.
    const t = compileChecked(node.test, scope.slots)(EMPTY);
    return emitExpr(t !== 0 && t === t ? node.then : node.else, scope, fns);
  }
  if (node.kind !== 'number' && isConstant(node, scope.slots))
    return formatNumber(compileChecked(node, scope.slots)(EMPTY));
  const e = (n: ExprNode): string => emitExpr(n, scope, fns);
  switch (node.kind) {
    case 'number':
      return formatNumber(node.value);
    case 'name': {
      if (isForbiddenName(node.name)) throw internal(`Forbidden name in an expression.`);
      const id = scope.ref(node.name);
      if (id === undefined) throw internal(`Expression was not checked: unknown name.`);
      return checkIdentifier(id);
    }
    case 'unary':
      switch (node.op) {
        case '-':
          return `(-${e(node.operand)})`;
        case '+':
          return e(node.operand);
        case '!':
          return `(tr(${e(node.operand)}) ? 0 : 1)`;
        default:
          throw internal('Unknown unary operator.');
      }
    case 'binary': {
      const l = e(node.left);
      if (node.op === '^' && isConstant(node.right, scope.slots)) {
        const k = compileChecked(node.right, scope.slots)(EMPTY);
        if (k === 2) return `sq(${l})`;
        if (k === 3) return `cu(${l})`;
        if (k === 4) return `qu(${l})`;
      }
      const r = e(node.right);
      switch (node.op) {
        case '+':
        case '-':
        case '*':
        case '/':
        case '%':
          return `(${l} ${node.op} ${r})`;
        case '^':
          return `pw(${l}, ${r})`;
        case '<':
        case '<=':
        case '>':
        case '>=':
          return `(${l} ${node.op} ${r} ? 1 : 0)`;
        case '==':
          return `(${l} === ${r} ? 1 : 0)`;
        case '!=':
          return `(${l} !== ${r} ? 1 : 0)`;
        case '&&':
          return `(tr(${l}) && tr(${r}) ? 1 : 0)`;
        case '||':
          return `(tr(${l}) || tr(${r}) ? 1 : 0)`;
        default:
          throw internal('Unknown binary operator.');
      }
    }
    case 'conditional':
      return `(tr(${e(node.test)}) ? ${e(node.then)} : ${e(node.else)})`;
    case 'call': {
      if (!Array.isArray(node.args)) throw internal('Malformed call.');
      const f = fns.ref(node.callee);
      return `${f}(${node.args.map(e).join(', ')})`;
    }
    default:
      throw internal('Unknown expression node.');
  }
}
