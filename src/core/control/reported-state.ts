/**
 * Reads what a device reports on `twins/{id}/reported` (ReportedStateMessage, docs/control.md) and
 * checks it against the twin's model, all problems at once, each with a JSON pointer into the
 * message. The message is untrusted: UTF-8 and JSON are checked, `__proto__` / `constructor` /
 * `prototype` keys are refused at any depth, and its depth and size (members and array items
 * counted over the whole document) are bounded, so checking it costs at most `maxNodes` steps.
 *
 * Each member is a property of the twin's model (a component: an object of its properties):
 * - a writable property: the device's reported value (it applied the desired one, or did not);
 * - a read-only property: the device reports it, and it becomes the twin's value (a twin write);
 * - `$ack`: `{ version, code, description? }`, the desired version the device applied, with an
 *   HTTP-like code; it applies to the writable properties of the same message.
 * Anything else (an unknown property, a telemetry or command name, another `$` member, a value of
 * the wrong type) makes the whole message invalid. Pure.
 */
import type { Problem } from '../errors/errors.js';
import type { InterfaceInfo, ModelLookup, PropertyInfo } from '../models/model-types.js';
import { validateValue } from '../models/validate-value.js';
import { parseUntrustedJson } from '../json/untrusted-json.js';

export interface ReportedLimits {
  /** Deepest nesting (default 16: a property value rarely needs more than a few levels). */
  maxDepth: number;
  /** Most members and array items in the whole message (default 10,000). */
  maxNodes: number;
}

export const DEFAULT_REPORTED_LIMITS: ReportedLimits = { maxDepth: 16, maxNodes: 10_000 };

export interface ReportedAck {
  version: number;
  code: number;
  description?: string;
}

export type ReportedCheck =
  | {
      ok: true;
      /** Writable properties by key ("prop" or "comp/prop"): the reported values. */
      reported: Map<string, unknown>;
      /** Read-only properties by key: the values the twin takes. */
      readOnly: Map<string, unknown>;
      ack?: ReportedAck;
    }
  | { ok: false; code: 'BadRequest' | 'ValidationFailed'; reason: string; problems: Problem[] };

/**
 * Parses and checks one reported-state payload against the twin's model.
 * @example checkReported(Buffer.from('{"flowSetpoint":60,"$ack":{"version":4,"code":200}}'), iface, models)
 *   // → { ok: true, reported: Map { 'flowSetpoint' => 60 }, readOnly: Map {}, ack: { version: 4, code: 200 } }
 */
