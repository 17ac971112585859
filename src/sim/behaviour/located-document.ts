/**
 * Reads a YAML (or JSON, which YAML 1.2 accepts) text into a small tree in which every node knows
 * its line, column and JSON pointer, so that validation can point at the line of every problem.
 * Syntax errors become `sim.behaviour.syntax` problems; the reader never throws on bad input.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Node as YamlNode } from 'yaml';
import type { Problem } from '../../core/errors/errors.js';

export interface Loc {
  line: number;
  column: number;
  pointer: string;
}

export type LNode =
  | { kind: 'map'; entries: readonly LEntry[]; loc: Loc }
  | { kind: 'seq'; items: readonly LNode[]; loc: Loc }
  | {
      kind: 'scalar';
      value: unknown;
      loc: Loc;
      /** How the scalar was written; used to place positions inside an expression string. */
      style: 'plain' | 'quoted' | 'block';
    };

export interface LEntry {
  key: string;
  keyLoc: Loc;
  value: LNode;
}

export interface LocatedDocument {
  root: LNode | undefined;
  problems: Problem[];
  /** Source lines (for mapping positions inside block scalars). */
  lines: readonly string[];
}

const escapePointer = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');

export function pointerChild(parent: string, key: string | number): string {
  return `${parent}/${escapePointer(String(key))}`;
}

/** Parses a YAML/JSON text into a located tree; `source` names the document in problems. */
export function readLocatedDocument(text: string, source?: string): LocatedDocument {
  const lineCounter = new LineCounter();
  const problems: Problem[] = [];
  const at = (offset: number, pointer: string): Loc => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col, pointer };
  };
  const doc = parseDocument(text, {
    lineCounter,
    keepSourceTokens: true,
    uniqueKeys: true,
    prettyErrors: false,
  });
  for (const e of [...doc.errors, ...doc.warnings]) {
    const lp = lineCounter.linePos(e.pos[0]);
    problems.push({
      code: 'sim.behaviour.syntax',
      message: e.message.split('\n')[0] ?? e.message,
      ...(source === undefined ? {} : { source }),
      line: lp.line,
      column: lp.col,
      severity: doc.errors.includes(e as never) ? 'error' : 'warning',
    });
  }
  const lines = text.split('\n');
  if (doc.errors.length > 0) return { root: undefined, problems, lines };

  const convert = (node: unknown, pointer: string): LNode => {
    const n = node as YamlNode | null;
    const offset = n?.range?.[0] ?? 0;
    const loc = at(offset, pointer);
    if (isMap(n)) {
      const entries: LEntry[] = [];
      for (const pair of n.items) {
        if (!isPair(pair)) continue;
        const k = pair.key as YamlNode | null;
        const keyText = isScalar(k) ? String(k.value) : '';
        const keyLoc = at(k?.range?.[0] ?? offset, pointerChild(pointer, keyText));
        if (!isScalar(k) || (typeof k.value !== 'string' && typeof k.value !== 'number')) {
          problems.push({
            code: 'sim.behaviour.type',
            message: 'Keys must be plain names.',
            ...keyLoc,
            severity: 'error',
          });
          continue;
        }
        const value =
          pair.value === null || pair.value === undefined
            ? { kind: 'scalar' as const, value: null, loc: keyLoc, style: 'plain' as const }
            : convert(pair.value, keyLoc.pointer);
        entries.push({ key: keyText, keyLoc, value });
      }
      return { kind: 'map', entries, loc };
    }
    if (isSeq(n)) {
      return { kind: 'seq', items: n.items.map((item, i) => convert(item, pointerChild(pointer, i))), loc };
    }
    if (isScalar(n)) {
      const style =
        n.type === 'PLAIN'
          ? 'plain'
          : n.type === 'BLOCK_FOLDED' || n.type === 'BLOCK_LITERAL'
            ? 'block'
            : 'quoted';
      return { kind: 'scalar', value: n.value, loc, style };
    }
    if (isAlias(n)) {
      // Aliases could multiply a small text into a huge model; a behaviour model never needs them.
      problems.push({
        code: 'sim.behaviour.syntax',
        message: 'YAML aliases are not supported here.',
        ...loc,
        severity: 'error',
      });
    }
    return { kind: 'scalar', value: null, loc, style: 'plain' };
  };

  const root = doc.contents === null ? undefined : convert(doc.contents, '');
  if (source !== undefined) for (const p of problems) p.source ??= source;
  return { root, problems, lines };
}

/**
 * The document position of a line/column inside an expression written as a scalar at `loc`.
 * Exact for one-line plain and quoted scalars and for block scalars (| and >, whose lines keep their
 * breaks for |). A plain or quoted scalar spread over several lines is folded into one line by YAML,
 * so positions past its first line are approximate (the scalar's line, a column past its end).
 */
export function positionInScalar(
  loc: Loc,
  style: 'plain' | 'quoted' | 'block',
  lines: readonly string[],
  exprLine: number,
  exprColumn: number,
): { line: number; column: number } {
  if (style === 'block') {
    // Block content starts on the line after the indicator; its indentation (that of the first
    // content line) is stripped from every line of the value.
    const indent = /^ */.exec(lines[loc.line] ?? '')?.[0].length ?? 0;
    return { line: loc.line + exprLine, column: indent + exprColumn };
  }
  if (exprLine === 1)
    return { line: loc.line, column: loc.column + exprColumn - 1 + (style === 'quoted' ? 1 : 0) };
  const line = loc.line + exprLine - 1;
  const indent = /^ */.exec(lines[line - 1] ?? '')?.[0].length ?? 0;
  return { line, column: indent + exprColumn };
}
