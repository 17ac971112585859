/**
 * The telemetry ports: what transports (MQTT, HTTP, a bus consumer) hand messages to, and the part of
 * event routing the ingest service feeds. (Declared in core/telemetry/ingest-service.ts before;
 * re-exported there.)
 */
import type { Problem } from '../errors/errors.js';
import type { TelemetryChange } from '../events/change-events.js';
import type { OutboxRow } from './event-routing.js';
import type { IncomingMessage, IngestOutcome } from '../telemetry/telemetry-types.js';

/** The part of event routing the ingest service feeds. */
export interface TelemetryJournal {
  /** True when some route could want telemetry (else there is nothing to journal). */
  wantsTelemetry(): boolean;
  /** The outbox rows of accepted readings, for the history append that stores them. */
  telemetryRows(changes: readonly TelemetryChange[]): OutboxRow[];
}

/** What transports depend on (the MQTT adapters take this, not the class). */
export interface TelemetryIngest {
  /** Ingests one message; bad input resolves with ok:false (dead-lettered). Rejects on a storage failure. */
  ingest(msg: IncomingMessage): Promise<IngestOutcome>;
  /** Dead-letters a message the transport itself refuses (e.g. an unusable topic). */
  reject(
    msg: IncomingMessage,
    code: string,
    reason: string,
    problems?: readonly Problem[],
  ): Promise<IngestOutcome>;
}