export function checkReported(
  payload: Uint8Array,
  iface: InterfaceInfo,
  models: ModelLookup,
  limits: ReportedLimits = DEFAULT_REPORTED_LIMITS,
): ReportedCheck {
  const parsed = parseUntrustedJson(payload, { maxDepth: limits.maxDepth, what: 'The reported state' });
  if (!parsed.ok)
    return { ok: false, code: 'BadRequest', reason: parsed.problem.message, problems: [parsed.problem] };
  const msg = parsed.value;
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
    const problem = {
      code: 'reported.notObject',
      message: 'The reported state must be a JSON object of property values.',
      pointer: '',
    };
    return { ok: false, code: 'BadRequest', reason: problem.message, problems: [problem] };
  }
  const nodes = countNodes(msg, limits.maxNodes);
  if (nodes > limits.maxNodes) {
    const problem = {
      code: 'reported.tooLarge',
      message: `The reported state has more than ${limits.maxNodes} members and items.`,
      pointer: '',
    };
    return { ok: false, code: 'BadRequest', reason: problem.message, problems: [problem] };
  }
  const problems: Problem[] = [];
  const reported = new Map<string, unknown>();
  const readOnly = new Map<string, unknown>();
  let ack: ReportedAck | undefined;
  const take = (p: PropertyInfo, key: string, value: unknown, pointer: string): void => {
    const found = validateValue(p.schema, value, pointer);
    if (found.length) problems.push(...found);
    else (p.writable ? reported : readOnly).set(key, value);
  };
  for (const [name, value] of Object.entries(msg as Record<string, unknown>)) {
    const pointer = `/${escape(name)}`;
    if (name === '$ack') {
      ack = checkAck(value, problems);
      continue;
    }
    const c = name.startsWith('$') ? undefined : iface.contents.get(name);
    if (c?.kind === 'Property') take(c, name, value, pointer);
    else if (c?.kind === 'Component') {
      const comp = models.getInterface(c.schema);
      if (typeof value !== 'object' || value === null || Array.isArray(value) || !comp) {
        problems.push({
          code: 'reported.component',
          message: `'${name}' is a component: report an object of its properties.`,
          pointer,
        });
        continue;
      }
      for (const [pn, pv] of Object.entries(value as Record<string, unknown>)) {
        const cc = comp.contents.get(pn);
        const pp = `${pointer}/${escape(pn)}`;
        if (cc?.kind === 'Property') take(cc, `${name}/${pn}`, pv, pp);
        else problems.push(unknownMember(`${name}.${pn}`, comp.id, pp, cc?.kind));
      }
    } else problems.push(unknownMember(name, iface.id, pointer, c?.kind));
  }
  if (ack && reported.size === 0)
    problems.push({
      code: 'reported.ack.alone',
      message: '$ack acknowledges the writable properties reported with it: this message reports none.',
      pointer: '/$ack',
    });
  if (problems.length) {
    const first = problems[0]!;
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    return {
      ok: false,
      code: 'ValidationFailed',
      reason: `The reported state is not valid for ${iface.id}: ${first.pointer ?? ''}: ${first.message}${more}`,
      problems,
    };
  }
  return ack ? { ok: true, reported, readOnly, ack } : { ok: true, reported, readOnly };
}

function unknownMember(name: string, modelId: string, pointer: string, kind?: string): Problem {
  return {
    code: 'reported.property.unknown',
    message: kind
      ? `'${name}' is a ${kind} of ${modelId}, not a property: it cannot be reported.`
      : `${modelId} has no property '${name}'.`,
    pointer,
  };
}

function checkAck(v: unknown, problems: Problem[]): ReportedAck | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    problems.push({
      code: 'reported.ack',
      message: '$ack must be an object { version, code, description? }.',
      pointer: '/$ack',
    });
    return undefined;
  }
  const a = v as Record<string, unknown>;
  const before = problems.length;
  for (const k of Object.keys(a))
    if (k !== 'version' && k !== 'code' && k !== 'description')
      problems.push({
        code: 'reported.ack',
        message: `Unknown $ack member '${k}'.`,
        pointer: `/$ack/${escape(k)}`,
      });
  if (!Number.isSafeInteger(a.version) || (a.version as number) < 0)
    problems.push({
      code: 'reported.ack',
      message: '$ack.version must be the desired version applied (an integer ≥ 0).',
      pointer: '/$ack/version',
    });
  if (!Number.isInteger(a.code) || (a.code as number) < 100 || (a.code as number) > 599)
    problems.push({
      code: 'reported.ack',
      message: '$ack.code must be an HTTP-like status code (100 to 599).',
      pointer: '/$ack/code',
    });
  if (a.description !== undefined && (typeof a.description !== 'string' || a.description.length > 1024))
    problems.push({
      code: 'reported.ack',
      message: '$ack.description must be a string of at most 1024 characters.',
      pointer: '/$ack/description',
    });
  if (problems.length > before) return undefined;
  const ack: ReportedAck = { version: a.version as number, code: a.code as number };
  if (typeof a.description === 'string') ack.description = a.description;
  return ack;
}

/** Members and array items of a value, counted without recursion; stops once past `limit`. */
function countNodes(value: unknown, limit: number): number {
  let n = 0;
  const stack: unknown[] = [value];
  while (stack.length && n <= limit) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    const items = Array.isArray(v) ? v : Object.values(v as Record<string, unknown>);
    n += items.length;
    for (const x of items) if (typeof x === 'object' && x !== null) stack.push(x);
  }
  return n;
}

function escape(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}
