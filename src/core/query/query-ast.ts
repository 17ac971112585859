/**
 * The query language's syntax tree, as produced by the parser and consumed by the planner. Every
 * node keeps the position of its first token, so semantic errors can also say line and column.
 */
import type { Pos } from './query-lexer.js';

export type Literal = string | number | boolean | null;

export type Expr =
  | { kind: 'literal'; value: Literal; pos: Pos }
  | { kind: 'array'; items: Literal[]; pos: Pos }
  /** `T.a.b` or bare `a.b` (resolved against the default collection); segments as written. */
  | { kind: 'path'; segments: string[]; pos: Pos }
  | { kind: 'compare'; op: '=' | '!=' | '<' | '<=' | '>' | '>='; left: Expr; right: Expr; pos: Pos }
  | { kind: 'and' | 'or'; left: Expr; right: Expr; pos: Pos }
  | { kind: 'not'; operand: Expr; pos: Pos }
  | { kind: 'in'; operand: Expr; list: Literal[]; negated: boolean; pos: Pos }
  | { kind: 'call'; name: string; args: Expr[]; pos: Pos }
  /** IS_OF_MODEL([alias,] 'dtmi', [exact]); alias undefined means the default collection. */
  | { kind: 'isOfModel'; alias?: string; model: string; exact: boolean; pos: Pos };

export interface SelectItem {
  /** A collection alias (`T`) or a path into one (`T.name`); or COUNT() inside projections is not allowed. */
  expr: Expr & { kind: 'path' };
  /** Output key: the AS alias, else the last path segment. */
  key: string;
  pos: Pos;
}

export type SelectClause =
  { kind: 'star'; pos: Pos } | { kind: 'count'; pos: Pos } | { kind: 'items'; items: SelectItem[]; pos: Pos };

export interface JoinClause {
  /** The new twin collection. */
  alias: string;
  /** The already-bound collection whose relationships are followed. */
  from: string;
  relName: string;
  relAlias?: string;
  pos: Pos;
}

export interface MatchNode {
  /** Undefined for `()`; the parser gives anonymous nodes a hidden name starting with `#`. */
  name: string;
  anonymous: boolean;
  pos: Pos;
}

export interface MatchEdge {
  relAlias?: string;
  /** Empty: any relationship name. */
  names: string[];
  direction: 'out' | 'in' | 'both';
  minHops: number;
  /** Undefined: up to the executor's hop cap. */
  maxHops: number | undefined;
  /** True when written with `*`: distinct end twins within the hop range, rather than one row per relationship. */
  variable: boolean;
  pos: Pos;
}

export interface MatchPattern {
  /** nodes[i] -edges[i]- nodes[i+1]. */
  nodes: MatchNode[];
  edges: MatchEdge[];
  pos: Pos;
}

export interface QueryAst {
  select: SelectClause;
  top?: number;
  from: { kind: 'twins' | 'relationships'; alias?: string; pos: Pos };
  joins: JoinClause[];
  match?: MatchPattern;
  where?: Expr;
}
