/**
 * Compiles WHERE expressions to closures over a row of bound twins and relationships. Semantics
 * follow ADT (Cosmos DB SQL): a comparison between values of different types, or with an undefined
 * property, is "undefined" — neither true nor false — and a row passes a filter only when the
 * condition is exactly true. NOT undefined is undefined; false AND undefined is false; true OR
 * undefined is true.
 */
import type { RelationshipRecord, TwinRecord } from '../graph/graph-types.js';
import { isPlainObject, relationshipField, twinField } from '../graph/twin-json.js';
import type { Expr, Literal } from './query-ast.js';
import { syntaxError } from './query-lexer.js';

export type Bound = TwinRecord | RelationshipRecord | undefined;
export type Row = Bound[];
/** true, false, or undefined (unknown). */
export type Truth = boolean | undefined;
export type ValueFn = (row: Row) => unknown;

export interface VarInfo {
  name: string;
  slot: number;
  kind: 'twin' | 'rel';
}

export interface EvalContext {
  /** Resolves the first segment of a path to a variable, or undefined. */
  lookupVar(name: string): VarInfo | undefined;
  /** The variable bare paths (`WHERE name = 'x'`) refer to, when there is one. */
  defaultVar: VarInfo | undefined;
  /** IS_OF_MODEL, not exact: `modelId` or a model it extends is `base` or a later version of it. */
  isOfModel(modelId: string, base: string): boolean;
}

/** A path resolved to (variable, rest of the path). */
export interface ResolvedPath {
  v: VarInfo;
  rest: string[];
}

export function resolvePath(ctx: EvalContext, e: Expr & { kind: 'path' }): ResolvedPath {
  const first = e.segments[0] as string;
  const v = ctx.lookupVar(first);
  if (v) return { v, rest: e.segments.slice(1) };
  if (ctx.defaultVar) return { v: ctx.defaultVar, rest: e.segments };
  throw syntaxError(`Unknown collection '${first}': name it in FROM, JOIN or MATCH`, e.pos);
}

export function fieldReader(p: ResolvedPath): ValueFn {
  const { v, rest } = p;
  if (v.kind === 'twin')
    return (row) => {
      const t = row[v.slot] as TwinRecord | undefined;
      return t === undefined ? undefined : twinField(t, rest);
    };
  return (row) => {
    const r = row[v.slot] as RelationshipRecord | undefined;
    return r === undefined ? undefined : relationshipField(r, rest);
  };
}

/** The variable slots an expression reads (to evaluate it as soon as they are all bound). */
export function varsOf(ctx: EvalContext, e: Expr, into = new Set<number>()): Set<number> {
  switch (e.kind) {
    case 'path':
      into.add(resolvePath(ctx, e).v.slot);
      break;
    case 'compare':
    case 'and':
    case 'or':
      varsOf(ctx, e.left, into);
      varsOf(ctx, e.right, into);
      break;
    case 'not':
      varsOf(ctx, e.operand, into);
      break;
    case 'in':
      varsOf(ctx, e.operand, into);
      break;
    case 'call':
      for (const a of e.args) varsOf(ctx, a, into);
      break;
    case 'isOfModel':
      into.add(isOfModelVar(ctx, e).slot);
      break;
    case 'literal':
    case 'array':
      break;
  }
  return into;
}

export function isOfModelVar(ctx: EvalContext, e: Expr & { kind: 'isOfModel' }): VarInfo {
  const v = e.alias === undefined ? ctx.defaultVar : ctx.lookupVar(e.alias);
  if (!v) {
    throw syntaxError(
      e.alias === undefined
        ? 'IS_OF_MODEL needs a collection name here, e.g. IS_OF_MODEL(T, ...)'
        : `Unknown collection '${e.alias}'`,
      e.pos,
    );
  }
  if (v.kind !== 'twin')
    throw syntaxError(`IS_OF_MODEL applies to twins, '${v.name}' is a relationship`, e.pos);
  return v;
}

