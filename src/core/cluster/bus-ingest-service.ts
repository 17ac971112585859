/**
 * Ingest on an API node of a cluster: a device message (MQTT or HTTP) is not stored here but handed
 * to the ingest bus, and the call resolves only once the bus has stored it durably, so the device is
 * acknowledged (MQTT PUBACK, HTTP 202) only for what JetStream holds; an ingest worker validates
 * and commits it (core/cluster/telemetry-batch-sink.ts). What the transport itself refuses and
 * oversize payloads are dead-lettered here, as in one process. HTTP telemetry (ADT's routes) goes
 * the same way, flagged to be validated by ADT's rules. NDJSON bulk requests and derived values
 * still commit from this node to the shared store (their per-line answers need the validation now).
 */
import crypto from 'node:crypto';
import { TwinloopError } from '../errors/errors.js';
import type { IngestBus } from '../ports/cluster.js';
import { IngestService, type IngestServiceOptions } from '../telemetry/ingest-service.js';
import type { DerivedReadingSet } from '../telemetry/ingest-service.js';
import type { IncomingMessage, IngestOutcome } from '../telemetry/telemetry-types.js';
import { toIngestMessage } from './ingest-envelope.js';

export interface BusIngestServiceOptions extends IngestServiceOptions {
  bus: IngestBus;
  /** Message ids (default random UUIDs). */
  newId?: () => string;
}

export class BusIngestService extends IngestService {
  private readonly bus: IngestBus;
  private readonly newId: () => string;
  /** Messages the bus confirmed. */
  published = 0;

  constructor(o: BusIngestServiceOptions) {
    super(o);
    this.bus = o.bus;
    this.newId = o.newId ?? (() => crypto.randomUUID());
  }

  /**
   * Publishes the message to the bus; resolves once stored there (readings: 0, as they are counted
   * when a worker commits them). @throws ServiceUnavailable when the bus did not confirm (not stored:
   * the device sends it again).
   */
  override async ingest(msg: IncomingMessage): Promise<IngestOutcome> {
    if (msg.payload.length > this.maxPayloadBytes) return super.ingest(msg); // dead-lettered here
    return this.publish(msg, false);
  }

  /**
   * ADT's telemetry routes (HTTP): published like ingest(), validated by ADT's rules on the worker.
   * The caller answers once the bus stored it, so it cannot say which values were dropped (they are
   * in the dead letters). @throws ServiceUnavailable
   */
  override async ingestAdt(msg: IncomingMessage): Promise<IngestOutcome> {
    if (msg.payload.length > this.maxPayloadBytes) return super.ingest(msg);
    return this.publish(msg, true);
  }

  /**
   * Derived values (the analytics' results, on the one api node that runs them) are appended
   * straight to the shared history store, not published to the bus, as in one process: the call
   * resolves once PostgreSQL committed them, then they go on this node's live bus, and its feed
   * replica tells every other node (live events for WebSocket clients, and a durable
   * `telemetry.last` change for the twins' last values), as it does for a worker's commits. Why not
   * the bus: a worker would add nothing (derived values are not validated against the model, only
   * checked not to clash with it, which needs this node's read model just as well), they would wait
   * behind the device backlog of their twin's partition, and the bus would need a second kind of
   * message. The cost: this node commits to PostgreSQL (one append per event-loop turn of derived
   * values, as NDJSON bulk requests do). @throws StorageError when the append fails.
   */
  override ingestDerivedMany(
    sets: readonly DerivedReadingSet[],
  ): ReturnType<IngestService['ingestDerivedMany']> {
    return super.ingestDerivedMany(sets);
  }

  private async publish(msg: IncomingMessage, adt: boolean): Promise<IngestOutcome> {
    try {
      await this.bus.publish(toIngestMessage(msg, this.newId(), { adt }));
    } catch (e) {
      if (e instanceof TwinloopError && e.code === 'PayloadTooLarge')
        return this.reject(msg, 'PayloadTooLarge', e.message);
      throw e;
    }
    this.published++;
    return { ok: true, readings: 0 };
  }
}
