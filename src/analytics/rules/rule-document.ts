/**
 * Turns a rule document into a located tree: YAML text (every node with its line, column and JSON
 * pointer, through the behaviour reader's located-document) or a JSON value / JSON text (JSON
 * pointers only). Hostile documents stop here: too large, too deep, aliases, duplicate keys. Keys
 * such as `__proto__` are ordinary entries of an array, never object properties.
 */
import type { Problem } from '../../core/errors/errors.js';
import { pointerChild, readLocatedDocument } from '../../sim/behaviour/located-document.js';
import type { LEntry, LNode, Loc } from '../../sim/behaviour/located-document.js';

/** The largest rule document read (text or JSON value), in characters. */
export const MAX_RULE_DOCUMENT_CHARS = 64 * 1024;
/** The deepest nesting of a rule document (a rule needs 4). */
export const MAX_RULE_DOCUMENT_DEPTH = 16;

export interface RuleDocument {
  root: LNode | undefined;
  problems: Problem[];
  /** Source lines of a YAML text (positions inside expressions); [] for JSON. */
  lines: readonly string[];
}

const problem = (code: string, message: string, loc?: Partial<Loc>): Problem => ({
  code,
  message,
  severity: 'error',
  ...(loc?.pointer !== undefined ? { pointer: loc.pointer } : {}),
  ...(loc?.line ? { line: loc.line, column: loc.column ?? 1 } : {}),
});

/** Deepest bracket nesting of a text (quotes ignored): rejects `[[[[...` before a recursive parser sees it. */
function bracketDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 91 || c === 123) max = Math.max(max, ++depth);
    else if ((c === 93 || c === 125) && depth > 0) depth--;
  }
  return max;
}

function checkText(text: string): Problem | undefined {
  if (text.length > MAX_RULE_DOCUMENT_CHARS)
    return problem(
      'rule.tooLarge',
      `A rule document may hold at most ${MAX_RULE_DOCUMENT_CHARS} characters, not ${text.length}.`,
      { pointer: '' },
    );
  if (bracketDepth(text) > MAX_RULE_DOCUMENT_DEPTH)
    return problem('rule.tooDeep', `A rule document may nest at most ${MAX_RULE_DOCUMENT_DEPTH} levels.`, {
      pointer: '',
    });
  return undefined;
}

/** Reads YAML (or JSON, which YAML 1.2 accepts) with line, column and pointer for every node. */
export function readRuleYaml(text: string, source?: string): RuleDocument {
  const refused = checkText(text);
  if (refused) return { root: undefined, problems: [refused], lines: [] };
  const doc = readLocatedDocument(text.replace(/^\uFEFF/, ''), source);
  const problems = doc.problems.map((p) => ({ ...p, code: p.code.replace(/^sim\.behaviour\./, 'rule.') }));
  const depth = doc.root ? depthOf(doc.root) : 0;
  if (depth > MAX_RULE_DOCUMENT_DEPTH)
    problems.push(
      problem('rule.tooDeep', `A rule document may nest at most ${MAX_RULE_DOCUMENT_DEPTH} levels.`, {
        pointer: '',
      }),
    );
  return {
    root: problems.some((p) => p.severity !== 'warning') ? undefined : doc.root,
    problems,
    lines: doc.lines,
  };
}

function depthOf(n: LNode): number {
  if (n.kind === 'map') return 1 + Math.max(0, ...n.entries.map((e) => depthOf(e.value)));
  if (n.kind === 'seq') return 1 + Math.max(0, ...n.items.map(depthOf));
  return 0;
}

/** Reads JSON text (pointers only in problems). */
export function readRuleJsonText(text: string): RuleDocument {
  const refused = checkText(text);
  if (refused) return { root: undefined, problems: [refused], lines: [] };
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, '')) as unknown;
  } catch (e) {
    return {
      root: undefined,
      problems: [problem('rule.syntax', `Not valid JSON: ${(e as Error).message}`, { pointer: '' })],
      lines: [],
    };
  }
  return readRuleValue(value);
}

/** Reads an already parsed JSON value (a request body). */
export function readRuleValue(value: unknown): RuleDocument {
  const problems: Problem[] = [];
  let budget = MAX_RULE_DOCUMENT_CHARS;
  let tooLarge = false;
  const at = (pointer: string): Loc => ({ line: 0, column: 0, pointer });
  const convert = (v: unknown, pointer: string, depth: number): LNode => {
    if (--budget < 0) {
      if (!tooLarge) problems.push(problem('rule.tooLarge', 'The rule document is too large.', { pointer }));
      tooLarge = true;
      return { kind: 'scalar', value: null, loc: at(pointer), style: 'plain' };
    }
    if (depth > MAX_RULE_DOCUMENT_DEPTH && typeof v === 'object' && v !== null) {
      problems.push(
        problem('rule.tooDeep', `A rule document may nest at most ${MAX_RULE_DOCUMENT_DEPTH} levels.`, {
          pointer,
        }),
      );
      return { kind: 'scalar', value: null, loc: at(pointer), style: 'plain' };
    }
    if (Array.isArray(v))
      return {
        kind: 'seq',
        items: v.map((item, i) => convert(item as unknown, pointerChild(pointer, i), depth + 1)),
        loc: at(pointer),
      };
    if (typeof v === 'object' && v !== null) {
      const entries: LEntry[] = [];
      for (const key of Object.keys(v)) {
        const child = pointerChild(pointer, key);
        entries.push({
          key,
          keyLoc: at(child),
          value: convert((v as Record<string, unknown>)[key], child, depth + 1),
        });
      }
      return { kind: 'map', entries, loc: at(pointer) };
    }
    if (typeof v === 'string') budget -= v.length;
    if (budget < 0 && !tooLarge) {
      tooLarge = true;
      problems.push(problem('rule.tooLarge', 'The rule document is too large.', { pointer }));
    }
    return { kind: 'scalar', value: v, loc: at(pointer), style: 'quoted' };
  };
  const root = convert(value, '', 0);
  return { root: problems.length ? undefined : root, problems, lines: [] };
}
