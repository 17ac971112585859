/**
 * The JavaScript printer of kernels (emit-js.ts): nothing from the user reaches the generated text —
 * names, strings, numbers, unicode escapes and comments tried through parsed expressions and through
 * hand-made trees a parser would never produce — and what it prints computes what the scalar
 * evaluator computes, bit for bit (random trees, fast-check), `fexp` within 2 ulp of Math.exp.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ExprNode } from './ast.js';
import { arbExpr } from './expr-test-fixture.js';
import { compileChecked } from './compile-expr.js';
import {
  assertSafeSource,
  checkIdentifier,
  emitExpr,
  formatNumber,
  FunctionTable,
  KERNEL_HELPERS,
  type EmitScope,
} from './emit-js.js';
import { parseExpr } from './parser.js';

const pos = { line: 1, column: 1, offset: 0 };
const VARS = ['a', 'b', 'c'] as const;
const slots = new Map<string, number>(VARS.map((v, i) => [v, i]));
const scope: EmitScope = { slots, ref: (name) => (slots.has(name) ? `v${slots.get(name)}` : undefined) };

/** The printed expression as a function of (v0, v1, v2), through the same guard as every kernel. */
function emitted(node: ExprNode, fastExp = false): (v0: number, v1: number, v2: number) => number {
  const fns = new FunctionTable(fastExp);
  const body = emitExpr(node, scope, fns);
  const source = [
    KERNEL_HELPERS,
    ...fns.impls.map((_, k) => `const f${k} = F[${k}];`),
    `return (v0, v1, v2) => ${body};`,
  ].join('\n');
  assertSafeSource(source);
  return new Function('F', source)(fns.impls) as (v0: number, v1: number, v2: number) => number;
}
const num = (value: unknown): ExprNode => ({ kind: 'number', value, pos }) as ExprNode;
const name = (n: string): ExprNode => ({ kind: 'name', name: n, pos });
const add = (left: ExprNode, right: ExprNode): ExprNode => ({ kind: 'binary', op: '+', left, right, pos });

describe('emitting kernels: nothing from the user reaches the source', () => {
  it('prints no variable name: a name becomes the identifier its caller maps it to', () => {
    // Valid expression-language names that are also JavaScript globals, keywords of the kernel...
    const tricky = ['process', 'require', 'Math', 'F', 'fexp', 'y0', 'inlet.pressure', 'NaN', 'Infinity'];
    const s = new Map(tricky.map((n, i) => [n, i]));
    const ids = new Map(tricky.map((n, i) => [n, `v${i}`]));
    for (const n of tricky) {
      const src = emitExpr(add(name(n), num(1)), { slots: s, ref: (x) => ids.get(x) }, new FunctionTable());
      expect(src).toBe(`(${ids.get(n)} + 1)`);
    }
  });

  it('refuses a name its scope does not map, or maps to anything but a safe identifier', () => {
    const evil = [
      'a);process.exit(1);(',
      'constructor',
      '__proto__',
      'a\u2028b',
      '\\u0061',
      'a/*x*/',
      'a//',
      "a'",
      '`a`',
    ];
    for (const n of evil) {
      expect(() => emitExpr(name(n), scope, new FunctionTable())).toThrow(/unknown name|Forbidden/);
      // Even a caller that maps it back to itself cannot get it printed.
      expect(() =>
        emitExpr(name(n), { slots: new Map([[n, 0]]), ref: (x) => x }, new FunctionTable()),
      ).toThrow(/Refusing|Forbidden/);
    }
    for (const id of [
      'return',
      'this',
      'eval',
      'constructor',
      'a-b',
      'a b',
      '0a',
      'A',
      'a.b',
      'x'.repeat(65),
    ])
      expect(() => checkIdentifier(id)).toThrow(/Refusing/);
    expect(() => checkIdentifier({ toString: () => 'v0' })).toThrow(/Refusing/);
    expect(checkIdentifier('a_k0')).toBe('a_k0');
  });

  it('refuses strings, boxed numbers and objects where a number belongs', () => {
    for (const v of ['1);process.exit(1);(', '1', { valueOf: () => 1 }, Object(1), 1n, null, undefined, [1]])
      expect(() => emitExpr(num(v), scope, new FunctionTable())).toThrow(/Refusing/);
    expect(() => formatNumber('0/0')).toThrow(/Refusing/);
  });

  it('prints every number so it reads back as the same double', () => {
    const values = [
      0,
      -0,
      1,
      -1,
      0.1,
      1e-7,
      1.5e300,
      -2.5e-308,
      5e-324,
      Number.MAX_VALUE,
      Number.MIN_VALUE,
      NaN,
      Infinity,
      -Infinity,
      Number('1e999'),
      Number('-1e999'),
      2 ** 53 + 2,
      123456789012345680000,
    ];
    for (const v of values) {
      const text = formatNumber(v);
      expect(text).toMatch(/^(\(-?)?[0-9.e+\-/()]+\)?$/);
      expect(Object.is(new Function(`return ${text};`)(), v)).toBe(true);
    }
    // Written as the user may write them: exponent forms, tiny; out of range never parses.
    for (const src of ['1E+3', '2.5e-3', '0.000001', '.5', '1e-400', '-0', '0 * -1', '1e308 * 10', '0/0']) {
      const node = parseExpr(src);
      const want = compileChecked(node, slots)(new Float64Array(3));
      expect(Object.is(emitted(node)(0, 0, 0), want), src).toBe(true);
    }
    expect(() => parseExpr('1e999')).toThrow(/out of range/);
  });

  it('refuses unknown functions and operators of hand-made trees', () => {
    const call = (callee: string): ExprNode => ({ kind: 'call', callee, args: [num(1)], pos });
    for (const callee of [
      'constructor',
      '__proto__',
      'eval',
      'Function',
      'process.exit',
      'exp);x(',
      'toString',
    ])
      expect(() => emitExpr(call(callee), scope, new FunctionTable())).toThrow(/not checked|unknown/);
    const bin = { kind: 'binary', op: ');x(', left: name('a'), right: name('b'), pos } as unknown as ExprNode;
    expect(() => emitExpr(bin, scope, new FunctionTable())).toThrow(/Unknown binary operator/);
    const un = { kind: 'unary', op: '~', operand: name('a'), pos } as unknown as ExprNode;
    expect(() => emitExpr(un, scope, new FunctionTable())).toThrow(/Unknown unary operator/);
    const odd = { kind: 'script', code: 'x', pos } as unknown as ExprNode;
    expect(() => emitExpr(odd, scope, new FunctionTable())).toThrow(/Unknown expression node/);
  });

  it('the last check refuses quotes, backslashes (unicode escapes), comments and template literals', () => {
    for (const src of [
      "const x = 'a';",
      'const x = "a";',
      'const x = `a`;',
      'const \\u0078 = 1;',
      'const x = 1; // c',
      'const x = 1 /* c */;',
      'const x = 1 */',
      'const x = 1;\u2028',
      'const x = $;',
      'const x = @a;',
      'const x = #a;',
    ])
      expect(() => assertSafeSource(src), src).toThrow(/Generated source contains/);
    expect(() => assertSafeSource(KERNEL_HELPERS)).not.toThrow();
  });

  it('comments and quotes in expression text never get as far as a tree', () => {
    for (const src of ['a /* x */ + b', 'a // x', "a + 'x'", 'a + "x"', 'a + `x`', '\\u0061 + 1', 'a + #x'])
      expect(() => parseExpr(src), src).toThrow();
  });
});

