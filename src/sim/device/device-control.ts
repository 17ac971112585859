/**
 * The device side of the control contract (core/control/device-topics.ts, docs/control.md), as the
 * simulator plays it: what a simulated device answers to a command and to a desired-state document.
 * No I/O: each call gets the raw (untrusted) message and returns what to publish, if anything.
 *
 * - A command is applied once (through `apply`) and answered `{ requestId, status, response }` on
 *   its response topic (MQTT 5 Response Topic, else the message's `responseTopic`, else the
 *   standard one), echoing the MQTT 5 Correlation Data: 200 with the response payload, 400 with
 *   `{ error }` when the device refuses it. A request id answered before is answered again with the
 *   same answer and not applied twice (the last `rememberedRequests` ids per twin are kept).
 * - Bad input (too large, not UTF-8, malformed JSON, `__proto__` keys, no request id) is answered
 *   400 when the answer can be matched to the request (a request id or Correlation Data), else
 *   only reported to `reject` (counted and logged by the simulator): never thrown.
 * - A desired-state document is applied (through `apply`) and reported on `twins/{id}/reported`:
 *   the values applied, the read-only properties the device knows, and `$ack { version, code }`
 *   (400 with a description when a value could not be applied).
 */
import {
  commandResponseTopic,
  parseDeviceTopic,
  reportedTopic,
  type CommandResponseMessage,
  type ReportedStateMessage,
} from '../../core/control/device-topics.js';
import { isForbiddenKey, parseUntrustedJson } from '../../core/json/untrusted-json.js';
import type { ControlMessageProperties } from '../../core/ports/simulator-link.js';

/** Largest command or desired-state message a simulated device reads (bytes). */
export const DEFAULT_MAX_CONTROL_BYTES = 64 * 1024;
/** Request ids remembered per twin (a duplicate among them is answered again, not applied). */
export const DEFAULT_REMEMBERED_REQUESTS = 256;
/** Longest request id accepted. */
const MAX_REQUEST_ID = 256;

/** One message to publish as the device. */
export interface ControlReply {
  topic: string;
  payload: string;
  correlationData?: Uint8Array;
}

/** The outcome of applying a desired-state document's values. */
export interface DesiredOutcome {
  /** Values applied (or kept), reported back as they are now. */
  applied: Record<string, unknown>;
  /** Values that could not be applied: property → why. */
  refused: Record<string, string>;
}

export interface DeviceControlOptions {
  maxMessageBytes?: number;
  rememberedRequests?: number;
  /** The response payload of a command applied (undefined: the answer has none). */
  respond?: (twinId: string, command: string, request: unknown) => unknown;
  /** A message that could not be answered (bad input without anything to match it to). */
  reject: (twinId: string, what: string, why: string) => void;
}

export interface DeviceControl {
  /**
   * A message on `twins/{id}/commands/{command}`: applies it through `apply` (which throws to refuse
   * it) unless its request id was answered before, and returns the answer (undefined: rejected).
   */
  command(
    twinId: string,
    command: string,
    payload: Uint8Array,
    properties: ControlMessageProperties,
    apply: (request: unknown) => void,
  ): { reply: ControlReply; applied: boolean; status: number } | undefined;
  /**
   * A message on `twins/{id}/desired`: applies its values through `apply` and returns the report
   * (undefined: rejected, e.g. no `$version` to acknowledge).
   */
  desired(
    twinId: string,
    payload: Uint8Array,
    apply: (desired: Record<string, unknown>) => DesiredOutcome,
    readOnly: Record<string, unknown>,
  ): { reply: ControlReply; outcome: DesiredOutcome } | undefined;
  /** Forgets a twin's remembered request ids. */
  forget(twinId: string): void;
}

