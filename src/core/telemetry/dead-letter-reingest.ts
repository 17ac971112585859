/**
 * Re-ingest of a dead letter once its cause is fixed (the twin now exists, the model now declares the
 * value): the stored payload goes through the same ingest path, with the same meaning of its source
 * and topic, as when it arrived — MQTT telemetry through the topic scheme and `ingest`, ADT's HTTP
 * telemetry through `ingestAdt`, an NDJSON line through `ingestBulk`. Nothing is validated here: the
 * ingest service decides, and a message it refuses again is dead-lettered again by it, with the new
 * problems (the old letter is replaced by that new one).
 *
 * At most once: the letter is taken from the store (deleted atomically, DeadLetterStore.take) before
 * it is ingested, so a double click or two tabs cannot store its readings twice; when the ingest
 * itself fails (storage down), the letter is put back.
 */
import { TwinloopError } from '../errors/errors.js';
import type { DeadLetter, DeadLetterStore } from '../ports/storage-ports.js';
import { adtStoredValues, type BulkIngestOutcome } from './ingest-service.js';
import type { IncomingMessage, IngestOutcome } from './telemetry-types.js';
import type { TopicScheme } from './topic-scheme.js';

/** How a letter is ingested again: which ingest call, with what message. */
export type ReingestPlan =
  | { ok: true; via: 'ingest' | 'ingestAdt' | 'ingestBulk'; msg: IncomingMessage }
  | { ok: false; reason: string };

