/**
 * Maps RFC 6901 JSON pointers to 1-based line/column positions in a JSON text (via jsonc-parser's syntax
 * tree), and locates JSON syntax errors, so problems can say where they are in the file an author edits.
 */
import { findNodeAtLocation, parse, parseTree, printParseErrorCode } from 'jsonc-parser';
import type { Node, ParseError } from 'jsonc-parser';

export interface LineColumn {
  line: number;
  column: number;
}

/** Splits a JSON pointer into its unescaped segments ("" -> []). */
export function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Appends one segment to a pointer, escaping it. */
export function childPointer(pointer: string, segment: string | number): string {
  return `${pointer}/${String(segment).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

/** Converts offsets into line/column pairs for one text. */
export class TextPositions {
  private readonly lineStarts: number[] = [0];
  private tree: Node | undefined;
  private treeBuilt = false;

  constructor(private readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  at(offset: number): LineColumn {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (this.lineStarts[lo] ?? 0) + 1 };
  }

  /** Position of the value a pointer designates, or of its nearest existing ancestor. */
  ofPointer(pointer: string): LineColumn | undefined {
    if (!this.treeBuilt) {
      this.treeBuilt = true;
      try {
        this.tree = parseTree(this.text, [], { disallowComments: true, allowTrailingComma: false });
      } catch {
        this.tree = undefined; // too deep for the tree builder: problems keep their pointers only
      }
    }
    if (!this.tree) return undefined;
    const segs: (string | number)[] = pointerSegments(pointer).map((s) =>
      /^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s,
    );
    for (let n = segs.length; n >= 0; n--) {
      const node = findNodeAtLocation(this.tree, segs.slice(0, n));
      if (node) return this.at(node.offset);
    }
    return undefined;
  }
}

/** Members named twice in one object (JSON.parse silently keeps the last): their positions and pointers. */
export function findDuplicateKeys(
  text: string,
): { key: string; pointer: string; line: number; column: number }[] {
  let root: Node | undefined;
  try {
    root = parseTree(text, [], { disallowComments: true, allowTrailingComma: false });
  } catch {
    return []; // too deep for the tree builder; the element parser reports the depth itself
  }
  if (!root) return [];
  const pos = new TextPositions(text);
  const out: { key: string; pointer: string; line: number; column: number }[] = [];
  const walk = (n: Node, pointer: string): void => {
    if (n.type === 'object') {
      const seen = new Set<string>();
      for (const prop of n.children ?? []) {
        const [k, v] = prop.children ?? [];
        if (!k || typeof k.value !== 'string') continue;
        const key = k.value;
        const p = childPointer(pointer, key);
        if (seen.has(key)) out.push({ key, pointer: p, ...pos.at(k.offset) });
        seen.add(key);
        if (v) walk(v, p);
      }
    } else if (n.type === 'array') (n.children ?? []).forEach((c, i) => walk(c, childPointer(pointer, i)));
  };
  try {
    walk(root, '');
  } catch {
    // nesting too deep to walk: the duplicates found so far are reported
  }
  return out;
}

export interface JsonSyntaxError extends LineColumn {
  message: string;
}

/** Strict JSON parse (no comments, no trailing commas); a syntax error comes back with its position. */
export function parseJsonText(text: string): { value: unknown } | { error: JsonSyntaxError } {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return { value: JSON.parse(body) as unknown };
  } catch (e) {
    const errs: ParseError[] = [];
    parse(body, errs, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    const pos = new TextPositions(body);
    const first = errs[0];
    if (first) {
      const lc = pos.at(first.offset);
      return { error: { ...lc, message: `JSON syntax error: ${printParseErrorCode(first.error)}` } };
    }
    const m = /position (\d+)/.exec(String(e));
    const lc = pos.at(m ? Number(m[1]) : 0);
    return { error: { ...lc, message: `JSON syntax error: ${(e as Error).message}` } };
  }
}
