/**
 * The mapping of a history import: how a delimited file's columns become twins, times and
 * telemetry (docs/history-import.md). Given as YAML or JSON (a file for the CLI, an object in the
 * job's body), checked here all at once — every problem with its JSON pointer — and then bound to
 * the file's columns (by header names, the mapping's `columns`, or positions "1", "2", …).
 *
 * @example
 * const m = parseHistoryMapping({ delimiter: 'whitespace', header: false, columns: ['unit', 'cycle', 's1'],
 *   twin: { template: 'engine-{unit}' }, time: { column: 'cycle', format: 'cycle', origin: '2020-01-01T00:00:00Z', stepSeconds: 3600 } });
 */
import { TwinloopError, errors, quote, type Problem } from '../errors/errors.js';
import { checkUntrustedValue } from '../json/untrusted-json.js';
import type { Delimiter, TextEncodingName } from './delimited-text.js';

export type TimeFormat = 'iso' | 'epoch-s' | 'epoch-ms' | 'cycle';

export interface HistoryMapping {
  delimiter: Delimiter;
  /** The first row names the columns. */
  header: boolean;
  /** Column names in file order (when the file has no header, or to rename its header). */
  columns?: string[];
  encoding: TextEncodingName;
  comment?: string;
  /** The twin id of a row: a template of column names in braces, e.g. "engine-{unit}". */
  twin: { template: string };
  time: {
    column: string;
    format: TimeFormat;
    /** cycle: the time of cycle 0, ms since epoch. */
    origin?: number;
    /** cycle: seconds of platform time per cycle. */
    stepSeconds?: number;
  };
  /** Column → telemetry path ("name" or "component/name"); absent: every other column, by its name. */
  telemetry?: Record<string, string>;
  /** Columns left out (with `telemetry` absent). */
  skip: string[];
  /** Missing twins are created from this model (through the twin service), with these properties from columns. */
  createTwins?: { model: string; properties: Record<string, string> };
}

export const DELIMITERS: readonly string[] = [',', ';', '\t', 'whitespace', 'tab'];
const TIME_FORMATS: readonly TimeFormat[] = ['iso', 'epoch-s', 'epoch-ms', 'cycle'];
const KEYS = [
  'delimiter',
  'header',
  'columns',
  'encoding',
  'comment',
  'twin',
  'time',
  'telemetry',
  'skip',
  'createTwins',
];
// eslint-disable-next-line no-control-regex
const NAME = /^[^{}\u0000-\u001f]{1,128}$/;
const PATH = /^[A-Za-z][A-Za-z0-9_]{0,63}(\/[A-Za-z][A-Za-z0-9_]{0,63})?$/;
/** Most columns a mapping names (a bound on the work of one row). */
export const MAX_COLUMNS = 4096;

/**
 * Checks an untrusted mapping object. @throws ValidationFailed with every problem (pointer into it)
 */
