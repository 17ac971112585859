/** The `dead_letters` row both SQL stores keep, and the record it gives. */
import type { DeadLetter } from '../../core/ports/storage-ports.js';

/** A dead letter with the twin it was for (a column both stores keep). */
export type DeadLetterWithTwin = DeadLetter & { twinId?: string };

export interface DeadLetterRow<P> {
  id: number;
  workspace: string;
  time: number;
  source: string;
  topic: string | null;
  client_id: string | null;
  twin_id: string | null;
  payload: Buffer;
  code: string;
  reason: string;
  /** As the store keeps it (JSON text in SQLite, jsonb in PostgreSQL); `problemsOf` reads it. */
  problems: P | null;
  received_bytes: number | null;
}

export function deadLetterFromRow<P>(
  r: DeadLetterRow<P>,
  problemsOf: (p: P) => NonNullable<DeadLetter['problems']>,
): DeadLetterWithTwin {
  const d: DeadLetterWithTwin = {
    id: r.id,
    workspace: r.workspace,
    time: r.time,
    source: r.source,
    payload: r.payload,
    code: r.code,
    reason: r.reason,
  };
  if (r.topic !== null) d.topic = r.topic;
  if (r.client_id !== null) d.clientId = r.client_id;
  if (r.twin_id !== null) d.twinId = r.twin_id;
  if (r.problems !== null) d.problems = problemsOf(r.problems);
  if (r.received_bytes !== null) d.receivedBytes = r.received_bytes;
  return d;
}