const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** The device side of the control contract for every twin of one simulator. */
export function createDeviceControl(o: DeviceControlOptions): DeviceControl {
  const maxBytes = o.maxMessageBytes ?? DEFAULT_MAX_CONTROL_BYTES;
  const remembered = Math.max(1, o.rememberedRequests ?? DEFAULT_REMEMBERED_REQUESTS);
  /** twin → request id → the answer (insertion order: oldest first). */
  const answers = new Map<string, Map<string, { payload: string; status: number }>>();

  const remember = (twinId: string, requestId: string, payload: string, status = 400): void => {
    let m = answers.get(twinId);
    if (!m) answers.set(twinId, (m = new Map()));
    m.set(requestId, { payload, status });
    if (m.size > remembered) m.delete(m.keys().next().value as string);
  };

  /** Where to answer: the given topic when it is this twin's response topic, else the standard one. */
  const responseTopicOf = (twinId: string, command: string, given: unknown): string => {
    if (typeof given === 'string') {
      const t = parseDeviceTopic(given);
      if (t?.kind === 'commandResponse' && t.twinId === twinId) return given;
    }
    return commandResponseTopic(twinId, command);
  };

  const answer = (
    topic: string,
    body: CommandResponseMessage,
    correlationData: Uint8Array | undefined,
  ): ControlReply => ({
    topic,
    payload: JSON.stringify(body),
    ...(correlationData ? { correlationData } : {}),
  });

  return {
    command(twinId, command, payload, props, apply) {
      const corr = props.correlationData;
      const mqtt5Topic = responseTopicOf(twinId, command, props.responseTopic);
      const what = `command ${command}`;
      // Refuses a message that cannot be applied: answered when the answer can be matched to it.
      const refuse = (why: string, requestId?: string) => {
        if (requestId === undefined && !corr) {
          o.reject(twinId, what, why);
          return undefined;
        }
        const reply = answer(
          mqtt5Topic,
          { ...(requestId !== undefined ? { requestId } : {}), status: 400, response: { error: why } },
          corr,
        );
        if (requestId !== undefined) remember(twinId, requestId, reply.payload);
        return { reply, applied: false, status: 400 };
      };
      if (payload.byteLength > maxBytes)
        return refuse(
          `The command message is ${payload.byteLength} bytes, more than the ${maxBytes} a device reads.`,
        );
      const parsed = parseUntrustedJson(payload, { what: 'The command message' });
      if (!parsed.ok) return refuse(parsed.problem.message);
      const body = parsed.value;
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        return refuse('The command message is not a JSON object.');
      const msg = body as Record<string, unknown>;
      const requestId = msg.requestId;
      if (typeof requestId !== 'string' || requestId === '' || requestId.length > MAX_REQUEST_ID)
        return refuse(
          `The command message has no 'requestId' (a string of 1 to ${MAX_REQUEST_ID} characters).`,
        );
      const replyTopic =
        props.responseTopic !== undefined ? mqtt5Topic : responseTopicOf(twinId, command, msg.responseTopic);
      const before = answers.get(twinId)?.get(requestId);
      if (before !== undefined) {
        // At most once: a request answered before is answered the same way, never applied again.
        return {
          reply: { topic: replyTopic, payload: before.payload, ...(corr ? { correlationData: corr } : {}) },
          applied: false,
          status: before.status,
        };
      }
      let reply: ControlReply;
      let applied = false;
      let status = 400;
      try {
        apply(msg.request);
        applied = true;
        status = 200;
        const response = o.respond?.(twinId, command, msg.request);
        reply = answer(
          replyTopic,
          { requestId, status: 200, ...(response !== undefined ? { response } : {}) },
          corr,
        );
      } catch (e) {
        reply = answer(replyTopic, { requestId, status: 400, response: { error: errorMessage(e) } }, corr);
      }
      remember(twinId, requestId, reply.payload, status);
      return { reply, applied, status };
    },

    desired(twinId, payload, apply, readOnly) {
      const what = 'desired state';
      if (payload.byteLength > maxBytes) {
        o.reject(
          twinId,
          what,
          `The desired-state document is ${payload.byteLength} bytes, more than the ${maxBytes} a device reads.`,
        );
        return undefined;
      }
      const parsed = parseUntrustedJson(payload, { what: 'The desired-state document' });
      if (!parsed.ok) {
        o.reject(twinId, what, parsed.problem.message);
        return undefined;
      }
      const doc = parsed.value as Record<string, unknown> | null;
      const version = typeof doc === 'object' && doc !== null ? doc.$version : undefined;
      if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
        o.reject(
          twinId,
          what,
          "The desired-state document has no '$version' (an integer ≥ 0) to acknowledge.",
        );
        return undefined;
      }
      const desired = (doc as Record<string, unknown>).desired;
      let outcome: DesiredOutcome;
      if (typeof desired !== 'object' || desired === null || Array.isArray(desired))
        outcome = { applied: {}, refused: { desired: "the document has no 'desired' object" } };
      else {
        try {
          outcome = apply(desired as Record<string, unknown>);
        } catch (e) {
          outcome = { applied: {}, refused: { desired: errorMessage(e) } };
        }
      }
      const refused = Object.entries(outcome.refused);
      const report: ReportedStateMessage = {};
      for (const [k, v] of Object.entries(readOnly)) if (!isForbiddenKey(k)) report[k] = v;
      for (const [k, v] of Object.entries(outcome.applied)) if (!isForbiddenKey(k)) report[k] = v;
      report.$ack = refused.length
        ? {
            version,
            code: 400,
            description: refused.map(([k, why]) => `${k}: ${why}`).join('; '),
          }
        : { version, code: 200 };
      return { reply: { topic: reportedTopic(twinId), payload: JSON.stringify(report) }, outcome };
    },

    forget(twinId) {
      answers.delete(twinId);
    },
  };
}