/** ADT's telemetry routes as the HTTP adapter records them in a letter's topic. */
const HTTP_TOPIC = /^POST \/digitaltwins\/([^/?#]+)\/(?:components\/([^/?#]+)\/)?telemetry$/;

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/** True when the store (or the ingest path) kept only the head of the payload. */
export function isTruncated(d: DeadLetter): boolean {
  return (
    (d.receivedBytes !== undefined && d.receivedBytes > d.payload.length) || d.code === 'PayloadTooLarge'
  );
}

/**
 * The message to ingest again, rebuilt from the letter as its transport built it; or why it cannot be.
 * @example reingestPlan({ source: 'mqtt', topic: 'twins/pump-1/telemetry', ... }, new TopicScheme())
 *   // → { ok: true, via: 'ingest', msg: { source: 'mqtt', twinId: 'pump-1', ... } }
 */
export function reingestPlan(d: DeadLetter, scheme: TopicScheme): ReingestPlan {
  if (isTruncated(d)) {
    const size = d.receivedBytes ?? 'more';
    return {
      ok: false,
      reason: `Only the first ${d.payload.length} bytes of this payload were kept (it had ${size} bytes): a truncated payload is never re-ingested. Send the message again from its source.`,
    };
  }
  const base = {
    workspace: d.workspace,
    receivedAt: d.time,
    payload: d.payload,
    ...(d.topic !== undefined ? { topic: d.topic } : {}),
    ...(d.clientId !== undefined ? { clientId: d.clientId } : {}),
  };
  if (d.source === 'mqtt') {
    const m = d.topic === undefined ? undefined : scheme.match(d.topic);
    if (m?.kind !== 'telemetry')
      return {
        ok: false,
        reason: `The MQTT topic '${d.topic ?? ''}' is not a telemetry topic of this server${m?.kind === 'invalid' ? ` (${m.reason})` : ''}: it names no twin to ingest for. Publish again on a telemetry topic.`,
      };
    if (m.target.workspace !== d.workspace)
      return {
        ok: false,
        reason: `The topic names workspace '${m.target.workspace}', but the letter is kept in '${d.workspace}'.`,
      };
    const t = m.target;
    return {
      ok: true,
      via: 'ingest',
      msg: {
        ...base,
        source: 'mqtt',
        twinId: t.twinId,
        ...(t.component !== undefined ? { component: t.component } : {}),
        ...(t.modelId !== undefined ? { modelId: t.modelId } : {}),
      },
    };
  }
  if (d.source === 'http') {
    const m = d.topic === undefined ? null : HTTP_TOPIC.exec(d.topic);
    const twinId = m ? decode(m[1]!) : undefined;
    const component = m?.[2] !== undefined ? decode(m[2]) : undefined;
    if (!m || twinId === undefined || (m[2] !== undefined && component === undefined))
      return {
        ok: false,
        reason: `The HTTP route '${d.topic ?? ''}' is not one of the telemetry routes (POST /digitaltwins/{id}/telemetry): it names no twin to ingest for.`,
      };
    const stored = adtStoredValues(d.reason);
    if (stored)
      return {
        ok: false,
        reason: `${stored} value(s) of this message were stored when it arrived; re-ingesting it would store them twice. Send the values that were not stored again from the source.`,
      };
    return {
      ok: true,
      via: 'ingestAdt',
      msg: { ...base, source: 'http', twinId, ...(component !== undefined ? { component } : {}) },
    };
  }
  if (d.source === 'http-bulk') return { ok: true, via: 'ingestBulk', msg: { ...base, source: 'http-bulk' } };
  return {
    ok: false,
    reason: `Letters from '${d.source}' are not re-ingested (only telemetry from mqtt, http and http-bulk): send the input again from its source.`,
  };
}

/** What the ingest path needs for a re-ingest. */
export interface ReingestIngest {
  ingest(msg: IncomingMessage): Promise<IngestOutcome>;
  ingestAdt(msg: IncomingMessage): Promise<IngestOutcome>;
  /** `lines` as BulkIngestOutcome's: one outcome per line. */
  ingestBulk(msg: IncomingMessage): Promise<Omit<BulkIngestOutcome, 'lines'> & { lines: readonly unknown[] }>;
}

export type ReingestResult =
  | { id: number; outcome: 'accepted'; readings: number; deadLettered?: number }
  | {
      id: number;
      outcome: 'rejected';
      code: string;
      reason: string;
      problems: NonNullable<DeadLetter['problems']>;
    };

/**
 * Re-ingests one letter of `workspace`. Accepted: the readings are durable and the letter is gone.
 * Refused again: the ingest path kept the payload as a new letter with the new problems.
 * @throws TwinloopError NotFound (no such letter: never was, pruned, or already re-ingested),
 *   Conflict (a truncated payload, or a source or topic that names no twin: the letter is kept),
 *   StorageError (the letter is put back).
 */
export async function reingestDeadLetter(
  deps: {
    store: Pick<DeadLetterStore, 'get' | 'take' | 'add'>;
    ingest: ReingestIngest;
    scheme: TopicScheme;
  },
  workspace: string,
  id: number,
): Promise<ReingestResult> {
  const gone = () =>
    new TwinloopError(
      'NotFound',
      `There is no dead letter ${id} in workspace '${workspace}' (it never was, was pruned, or was already re-ingested).`,
    );
  const seen = await deps.store.get(workspace, id);
  if (!seen) throw gone();
  const plan = reingestPlan(seen, deps.scheme);
  if (!plan.ok)
    throw new TwinloopError('Conflict', `Dead letter ${id} cannot be re-ingested: ${plan.reason}`);
  // Taken before the ingest: of two concurrent re-ingests only one gets the letter.
  const letter = await deps.store.take(workspace, id);
  if (!letter) throw gone();
  let outcome: IngestOutcome;
  try {
    if (plan.via === 'ingestBulk') {
      const b = await deps.ingest.ingestBulk(plan.msg);
      const first = b.lines[0] as IngestOutcome | undefined;
      outcome =
        b.acceptedLines > 0 || !first
          ? { ok: true, readings: b.readings, ...(b.deadLettered ? { deadLettered: b.deadLettered } : {}) }
          : first;
    } else outcome = await deps.ingest[plan.via](plan.msg);
  } catch (e) {
    // Not ingested (storage failed): the letter goes back, under a new id.
    const { id: _drop, ...back } = letter;
    await deps.store.add([back]).catch(() => undefined);
    throw e;
  }
  if (outcome.ok)
    return {
      id,
      outcome: 'accepted',
      readings: outcome.readings,
      ...(outcome.deadLettered ? { deadLettered: outcome.deadLettered } : {}),
    };
  return {
    id,
    outcome: 'rejected',
    code: outcome.code,
    reason: outcome.reason,
    problems: outcome.problems ?? [],
  };
}
