/**
 * A text field of a delimited file as a value of a DTDL schema: numbers for the numeric schemas
 * (strictly: "12", "-1.5e3", never "12abc", "0x1F" or "1,5"), true/false for boolean, JSON for
 * objects, maps and arrays (checked like any untrusted JSON), the text itself for strings, dates
 * and durations — then validated against the schema (ranges, formats) as ingestion does.
 */
import type { Schema } from '../models/model-types.js';
import { validateValue } from '../models/validate-value.js';
import { parseUntrustedJson } from '../json/untrusted-json.js';

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NUMERIC = new Set([
  'byte',
  'short',
  'integer',
  'long',
  'unsignedByte',
  'unsignedShort',
  'unsignedInteger',
  'unsignedLong',
  'float',
  'double',
  'decimal',
  'scaledDecimal',
]);

export type TextValue = { ok: true; value: unknown } | { ok: false; message: string };

/** The value of `text` for `schema`, or why it is not one. */
export function textToValue(text: string, schema: Schema): TextValue {
  const t = text.trim();
  let value: unknown;
  if (schema.kind === 'primitive' && NUMERIC.has(schema.name) && schema.name !== 'scaledDecimal') {
    if (!NUMBER.test(t)) return { ok: false, message: `'${cut(t)}' is not a number` };
    value = Number(t);
    if (!Number.isFinite(value)) return { ok: false, message: `'${cut(t)}' is out of range` };
  } else if (schema.kind === 'primitive' && schema.name === 'boolean') {
    const l = t.toLowerCase();
    if (l === 'true' || l === '1') value = true;
    else if (l === 'false' || l === '0') value = false;
    else return { ok: false, message: `'${cut(t)}' is not a boolean (true/false, 1/0)` };
  } else if (schema.kind === 'enum' && schema.valueSchema === 'integer') {
    if (!NUMBER.test(t)) return { ok: false, message: `'${cut(t)}' is not a number` };
    value = Number(t);
  } else if (
    schema.kind === 'object' ||
    schema.kind === 'map' ||
    schema.kind === 'array' ||
    (schema.kind === 'primitive' && schema.name === 'scaledDecimal') ||
    (schema.kind === 'primitive' && /^(point|lineString|polygon|multi)/.test(schema.name))
  ) {
    const r = parseUntrustedJson(t, { maxDepth: 16, what: 'The value' });
    if (!r.ok) return { ok: false, message: r.problem.message };
    value = r.value;
  } else value = text;
  const problems = validateValue(schema, value, '');
  if (problems.length) return { ok: false, message: problems[0]!.message };
  return { ok: true, value };
}

function cut(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