/** Compiles an expression to a function returning its value (conditions return Truth). */
export function compileExpr(ctx: EvalContext, e: Expr): ValueFn {
  switch (e.kind) {
    case 'literal': {
      const v = e.value;
      return () => v;
    }
    case 'array': {
      const v = e.items;
      return () => v;
    }
    case 'path':
      return fieldReader(resolvePath(ctx, e));
    case 'compare': {
      const l = compileExpr(ctx, e.left);
      const r = compileExpr(ctx, e.right);
      const op = e.op;
      return (row) => compare(op, l(row), r(row));
    }
    case 'and': {
      const l = compileCondition(ctx, e.left);
      const r = compileCondition(ctx, e.right);
      return (row) => {
        const a = l(row);
        if (a === false) return false;
        const b = r(row);
        if (b === false) return false;
        return a === true && b === true ? true : undefined;
      };
    }
    case 'or': {
      const l = compileCondition(ctx, e.left);
      const r = compileCondition(ctx, e.right);
      return (row) => {
        const a = l(row);
        if (a === true) return true;
        const b = r(row);
        if (b === true) return true;
        return a === false && b === false ? false : undefined;
      };
    }
    case 'not': {
      const c = compileCondition(ctx, e.operand);
      return (row) => {
        const a = c(row);
        return a === undefined ? undefined : !a;
      };
    }
    case 'in': {
      const operand = compileExpr(ctx, e.operand);
      const set = new Set<Literal>(e.list);
      const negated = e.negated;
      return (row) => {
        const v = operand(row);
        if (v === undefined || (typeof v === 'object' && v !== null)) return undefined;
        const found = set.has(v as Literal);
        return negated ? !found : found;
      };
    }
    case 'isOfModel': {
      const v = isOfModelVar(ctx, e);
      const { model, exact } = e;
      return (row) => {
        const t = row[v.slot] as TwinRecord | undefined;
        if (t === undefined) return undefined;
        return exact ? t.modelId === model : ctx.isOfModel(t.modelId, model);
      };
    }
    case 'call':
      return compileCall(ctx, e);
  }
}

/** Compiles an expression used as a condition: anything but a boolean counts as undefined. */
export function compileCondition(ctx: EvalContext, e: Expr): (row: Row) => Truth {
  const f = compileExpr(ctx, e);
  return (row) => {
    const v = f(row);
    return typeof v === 'boolean' ? v : undefined;
  };
}

function compileCall(ctx: EvalContext, e: Expr & { kind: 'call' }): ValueFn {
  const args = e.args.map((a) => compileExpr(ctx, a));
  const a0 = args[0] as ValueFn;
  const typeTest =
    (test: (v: unknown) => boolean): ValueFn =>
    (row) => {
      const v = a0(row);
      return v === undefined ? false : test(v);
    };
  switch (e.name) {
    case 'IS_DEFINED':
      return (row) => a0(row) !== undefined;
    case 'IS_NULL':
      return typeTest((v) => v === null);
    case 'IS_BOOL':
      return typeTest((v) => typeof v === 'boolean');
    case 'IS_NUMBER':
      return typeTest((v) => typeof v === 'number');
    case 'IS_STRING':
      return typeTest((v) => typeof v === 'string');
    case 'IS_PRIMITIVE':
      return typeTest((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v));
    case 'IS_OBJECT':
      return typeTest(isPlainObject);
    case 'ARRAY_CONTAINS': {
      // Top-level members only (ADT does not search nested arrays); primitives compare by value.
      const a1 = args[1] as ValueFn;
      return (row) => {
        const list = a0(row);
        const v = a1(row);
        if (!Array.isArray(list) || v === undefined || (typeof v === 'object' && v !== null))
          return undefined;
        return list.includes(v);
      };
    }
    case 'STARTSWITH':
    case 'ENDSWITH':
    case 'CONTAINS': {
      const a1 = args[1] as ValueFn;
      const name = e.name;
      return (row) => {
        const s = a0(row);
        const p = a1(row);
        if (typeof s !== 'string' || typeof p !== 'string') return undefined;
        return name === 'STARTSWITH' ? s.startsWith(p) : name === 'ENDSWITH' ? s.endsWith(p) : s.includes(p);
      };
    }
  }
  throw syntaxError(`Unknown function '${e.name}'`, e.pos);
}

function compare(op: string, a: unknown, b: unknown): Truth {
  if (a === undefined || b === undefined) return undefined;
  const ta = a === null ? 'null' : typeof a;
  const tb = b === null ? 'null' : typeof b;
  if (ta !== tb) return undefined;
  if (ta === 'object') {
    if (op !== '=' && op !== '!=') return undefined;
    const eq = JSON.stringify(a) === JSON.stringify(b);
    return op === '=' ? eq : !eq;
  }
  switch (op) {
    case '=':
      return a === b;
    case '!=':
      return a !== b;
  }
  if (ta === 'null') return op === '<=' || op === '>=';
  const x = a as number | string | boolean;
  const y = b as number | string | boolean;
  switch (op) {
    case '<':
      return x < y;
    case '<=':
      return x <= y;
    case '>':
      return x > y;
    case '>=':
      return x >= y;
  }
  return undefined;
}
