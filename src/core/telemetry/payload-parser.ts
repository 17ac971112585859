/**
 * Turns raw telemetry payloads into reading sets, before any model is consulted. Two forms:
 * - a message (MQTT, HTTP single): one object `{"$ts"?: ..., "temperature": 21.5}` or an array of them;
 *   the twin and component come from the topic or URL;
 * - NDJSON (HTTP bulk): one object per line, each naming its twin with `$dtId` (and `$component`).
 * `$ts` is the source time: an RFC 3339 string with a zone (`2026-11-24T10:00:00Z`) or a number of
 * milliseconds since the epoch; without it the receive time is used.
 *
 * Never throws: every problem comes back with where it is (JSON pointer, and line:column for syntax).
 * Keys `__proto__`, `constructor` and `prototype` are refused (json.key.forbidden, with the pointer):
 * copied into a reading set they would swap its prototype and the message would be acknowledged
 * with zero readings instead of being dead-lettered.
 */
import type { Problem } from '../errors/errors.js';
import { JSON_PROBLEM, decodeUtf8, parseUntrustedJson } from '../json/untrusted-json.js';
import { MAX_VALUES_JSON, MAX_VALUES_JSON_PER_VALUE, type ReadingSet } from './telemetry-types.js';

export type PayloadParseResult = { ok: true; readings: ReadingSet[] } | { ok: false; problems: Problem[] };

export interface MessageParseContext {
  twinId: string;
  component?: string;
  /** Used as the time of reading sets without `$ts`. */
  receivedAt: number;
}

/** One NDJSON line's outcome; `text` is the line as received (for its dead letter). */
export interface NdjsonLineResult {
  /** 1-based line number in the payload. */
  line: number;
  text: string;
  result: PayloadParseResult;
}

const MAX_TIME = 8.64e15; // the ECMAScript Date range
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Parses one telemetry message (object or array of objects).
 *
 * @example
 * parseTelemetryPayload(Buffer.from('{"temperature":21.5}'), { twinId: 'pump-1', receivedAt: Date.now() });
 * // → { ok: true, readings: [{ twinId: 'pump-1', time: <receivedAt>, values: { temperature: 21.5 } }] }
 */
export function parseTelemetryPayload(
  payload: Uint8Array | string,
  ctx: MessageParseContext,
): PayloadParseResult {
  const decoded = decode(payload);
  if (typeof decoded !== 'string') return { ok: false, problems: [decoded] };
  const json = parseJson(decoded, 0);
  if (!json.ok) return { ok: false, problems: [json.problem] };
  const problems: Problem[] = [];
  const readings: ReadingSet[] = [];
  const doc = json.value;
  if (Array.isArray(doc)) {
    if (doc.length === 0) problems.push(problem('payload.empty', 'The array holds no reading sets.', ''));
    doc.forEach((item, i) => {
      const rs = readingSet(item, `/${i}`, ctx.twinId, ctx.component, ctx.receivedAt, false, problems);
      if (rs) readings.push(rs);
    });
  } else {
    const rs = readingSet(doc, '', ctx.twinId, ctx.component, ctx.receivedAt, false, problems, decoded);
    if (rs) readings.push(rs);
  }
  return problems.length ? { ok: false, problems } : { ok: true, readings };
}

/**
 * Parses NDJSON: one reading set per non-blank line, each with `$dtId` (unless `defaults.twinId`
 * is given, e.g. by the URL) and optionally `$component`. Problems carry the line number.
 */
export function parseNdjsonPayload(
  payload: Uint8Array | string,
  defaults: { receivedAt: number; twinId?: string; component?: string },
): NdjsonLineResult[] {
  const decoded = decode(payload);
  if (typeof decoded !== 'string') {
    return [{ line: 1, text: '', result: { ok: false, problems: [{ ...decoded, line: 1 }] } }];
  }
  const out: NdjsonLineResult[] = [];
  const lines = decoded.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
    if (text.trim() === '') continue;
    const line = i + 1;
    const json = parseJson(text, i);
    if (!json.ok) {
      out.push({ line, text, result: { ok: false, problems: [{ ...json.problem, line }] } });
      continue;
    }
    const problems: Problem[] = [];
    const rs = readingSet(
      json.value,
      '',
      defaults.twinId,
      defaults.component,
      defaults.receivedAt,
      true,
      problems,
    );
    for (const p of problems) p.line = line;
    out.push({
      line,
      text,
      result: rs && !problems.length ? { ok: true, readings: [rs] } : { ok: false, problems },
    });
  }
  return out;
}

