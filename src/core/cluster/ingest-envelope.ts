/**
 * How an API node's device message rides on the ingest bus and comes back on a worker: the bus keeps
 * the payload bytes and a few headers (IngestMessage); what ingest needs besides (source, workspace,
 * component, the topic's model) travels in the `topic` field as a small versioned JSON envelope,
 * `tl1:{...}`. A message that is not such an envelope (a foreign publisher on the subject) is
 * refused on the worker with BadRequest and dead-lettered, never thrown.
 */
import type { BusMessage, IngestMessage } from '../ports/cluster.js';
import type { SequencedMessage } from '../telemetry/ingest-service.js';
import type { IncomingMessage } from '../telemetry/telemetry-types.js';

const TAG = 'tl1:';

interface Envelope {
  s: string;
  w: string;
  t?: string;
  c?: string;
  m?: string;
  o?: boolean;
  /** Taken as ADT's telemetry routes take it (IngestService.ingestAdt). */
  a?: boolean;
}

/** The bus message of a device message (the twin decides the partition; "" when none is named). */
export function toIngestMessage(
  msg: IncomingMessage,
  id: string,
  options: { adt?: boolean } = {},
): IngestMessage {
  const e: Envelope = { s: msg.source, w: msg.workspace };
  if (options.adt) e.a = true;
  if (msg.topic !== undefined) e.t = msg.topic;
  if (msg.component !== undefined) e.c = msg.component;
  if (msg.modelId !== undefined) e.m = msg.modelId;
  if (msg.once) e.o = true;
  return {
    id,
    topic: TAG + JSON.stringify(e),
    payload: msg.payload,
    clientId: msg.clientId ?? '',
    receivedAt: msg.receivedAt,
    twinId: msg.twinId ?? '',
  };
}

/** The device message a bus message carries, or a refusal (dead-lettered by the worker). */
export function fromBusMessage(m: BusMessage): SequencedMessage {
  const payload = Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
  const base: IncomingMessage = { source: 'bus', workspace: 'default', receivedAt: m.receivedAt, payload };
  if (m.clientId) base.clientId = m.clientId;
  if (m.twinId) base.twinId = m.twinId;
  const e = readEnvelope(m.topic);
  if (!e) {
    base.topic = m.topic;
    return {
      msg: base,
      seq: m.seq,
      refused: { code: 'BadRequest', reason: 'The bus message has no Twinloop envelope in its topic.' },
    };
  }
  const msg: IncomingMessage = { ...base, source: e.s, workspace: e.w };
  if (e.t !== undefined) msg.topic = e.t;
  if (e.c !== undefined) msg.component = e.c;
  if (e.m !== undefined) msg.modelId = e.m;
  if (e.o) msg.once = true;
  if (!Number.isFinite(m.receivedAt))
    return {
      msg,
      seq: m.seq,
      refused: { code: 'BadRequest', reason: 'The bus message has no receive time.' },
    };
  return e.a ? { msg, seq: m.seq, adt: true } : { msg, seq: m.seq };
}

function readEnvelope(topic: string): Envelope | undefined {
  if (!topic.startsWith(TAG)) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(topic.slice(TAG.length));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const str = (k: string) => o[k] === undefined || typeof o[k] === 'string';
  if (typeof o.s !== 'string' || typeof o.w !== 'string' || !str('t') || !str('c') || !str('m'))
    return undefined;
  const e: Envelope = { s: o.s, w: o.w };
  if (typeof o.t === 'string') e.t = o.t;
  if (typeof o.c === 'string') e.c = o.c;
  if (typeof o.m === 'string') e.m = o.m;
  if (o.o === true) e.o = true;
  if (o.a === true) e.a = true;
  return e;
}
