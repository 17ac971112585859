/**
 * NASA C-MAPSS text (train_FDxxx.txt, test_FDxxx.txt) into RUL asset series: one series per unit,
 * steps = cycle, columns setting1..3 and s1..s21. Pure (text in): the development harness and the
 * tests read the files. The platform's own way in is the history import.
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { RulAssetSeries } from './rul-types.js';

export const CMAPSS_SETTINGS: readonly string[] = ['setting1', 'setting2', 'setting3'];
export const CMAPSS_SENSORS: readonly string[] = Array.from({ length: 21 }, (_, i) => `s${i + 1}`);

/**
 * Parses a C-MAPSS text: 26 whitespace-separated numbers a line (unit, cycle, 3 settings, 21 sensors).
 * @throws TwinloopError 'ValidationFailed' naming the source, line and column of the first bad line,
 *   or a unit whose cycles do not ascend.
 */
export function parseCmapss(text: string, source: string): RulAssetSeries[] {
  const units = new Map<number, number[][]>();
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    lineNo++;
    const t = text.slice(start, end).trim();
    start = end + 1;
    if (!t) continue;
    const parts = t.split(/\s+/);
    const bad =
      parts.length !== 26 ? -1 : parts.findIndex((p) => !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(p));
    if (parts.length !== 26 || bad >= 0)
      throw new TwinloopError(
        'ValidationFailed',
        `${source}:${lineNo}: ${parts.length !== 26 ? `26 numbers expected, found ${parts.length} fields` : `field ${bad + 1} is not a number`}`,
        {
          problems: [{ code: 'cmapss.line', source, line: lineNo, column: 1, message: 'not a C-MAPSS row' }],
        },
      );
    const v = parts.map(Number);
    const unit = v[0] as number;
    let rows = units.get(unit);
    if (!rows) units.set(unit, (rows = []));
    const prev = rows[rows.length - 1];
    if (prev && !((v[1] as number) > (prev[1] as number)))
      throw new TwinloopError(
        'ValidationFailed',
        `${source}:${lineNo}: unit ${unit}: cycle ${v[1]} does not follow ${prev[1]}`,
        {
          problems: [
            { code: 'cmapss.cycle', source, line: lineNo, column: 1, message: 'cycles must ascend' },
          ],
        },
      );
    rows.push(v);
  }
  const names = [...CMAPSS_SETTINGS, ...CMAPSS_SENSORS];
  return [...units.entries()].map(([unit, rows]) => {
    const columns: Record<string, Float64Array> = {};
    names.forEach((name, j) => (columns[name] = Float64Array.from(rows, (r) => r[j + 2] as number)));
    return { id: String(unit), steps: Float64Array.from(rows, (r) => r[1] as number), columns };
  });
}

/** The true RULs of a RUL_FDxxx.txt text, one a line. @throws TwinloopError on a line that is not a number ≥ 0. */
export function parseRulFile(text: string, source: string): number[] {
  const out: number[] = [];
  text.split('\n').forEach((l, i) => {
    const t = l.trim();
    if (!t) return;
    const v = Number(t);
    if (!/^\d+(\.\d+)?$/.test(t) || !Number.isFinite(v))
      throw new TwinloopError('ValidationFailed', `${source}:${i + 1}: a number of cycles expected`);
    out.push(v);
  });
  return out;
}