/** Escapes one reference token of a JSON pointer (RFC 6901). */
export function pointerToken(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function decode(payload: Uint8Array | string): string | Problem {
  if (typeof payload === 'string') return payload;
  const text = decodeUtf8(payload);
  if (typeof text === 'string') return text;
  return problem(
    'payload.encoding',
    `The payload is not valid UTF-8 text (bad byte at offset ${text.badByteOffset}).`,
    '',
  );
}

/**
 * The one untrusted-JSON parser (src/core/json): syntax errors with line:column, and refusals of
 * `__proto__`-family keys, nesting deeper than 128 and non-finite numbers, each with its pointer.
 */
function parseJson(
  text: string,
  lineOffset: number,
): { ok: true; value: unknown } | { ok: false; problem: Problem } {
  const r = parseUntrustedJson(text, { what: 'The payload' });
  if (r.ok) return r;
  const p = r.problem;
  if (p.code !== JSON_PROBLEM.syntax) return r;
  const line = (p.line ?? 1) + lineOffset;
  const where = p.line === undefined ? '' : ` at ${line}:${p.column ?? 1}`;
  const what = p.message.replace(/^Malformed JSON(?: at \d+:\d+)?: /, '');
  return {
    ok: false,
    problem: {
      code: 'payload.json',
      message: `Malformed JSON${where}: ${what}`,
      ...(p.line === undefined ? {} : { line, column: p.column ?? 1 }),
    },
  };
}

function readingSet(
  item: unknown,
  pointer: string,
  twinId: string | undefined,
  component: string | undefined,
  receivedAt: number,
  bulk: boolean,
  problems: Problem[],
  /** The payload's text when `item` is the whole payload (kept as ReadingSet.json when it can be). */
  text?: string,
): ReadingSet | undefined {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    problems.push(
      problem('payload.shape', 'A reading set must be a JSON object of telemetry names to values.', pointer),
    );
    return undefined;
  }
  const before = problems.length;
  let time = receivedAt;
  let sourceTime = false;
  let dtId = twinId;
  let comp = component;
  const values: Record<string, unknown> = {};
  let count = 0;
  /** A `$` key other than `$ts` (the live stream's writer knows how to leave `$ts` out of the text). */
  let reserved = false;
  for (const [key, value] of Object.entries(item)) {
    if (key.charCodeAt(0) === 36 /* $ */) {
      if (key !== '$ts') reserved = true;
      // The pointer is built only here: the hot path (plain telemetry names) never needs it.
      const at = `${pointer}/${pointerToken(key)}`;
      if (key === '$ts') {
        const t = parseTime(value);
        if (t === undefined) {
          problems.push(
            problem(
              'payload.time',
              '$ts must be an RFC 3339 date-time with a zone or a number of ms since the epoch.',
              at,
            ),
          );
        } else {
          time = t;
          sourceTime = true;
        }
      } else if (bulk && key === '$dtId') {
        if (typeof value !== 'string' || value === '')
          problems.push(problem('payload.twinId', '$dtId must be a non-empty string.', at));
        else dtId = value;
      } else if (bulk && key === '$component') {
        if (typeof value !== 'string' || value === '')
          problems.push(problem('payload.component', '$component must be a non-empty string.', at));
        else comp = value;
      } else {
        const allowed = bulk ? '$ts, $dtId, $component' : '$ts';
        problems.push(
          problem('payload.reserved', `Unknown reserved key '${key}' (allowed here: ${allowed}).`, at),
        );
      }
      continue;
    }
    values[key] = value;
    count++;
  }
  if (dtId === undefined && problems.length === before) {
    problems.push(problem('payload.twinId', 'The line names no twin: add "$dtId".', pointer));
  }
  if (count === 0 && problems.length === before) {
    problems.push(problem('payload.empty', 'The reading set holds no telemetry values.', pointer));
  }
  if (problems.length !== before || dtId === undefined) return undefined;
  const rs: ReadingSet = { twinId: dtId, time, values };
  if (comp !== undefined) rs.component = comp;
  if (sourceTime) rs.sourceTime = true;
  // `{` first: no BOM or leading space (the text is the object and nothing else).
  if (
    text !== undefined &&
    !reserved &&
    text.length <= MAX_VALUES_JSON &&
    text.length <= MAX_VALUES_JSON_PER_VALUE * (count + (sourceTime ? 1 : 0)) &&
    text.charCodeAt(0) === 0x7b
  )
    rs.json = text;
  return rs;
}

/** A `$ts` value: RFC 3339 with a zone, or ms since the epoch; undefined when it is neither. */
export function parseTime(value: unknown): number | undefined {
  if (typeof value === 'number') {
    return Number.isFinite(value) && Math.abs(value) <= MAX_TIME ? Math.trunc(value) : undefined;
  }
  if (typeof value === 'string' && RFC3339.test(value)) {
    const t = Date.parse(value);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

function problem(code: string, message: string, pointer: string): Problem {
  return { code, message, pointer };
}
