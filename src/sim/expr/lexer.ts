/**
 * Tokeniser of the simulation expression language. Works on a plain string, tracks line and column,
 * and reports the first bad character as a TwinloopError carrying a `sim.expr.syntax` problem.
 */
import type { ExprPosition } from './ast.js';
import { exprError } from './expr-errors.js';

export type TokenKind = 'number' | 'name' | 'op' | '(' | ')' | ',' | '?' | ':' | 'eof';

export interface Token {
  kind: TokenKind;
  /** The token's text (for numbers the literal as written). */
  text: string;
  pos: ExprPosition;
}

/** Longest operators first, so `<=` is never read as `<` then `=`. */
const OPERATORS = ['&&', '||', '<=', '>=', '==', '!=', '+', '-', '*', '/', '%', '^', '<', '>', '!'] as const;

const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isNameStart = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
const isNamePart = (c: string): boolean => isNameStart(c) || isDigit(c);

/** Limits that keep a hostile text from costing much: expressions are short formulas. */
export const MAX_EXPRESSION_LENGTH = 10_000;

export function tokenize(text: string): Token[] {
  if (text.length > MAX_EXPRESSION_LENGTH) {
    throw exprError(`Expression is longer than ${MAX_EXPRESSION_LENGTH} characters.`, {
      line: 1,
      column: 1,
      offset: 0,
    });
  }
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const here = (at: number): ExprPosition => ({ line, column: at - lineStart + 1, offset: at });

  while (i < text.length) {
    const c = text.charAt(i);
    if (c === '\n') {
      i++;
      line++;
      lineStart = i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    const start = i;
    if (isDigit(c) || (c === '.' && isDigit(text.charAt(i + 1)))) {
      while (isDigit(text.charAt(i))) i++;
      if (text.charAt(i) === '.') {
        i++;
        while (isDigit(text.charAt(i))) i++;
      }
      if (text.charAt(i) === 'e' || text.charAt(i) === 'E') {
        let j = i + 1;
        if (text.charAt(j) === '+' || text.charAt(j) === '-') j++;
        if (!isDigit(text.charAt(j)))
          throw exprError('A number has an exponent without digits.', here(start));
        i = j;
        while (isDigit(text.charAt(i))) i++;
      }
      if (isNameStart(text.charAt(i)) || text.charAt(i) === '.') {
        throw exprError(`Unexpected '${text.charAt(i)}' right after a number.`, here(i));
      }
      tokens.push({ kind: 'number', text: text.slice(start, i), pos: here(start) });
      continue;
    }
    if (isNameStart(c)) {
      // A dotted name such as `inlet.pressure` is one token: the dot is part of the name, never an access.
      for (;;) {
        while (isNamePart(text.charAt(i))) i++;
        if (text.charAt(i) === '.' && isNameStart(text.charAt(i + 1))) {
          i++;
          continue;
        }
        break;
      }
      if (text.charAt(i) === '.') throw exprError('A name cannot end with a dot.', here(i));
      tokens.push({ kind: 'name', text: text.slice(start, i), pos: here(start) });
      continue;
    }
    if (c === '(' || c === ')' || c === ',' || c === '?' || c === ':') {
      tokens.push({ kind: c, text: c, pos: here(start) });
      i++;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (op !== undefined) {
      tokens.push({ kind: 'op', text: op, pos: here(start) });
      i += op.length;
      continue;
    }
    const shown = c === '=' ? "'=' (use '==' to compare)" : JSON.stringify(c);
    throw exprError(`Unexpected character ${shown}.`, here(start));
  }
  tokens.push({ kind: 'eof', text: '', pos: here(i) });
  return tokens;
}
