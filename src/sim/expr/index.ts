/** The simulation expression language: parse, check and compile formulas over a slot frame. */
export type { BinaryOp, ExprNode, ExprPosition, UnaryOp } from './ast.js';
export { namesIn, printExpr } from './ast.js';
export { parseExpr, MAX_EXPRESSION_DEPTH } from './parser.js';
export { tokenize, MAX_EXPRESSION_LENGTH } from './lexer.js';
export type { Token, TokenKind } from './lexer.js';
export { checkExpr, compileChecked, compileExpr } from './compile-expr.js';
export type { CompiledExpr, Evaluator, ExprScope } from './compile-expr.js';
export {
  EXPR_CONSTANTS,
  EXPR_FUNCTIONS,
  FORBIDDEN_NAME_PARTS,
  isForbiddenName,
  isReservedName,
} from './functions.js';
export type { ExprFunction } from './functions.js';
