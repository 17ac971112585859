/**
 * Query rows as a table a person reads: for whole twins (`SELECT *`), the id, the model's short name
 * and the properties (not `$etag` and `$metadata`); for projections, the columns as selected. `$dtId`
 * first.
 */
import { modelShortName } from './graph.js';

export const MODEL_COLUMN = 'model';

function modelOf(row: Record<string, unknown>): string | undefined {
  const meta = row['$metadata'];
  const m = meta && typeof meta === 'object' ? (meta as { $model?: unknown }).$model : undefined;
  return typeof m === 'string' ? m : undefined;
}

export function resultColumns(rows: readonly Record<string, unknown>[]): string[] {
  const set = new Set<string>();
  let models = false;
  for (const r of rows) {
    if (modelOf(r) !== undefined) models = true;
    for (const k of Object.keys(r))
      if (k !== '$etag' && !(k === '$metadata' && modelOf(r) !== undefined)) set.add(k);
  }
  const cols = [...set].sort((a, b) => (a === '$dtId' ? -1 : b === '$dtId' ? 1 : a.localeCompare(b)));
  if (models) cols.splice(cols[0] === '$dtId' ? 1 : 0, 0, MODEL_COLUMN);
  return cols;
}

/** The cell of `column` in `row` (the model column: the short name of the twin's model). */
export function resultCell(row: Record<string, unknown>, column: string): unknown {
  if (column === MODEL_COLUMN && !Object.hasOwn(row, MODEL_COLUMN)) return modelShortName(modelOf(row));
  const v = Object.hasOwn(row, column) ? row[column] : undefined;
  // A component: its properties, without its $metadata.
  if (
    v &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    Object.hasOwn(v, '$metadata') &&
    !Object.hasOwn(v, '$dtId')
  )
    return Object.fromEntries(Object.entries(v).filter(([k]) => k !== '$metadata'));
  return v;
}
