/**
 * Helpers of the SQLite history store for series: the state a series row becomes in memory, and
 * the checks a point must pass before it may join a group commit (one bad point must not fail the
 * commit of everyone else's points).
 */
import type { HistoryPoint, HistoryValue } from '../../core/ports/storage-ports.js';
import type { SeriesState } from './sqlite-history-compactor.js';

export interface SeriesRow {
  id: number;
  workspace: string;
  twin_id: string;
  path: string;
  kind: string;
  last_ts: number | null;
  last_value: string | null;
}

export function newState(
  id: number,
  workspace: string,
  twinId: string,
  path: string,
  kind: HistoryPoint['kind'],
): SeriesState {
  return {
    id,
    workspace,
    twinId,
    path,
    kind,
    lastTs: -Infinity,
    lastValue: null,
    maxTs: -Infinity,
    hasLast: false,
    lastDirty: false,
    bts: [],
    bnum: [],
    bjson: null,
    small: [],
    frozen: null,
  };
}

export function rowToState(r: SeriesRow): SeriesState {
  const s = newState(r.id, r.workspace, r.twin_id, r.path, r.kind === 'property' ? 'property' : 'telemetry');
  if (r.last_ts !== null && r.last_value !== null) {
    s.lastTs = r.last_ts;
    s.maxTs = r.last_ts;
    s.lastValue = JSON.parse(r.last_value) as HistoryValue;
    s.hasLast = true;
  }
  return s;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** What is wrong with a point (field and reason), or undefined. */
export function invalidPoint(p: HistoryPoint): { field: string; message: string } | undefined {
  for (const f of ['workspace', 'twinId', 'path'] as const) {
    if (typeof p[f] !== 'string' || p[f] === '')
      return { field: f, message: `${f} must be a non-empty string` };
    // PostgreSQL text cannot hold NUL: every store rejects it in a series key, so they all agree.
    if (p[f].includes('\u0000')) return { field: f, message: `${f} must not contain a NUL character` };
    // A lone surrogate has no UTF-8 form: PostgreSQL would store U+FFFD, another key than the one given.
    if (LONE_SURROGATE.test(p[f]))
      return { field: f, message: `${f} must be well-formed unicode (a lone surrogate)` };
  }
  if (p.kind !== 'telemetry' && p.kind !== 'property')
    return { field: 'kind', message: 'kind must be "telemetry" or "property"' };
  if (typeof p.ts !== 'number' || !Number.isFinite(p.ts))
    return { field: 'ts', message: 'ts must be a finite number of ms' };
  if (p.value === undefined) return { field: 'value', message: 'value is missing' };
  if (typeof p.value !== 'number') {
    try {
      if (JSON.stringify(p.value) === undefined)
        return { field: 'value', message: 'the value cannot be written as JSON' };
    } catch (e) {
      return { field: 'value', message: `the value cannot be written as JSON (${(e as Error).message})` };
    }
  }
  return undefined;
}
