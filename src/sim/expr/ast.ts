/**
 * The syntax tree of Twinloop's simulation expression language, and a printer that turns a tree back
 * into source text (fully parenthesised, so printing then parsing gives the same tree's value).
 */

/** 1-based line and column of a node's first character in the expression text. */
export interface ExprPosition {
  line: number;
  column: number;
  /** 0-based offset into the expression text. */
  offset: number;
}

export type BinaryOp =
  '+' | '-' | '*' | '/' | '%' | '^' | '<' | '<=' | '>' | '>=' | '==' | '!=' | '&&' | '||';
export type UnaryOp = '-' | '+' | '!';

export type ExprNode =
  | { kind: 'number'; value: number; pos: ExprPosition }
  /** A variable (possibly dotted, like `inlet.pressure`) or a constant such as `pi`. */
  | { kind: 'name'; name: string; pos: ExprPosition }
  | { kind: 'unary'; op: UnaryOp; operand: ExprNode; pos: ExprPosition }
  | { kind: 'binary'; op: BinaryOp; left: ExprNode; right: ExprNode; pos: ExprPosition }
  | { kind: 'conditional'; test: ExprNode; then: ExprNode; else: ExprNode; pos: ExprPosition }
  | { kind: 'call'; callee: string; args: readonly ExprNode[]; pos: ExprPosition };

/** Prints a tree as source text; every compound node is parenthesised so precedence never matters. */
export function printExpr(node: ExprNode): string {
  switch (node.kind) {
    case 'number':
      // String(n) gives the shortest text that reads back as the same double (incl. "1e-7").
      return node.value < 0 || Object.is(node.value, -0) ? `(-${String(-node.value)})` : String(node.value);
    case 'name':
      return node.name;
    case 'unary':
      return `(${node.op}${printExpr(node.operand)})`;
    case 'binary':
      return `(${printExpr(node.left)} ${node.op} ${printExpr(node.right)})`;
    case 'conditional':
      return `(${printExpr(node.test)} ? ${printExpr(node.then)} : ${printExpr(node.else)})`;
    case 'call':
      return `${node.callee}(${node.args.map(printExpr).join(', ')})`;
  }
}

/** Every variable name a tree reads (constants and function names excluded by the caller's scope). */
export function namesIn(node: ExprNode, into: Set<string> = new Set()): Set<string> {
  switch (node.kind) {
    case 'number':
      break;
    case 'name':
      into.add(node.name);
      break;
    case 'unary':
      namesIn(node.operand, into);
      break;
    case 'binary':
      namesIn(node.left, into);
      namesIn(node.right, into);
      break;
    case 'conditional':
      namesIn(node.test, into);
      namesIn(node.then, into);
      namesIn(node.else, into);
      break;
    case 'call':
      for (const a of node.args) namesIn(a, into);
      break;
  }
  return into;
}
