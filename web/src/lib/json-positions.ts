/**
 * Where a problem is in the text a person uploaded: a model upload's problems carry JSON pointers
 * into the batch sent (POST /models takes an array); this maps each to a 1-based line and column of
 * the uploaded text (jsonc-parser's syntax tree), and finds a JSON syntax error before anything is
 * sent. A single interface (an object) is sent as a batch of one: its pointers lose their `/0`.
 */
import {
  findNodeAtLocation,
  parse,
  parseTree,
  printParseErrorCode,
  type Node,
  type ParseError,
} from 'jsonc-parser';

export interface LineColumn {
  line: number;
  column: number;
}

/** A problem as the server reports it (pointer into the batch), placed in the text when it can be. */
export interface PlacedProblem {
  code?: string;
  message: string;
  /** Which document: "request body" (pointers into the batch) or "request body[2]" (into its 3rd model). */
  source?: string;
  pointer?: string;
  line?: number;
  column?: number;
}

/** 1-based line and column of an offset. */
export function lineColumnAt(text: string, offset: number): LineColumn {
  let line = 1;
  let start = 0;
  const end = Math.min(Math.max(0, offset), text.length);
  for (let i = 0; i < end; i++)
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  return { line, column: end - start + 1 };
}

/** The text as a batch to send: an array as it is, an object as a batch of one; or the syntax error. */
export function parseUpload(
  text: string,
): { ok: true; batch: unknown[]; single: boolean } | ({ ok: false; message: string } & LineColumn) {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const errors: ParseError[] = [];
  parse(body, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const first = errors[0];
  if (first)
    return {
      ok: false,
      message: `JSON syntax error: ${printParseErrorCode(first.error)}`,
      ...lineColumnAt(body, first.offset),
    };
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e) {
    return { ok: false, message: `JSON syntax error: ${(e as Error).message}`, line: 1, column: 1 };
  }
  if (Array.isArray(value)) return { ok: true, batch: value, single: false };
  if (typeof value === 'object' && value !== null) return { ok: true, batch: [value], single: true };
  return {
    ok: false,
    message: 'Expected a DTDL interface (an object) or an array of them.',
    line: 1,
    column: 1,
  };
}

function segments(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

/**
 * Each problem with the line and column of the value its pointer names in `text` (or of its nearest
 * existing parent); problems that already have a line, or no pointer, are kept as they are. The
 * server's pointers are into the batch, or into one model when `source` names it ("request body[1]").
 * @example placeProblems('{\n "@id": 1\n}', [{ message: 'bad id', pointer: '/0/@id' }], true)
 *   // → [{ message: 'bad id', pointer: '/0/@id', line: 2, column: 10 }]
 */
export function placeProblems(
  text: string,
  problems: readonly PlacedProblem[],
  single: boolean,
): PlacedProblem[] {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let tree: Node | undefined;
  try {
    tree = parseTree(body, [], { disallowComments: true, allowTrailingComma: false });
  } catch {
    tree = undefined; // nested too deep for the tree builder: pointers only
  }
  return problems.map((p) => {
    if (p.line !== undefined || p.pointer === undefined || !tree) return { ...p };
    // A problem of one model of the batch points into that model: its index comes first.
    const index = p.source !== undefined ? /\[(\d+)\]$/.exec(p.source)?.[1] : undefined;
    let segs = [...(index !== undefined ? [Number(index)] : []), ...segments(p.pointer)];
    if (single) {
      if (segs.length === 0) return { ...p };
      if (segs[0] !== 0) return { ...p };
      segs = segs.slice(1);
    }
    for (let n = segs.length; n >= 0; n--) {
      const node = findNodeAtLocation(tree, segs.slice(0, n));
      if (node) return { ...p, ...lineColumnAt(body, node.offset) };
    }
    return { ...p };
  });
}
