/**
 * The fixed whitelist of functions and constants an expression may use. Lookups go through Maps,
 * never through object properties, so a name like `constructor` or `__proto__` can never resolve to
 * anything JavaScript put there.
 */

export interface ExprFunction {
  /** Fewest and most arguments (Infinity for variadic). */
  minArgs: number;
  maxArgs: number;
  fn: (...args: number[]) => number;
  /** One line for documentation and error messages. */
  signature: string;
}

const f = (minArgs: number, maxArgs: number, signature: string, fn: (...args: number[]) => number) => ({
  minArgs,
  maxArgs,
  fn,
  signature,
});

const clamp = (x: number, lo: number, hi: number): number => Math.min(Math.max(x, lo), hi);

export const EXPR_FUNCTIONS: ReadonlyMap<string, ExprFunction> = new Map<string, ExprFunction>([
  ['abs', f(1, 1, 'abs(x)', Math.abs)],
  ['min', f(1, Infinity, 'min(x, ...)', Math.min)],
  ['max', f(1, Infinity, 'max(x, ...)', Math.max)],
  ['sqrt', f(1, 1, 'sqrt(x)', Math.sqrt)],
  ['exp', f(1, 1, 'exp(x)', Math.exp)],
  ['log', f(1, 1, 'log(x) — natural logarithm', Math.log)],
  ['log10', f(1, 1, 'log10(x)', Math.log10)],
  ['sin', f(1, 1, 'sin(x)', Math.sin)],
  ['cos', f(1, 1, 'cos(x)', Math.cos)],
  ['tan', f(1, 1, 'tan(x)', Math.tan)],
  ['asin', f(1, 1, 'asin(x)', Math.asin)],
  ['acos', f(1, 1, 'acos(x)', Math.acos)],
  ['atan', f(1, 1, 'atan(x)', Math.atan)],
  ['atan2', f(2, 2, 'atan2(y, x)', Math.atan2)],
  ['sinh', f(1, 1, 'sinh(x)', Math.sinh)],
  ['cosh', f(1, 1, 'cosh(x)', Math.cosh)],
  ['tanh', f(1, 1, 'tanh(x)', Math.tanh)],
  ['pow', f(2, 2, 'pow(x, y)', Math.pow)],
  ['floor', f(1, 1, 'floor(x)', Math.floor)],
  ['ceil', f(1, 1, 'ceil(x)', Math.ceil)],
  ['round', f(1, 1, 'round(x)', Math.round)],
  ['trunc', f(1, 1, 'trunc(x)', Math.trunc)],
  ['sign', f(1, 1, 'sign(x)', Math.sign)],
  ['hypot', f(1, Infinity, 'hypot(x, ...)', Math.hypot)],
  ['clamp', f(3, 3, 'clamp(x, lo, hi)', clamp)],
  [
    'step',
    f(2, 2, 'step(edge, x) — 0 below edge, 1 from it', (edge, x) =>
      (x as number) < (edge as number) ? 0 : 1,
    ),
  ],
  [
    'smoothstep',
    f(3, 3, 'smoothstep(edge0, edge1, x) — Hermite 0..1', (e0, e1, x) => {
      const u = clamp(((x as number) - (e0 as number)) / ((e1 as number) - (e0 as number)), 0, 1);
      return u * u * (3 - 2 * u);
    }),
  ],
  [
    'lerp',
    f(
      3,
      3,
      'lerp(a, b, u) — a + (b - a) * u',
      (a, b, u) => (a as number) + ((b as number) - (a as number)) * (u as number),
    ),
  ],
]);

/**
 * Functions added by behaviour plug-ins (src/sim/behaviour/behaviour-plugin.ts): TypeScript/JavaScript
 * the operator installs, for what the expression language cannot say (a pump curve from a table, a
 * tank's volume from its geometry...). Always namespaced, `plugin.function`, so they can never shadow
 * the language's own; expressions still pass them numbers only and get a number back.
 */
const PLUGIN_FUNCTIONS = new Map<string, ExprFunction>();

const PLUGIN_NAME = /^[A-Za-z][A-Za-z0-9_]*\.[A-Za-z][A-Za-z0-9_]*$/;

/**
 * Registers (or replaces: a plug-in loaded again) a plug-in function; models compiled before keep
 * the function they were compiled with. @throws Error for a name that is not `namespace.function`.
 */
export function registerExprFunction(name: string, f: ExprFunction): void {
  if (!PLUGIN_NAME.test(name) || isForbiddenName(name))
    throw new Error(`Plug-in function name '${name}' must be 'plugin.function' (letters, digits, _).`);
  if (typeof f.fn !== 'function' || !(f.minArgs >= 0) || !(f.maxArgs >= f.minArgs))
    throw new Error(`Plug-in function '${name}' needs fn and minArgs ≤ maxArgs.`);
  PLUGIN_FUNCTIONS.set(name, f);
}

/** A function by name: the language's own, else a registered plug-in's. */
export function exprFunction(name: string): ExprFunction | undefined {
  return EXPR_FUNCTIONS.get(name) ?? PLUGIN_FUNCTIONS.get(name);
}

export const EXPR_CONSTANTS: ReadonlyMap<string, number> = new Map([
  ['pi', Math.PI],
  ['e', Math.E],
  ['true', 1],
  ['false', 0],
]);

/**
 * Names no scope may define and no expression may read, even dotted parts of them: they are the
 * handles JavaScript exposes on every object, refused outright so that no future change to how
 * names resolve could ever reach them.
 */
export const FORBIDDEN_NAME_PARTS: ReadonlySet<string> = new Set([
  'constructor',
  '__proto__',
  'prototype',
  'this',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
  'globalThis',
  'eval',
  'Function',
]);

/** True when a name is one of the language's own (a function, a constant) or forbidden. */
export function isReservedName(name: string): boolean {
  return EXPR_FUNCTIONS.has(name) || EXPR_CONSTANTS.has(name) || isForbiddenName(name);
}

export function isForbiddenName(name: string): boolean {
  return name.split('.').some((part) => FORBIDDEN_NAME_PARTS.has(part));
}
