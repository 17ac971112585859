/**
 * The one way Twinloop reads JSON that comes from outside (HTTP bodies, telemetry over MQTT and
 * HTTP, live WebSocket messages) and checks JSON values handed to the core (twin bodies, patches,
 * relationships). Untrusted keys are data, never object machinery:
 *
 * - `__proto__`, `constructor` and `prototype` are refused as object keys, at any depth, with the
 *   JSON pointer of the key. JSON.parse keeps `__proto__` as an own key, but the first
 *   `target[key] = value` copy (a patch, a reading set) turns it into a prototype swap that slips
 *   past model validation, and `constructor`/`prototype` read through to Object's own machinery
 *   wherever a lookup misses (`obj[name]`), the first link of the classic pollution chain. Refusing
 *   is chosen everywhere rather than prototype-free holders: `__proto__` is not a DTDL name at all,
 *   no Twinloop document (ADT bodies, patches, telemetry, live messages, what-if and calibration
 *   requests) has such a key by design, and a holder would have to survive every later copy, spread
 *   and store round trip. The cost: a model that names a property `constructor` or `prototype`
 *   (legal DTDL) cannot have that property written (docs/api.md says so).
 * - Nesting deeper than `maxDepth` (default 128) is refused, checked with an explicit stack: a
 *   10,000-deep document is a clear 400, not a stack overflow somewhere downstream.
 * - Numbers JSON.parse turns into ±Infinity (`1e999`) are refused as "number out of range at /x".
 * - Bytes that are not UTF-8 are refused with the offset of the first bad byte.
 * - A syntax error is reported with its line and column (found without recursion).
 *
 * Pure: no I/O. Never throws for bad input; every problem comes back as a Problem.
 */
import type { Problem } from '../errors/errors.js';
import { locateJsonError } from './json-syntax.js';

/** Keys that would reach object machinery instead of being data. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Default deepest nesting of objects and arrays (the document itself is depth 1). */
export const DEFAULT_MAX_JSON_DEPTH = 128;

export interface UntrustedJsonOptions {
  /** Deepest nesting accepted (default DEFAULT_MAX_JSON_DEPTH). */
  maxDepth?: number;
  /** Names the document in messages ("The request body", "The payload"); default "The JSON". */
  what?: string;
  /** Problem `source` (e.g. "request body", a topic). */
  source?: string;
}

export type UntrustedJsonResult = { ok: true; value: unknown } | { ok: false; problem: Problem };

/** Problem codes of this module (documented in docs/errors.md). */
export const JSON_PROBLEM = {
  syntax: 'json.syntax',
  encoding: 'json.encoding',
  depth: 'json.depth',
  key: 'json.key.forbidden',
  number: 'json.number.range',
} as const;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes and parses untrusted JSON, then checks it (keys, depth, numbers).
 *
 * @example
 * parseUntrustedJson('{"a":{"__proto__":{}}}');
 * // → { ok: false, problem: { code: 'json.key.forbidden', pointer: '/a/__proto__', message: … } }
 */
export function parseUntrustedJson(
  input: Uint8Array | string,
  options: UntrustedJsonOptions = {},
): UntrustedJsonResult {
  const what = options.what ?? 'The JSON';
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    const decoded = decodeUtf8(input);
    if (typeof decoded !== 'string') {
      return {
        ok: false,
        problem: withSource(
          {
            code: JSON_PROBLEM.encoding,
            message: `${what} is not valid UTF-8 text (bad byte at offset ${decoded.badByteOffset}).`,
            pointer: '',
          },
          options,
        ),
      };
    }
    text = decoded;
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // RFC 8259 §8.1: a BOM may be ignored
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (e) {
    const at = locateJsonError(text);
    const problem: Problem = at
      ? {
          code: JSON_PROBLEM.syntax,
          message: `Malformed JSON at ${at.line}:${at.column}: ${at.message}.`,
          line: at.line,
          column: at.column,
        }
      : { code: JSON_PROBLEM.syntax, message: `Malformed JSON: ${(e as Error).message}.` };
    return { ok: false, problem: withSource(problem, options) };
  }
  const problem = checkUntrustedValue(value, options);
  return problem ? { ok: false, problem } : { ok: true, value };
}

