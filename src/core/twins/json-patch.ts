/**
 * JSON Patch (RFC 6902) as ADT accepts it on twins, components and relationships: `add`, `replace`
 * and `remove` on JSON pointers (`/prop`, `/comp/prop`, `/obj/field`, `/arr/0`). The whole patch is
 * checked first and applied to a copy, so a failing patch changes nothing; every problem is
 * reported at once, each with a pointer into the patch document. Untrusted keys are data: a path
 * through `__proto__`, `constructor` or `prototype`, or such a key inside a value, is refused
 * (applied, it would swap the prototype of the copy and slip past the model check).
 */
import type { Problem } from '../errors/errors.js';
import { checkUntrustedValue, isForbiddenKey } from '../json/untrusted-json.js';

export type PatchOpName = 'add' | 'replace' | 'remove';

export interface PatchOp {
  op: PatchOpName;
  /** The pointer as written. */
  path: string;
  /** Decoded reference tokens of `path`. */
  segments: string[];
  value?: unknown;
  /** Index of the operation in the patch document (problems point at `/index`). */
  index: number;
}

const SOURCE = 'request body';

/** Decodes an RFC 6901 pointer into its tokens; undefined when it is not a pointer. */
export function parsePointer(path: string): string[] | undefined {
  if (path === '') return [];
  if (!path.startsWith('/')) return undefined;
  return path
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Encodes tokens back into a pointer. */
export function toPointer(segments: readonly string[]): string {
  return segments.map((s) => '/' + s.replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/** Checks the shape of a patch document; returns the operations and every problem found. */
export function parsePatch(doc: unknown): { ops: PatchOp[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const ops: PatchOp[] = [];
  if (!Array.isArray(doc)) {
    problems.push({
      code: 'patch.notArray',
      message: 'A JSON Patch document must be an array of operations.',
      pointer: '',
      source: SOURCE,
    });
    return { ops, problems };
  }
  const hostile = checkUntrustedValue(doc, { what: 'The patch', source: SOURCE });
  if (hostile) problems.push(hostile);
  doc.forEach((raw: unknown, index) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push({
        code: 'patch.opNotObject',
        message: 'Each operation must be an object.',
        pointer: `/${index}`,
        source: SOURCE,
      });
      return;
    }
    const o = raw as Record<string, unknown>;
    let ok = true;
    if (o.op !== 'add' && o.op !== 'replace' && o.op !== 'remove') {
      problems.push({
        code: 'patch.op',
        message: `Unsupported op ${JSON.stringify(o.op)}: use add, replace or remove.`,
        pointer: `/${index}/op`,
        source: SOURCE,
      });
      ok = false;
    }
    const segments = typeof o.path === 'string' ? parsePointer(o.path) : undefined;
    if (segments === undefined || segments.length === 0) {
      problems.push({
        code: 'patch.path',
        message: `The path ${JSON.stringify(o.path)} is not a JSON pointer to a member (e.g. "/temperature").`,
        pointer: `/${index}/path`,
        source: SOURCE,
      });
      ok = false;
    }
    const forbidden = segments?.find(isForbiddenKey);
    if (forbidden !== undefined) {
      problems.push({
        code: 'patch.path.forbidden',
        message: `The path ${JSON.stringify(o.path)} goes through '${forbidden}': __proto__, constructor and prototype are never members.`,
        pointer: `/${index}/path`,
        source: SOURCE,
      });
      ok = false;
    }
    if ((o.op === 'add' || o.op === 'replace') && !('value' in o)) {
      problems.push({
        code: 'patch.value',
        message: `A '${o.op}' operation needs a value.`,
        pointer: `/${index}/value`,
        source: SOURCE,
      });
      ok = false;
    }
    if (ok) {
      const op: PatchOp = { op: o.op as PatchOpName, path: o.path as string, segments: segments!, index };
      if (o.op !== 'remove') op.value = o.value;
      ops.push(op);
    }
  });
  return { ops, problems };
}

/**
 * Applies operations in order to `target` (mutated: pass a copy). Operations that cannot apply are
 * reported and skipped so that later ones are still checked.
 */
export function applyPatch(target: Record<string, unknown>, ops: readonly PatchOp[]): Problem[] {
  const problems: Problem[] = [];
  for (const op of ops) {
    const parentPath = op.segments.slice(0, -1);
    const key = op.segments[op.segments.length - 1]!;
    let parent: unknown = target;
    for (const seg of parentPath) {
      parent = child(parent, seg);
      if (parent === undefined) break;
    }
    const at = (message: string, code = 'patch.target'): void => {
      problems.push({
        code,
        message: `${op.op} ${op.path}: ${message}`,
        pointer: `/${op.index}/path`,
        source: SOURCE,
      });
    };
    if (typeof parent !== 'object' || parent === null) {
      at(`the parent '${toPointer(parentPath) || '/'}' does not exist (add it first, as an object).`);
      continue;
    }
    if (Array.isArray(parent)) {
      const n = key === '-' ? parent.length : /^(0|[1-9][0-9]*)$/.test(key) ? Number(key) : NaN;
      const limit = op.op === 'add' ? parent.length : parent.length - 1;
      if (!Number.isInteger(n) || n > limit || (key === '-' && op.op !== 'add')) {
        at(`'${key}' is not a valid index of an array of ${parent.length}.`);
        continue;
      }
      if (op.op === 'add') parent.splice(n, 0, clone(op.value));
      else if (op.op === 'replace') parent[n] = clone(op.value);
      else parent.splice(n, 1);
      continue;
    }
    const obj = parent as Record<string, unknown>;
    const exists = Object.prototype.hasOwnProperty.call(obj, key);
    if (op.op !== 'add' && !exists) {
      at(`there is no value at this path to ${op.op} (use 'add' to set a value that is not set).`);
      continue;
    }
    if (op.op === 'remove') delete obj[key];
    else obj[key] = clone(op.value);
  }
  return problems;
}

function child(parent: unknown, seg: string): unknown {
  if (Array.isArray(parent)) return /^(0|[1-9][0-9]*)$/.test(seg) ? parent[Number(seg)] : undefined;
  if (typeof parent === 'object' && parent !== null && Object.prototype.hasOwnProperty.call(parent, seg)) {
    return (parent as Record<string, unknown>)[seg];
  }
  return undefined;
}

/** Deep copy of plain JSON. */
export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}
