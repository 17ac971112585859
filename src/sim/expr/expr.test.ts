import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import { compileChecked, compileExpr, parseExpr, printExpr, tokenize } from './index.js';

const scope = new Map([
  ['a', 0],
  ['b', 1],
  ['inlet.pressure', 2],
]);
const frame = Float64Array.of(3, 4, 1.5);
const ev = (src: string): number => compileExpr(src, scope).evaluate(frame);

function problemsOf(fn: () => unknown): { code: string; line?: number; column?: number; message: string }[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TwinloopError);
    return [...(e as TwinloopError).problems];
  }
  throw new Error('expected a TwinloopError');
}

describe('expression language', () => {
  it('evaluates arithmetic with precedence and associativity', () => {
    expect(ev('1 + 2 * 3')).toBe(7);
    expect(ev('(1 + 2) * 3')).toBe(9);
    expect(ev('2 ^ 3 ^ 2')).toBe(512);
    expect(ev('-2 ^ 2')).toBe(-4);
    expect(ev('2 ^ -1')).toBe(0.5);
    expect(ev('10 - 4 - 3')).toBe(3);
    expect(ev('7 % 4')).toBe(3);
    expect(ev('1.5e3 + .5 + 2E-1')).toBeCloseTo(1500.7, 12);
    expect(ev('a * b + inlet.pressure')).toBe(13.5);
  });

  it('evaluates comparisons, logic and conditionals as 1/0', () => {
    expect(ev('a < b')).toBe(1);
    expect(ev('a >= b')).toBe(0);
    expect(ev('a == 3 && b != 3')).toBe(1);
    expect(ev('!a || 0')).toBe(0);
    expect(ev('a > 5 ? 1 : a > 2 ? 2 : 3')).toBe(2);
    expect(ev('1 < 2 == 1')).toBe(1);
  });

  it('calls whitelisted functions and constants', () => {
    expect(ev('max(a, b, 2)')).toBe(4);
    expect(ev('clamp(a * 10, 0, 12)')).toBe(12);
    expect(ev('hypot(a, b)')).toBe(5);
    expect(ev('sin(pi / 2) + log(e)')).toBeCloseTo(2, 12);
    expect(ev('step(3, a) + step(3.5, a)')).toBe(1);
    expect(ev('smoothstep(0, 2, 1)')).toBe(0.5);
    expect(ev('atan2(1, 1)')).toBeCloseTo(Math.PI / 4, 12);
  });

  it('lists the variables read and folds constants', () => {
    const c = compileExpr('b + a * 2 + b + pi', scope);
    expect(c.names).toEqual(['b', 'a']);
    expect(compileExpr('2 * (3 + 4)', new Map()).evaluate(new Float64Array(0))).toBe(14);
  });

  it('reports syntax errors with line and column', () => {
    expect(problemsOf(() => parseExpr('1 +'))).toMatchObject([
      { code: 'sim.expr.syntax', line: 1, column: 4 },
    ]);
    expect(problemsOf(() => parseExpr('a +\n  * b'))).toMatchObject([
      { code: 'sim.expr.syntax', line: 2, column: 3 },
    ]);
    expect(problemsOf(() => parseExpr('a = b'))[0]?.message).toContain("'=='");
    expect(problemsOf(() => parseExpr('(a'))).toMatchObject([{ column: 3 }]);
    expect(problemsOf(() => parseExpr('1e'))).toMatchObject([{ code: 'sim.expr.syntax', column: 1 }]);
    expect(problemsOf(() => parseExpr('a.'))).toMatchObject([{ code: 'sim.expr.syntax' }]);
    expect(problemsOf(() => parseExpr('3abc'))).toMatchObject([{ column: 2 }]);
    expect(problemsOf(() => parseExpr('a ? b'))).toMatchObject([{ code: 'sim.expr.syntax', column: 6 }]);
    expect(problemsOf(() => parseExpr('"x"'))).toMatchObject([{ code: 'sim.expr.syntax', column: 1 }]);
    expect(problemsOf(() => parseExpr('1e400'))[0]?.message).toContain('out of range');
  });

  it('reports every unknown name at once, with positions', () => {
    const ps = problemsOf(() => compileExpr('x + a * y\n + nope(b) + sin(a, b)', scope));
    expect(ps).toMatchObject([
      { code: 'sim.expr.unknownVariable', line: 1, column: 1 },
      { code: 'sim.expr.unknownVariable', line: 1, column: 9 },
      { code: 'sim.expr.unknownFunction', line: 2, column: 4 },
      { code: 'sim.expr.arity', line: 2, column: 14 },
    ]);
  });

  it('refuses everything outside the scope and the whitelist', () => {
    for (const src of [
      'constructor',
      '__proto__',
      'this',
      'a.constructor',
      'sin.constructor',
      'toString',
      'process',
    ]) {
      expect(problemsOf(() => compileExpr(src, scope)).length).toBe(1);
    }
    // Forbidden even when a careless caller puts the name in the scope.
    expect(problemsOf(() => compileExpr('constructor', new Map([['constructor', 0]])))).toMatchObject([
      { code: 'sim.expr.forbiddenName' },
    ]);
    // Calls only on names; no member access, indexing or strings exist.
    for (const src of ['(sin)(1)', 'a[0]', 'sin.call(1)', 'a.b.c(1)', "'x'", 'a => 1', 'x = 1']) {
      expect(() => compileExpr(src, scope)).toThrow(TwinloopError);
    }
  });

  it('compileChecked refuses a tree that was not checked', () => {
    expect(() => compileChecked(parseExpr('q + 1'), scope)).toThrow(/not checked/);
    expect(() => compileChecked(parseExpr('nope(1)'), scope)).toThrow(TwinloopError);
  });

  it('refuses absurd nesting and length with a TwinloopError, not a stack overflow', () => {
    expect(() => parseExpr('('.repeat(5000) + '1' + ')'.repeat(5000))).toThrow(TwinloopError);
    expect(() => parseExpr('-'.repeat(5000) + '1')).toThrow(TwinloopError);
    expect(() => parseExpr('1+'.repeat(6000) + '1')).toThrow(TwinloopError);
  });

  it('tokenizes dotted names as one token', () => {
    expect(tokenize('inlet.pressure*2').map((t) => t.kind)).toEqual(['name', 'op', 'number', 'eof']);
  });

  it('prints a tree that parses back to the same value', () => {
    const src = '-a ^ 2 + (b > 1 ? max(a, 2) : 1e-7) % 3';
    expect(compileExpr(printExpr(parseExpr(src)), scope).evaluate(frame)).toBe(ev(src));
  });

  it('evaluates millions of times per second', () => {
    const s = new Map([
      ['ambient', 0],
      ['current', 1],
      ['temperature', 2],
      ['tau', 3],
    ]);
    const e = compileExpr('(ambient + 0.4*current - temperature)/tau + 0.1*sin(temperature)', s).evaluate;
    const f = Float64Array.of(20, 10, 25, 300);
    const n = 2_000_000;
    let sum = 0;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      f[2] = 25 + (i & 7);
      sum += e(f);
    }
    const perSecond = n / ((performance.now() - t0) / 1000);
    expect(Number.isFinite(sum)).toBe(true);
    console.log(`expression evaluations: ${(perSecond / 1e6).toFixed(1)} M/s`);
    expect(perSecond).toBeGreaterThan(1_000_000);
  });
});
