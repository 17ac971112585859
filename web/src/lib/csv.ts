/**
 * CSV export of what a chart shows: one row per time, one column per series (RFC 4180 quoting).
 * Cells that a spreadsheet would run as a formula (text starting with =, +, -, @, tab or CR) get a
 * leading apostrophe: twin ids and names come from devices and users.
 */
export function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  let s = typeof v === 'string' ? v : JSON.stringify(v);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** `time` (ISO 8601) then one column per series; `xs` in ms, `columns[i][j]` the value at xs[j]. */
export function toCsv(
  header: readonly string[],
  xs: readonly number[],
  columns: readonly (readonly (number | null | undefined)[])[],
): string {
  const lines = [['time', ...header].map(csvCell).join(',')];
  for (let j = 0; j < xs.length; j++) {
    const row = [new Date(xs[j]!).toISOString(), ...columns.map((c) => csvCell(c[j]))];
    lines.push(row.join(','));
  }
  return lines.join('\r\n') + '\r\n';
}
