/**
 * PostgreSQL array literals for the bulk statements of the history write path (unnest of column
 * arrays). node-pg turns a JS array into a literal by quoting and regex-escaping every element,
 * numbers included, which cost more CPU per group commit than any other step of the ingest process
 * under load (profiled with bench:cluster); numbers need no quoting, text elements need one pass.
 */

/**
 * `{1,2.5,NULL,NaN}`: numbers as JavaScript's shortest exact text (which float8 and integer
 * input read back exactly; NaN and ±Infinity as PostgreSQL spells them), null/undefined as NULL.
 */
export function numArrayLiteral(values: readonly (number | null | undefined)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ',';
    out += v === null || v === undefined ? 'NULL' : String(v);
  }
  return `${out}}`;
}

/** `{"a","b \"c\"",NULL}`: every text element quoted, `"` and `\` escaped; null as NULL. */
export function textArrayLiteral(values: readonly (string | null | undefined)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ',';
    out += v === null || v === undefined ? 'NULL' : `"${v.replace(/["\\]/g, '\\$&')}"`;
  }
  return `${out}}`;
}
