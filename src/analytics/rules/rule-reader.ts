/**
 * The located-tree reader the rule document checks share: typed access to nodes that records a
 * problem (code `rule.*`, JSON pointer, and line:column for YAML) instead of throwing, and
 * expressions parsed and checked with their problems moved onto the document's lines.
 */
import type { Problem } from '../../core/errors/errors.js';
import { TwinloopError } from '../../core/errors/errors.js';
import type { LEntry, LNode, Loc } from '../../sim/behaviour/located-document.js';
import { positionInScalar } from '../../sim/behaviour/located-document.js';
import { checkExpr, isForbiddenName, namesIn, parseExpr } from '../../sim/expr/index.js';
import { parseDuration } from './rule-duration.js';
import type { RuleExpr, ValueRef } from './rule-types.js';

/** A telemetry or property name: `name` or `component/name`. */
export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*(?:\/[A-Za-z_][A-Za-z0-9_]*)?$/;

export class RuleReader {
  readonly problems: Problem[] = [];
  constructor(
    private readonly lines: readonly string[],
    private readonly source: string | undefined,
  ) {}

  problem(code: string, message: string, loc: Loc): void {
    this.problems.push({
      code,
      message,
      severity: 'error',
      pointer: loc.pointer,
      ...(loc.line > 0 ? { line: loc.line, column: loc.column } : {}),
      ...(this.source === undefined ? {} : { source: this.source }),
    });
  }

  map(node: LNode, allowed: readonly string[], what: string): Map<string, LEntry> | undefined {
    if (node.kind !== 'map') {
      this.problem('rule.type', `${what} must be a mapping.`, node.loc);
      return undefined;
    }
    const out = new Map<string, LEntry>();
    for (const e of node.entries) {
      if (!allowed.includes(e.key)) {
        this.problem(
          'rule.unknownField',
          `Unknown field '${e.key.slice(0, 64)}' in ${what}; expected one of: ${allowed.join(', ')}.`,
          e.keyLoc,
        );
      } else out.set(e.key, e);
    }
    return out;
  }

  str(node: LNode | undefined, what: string, pattern?: RegExp, max = 2000): string | undefined {
    if (node === undefined) return undefined;
    if (node.kind !== 'scalar' || typeof node.value !== 'string' || node.value === '') {
      this.problem('rule.type', `${what} must be a non-empty string.`, node.loc);
      return undefined;
    }
    if (node.value.length > max || (pattern && !pattern.test(node.value))) {
      this.problem('rule.invalidValue', `${what} '${node.value.slice(0, 64)}' is not valid.`, node.loc);
      return undefined;
    }
    return node.value;
  }

  num(node: LNode | undefined, what: string): number | undefined {
    if (node === undefined) return undefined;
    if (node.kind !== 'scalar' || typeof node.value !== 'number' || !Number.isFinite(node.value)) {
      this.problem('rule.type', `${what} must be a finite number.`, node.loc);
      return undefined;
    }
    return node.value;
  }

  duration(node: LNode | undefined, what: string, positive = false): number | undefined {
    if (node === undefined) return undefined;
    const ms = node.kind === 'scalar' ? parseDuration(node.value) : undefined;
    if (ms === undefined || (positive && ms === 0)) {
      this.problem(
        'rule.invalidValue',
        `${what} must be a duration such as 30s, 5m, 2h or a number of seconds${positive ? ' (more than 0)' : ''}, at most a year.`,
        node.loc,
      );
      return undefined;
    }
    return ms;
  }

  /** A limit: a number or `$property`. */
  ref(node: LNode | undefined, what: string): ValueRef | undefined {
    if (node === undefined) return undefined;
    if (node.kind === 'scalar' && typeof node.value === 'string' && node.value.startsWith('$')) {
      const name = node.value.slice(1);
      if (NAME_PATTERN.test(name) && !isForbiddenName(name.replace('/', '.')))
        return { kind: 'property', name };
      this.problem(
        'rule.invalidValue',
        `${what}: '${node.value.slice(0, 64)}' is not a property name.`,
        node.loc,
      );
      return undefined;
    }
    const value = this.num(node, `${what} (a number or $property)`);
    return value === undefined ? undefined : { kind: 'number', value };
  }

  expr(node: LNode | undefined, what: string): (RuleExpr & { node: LNode }) | undefined {
    if (node === undefined) return undefined;
    if (node.kind !== 'scalar' || typeof node.value !== 'string' || node.value.trim() === '') {
      this.problem('rule.type', `${what} must be an expression (a string).`, node.loc);
      return undefined;
    }
    const text = node.value;
    try {
      const ast = parseExpr(text);
      const scope = new Map([...namesIn(ast)].map((n, i) => [n, i] as const));
      for (const p of checkExpr(ast, scope)) this.exprProblem(p, text, node);
      return { text, ast, node };
    } catch (e) {
      if (!(e instanceof TwinloopError)) throw e;
      for (const p of e.problems) this.exprProblem(p, text, node);
      return undefined;
    }
  }

  exprProblem(p: Problem, text: string, node: LNode): void {
    const style = node.kind === 'scalar' ? node.style : 'plain';
    const at =
      node.loc.line > 0
        ? positionInScalar(node.loc, style, this.lines, p.line ?? 1, p.column ?? 1)
        : { line: 0, column: 0 };
    this.problem(`rule.${p.code.replace(/^sim\./, '')}`, `${p.message} (in "${text.slice(0, 200)}")`, {
      ...at,
      pointer: node.loc.pointer,
    });
  }
}
