/**
 * Checks a JSON value against a resolved DTDL schema (twin properties, telemetry payloads, command
 * payloads). Returns every problem with a JSON pointer; never throws, whatever the value.
 *
 * @example
 *   validateValue({ kind: 'primitive', name: 'integer' }, 3.5, '/temperature')
 *   // -> [{ code: 'value.type', pointer: '/temperature', message: 'Expected an integer ...' }]
 */
import type { Problem } from '../errors/errors.js';
import type { PrimitiveSchemaName, Schema } from './model-types.js';

const INT_RANGES: Partial<Record<PrimitiveSchemaName, readonly [number | bigint, number | bigint]>> = {
  byte: [-128, 127],
  short: [-32768, 32767],
  integer: [-2147483648, 2147483647],
  long: [-(2n ** 63n), 2n ** 63n - 1n],
  unsignedByte: [0, 255],
  unsignedShort: [0, 65535],
  unsignedInteger: [0, 4294967295],
  unsignedLong: [0n, 2n ** 64n - 1n],
};

const FLOAT_MAX = 3.4028234663852886e38;

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_RE = /^([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?$/;
const DATETIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
const DURATION_RE =
  /^P(?!$)(\d+(?:[.,]\d+)?Y)?(\d+(?:[.,]\d+)?M)?(\d+(?:[.,]\d+)?W)?(\d+(?:[.,]\d+)?D)?(T(?=\d)(\d+(?:[.,]\d+)?H)?(\d+(?:[.,]\d+)?M)?(\d+(?:[.,]\d+)?S)?)?$/;
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const DECIMAL_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function escapeSegment(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)?.slice(0, 40) ?? ''}`;
}

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const days =
    [31, y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][
      m - 1
    ] ?? 0;
  return d <= days;
}

type Out = Problem[];

function push(out: Out, code: string, pointer: string, message: string): void {
  out.push({ code, pointer, message, severity: 'error' });
}

function isPosition(v: unknown): boolean {
  return (
    Array.isArray(v) &&
    v.length >= 2 &&
    v.length <= 3 &&
    v.every((n) => typeof n === 'number' && Number.isFinite(n))
  );
}
function isLine(v: unknown): boolean {
  return Array.isArray(v) && v.length >= 2 && v.every(isPosition);
}
function isRing(v: unknown): boolean {
  if (!Array.isArray(v) || v.length < 4 || !v.every(isPosition)) return false;
  const a = v[0] as number[];
  const b = v[v.length - 1] as number[];
  return a.length === b.length && a.every((n, i) => n === b[i]);
}
function isPolygonCoords(v: unknown): boolean {
  return Array.isArray(v) && v.length >= 1 && v.every(isRing);
}

const GEO: Record<string, { type: string; coords: (v: unknown) => boolean }> = {
  point: { type: 'Point', coords: isPosition },
  lineString: { type: 'LineString', coords: isLine },
  polygon: { type: 'Polygon', coords: isPolygonCoords },
  multiPoint: { type: 'MultiPoint', coords: (v) => Array.isArray(v) && v.every(isPosition) },
  multiLineString: { type: 'MultiLineString', coords: (v) => Array.isArray(v) && v.every(isLine) },
  multiPolygon: { type: 'MultiPolygon', coords: (v) => Array.isArray(v) && v.every(isPolygonCoords) },
};

function checkPrimitive(name: PrimitiveSchemaName, v: unknown, p: string, out: Out): void {
  const range = INT_RANGES[name];
  if (range) {
    if (typeof v !== 'number' || !Number.isInteger(v))
      return push(out, 'value.type', p, `Expected an integer (${name}), got ${describe(v)}.`);
    const [lo, hi] = range;
    const big = BigInt(v);
    if (big < BigInt(lo) || big > BigInt(hi))
      push(out, 'value.range', p, `${v} is out of range for ${name} [${String(lo)}, ${String(hi)}].`);
    return;
  }
  switch (name) {
    case 'boolean':
      if (typeof v !== 'boolean') push(out, 'value.type', p, `Expected a boolean, got ${describe(v)}.`);
      return;
    case 'double':
    case 'float':
      if (typeof v !== 'number' || !Number.isFinite(v))
        return push(out, 'value.type', p, `Expected a finite number (${name}), got ${describe(v)}.`);
      if (name === 'float' && Math.abs(v) > FLOAT_MAX)
        push(out, 'value.range', p, `${v} is out of range for float.`);
      return;
    case 'decimal':
    case 'scaledDecimal':
      if (typeof v === 'number' && Number.isFinite(v)) return;
      if (typeof v === 'string' && DECIMAL_RE.test(v)) return;
      if (
        name === 'scaledDecimal' &&
        isPlainObject(v) &&
        typeof v.scale === 'number' &&
        typeof v.value === 'string' &&
        DECIMAL_RE.test(v.value)
      )
        return;
      return push(out, 'value.type', p, `Expected a decimal number, got ${describe(v)}.`);
    case 'string':
      if (typeof v !== 'string') push(out, 'value.type', p, `Expected a string, got ${describe(v)}.`);
      return;
    case 'date': {
      const m = typeof v === 'string' ? DATE_RE.exec(v) : null;
      if (!m || !validDate(Number(m[1]), Number(m[2]), Number(m[3])))
        push(out, 'value.format', p, `Expected an ISO 8601 date (YYYY-MM-DD), got ${describe(v)}.`);
      return;
    }
    case 'time':
      if (typeof v !== 'string' || !TIME_RE.test(v))
        push(out, 'value.format', p, `Expected an ISO 8601 time (hh:mm:ss), got ${describe(v)}.`);
      return;
    case 'dateTime': {
      const m = typeof v === 'string' ? DATETIME_RE.exec(v) : null;
      if (!m || !validDate(Number(m[1]), Number(m[2]), Number(m[3])))
        push(out, 'value.format', p, `Expected an ISO 8601 / RFC 3339 date-time, got ${describe(v)}.`);
      return;
    }
    case 'duration':
      if (typeof v !== 'string' || !DURATION_RE.test(v))
        push(out, 'value.format', p, `Expected an ISO 8601 duration (e.g. PT5M), got ${describe(v)}.`);
      return;
    case 'uuid':
      if (typeof v !== 'string' || !UUID_RE.test(v))
        push(out, 'value.format', p, `Expected a UUID, got ${describe(v)}.`);
      return;
    case 'bytes':
      if (typeof v !== 'string' || !BASE64_RE.test(v))
        push(out, 'value.format', p, `Expected base64-encoded bytes, got ${describe(v)}.`);
      return;
    default: {
      const geo = GEO[name];
      if (!geo) return push(out, 'value.type', p, `Unknown schema "${String(name)}".`);
      if (!isPlainObject(v))
        return push(out, 'value.type', p, `Expected a GeoJSON ${geo.type} object, got ${describe(v)}.`);
      if (v.type !== geo.type) push(out, 'value.geo', `${p}/type`, `Expected "type": "${geo.type}".`);
      if (!geo.coords(v.coordinates))
        push(out, 'value.geo', `${p}/coordinates`, `"coordinates" are not valid for a GeoJSON ${geo.type}.`);
      return;
    }
  }
}

function check(schema: Schema, v: unknown, p: string, out: Out, depth: number): void {
  if (depth > 64) return push(out, 'value.depth', p, 'The value is nested too deeply.');
  switch (schema.kind) {
    case 'primitive':
      return checkPrimitive(schema.name, v, p, out);
    case 'enum': {
      const want = schema.valueSchema === 'integer' ? 'number' : 'string';
      if (typeof v !== want)
        return push(
          out,
          'value.type',
          p,
          `Expected an enum value (${schema.valueSchema}), got ${describe(v)}.`,
        );
      if (!schema.values.some((e) => e.value === v))
        push(
          out,
          'value.enum',
          p,
          `${JSON.stringify(v)} is not one of ${schema.values.map((e) => JSON.stringify(e.value)).join(', ')}.`,
        );
      return;
    }
    case 'array':
      if (!Array.isArray(v)) return push(out, 'value.type', p, `Expected an array, got ${describe(v)}.`);
      v.forEach((item, i) => check(schema.elementSchema, item, `${p}/${i}`, out, depth + 1));
      return;
    case 'map':
      if (!isPlainObject(v))
        return push(out, 'value.type', p, `Expected an object (map), got ${describe(v)}.`);
      for (const [k, item] of Object.entries(v))
        check(schema.value.schema, item, `${p}/${escapeSegment(k)}`, out, depth + 1);
      return;
    case 'object': {
      if (!isPlainObject(v)) return push(out, 'value.type', p, `Expected an object, got ${describe(v)}.`);
      const fields = new Map(schema.fields.map((f) => [f.name, f.schema]));
      for (const [k, item] of Object.entries(v)) {
        const fp = `${p}/${escapeSegment(k)}`;
        const fs = fields.get(k);
        if (!fs)
          push(
            out,
            'value.field.unknown',
            fp,
            `Unknown field "${k}" (known: ${[...fields.keys()].join(', ') || 'none'}).`,
          );
        else check(fs, item, fp, out, depth + 1);
      }
      return;
    }
  }
}

/** Every problem of `value` against `schema`; `pointer` locates the value in its document. Never throws. */
export function validateValue(schema: Schema, value: unknown, pointer: string): Problem[] {
  const out: Problem[] = [];
  try {
    check(schema, value, pointer, out, 0);
  } catch (e) {
    push(out, 'value.invalid', pointer, `The value could not be checked: ${(e as Error).message}`);
  }
  return out;
}
