/**
 * How the CLI prints data: `--format table|json|csv` on every command that prints data; a table by
 * default in a terminal and JSON when piped (scripts get exactly what the API returned). Tables round
 * numbers to a few significant digits and show times readably (local time); CSV keeps full values.
 */
import { Option } from 'commander';
import { spokenDuration } from '../../sim/whatif/what-if-answer.js';

export type Format = 'table' | 'json' | 'csv';
export const FORMATS: readonly Format[] = ['table', 'json', 'csv'];

/** Significant digits of numbers in tables. */
export const TABLE_DIGITS = 4;
/** Longest cell in a table (longer text is cut with …). */
const MAX_CELL = 80;

export function formatOption(): Option {
  return new Option(
    '--format <format>',
    'output: table, json or csv (default: table in a terminal, json when piped)',
  ).choices(FORMATS as string[]);
}

/** The format asked for, else table on a terminal and JSON when stdout is a pipe or a file. */
export function resolveFormat(asked: string | undefined, isTty = process.stdout.isTTY === true): Format {
  if (asked && (FORMATS as string[]).includes(asked)) return asked as Format;
  return isTty ? 'table' : 'json';
}

export interface Column {
  key: string;
  /** Header (default: the key). */
  title?: string;
}

export type Row = Record<string, unknown>;

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const LANG = /^[a-z]{2,3}(-[A-Za-z]{2,4})?$/;
const pad2 = (n: number) => String(n).padStart(2, '0');

/** A date as local `YYYY-MM-DD HH:MM:SS.mmm` (the milliseconds only when there are some). */
export function readableTime(ms: number): string {
  const d = new Date(ms);
  const base = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  const milli = d.getMilliseconds();
  return milli ? `${base}.${String(milli).padStart(3, '0')}` : base;
}

/** A number with at most `digits` significant digits, never in exponent form for everyday sizes. */
export function roundNumber(v: number, digits = TABLE_DIGITS): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const r = Number(v.toPrecision(digits));
  if (r !== 0 && (Math.abs(r) >= 1e15 || Math.abs(r) < 1e-6)) return r.toExponential(digits - 1);
  return String(r);
}

/** Seconds as a short duration: "45 s", "12 min", "3 h 20 min", "2 d 4 h". */
export const shortDuration = spokenDuration;

/** One cell as a table shows it. */
export function tableCell(v: unknown): string {
  let s: string;
  if (v === undefined || v === null) s = '';
  else if (typeof v === 'number') s = roundNumber(v);
  else if (typeof v === 'string') s = ISO_TIME.test(v) ? readableTime(Date.parse(v)) : v;
  else if (typeof v === 'boolean') s = String(v);
  else if (typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (typeof o.$dtId === 'string')
      s = o.$dtId; // a twin: its id
    else if (keys.length > 0 && keys.every((k) => LANG.test(k) && typeof o[k] === 'string'))
      s = String(o.en ?? o[keys[0]!]); // a DTDL localised string
    else s = JSON.stringify(v);
  } else s = JSON.stringify(v);
  s = s.replace(/[\r\n\t]+/g, ' ');
  return s.length > MAX_CELL ? s.slice(0, MAX_CELL - 1) + '…' : s;
}

/**
 * Rows shown in a table: a twin row (`SELECT *`, `SELECT T`) shows its id, model and values rather
 * than its metadata.
 */
export function tableRows(rows: readonly Row[]): Row[] {
  return rows.map((r) => {
    const meta = r.$metadata as { $model?: unknown } | undefined;
    if (typeof r.$dtId !== 'string' || typeof meta !== 'object' || meta === null) return r;
    const { $dtId, $etag: _etag, $metadata: _meta, ...rest } = r;
    return { $dtId, $model: meta.$model, ...rest };
  });
}

function columnsOf(rows: readonly Row[]): Column[] {
  const keys = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) keys.add(k);
  return [...keys].map((key) => ({ key }));
}

/** A plain-text table: a header, a rule, one line per row; numbers aligned right. */
export function renderTable(rows: readonly Row[], columns?: readonly Column[]): string {
  const shown = tableRows(rows);
  const cols = columns ?? columnsOf(shown);
  if (shown.length === 0) return '(none)\n';
  const cells = shown.map((r) => cols.map((c) => tableCell(r[c.key])));
  const numeric = cols.map((c) =>
    shown.every((r) => r[c.key] === undefined || r[c.key] === null || typeof r[c.key] === 'number'),
  );
  const widths = cols.map((c, i) =>
    Math.max((c.title ?? c.key).length, ...cells.map((line) => line[i]!.length)),
  );
  const line = (vals: string[]) =>
    vals
      .map((v, i) => (numeric[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return (
    [
      line(cols.map((c) => c.title ?? c.key)),
      widths.map((w) => '-'.repeat(w)).join('  '),
      ...cells.map(line),
    ].join('\n') + '\n'
  );
}

function csvField(v: unknown): string {
  const s =
    v === undefined || v === null
      ? ''
      : typeof v === 'object'
        ? JSON.stringify(v)
        : String(v as string | number | boolean);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV (RFC 4180 quoting, one line per row ending in \n): a header line, full-precision values, ISO times as the API gives them. */
export function renderCsv(rows: readonly Row[], columns?: readonly Column[]): string {
  const cols = columns ?? columnsOf(rows);
  return [
    cols.map((c) => csvField(c.key)).join(','),
    ...rows.map((r) => cols.map((c) => csvField(r[c.key])).join(',')),
  ]
    .map((l) => l + '\n')
    .join('');
}

/**
 * Prints rows in the chosen format; JSON prints `json` (by default the rows) exactly, indented.
 * @example printRows(out, body.value, 'table', { json: body, columns: [{ key: 'time' }, { key: 'value' }] })
 */
export function formatRows(
  rows: readonly Row[],
  format: Format,
  opts: { columns?: readonly Column[]; json?: unknown } = {},
): string {
  if (format === 'json') return JSON.stringify(opts.json ?? rows, null, 2) + '\n';
  if (format === 'csv') return renderCsv(rows, opts.columns);
  return renderTable(rows, opts.columns);
}

export function printRows(
  rows: readonly Row[],
  format: Format,
  opts: { columns?: readonly Column[]; json?: unknown } = {},
): void {
  process.stdout.write(formatRows(rows, format, opts));
}

/** A single object (a twin, a receipt) as a two-column table, or as JSON. */
export function printObject(value: unknown, format: Format): void {
  if (format !== 'table' || typeof value !== 'object' || value === null || Array.isArray(value)) {
    process.stdout.write(JSON.stringify(value, null, 2) + '\n');
    return;
  }
  const rows = Object.entries(value as Row).map(([name, v]) => ({ name, value: v }));
  process.stdout.write(renderTable(rows, [{ key: 'name' }, { key: 'value' }]));
}
