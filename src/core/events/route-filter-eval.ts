/**
 * Evaluation of event-route filters (route-filter.ts parses them): Kleene logic. A comparison with
 * an unknown side (a missing attribute or body member) is unknown, NOT unknown is unknown, and an
 * event is routed only when the filter is true. The same evaluator tells whether a filter could
 * match events of a type (every other attribute unknown), which is how telemetry is journaled only
 * while some route could want it.
 */
import type { CompareOp, FilterInput, FilterNode, Literal, Operand } from './route-filter.js';

/** Kleene truth values: true, false, unknown. */
export type Truth = boolean | undefined;

const UNKNOWN = Symbol('unknown');
type Value = Literal | typeof UNKNOWN | object;

function valueOf(o: Operand, input: FilterInput): Value {
  if (o.kind === 'lit') return o.value;
  if (o.kind === 'attr') {
    const v = Object.prototype.hasOwnProperty.call(input.attributes, o.name)
      ? input.attributes[o.name]
      : undefined;
    return v === undefined ? UNKNOWN : v;
  }
  let v: unknown = input.body;
  for (const seg of o.path) {
    if (typeof v !== 'object' || v === null) return UNKNOWN;
    if (!Object.prototype.hasOwnProperty.call(v, seg)) return UNKNOWN;
    v = (v as Record<string | number, unknown>)[seg];
  }
  if (v === undefined) return UNKNOWN;
  return v as Value;
}

function compare(op: CompareOp, a: Value, b: Value): Truth {
  if (a === UNKNOWN || b === UNKNOWN) return undefined;
  if (op === '=' || op === '!=') {
    const same =
      (typeof a === 'object' && a !== null) || (typeof b === 'object' && b !== null) ? false : a === b;
    return op === '=' ? same : !same;
  }
  if (!((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string')))
    return false;
  switch (op) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
  }
}

/** The filter's truth for an event (undefined: unknown, which does not route). */
export function evaluateFilter(n: FilterNode, input: FilterInput): Truth {
  switch (n.kind) {
    case 'const':
      return n.value;
    case 'and': {
      const l = evaluateFilter(n.left, input);
      if (l === false) return false;
      const r = evaluateFilter(n.right, input);
      if (r === false) return false;
      return l === true && r === true ? true : undefined;
    }
    case 'or': {
      const l = evaluateFilter(n.left, input);
      if (l === true) return true;
      const r = evaluateFilter(n.right, input);
      if (r === true) return true;
      return l === false && r === false ? false : undefined;
    }
    case 'not': {
      const v = evaluateFilter(n.expr, input);
      return v === undefined ? undefined : !v;
    }
    case 'cmp':
      return compare(n.op, valueOf(n.left, input), valueOf(n.right, input));
    case 'fn': {
      const a = valueOf(n.args[0], input);
      const b = valueOf(n.args[1], input);
      if (a === UNKNOWN || b === UNKNOWN) return undefined;
      if (typeof a !== 'string' || typeof b !== 'string') return false;
      if (n.fn === 'STARTS_WITH') return a.startsWith(b);
      if (n.fn === 'ENDS_WITH') return a.endsWith(b);
      return a.includes(b);
    }
  }
}

/** True when the event is routed: the filter is true (not false, not unknown). */
export function matchesFilter(n: FilterNode, input: FilterInput): boolean {
  return evaluateFilter(n, input) === true;
}

/**
 * False only when no event with these attributes could match, whatever its other attributes and
 * body (they are unknown here): used to skip journaling events no route can want.
 */
export function couldMatch(n: FilterNode, known: Readonly<Record<string, string>>): boolean {
  return evaluateFilter(n, { attributes: known }) !== false;
}
