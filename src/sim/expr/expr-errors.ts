/**
 * How the expression language reports problems: a TwinloopError ('BadRequest') whose problems carry
 * the line and column inside the expression text. Callers embedding expressions in a larger document
 * shift those positions with `shiftProblem`.
 */
import { errors } from '../../core/errors/errors.js';
import type { Problem, TwinloopError } from '../../core/errors/errors.js';
import type { ExprPosition } from './ast.js';

export function exprProblem(code: string, message: string, pos: ExprPosition): Problem {
  return { code, message, line: pos.line, column: pos.column, severity: 'error' };
}

export function exprError(message: string, pos: ExprPosition, code = 'sim.expr.syntax'): TwinloopError {
  return errors.validation('BadRequest', 'Invalid expression.', [exprProblem(code, message, pos)]);
}