export function parseHistoryMapping(raw: unknown): HistoryMapping {
  const problems: Problem[] = [];
  const bad = (pointer: string, message: string) =>
    problems.push({ code: 'mapping.invalid', pointer, message });
  const hostile = checkUntrustedValue(raw, { maxDepth: 8, what: 'The mapping' });
  if (hostile) throw errors.validation('ValidationFailed', 'The mapping is not valid.', [hostile]);
  if (!isObject(raw)) {
    throw errors.validation('ValidationFailed', 'The mapping is not valid.', [
      { code: 'mapping.invalid', pointer: '', message: 'The mapping must be an object.' },
    ]);
  }
  for (const k of Object.keys(raw)) if (!KEYS.includes(k)) bad(`/${k}`, `Unknown key '${quote(k, 40)}'.`);

  let delimiter: Delimiter = ',';
  if (raw.delimiter !== undefined) {
    if (typeof raw.delimiter !== 'string' || !DELIMITERS.includes(raw.delimiter))
      bad('/delimiter', `delimiter is one of ",", ";", "\\t" (or "tab"), "whitespace".`);
    else delimiter = raw.delimiter === 'tab' ? '\t' : (raw.delimiter as Delimiter);
  }
  let header = true;
  if (raw.header !== undefined) {
    if (typeof raw.header !== 'boolean') bad('/header', 'header is true or false.');
    else header = raw.header;
  }
  let columns: string[] | undefined;
  if (raw.columns !== undefined) {
    columns = names(raw.columns, '/columns', bad);
    if (columns && new Set(columns).size !== columns.length) bad('/columns', 'Column names repeat.');
  }
  let encoding: TextEncodingName = 'utf-8';
  if (raw.encoding !== undefined) {
    const e = typeof raw.encoding === 'string' ? raw.encoding.toLowerCase() : undefined;
    if (e === 'utf-8' || e === 'utf8') encoding = 'utf-8';
    else if (e === 'latin1' || e === 'iso-8859-1') encoding = 'latin1';
    else bad('/encoding', 'encoding is "utf-8" or "latin1".');
  }
  let comment: string | undefined;
  if (raw.comment !== undefined) {
    if (typeof raw.comment !== 'string' || raw.comment.length < 1 || raw.comment.length > 8)
      bad('/comment', 'comment is a prefix of 1 to 8 characters, e.g. "#".');
    else comment = raw.comment;
  }

  let template = '';
  if (!isObject(raw.twin))
    bad('/twin', 'twin is required: { template: "engine-{unit}" } or { column: "unit" }.');
  else {
    const t = raw.twin;
    for (const k of Object.keys(t))
      if (k !== 'template' && k !== 'column' && k !== 'prefix')
        bad(`/twin/${k}`, `Unknown key '${quote(k, 40)}'.`);
    if (t.template !== undefined) {
      if (typeof t.template !== 'string' || t.template.length > 256 || !/\{[^{}]+\}/.test(t.template))
        bad(
          '/twin/template',
          'template is a string naming at least one column in braces, e.g. "engine-{unit}".',
        );
      else template = t.template;
    } else if (typeof t.column === 'string' && NAME.test(t.column)) {
      const prefix = typeof t.prefix === 'string' ? t.prefix : '';
      if (
        t.prefix !== undefined &&
        (typeof t.prefix !== 'string' || t.prefix.length > 128 || /[{}]/.test(t.prefix))
      )
        bad('/twin/prefix', 'prefix is a string of at most 128 characters without braces.');
      template = `${prefix}{${t.column}}`;
    } else bad('/twin', 'twin needs "template" or "column".');
  }

  let time: HistoryMapping['time'] | undefined;
  if (!isObject(raw.time))
    bad('/time', 'time is required: { column, format: iso | epoch-s | epoch-ms | cycle }.');
  else {
    const t = raw.time;
    for (const k of Object.keys(t))
      if (!['column', 'format', 'origin', 'stepSeconds'].includes(k))
        bad(`/time/${k}`, `Unknown key '${quote(k, 40)}'.`);
    const format = (t.format ?? 'iso') as TimeFormat;
    if (!TIME_FORMATS.includes(format)) bad('/time/format', 'format is iso, epoch-s, epoch-ms or cycle.');
    if (typeof t.column !== 'string' || !NAME.test(t.column))
      bad('/time/column', 'column names the time column.');
    else {
      time = { column: t.column, format };
      if (format === 'cycle') {
        const origin = typeof t.origin === 'string' ? parseIsoTime(t.origin) : undefined;
        if (origin === undefined)
          bad('/time/origin', 'origin is the ISO 8601 time of cycle 0, e.g. "2020-01-01T00:00:00Z".');
        else time.origin = origin;
        if (typeof t.stepSeconds !== 'number' || !(t.stepSeconds > 0) || t.stepSeconds > 366 * 86_400)
          bad('/time/stepSeconds', 'stepSeconds is the seconds of one cycle (> 0, at most a year).');
        else time.stepSeconds = t.stepSeconds;
      } else if (t.origin !== undefined || t.stepSeconds !== undefined) {
        bad('/time', 'origin and stepSeconds belong to format: cycle.');
      }
    }
  }

  let telemetry: Record<string, string> | undefined;
  if (raw.telemetry !== undefined) {
    if (!isObject(raw.telemetry)) bad('/telemetry', 'telemetry maps column names to telemetry names.');
    else {
      telemetry = Object.create(null) as Record<string, string>;
      const entries = Object.entries(raw.telemetry);
      if (entries.length === 0 || entries.length > MAX_COLUMNS)
        bad('/telemetry', `telemetry maps 1 to ${MAX_COLUMNS} columns.`);
      for (const [col, target] of entries) {
        const p = `/telemetry/${pointerToken(col)}`;
        if (!NAME.test(col))
          bad(p, 'A column name is 1 to 128 characters without braces or control characters.');
        const path = target === true ? col : target;
        if (typeof path !== 'string' || !PATH.test(path))
          bad(p, 'A telemetry is "name" or "component/name" (DTDL names).');
        else telemetry[col] = path;
      }
    }
  }
  const skip = raw.skip === undefined ? [] : (names(raw.skip, '/skip', bad) ?? []);

  let createTwins: HistoryMapping['createTwins'];
  if (raw.createTwins !== undefined) {
    const c = raw.createTwins;
    if (!isObject(c) || typeof c.model !== 'string' || !/^dtmi:[^\s]{1,2000}$/.test(c.model))
      bad('/createTwins', 'createTwins is { model: "dtmi:…;1", properties?: { property: column } }.');
    else {
      const properties = Object.create(null) as Record<string, string>;
      if (c.properties !== undefined) {
        if (!isObject(c.properties))
          bad('/createTwins/properties', 'properties maps property names to columns.');
        else
          for (const [prop, col] of Object.entries(c.properties)) {
            if (!PATH.test(prop) || prop.includes('/') || typeof col !== 'string' || !NAME.test(col))
              bad(`/createTwins/properties/${pointerToken(prop)}`, 'A property name maps to a column name.');
            else properties[prop] = col;
          }
      }
      for (const k of Object.keys(c))
        if (k !== 'model' && k !== 'properties') bad(`/createTwins/${k}`, `Unknown key '${quote(k, 40)}'.`);
      createTwins = { model: c.model, properties };
    }
  }
  if (!header && !columns) {
    // Without names columns are "1", "2", …: every name used must then be a position.
    const used = [...placeholders(template), time?.column ?? '', ...Object.keys(telemetry ?? {}), ...skip];
    for (const u of used)
      if (u !== '' && !/^[1-9]\d{0,3}$/.test(u))
        bad(
          '/columns',
          `The file has no header and the mapping names no columns, so '${quote(u, 40)}' must be a column position (1, 2, …).`,
        );
  }
  if (problems.length || !time)
    throw errors.validation('ValidationFailed', 'The mapping is not valid.', problems);
  const m: HistoryMapping = { delimiter, header, encoding, twin: { template }, time, skip };
  if (columns) m.columns = columns;
  if (comment !== undefined) m.comment = comment;
  if (telemetry) m.telemetry = telemetry;
  if (createTwins) m.createTwins = createTwins;
  return m;
}

