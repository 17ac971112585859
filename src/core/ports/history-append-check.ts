/**
 * The checks every HistoryStore makes on `append` before it takes anything, so that all stores
 * refuse the same points with the same error (a point PostgreSQL could not store exactly is refused
 * by SQLite too: a pilot moved to PostgreSQL never meets a point it could not take).
 */
import { TwinloopError } from '../errors/errors.js';
import type { HistoryAppendOptions, HistoryPoint } from './storage-ports.js';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Key strings already found good (twin ids and paths repeat with every reading: a set look-up is
 * several times cheaper than the checks below, measured ~3 % of ingest's CPU). Bounded: cleared
 * when full.
 */
const goodKeys = new Set<string>();
const MAX_GOOD_KEYS = 100_000;
/**
 * The last good workspace and twin id (points come grouped by twin: most checks end here). Start as
 * a value no point has, and only ever hold strings that passed the checks.
 */
const NONE: unique symbol = Symbol('none');
let lastWorkspace: string | typeof NONE = NONE;
let lastTwin: string | typeof NONE = NONE;

/** What is wrong with a point (field and reason), or undefined. */
export function invalidPoint(p: HistoryPoint): { field: string; message: string } | undefined {
  if (p.workspace !== lastWorkspace || p.twinId !== lastTwin) {
    const bad = invalidKey(p, 'workspace') ?? invalidKey(p, 'twinId');
    if (bad) return bad;
    lastWorkspace = p.workspace;
    lastTwin = p.twinId;
  }
  const badPath = invalidKey(p, 'path');
  if (badPath) return badPath;
  if (p.kind !== 'telemetry' && p.kind !== 'property')
    return { field: 'kind', message: 'kind must be "telemetry" or "property"' };
  if (typeof p.ts !== 'number' || !Number.isFinite(p.ts))
    return { field: 'ts', message: 'ts must be a finite number of ms' };
  if (p.value === undefined) return { field: 'value', message: 'value is missing' };
  if (typeof p.value === 'number') {
    // JSON has no NaN or Infinity: a value no reader could get back as it was written.
    if (!Number.isFinite(p.value)) return { field: 'value', message: 'a number value must be finite' };
  } else {
    try {
      if (JSON.stringify(p.value) === undefined)
        return { field: 'value', message: 'the value cannot be written as JSON' };
    } catch (e) {
      return { field: 'value', message: `the value cannot be written as JSON (${(e as Error).message})` };
    }
  }
  return undefined;
}

/** What is wrong with one field of a point's series key, or undefined. */
function invalidKey(
  p: HistoryPoint,
  f: 'workspace' | 'twinId' | 'path',
): { field: string; message: string } | undefined {
  const v = p[f];
  if (typeof v === 'string' && goodKeys.has(v)) return undefined;
  if (typeof v !== 'string' || v === '') return { field: f, message: `${f} must be a non-empty string` };
  // PostgreSQL text cannot hold NUL: every store rejects it in a series key, so they all agree.
  if (v.includes('\u0000')) return { field: f, message: `${f} must not contain a NUL character` };
  // A lone surrogate has no UTF-8 form: PostgreSQL would store U+FFFD, another key than the one given.
  if (LONE_SURROGATE.test(v))
    return { field: f, message: `${f} must be well-formed unicode (a lone surrogate)` };
  if (goodKeys.size >= MAX_GOOD_KEYS) goodKeys.clear();
  goodKeys.add(v);
  return undefined;
}

/** Why an append must be refused (the first bad point, or a bad checkpoint), or undefined. */
export function appendError(
  points: readonly HistoryPoint[],
  options: HistoryAppendOptions,
): TwinloopError | undefined {
  for (let i = 0; i < points.length; i++) {
    const bad = invalidPoint(points[i]!);
    if (bad) {
      return new TwinloopError('InvalidTelemetry', `History point ${i} is invalid: ${bad.message}.`, {
        problems: [{ code: 'history.point.invalid', message: bad.message, pointer: `/${i}/${bad.field}` }],
      });
    }
  }
  const cp = options.checkpoint;
  if (cp && (typeof cp.key !== 'string' || cp.key.includes('\u0000') || !Number.isSafeInteger(cp.seq))) {
    return new TwinloopError(
      'StorageError',
      'A history checkpoint needs a string key (no NUL) and an integer sequence.',
    );
  }
  return undefined;
}
