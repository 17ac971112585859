/**
 * Telemetry bodies as ADT's routes take them (`POST /digitaltwins/{id}/telemetry`): ADT answers 204
 * to any JSON body and does not check it against the model, and the SDK's own samples send the
 * payload as a JSON *string* that holds the JSON object. So, unlike MQTT's strict reading:
 *
 * - a body that is a JSON string is parsed once more (once: a string inside the string is not);
 * - what cannot be a reading (a member that is not an object, a `$` key other than `$ts`, a bad
 *   `$ts`, a string that holds no JSON) is not an error of the request: it is returned in `dropped`
 *   with its pointer, for the ingest service to keep as a dead letter, and the rest is stored.
 *
 * Still refused as a whole (400, dead-lettered): bytes that are not UTF-8 or not JSON, and JSON the
 * untrusted-JSON rules refuse (forbidden keys, nesting too deep, non-finite numbers), in the body or
 * in the string it holds.
 */
import type { Problem } from '../errors/errors.js';
import { JSON_PROBLEM, decodeUtf8, parseUntrustedJson } from '../json/untrusted-json.js';
import { parseTime, pointerToken } from './payload-parser.js';
import { checkReadingSet, type IngestWorkspace, type ReadingFailureCode } from './reading-validator.js';
import type { IncomingMessage, ReadingSet } from './telemetry-types.js';

export type AdtPayloadResult =
  | { ok: false; problems: Problem[] }
  | {
      ok: true;
      readings: ReadingSet[];
      dropped: Problem[];
      /** The body was a JSON string holding the JSON read. */
      unwrapped: boolean;
      /** Where each reading set is in the JSON read ("" or "/3"), for the problems' pointers. */
      pointers: string[];
    };

export interface AdtPayloadContext {
  twinId: string;
  component?: string;
  receivedAt: number;
  /** The transport vouches for the time (Telemetry-Source-Time with a Message-Id): store at most once. */
  once?: boolean;
}

/**
 * @example
 * parseAdtTelemetry(Buffer.from('"{\\"temperature\\": 21}"'), { twinId: 'r1', receivedAt: Date.now() });
 * // → { ok: true, unwrapped: true, dropped: [], readings: [{ twinId: 'r1', time, values: { temperature: 21 } }] }
 */
export function parseAdtTelemetry(payload: Uint8Array, ctx: AdtPayloadContext): AdtPayloadResult {
  const text = decodeUtf8(payload);
  if (typeof text !== 'string') {
    return fail(
      'payload.encoding',
      `The payload is not valid UTF-8 text (bad byte at offset ${text.badByteOffset}).`,
    );
  }
  const outer = parseUntrustedJson(text, { what: 'The payload' });
  if (!outer.ok) return { ok: false, problems: [outer.problem] };
  const dropped: Problem[] = [];
  let doc = outer.value;
  let unwrapped = false;
  if (typeof doc === 'string') {
    const inner = parseUntrustedJson(doc, {
      what: 'The JSON string of the payload',
      source: 'payload string',
    });
    if (inner.ok) {
      doc = inner.value;
      unwrapped = true;
    } else if (inner.problem.code !== JSON_PROBLEM.syntax) {
      return { ok: false, problems: [inner.problem] };
    } else {
      dropped.push(problem('payload.shape', 'The payload is a JSON string that holds no JSON object.', ''));
      return { ok: true, readings: [], dropped, unwrapped, pointers: [] };
    }
  }
  const many = Array.isArray(doc);
  const items: unknown[] = many ? (doc as unknown[]) : [doc];
  const readings: ReadingSet[] = [];
  const pointers: string[] = [];
  items.forEach((item, i) => {
    const at = many ? `/${i}` : '';
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      dropped.push(
        problem('payload.shape', 'A reading set must be a JSON object of telemetry names to values.', at),
      );
      return;
    }
    const rs: ReadingSet = { twinId: ctx.twinId, time: ctx.receivedAt, values: {} };
    if (ctx.component !== undefined) rs.component = ctx.component;
    if (ctx.once) rs.sourceTime = true;
    for (const [key, value] of Object.entries(item)) {
      if (key.charCodeAt(0) !== 36 /* $ */) {
        rs.values[key] = value;
        continue;
      }
      const ptr = `${at}/${pointerToken(key)}`;
      if (key !== '$ts') {
        dropped.push(problem('payload.reserved', `Unknown reserved key '${key}' (only $ts is read).`, ptr));
        continue;
      }
      const t = parseTime(value);
      if (t === undefined) {
        dropped.push(
          problem(
            'payload.time',
            '$ts must be an RFC 3339 date-time with a zone or a number of ms since the epoch; the receive time was used.',
            ptr,
          ),
        );
      } else {
        rs.time = t;
        rs.sourceTime = true;
      }
    }
    if (Object.keys(rs.values).length) {
      readings.push(rs);
      pointers.push(at);
    }
  });
  return { ok: true, readings, dropped, unwrapped, pointers };
}

/**
 * Checks ADT reading sets against the model value by value: the values that fit are accepted, the
 * others are returned as `dropped` problems. Only an unknown twin or component refuses the message
 * (checked even when no reading set is left: ADT answers 404 for them).
 */
export function checkAdtReadings(
  readings: readonly ReadingSet[],
  pointers: readonly string[],
  ws: IngestWorkspace,
  msg: Pick<IncomingMessage, 'twinId' | 'component' | 'modelId'>,
):
  | { ok: true; accepted: { rs: ReadingSet; values: Record<string, unknown> }[]; dropped: Problem[] }
  | { ok: false; code: ReadingFailureCode; reason: string; problems: Problem[] } {
  const probe: ReadingSet = { twinId: msg.twinId ?? '', time: 0, values: {} };
  if (msg.component !== undefined) probe.component = msg.component;
  const target = checkReadingSet(probe, ws, '');
  if (!target.ok && target.code !== 'InvalidTelemetry') return target;
  const accepted: { rs: ReadingSet; values: Record<string, unknown> }[] = [];
  const dropped: Problem[] = [];
  readings.forEach((rs, i) => {
    const check = checkReadingSet(rs, ws, pointers[i] ?? '', msg.modelId);
    if (!check.ok) dropped.push(...check.problems);
    if (check.values && Object.keys(check.values).length) accepted.push({ rs, values: check.values });
  });
  return { ok: true, accepted, dropped };
}

function problem(code: string, message: string, pointer: string): Problem {
  return { code, message, pointer };
}

function fail(code: string, message: string): AdtPayloadResult {
  return { ok: false, problems: [problem(code, message, '')] };
}