/** A column a row's value comes from, and where it goes. */
export interface BoundTelemetry {
  index: number;
  column: string;
  /** "name" or "component/name". */
  path: string;
  component?: string;
  name: string;
}

/** The mapping bound to the file's columns. */
export interface BoundMapping {
  /** Field count every row must have. */
  width: number;
  names: string[];
  /** Literal text and column indexes of the twin id template, alternating. */
  twinParts: (string | number)[];
  timeIndex: number;
  telemetry: BoundTelemetry[];
  properties: { name: string; index: number }[];
}

/**
 * Binds the mapping to a file's column names (the header row, the mapping's columns, or positions
 * when `width` fields and no names). @throws ValidationFailed naming each column that is not there
 */
export function bindMapping(m: HistoryMapping, header: string[] | undefined, width: number): BoundMapping {
  const names =
    m.columns ?? header?.map((h) => h.trim()) ?? Array.from({ length: width }, (_, i) => String(i + 1));
  if (names.length > MAX_COLUMNS)
    throw new TwinloopError(
      'ValidationFailed',
      `The file has ${names.length} columns; at most ${MAX_COLUMNS} are read.`,
    );
  const problems: Problem[] = [];
  const index = (col: string, pointer: string): number => {
    let i = names.indexOf(col);
    if (i === -1 && /^[1-9]\d{0,3}$/.test(col) && Number(col) <= names.length) i = Number(col) - 1;
    if (i === -1)
      problems.push({
        code: 'mapping.column',
        pointer,
        message: `There is no column '${quote(col, 60)}' in the file (its columns: ${names
          .slice(0, 30)
          .map((n) => quote(n, 30))
          .join(', ')}${names.length > 30 ? ', …' : ''}).`,
      });
    return i;
  };
  const twinParts: (string | number)[] = [];
  let last = 0;
  for (const match of m.twin.template.matchAll(/\{([^{}]+)\}/g)) {
    twinParts.push(m.twin.template.slice(last, match.index));
    twinParts.push(index(match[1]!, '/twin/template'));
    last = match.index + match[0].length;
  }
  twinParts.push(m.twin.template.slice(last));
  const timeIndex = index(m.time.column, '/time/column');
  const used = new Set<number>([timeIndex, ...twinParts.filter((p): p is number => typeof p === 'number')]);
  const telemetry: BoundTelemetry[] = [];
  const add = (column: string, path: string, i: number) => {
    const slash = path.indexOf('/');
    const t: BoundTelemetry = { index: i, column, path, name: slash === -1 ? path : path.slice(slash + 1) };
    if (slash !== -1) t.component = path.slice(0, slash);
    telemetry.push(t);
  };
  if (m.telemetry) {
    for (const [col, path] of Object.entries(m.telemetry)) {
      const i = index(col, `/telemetry/${pointerToken(col)}`);
      if (i !== -1) add(col, path, i);
    }
  } else {
    const skip = new Set(m.skip.map((s) => index(s, '/skip')));
    names.forEach((n, i) => {
      if (used.has(i) || skip.has(i)) return;
      if (!PATH.test(n)) {
        problems.push({
          code: 'mapping.column',
          pointer: '/telemetry',
          message: `Column ${i + 1} '${quote(n, 40)}' is not a DTDL name: map it in "telemetry" or list it in "skip".`,
        });
        return;
      }
      add(n, n, i);
    });
  }
  if (telemetry.length === 0 && problems.length === 0)
    problems.push({
      code: 'mapping.column',
      pointer: '/telemetry',
      message: 'No column maps to a telemetry.',
    });
  const properties = Object.entries(m.createTwins?.properties ?? {}).map(([name, col]) => ({
    name,
    index: index(col, `/createTwins/properties/${pointerToken(name)}`),
  }));
  if (problems.length)
    throw errors.validation('ValidationFailed', 'The mapping does not fit the file.', problems);
  return { width: names.length, names, twinParts, timeIndex, telemetry, properties };
}

