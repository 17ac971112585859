/**
 * Telemetry as it enters the platform, transport-neutral: MQTT, HTTP and files all turn their input
 * into IncomingMessage and hand it to the ingest service, which answers once the readings are
 * durable (or dead-lettered).
 */

import type { DeadLetter } from '../ports/storage-ports.js';

/** A message as received, before any parsing: the raw bytes are kept for the dead-letter store. */
export interface IncomingMessage {
  /** "mqtt", "http", "http-bulk", "file", "sim" ... */
  source: string;
  workspace: string;
  /** MQTT topic or HTTP route, when there is one. */
  topic?: string;
  clientId?: string;
  /** Receive time, ms since epoch (used when a reading carries no source time). */
  receivedAt: number;
  payload: Buffer;
  /** Target twin and component when the transport already says (topic or URL); else from the payload. */
  twinId?: string;
  component?: string;
  /** A model the transport says the twin has (an MQTT topic's {modelId} token): the twin's model must be or extend it. */
  modelId?: string;
  /**
   * The message carries its own source time and id (ADT's Telemetry-Source-Time and Message-Id):
   * its readings are stored at most once, so a resend stores nothing twice.
   */
  once?: boolean;
}

/**
 * The longest payload text a reading set keeps as its values' JSON (ReadingSet.json), in all and per
 * value: the text is held until the live stream has written it, so it must not weigh much more than
 * the values themselves (a value padded with kilobytes of spaces is serialised from the values instead).
 */
export const MAX_VALUES_JSON = 4096;
export const MAX_VALUES_JSON_PER_VALUE = 64;

/** One validated reading set: values of several telemetries of one twin (or one of its components) at one time. */
export interface ReadingSet {
  twinId: string;
  component?: string;
  /** Source time, ms since epoch. */
  time: number;
  /** True when the time came from the payload (`$ts`), not from the receive time. */
  sourceTime?: boolean;
  values: Record<string, unknown>;
  /**
   * The payload's own JSON text, when the payload was this one object and nothing else (no `$` key
   * but `$ts`, at most MAX_VALUES_JSON characters and MAX_VALUES_JSON_PER_VALUE per value, `$ts`
   * counted as one): the live stream may send it, less its `$ts`
   * member, as the values instead of serialising them again, once validation took every value as it
   * is (see live-events.ts, event-json.ts).
   */
  json?: string;
}

/**
 * The outcome of one message: accepted readings, or the reason it went to the dead letters. On an
 * ADT route a message can be both: `deadLettered` counts the values that were kept as a dead letter
 * instead of stored.
 */
export type IngestOutcome =
  | { ok: true; readings: number; deadLettered?: number }
  /** Dead-lettered: the code and reason, and every problem with where it is (when the check found some). */
  | { ok: false; code: string; reason: string; problems?: NonNullable<DeadLetter['problems']> };