/** UTF-8 bytes to text; the offset of the first invalid byte when they are not UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | { badByteOffset: number } {
  try {
    return utf8.decode(bytes);
  } catch {
    return { badByteOffset: firstBadUtf8Byte(bytes) };
  }
}

interface Frame {
  value: unknown;
  depth: number;
  parent: Frame | undefined;
  key: string;
}

/**
 * Walks a JSON value without recursion and returns its first problem: a forbidden key, nesting
 * deeper than `maxDepth`, or a non-finite number. For values built in-process (a twin body given
 * to the core) as much as for parsed text.
 */
export function checkUntrustedValue(value: unknown, options: UntrustedJsonOptions = {}): Problem | undefined {
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'number' && !Number.isFinite(value)) return numberProblem(undefined, '', options);
    return undefined;
  }
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_JSON_DEPTH;
  const what = options.what ?? 'The JSON';
  const stack: Frame[] = [{ value, depth: 1, parent: undefined, key: '' }];
  while (stack.length) {
    const f = stack.pop()!;
    if (f.depth > maxDepth) {
      return withSource(
        {
          code: JSON_PROBLEM.depth,
          message: `${what} nests deeper than ${maxDepth} levels (at ${pointerOf(f) || '/'}).`,
          pointer: pointerOf(f),
        },
        options,
      );
    }
    const v = f.value;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) {
        const item: unknown = v[i];
        if (typeof item === 'object' && item !== null)
          stack.push({ value: item, depth: f.depth + 1, parent: f, key: String(i) });
        else if (typeof item === 'number' && !Number.isFinite(item))
          return numberProblem(f, String(i), options);
      }
      continue;
    }
    const keys = Object.keys(v as object);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i]!;
      if (FORBIDDEN_KEYS.has(k)) {
        const pointer = `${pointerOf(f)}/${escapeToken(k)}`;
        return withSource(
          {
            code: JSON_PROBLEM.key,
            message: `The key "${k}" is not allowed (at ${pointer}): __proto__, constructor and prototype are refused as object keys.`,
            pointer,
          },
          options,
        );
      }
      const item = (v as Record<string, unknown>)[k];
      if (typeof item === 'object' && item !== null)
        stack.push({ value: item, depth: f.depth + 1, parent: f, key: k });
      else if (typeof item === 'number' && !Number.isFinite(item)) return numberProblem(f, k, options);
    }
  }
  return undefined;
}

/** True when a JSON pointer token is one of the forbidden keys (patch paths, URL segments). */
export function isForbiddenKey(token: string): boolean {
  return FORBIDDEN_KEYS.has(token);
}

function numberProblem(parent: Frame | undefined, key: string, options: UntrustedJsonOptions): Problem {
  const pointer = parent ? `${pointerOf(parent)}/${escapeToken(key)}` : '';
  return withSource(
    {
      code: JSON_PROBLEM.number,
      message: `Number out of range at ${pointer || '/'}: JSON numbers must be finite (at most ±1.7976931348623157e308).`,
      pointer,
    },
    options,
  );
}

function pointerOf(f: Frame): string {
  const tokens: string[] = [];
  for (let x: Frame | undefined = f; x?.parent; x = x.parent) tokens.push(escapeToken(x.key));
  return tokens.length ? `/${tokens.reverse().join('/')}` : '';
}

function escapeToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function withSource(p: Problem, options: UntrustedJsonOptions): Problem {
  return options.source === undefined ? p : { ...p, source: options.source };
}

/** Offset of the first byte that does not belong to a well-formed UTF-8 sequence. */
function firstBadUtf8Byte(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let need: number;
    let min: number;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    let cp = c & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
    for (let k = 1; k <= need; k++) {
      const x = b[i + k];
      if (x === undefined || (x & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (x & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return b.length;
}