const arbNode = arbExpr({
  names: [...VARS, 'pi', 'e', 'true'],
  numbers: fc.oneof(
    fc.constantFrom(0, -0, 1, 2, 3, 4, 0.5, NaN, Infinity, -Infinity),
    fc.double({ min: -1e3, max: 1e3 }),
  ),
  maxArgs: 4,
});
const value = fc.oneof(
  fc.double({ min: -100, max: 100, noNaN: true }),
  fc.constantFrom(0, -0, 1, 2, -1, 0.5, NaN, Infinity, -Infinity),
);

describe('emitted expressions compute what the scalar evaluator computes', () => {
  it('bit for bit, for random trees and values (exp as Math.exp)', () => {
    fc.assert(
      fc.property(
        arbNode,
        fc.array(fc.tuple(value, value, value), { minLength: 1, maxLength: 4 }),
        (node, rows) => {
          const f = emitted(node);
          const scalar = compileChecked(node, slots);
          return rows.every(([x, y, z]) => Object.is(f(x, y, z), scalar(Float64Array.of(x, y, z))));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('fexp is within 2 ulp of Math.exp, and is Math.exp outside (-708, 709)', () => {
    const f = emitted({ kind: 'call', callee: 'exp', args: [name('a')], pos }, true);
    const buf = new Float64Array(2);
    const bits = new BigInt64Array(buf.buffer);
    const ulps = (x: number, y: number): number => {
      buf[0] = x;
      buf[1] = y;
      return Number(bits[0]! - bits[1]!);
    };
    let worst = 0;
    let inexact = 0;
    const xs: number[] = [];
    // A fixed pseudo-random sweep (reproducible), dense near 0 where physics models live.
    let s = 12345;
    const rnd = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let i = 0; i < 100_000; i++) xs.push((rnd() - 0.5) * 1416, (rnd() - 0.5) * 20, (rnd() - 0.5) * 1e-3);
    for (let k = -1000; k <= 1000; k++) xs.push((k * Math.LN2) / 128, k / 7);
    for (const x of xs) {
      const d = Math.abs(ulps(f(x, 0, 0), Math.exp(x)));
      worst = Math.max(worst, d);
      if (d) inexact++;
    }
    expect(worst).toBeLessThanOrEqual(2);
    expect(inexact).toBeGreaterThan(0); // it is its own implementation, not Math.exp under a new name
    for (const x of [
      0,
      -0,
      1,
      -1,
      708,
      -708,
      709,
      709.7,
      710,
      -745,
      -746,
      -1e300,
      1e300,
      NaN,
      Infinity,
      -Infinity,
      5e-324,
    ]) {
      const got = f(x, 0, 0);
      const want = Math.exp(x);
      if (!(x > -708 && x < 709)) expect(Object.is(got, want), String(x)).toBe(true);
      else expect(Math.abs(ulps(got, want)), String(x)).toBeLessThanOrEqual(2);
    }
  });
});
