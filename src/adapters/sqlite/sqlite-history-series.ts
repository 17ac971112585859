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
