/**
 * Test support: random expression trees of the language (fast-check), for the property tests that
 * compare the evaluators (the closure compiler against a reference interpreter, the generated
 * kernel code against the closure compiler). Only test files import it.
 */
import fc from 'fast-check';
import type { BinaryOp, ExprNode, UnaryOp } from './ast.js';
import { EXPR_FUNCTIONS } from './functions.js';

const POS = { line: 1, column: 1, offset: 0 };
export const ARB_BINARY: readonly BinaryOp[] = [
  '+',
  '-',
  '*',
  '/',
  '%',
  '^',
  '<',
  '<=',
  '>',
  '>=',
  '==',
  '!=',
  '&&',
  '||',
];
export const ARB_UNARY: readonly UnaryOp[] = ['-', '+', '!'];

/**
 * Trees over `names` (variables and constants), with number leaves from `numbers`, every operator
 * and every function of the language (at most `maxArgs` arguments each).
 */
export function arbExpr(o: {
  names: readonly string[];
  numbers: fc.Arbitrary<number>;
  maxArgs: number;
}): fc.Arbitrary<ExprNode> {
  const funcs = [...EXPR_FUNCTIONS.entries()].map(([name, f]) => ({
    name,
    min: f.minArgs,
    max: Math.min(f.maxArgs, o.maxArgs),
  }));
  const { node } = fc.letrec<{ node: ExprNode }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      o.numbers.map((value): ExprNode => ({ kind: 'number', value, pos: POS })),
      fc.constantFrom(...o.names).map((name): ExprNode => ({ kind: 'name', name, pos: POS })),
      fc
        .tuple(fc.constantFrom(...ARB_UNARY), tie('node'))
        .map(([op, operand]): ExprNode => ({ kind: 'unary', op, operand, pos: POS })),
      fc
        .tuple(fc.constantFrom(...ARB_BINARY), tie('node'), tie('node'))
        .map(([op, left, right]): ExprNode => ({ kind: 'binary', op, left, right, pos: POS })),
      fc.tuple(tie('node'), tie('node'), tie('node')).map(([test, then, otherwise]): ExprNode => ({
        kind: 'conditional',
        test,
        then,
        else: otherwise,
        pos: POS,
      })),
      fc
        .constantFrom(...funcs)
        .chain((f) =>
          fc
            .array(tie('node'), { minLength: f.min, maxLength: f.max })
            .map((args): ExprNode => ({ kind: 'call', callee: f.name, args, pos: POS })),
        ),
    ),
  }));
  return node;
}