/** ms since epoch of an ISO 8601 date-time; one without an offset is UTC. Undefined when not one. */
export function parseIsoTime(s: string): number | undefined {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(
      s.trim(),
    );
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac, zone] = m;
  const ms = frac ? Math.round(Number(`0${frac}`) * 1000) : 0;
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), ms);
  // Date.UTC rolls over (Feb 30 → Mar 2): a date that does not round-trip is not a date.
  const back = new Date(t);
  if (
    back.getUTCFullYear() !== Number(y) ||
    back.getUTCMonth() !== Number(mo) - 1 ||
    back.getUTCDate() !== Number(d) ||
    Number(h) > 23 ||
    Number(mi) > 59 ||
    Number(sec) > 59
  )
    return undefined;
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  return t;
}

/** The column names in braces of a twin id template. */
export function placeholders(template: string): string[] {
  return [...template.matchAll(/\{([^{}]+)\}/g)].map((m) => m[1]!);
}

function names(v: unknown, pointer: string, bad: (p: string, m: string) => void): string[] | undefined {
  if (!Array.isArray(v) || v.length > MAX_COLUMNS) {
    bad(pointer, `A list of at most ${MAX_COLUMNS} column names.`);
    return undefined;
  }
  const out: string[] = [];
  v.forEach((n, i) => {
    if (typeof n === 'number' && Number.isInteger(n) && n > 0) out.push(String(n));
    else if (typeof n !== 'string' || !NAME.test(n))
      bad(`${pointer}/${i}`, 'A column name is 1 to 128 characters without braces or control characters.');
    else out.push(n);
  });
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function pointerToken(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}
