/**
 * The small toolkit the behaviour-model readers share: typed access to located YAML nodes that
 * records a problem (with line, column and pointer) instead of throwing, and expressions parsed with
 * their syntax errors moved onto the document's lines.
 */
import type { Problem } from '../../core/errors/errors.js';
import { TwinloopError } from '../../core/errors/errors.js';
import { parseExpr } from '../expr/parser.js';
import type { ExprSource } from './behaviour-types.js';
import { positionInScalar } from './located-document.js';
import type { LEntry, LNode, Loc } from './located-document.js';

export class SpecReader {
  readonly problems: Problem[] = [];

  constructor(
    private readonly lines: readonly string[],
    private readonly source?: string,
  ) {}

  problem(code: string, message: string, loc: Loc, severity: 'error' | 'warning' = 'error'): void {
    this.problems.push({
      code,
      message,
      pointer: loc.pointer,
      line: loc.line,
      column: loc.column,
      severity,
      ...(this.source === undefined ? {} : { source: this.source }),
    });
  }

  /** The entries of a map with only the allowed keys (others reported); undefined when not a map. */
  map(node: LNode, allowed: readonly string[] | undefined, what: string): Map<string, LEntry> | undefined {
    if (node.kind !== 'map') {
      this.problem('sim.behaviour.type', `${what} must be a mapping.`, node.loc);
      return undefined;
    }
    const out = new Map<string, LEntry>();
    for (const e of node.entries) {
      if (allowed !== undefined && !allowed.includes(e.key)) {
        this.problem(
          'sim.behaviour.unknownField',
          `Unknown field '${e.key}' in ${what}; expected one of: ${allowed.join(', ')}.`,
          e.keyLoc,
        );
        continue;
      }
      out.set(e.key, e);
    }
    return out;
  }

  num(
    node: LNode | undefined,
    what: string,
    opts: { min?: number; positive?: boolean; integer?: boolean } = {},
  ): number | undefined {
    if (node === undefined) return undefined;
    if (node.kind !== 'scalar' || typeof node.value !== 'number' || !Number.isFinite(node.value)) {
      this.problem('sim.behaviour.type', `${what} must be a finite number.`, node.loc);
      return undefined;
    }
    const v = node.value;
    if ((opts.positive && !(v > 0)) || (opts.min !== undefined && v < opts.min)) {
      this.problem(
        'sim.behaviour.invalidValue',
        `${what} must be ${opts.positive ? 'greater than 0' : `at least ${opts.min}`}.`,
        node.loc,
      );
      return undefined;
    }
    return v;
  }

  /** A number, or true/false read as 1/0 (defaults of boolean inputs). */
  numOrBool(node: LNode | undefined, what: string): number | undefined {
    if (node?.kind === 'scalar' && typeof node.value === 'boolean') return node.value ? 1 : 0;
    return this.num(node, what);
  }

  str(node: LNode | undefined, what: string): string | undefined {
    if (node === undefined) return undefined;
    if (node.kind !== 'scalar' || typeof node.value !== 'string' || node.value === '') {
      this.problem('sim.behaviour.type', `${what} must be a non-empty string.`, node.loc);
      return undefined;
    }
    return node.value;
  }

  required(m: Map<string, LEntry>, key: string, at: Loc, what: string): LNode | undefined {
    const e = m.get(key);
    if (e === undefined) this.problem('sim.behaviour.missing', `${what} needs '${key}'.`, at);
    return e?.value;
  }

  /** An expression: a string (or a bare number) parsed now; syntax problems point into the document. */
  expr(node: LNode | undefined, what: string): ExprSource | undefined {
    if (node === undefined) return undefined;
    if (node.kind !== 'scalar' || (typeof node.value !== 'string' && typeof node.value !== 'number')) {
      this.problem('sim.behaviour.type', `${what} must be an expression (a string or a number).`, node.loc);
      return undefined;
    }
    const text = String(node.value);
    try {
      return { text, ast: parseExpr(text), loc: node.loc, style: node.style };
    } catch (e) {
      if (!(e instanceof TwinloopError)) throw e;
      for (const p of e.problems) this.exprProblem(p, { text, loc: node.loc, style: node.style });
      return undefined;
    }
  }

  /** Re-homes a problem found inside an expression onto the document line and column. */
  exprProblem(p: Problem, src: Pick<ExprSource, 'text' | 'loc' | 'style'>, code = p.code): void {
    const at = positionInScalar(src.loc, src.style, this.lines, p.line ?? 1, p.column ?? 1);
    this.problem(
      code,
      `${p.message} (in "${src.text}")`,
      { ...at, pointer: src.loc.pointer },
      p.severity ?? 'error',
    );
  }

  unit(m: Map<string, LEntry>, what: string): { unit?: string } {
    const u = this.str(m.get('unit')?.value, `${what} 'unit'`);
    return u === undefined ? {} : { unit: u };
  }
}
