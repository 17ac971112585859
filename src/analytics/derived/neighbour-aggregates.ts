/**
 * Aggregates over a relationship inside a derived expression — `sum(feeds, flow)`, `avg(...)`,
 * `min(...)`, `max(...)`, `count(feeds)` or `count(feeds, flow)` — rewritten before the expression
 * is checked into a plain variable read of a synthetic slot name the engine fills from the
 * neighbours' latest values. `min`/`max` whose first argument is not a relationship stay the
 * language's own functions; `sum`, `avg` and `count` exist only as aggregates.
 */
import type { Problem } from '../../core/errors/errors.js';
import type { ExprNode } from '../../sim/expr/ast.js';
import { exprProblem } from '../../sim/expr/expr-errors.js';
import { NEIGHBOUR_AGGREGATES } from './derived-types.js';
import type { NeighbourAggregate } from './derived-types.js';

export interface FoundAggregate {
  slot: string;
  aggregate: NeighbourAggregate;
  relationship: string;
  name?: string;
  pos: ExprNode['pos'];
}

const isAggregate = (s: string): s is NeighbourAggregate =>
  (NEIGHBOUR_AGGREGATES as readonly string[]).includes(s);

/** The slot name of an aggregate (never a valid name of the language, so it cannot collide). */
export const aggregateSlot = (a: NeighbourAggregate, rel: string, name?: string): string =>
  `${a}(${rel}${name === undefined ? '' : `,${name}`})`;

/**
 * Rewrites the aggregates of a tree. `isRelationship` says which names are the model's
 * relationships. Problems use positions inside the expression text.
 */
export function rewriteAggregates(
  node: ExprNode,
  isRelationship: (name: string) => boolean,
): { node: ExprNode; aggregates: FoundAggregate[]; problems: Problem[] } {
  const aggregates: FoundAggregate[] = [];
  const problems: Problem[] = [];
  const visit = (n: ExprNode): ExprNode => {
    switch (n.kind) {
      case 'number':
      case 'name':
        return n;
      case 'unary':
        return { ...n, operand: visit(n.operand) };
      case 'binary':
        return { ...n, left: visit(n.left), right: visit(n.right) };
      case 'conditional':
        return { ...n, test: visit(n.test), then: visit(n.then), else: visit(n.else) };
      case 'call': {
        const first = n.args[0];
        const callee = n.callee;
        if (!isAggregate(callee)) return { ...n, args: n.args.map(visit) };
        const overRelationship = first?.kind === 'name' && isRelationship(first.name);
        if (!overRelationship) {
          if (callee === 'min' || callee === 'max') return { ...n, args: n.args.map(visit) };
          problems.push(
            exprProblem(
              'analytics.derived.aggregate',
              `${callee}(relationship${callee === 'count' ? '' : ', value'}): the first argument must be a relationship of the model.`,
              n.pos,
            ),
          );
          return { kind: 'number', value: 0, pos: n.pos };
        }
        const rel = (first as { name: string }).name;
        const second = n.args[1];
        const arityOk = callee === 'count' ? n.args.length <= 2 : n.args.length === 2;
        if (!arityOk || (second !== undefined && second.kind !== 'name')) {
          problems.push(
            exprProblem(
              'analytics.derived.aggregate',
              `${callee}(${rel}, value) takes the relationship and the name of the neighbours' value${callee === 'count' ? ' (or the relationship alone)' : ''}.`,
              n.pos,
            ),
          );
          return { kind: 'number', value: 0, pos: n.pos };
        }
        const name = second?.kind === 'name' ? second.name : undefined;
        const slot = aggregateSlot(callee, rel, name);
        if (!aggregates.some((a) => a.slot === slot))
          aggregates.push({
            slot,
            aggregate: callee,
            relationship: rel,
            ...(name === undefined ? {} : { name }),
            pos: (second ?? n).pos,
          });
        return { kind: 'name', name: slot, pos: n.pos };
      }
    }
  };
  return { node: visit(node), aggregates, problems };
}
