/**
 * Pratt parser of the simulation expression language:
 *
 *   cond ? a : b   ||   &&   == !=   < <= > >=   + -   * / %   unary - + !   ^ (right)   f(args)
 *
 * Only a name may be called, and only names are read: there is no member access, no indexing, no
 * string, no assignment — so nothing but the scope and the function whitelist can ever be reached.
 * Errors are TwinloopErrors with a `sim.expr.syntax` problem at the offending token's line and column.
 */
import type { BinaryOp, ExprNode, ExprPosition, UnaryOp } from './ast.js';
import { exprError } from './expr-errors.js';
import { tokenize } from './lexer.js';
import type { Token } from './lexer.js';

/** Deeper nesting than this is refused (a formula never needs it; a hostile text would blow the stack). */
export const MAX_EXPRESSION_DEPTH = 200;

const BINARY_PRECEDENCE: Readonly<Record<BinaryOp, number>> = {
  '||': 2,
  '&&': 3,
  '==': 4,
  '!=': 4,
  '<': 5,
  '<=': 5,
  '>': 5,
  '>=': 5,
  '+': 6,
  '-': 6,
  '*': 7,
  '/': 7,
  '%': 7,
  '^': 9,
};
const UNARY_PRECEDENCE = 8;
const CONDITIONAL_PRECEDENCE = 1;

const isBinaryOp = (s: string): s is BinaryOp => Object.prototype.hasOwnProperty.call(BINARY_PRECEDENCE, s);

/**
 * Parses an expression into a tree.
 * @throws TwinloopError('BadRequest') with one `sim.expr.syntax` problem (line/column in `text`).
 * @example parseExpr('(ambient + 0.4*current - temperature)/tau')
 */
export function parseExpr(text: string): ExprNode {
  const p = new Parser(tokenize(text));
  const node = p.expression(0);
  const last = p.peek();
  if (last.kind !== 'eof') throw exprError(`Unexpected ${describe(last)}.`, last.pos);
  return node;
}

function describe(t: Token): string {
  return t.kind === 'eof' ? 'end of expression' : `'${t.text}'`;
}

class Parser {
  private i = 0;
  private depth = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  peek(): Token {
    // The token list always ends with 'eof' and the parser never moves past it.
    return this.tokens[Math.min(this.i, this.tokens.length - 1)] as Token;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== 'eof') this.i++;
    return t;
  }

  private expect(kind: Token['kind'], what: string): Token {
    const t = this.peek();
    if (t.kind !== kind) throw exprError(`Expected ${what} but found ${describe(t)}.`, t.pos);
    return this.next();
  }

  expression(minPrecedence: number): ExprNode {
    if (++this.depth > MAX_EXPRESSION_DEPTH) {
      throw exprError(`Expression is nested deeper than ${MAX_EXPRESSION_DEPTH} levels.`, this.peek().pos);
    }
    let left = this.prefix();
    for (;;) {
      const t = this.peek();
      if (t.kind === '?' && CONDITIONAL_PRECEDENCE >= minPrecedence) {
        this.next();
        const then = this.expression(0);
        this.expect(':', "':' of a conditional");
        const otherwise = this.expression(CONDITIONAL_PRECEDENCE); // right-associative
        left = { kind: 'conditional', test: left, then, else: otherwise, pos: left.pos };
        continue;
      }
      if (t.kind !== 'op' || !isBinaryOp(t.text)) break;
      const prec = BINARY_PRECEDENCE[t.text];
      if (prec < minPrecedence) break;
      this.next();
      // '^' is right-associative; everything else associates to the left.
      const right = this.expression(t.text === '^' ? prec : prec + 1);
      left = { kind: 'binary', op: t.text, left, right, pos: left.pos };
    }
    this.depth--;
    return left;
  }

  private prefix(): ExprNode {
    const t = this.next();
    switch (t.kind) {
      case 'number': {
        const value = Number(t.text);
        if (!Number.isFinite(value)) throw exprError(`Number '${t.text}' is out of range.`, t.pos);
        return { kind: 'number', value, pos: t.pos };
      }
      case 'name':
        if (this.peek().kind === '(') return this.call(t);
        return { kind: 'name', name: t.text, pos: t.pos };
      case '(': {
        const inner = this.expression(0);
        this.expect(')', "')'");
        return inner;
      }
      case 'op':
        if (t.text === '-' || t.text === '+' || t.text === '!') {
          const operand = this.expression(UNARY_PRECEDENCE);
          return { kind: 'unary', op: t.text as UnaryOp, operand, pos: t.pos };
        }
        break;
      default:
        break;
    }
    throw exprError(`Expected a number, a name or '(' but found ${describe(t)}.`, t.pos);
  }

  private call(name: Token): ExprNode {
    this.expect('(', "'('");
    const args: ExprNode[] = [];
    if (this.peek().kind !== ')') {
      for (;;) {
        args.push(this.expression(0));
        if (this.peek().kind !== ',') break;
        this.next();
      }
    }
    this.expect(')', "')' or ','");
    const pos: ExprPosition = name.pos;
    return { kind: 'call', callee: name.text, args, pos };
  }
}
