/**
 * Ports of event routing (docs/event-routes.md): the durable outbox of routed events, the store of
 * routes and endpoints, and the senders that deliver to an endpoint.
 *
 * The outbox has two sides. Its write side commits in the transaction of the write the event
 * describes: twin and relationship events go in `TwinStore.commit` (a TwinWrite's `outbox` rows),
 * telemetry events ride with the points they describe (`HistoryAppendOptions.outbox`) into the
 * history group commit that stores them. The delivery side is asynchronous. Failures are TwinloopError('StorageError').
 */
import type { CloudEvent, RoutedEvent } from '../events/change-events.js';

export type { CloudEvent };

/** One event waiting for delivery to one endpoint. */
export interface OutboxDelivery {
  /** Assigned by the store, increasing in commit order. */
  seq: number;
  endpoint: string;
  /** Deliveries with the same key are delivered in seq order (the twin the event is about). */
  orderKey: string;
  event: RoutedEvent;
  /** When the event was committed, ms since epoch. */
  created: number;
}

export interface OutboxRow {
  endpoint: string;
  orderKey: string;
  event: RoutedEvent;
  created: number;
}

/** The telemetry write side (twin and relationship rows go through TwinStore.commit). */
/** A delivery that an endpoint would not take before its limit. */
export interface RouteDeadLetter {
  /** Assigned by the store. */
  id: number;
  endpoint: string;
  orderKey: string;
  event: RoutedEvent;
  created: number;
  /** When it was dead-lettered, ms. */
  deadAt: number;
  attempts: number;
  reason: string;
}

export interface RouteDeadLetterQuery {
  endpoint?: string;
  limit: number;
  /** Only ids lower than this (pages backwards from the newest). */
  beforeId?: number;
}

export interface EventOutbox {
  /** Committed deliveries with seq > afterSeq, in seq order, at most `limit`. */
  pending(afterSeq: number, limit: number): Promise<OutboxDelivery[]>;
  /** Removes delivered rows (unknown seqs are ignored). */
  acknowledge(seqs: readonly number[]): Promise<void>;
  /** Moves deliveries to the dead letters, all in one transaction. */
  deadLetter(items: readonly { seq: number; attempts: number; reason: string; at: number }[]): Promise<void>;
  /** Dead letters, newest first. */
  listDeadLetters(q: RouteDeadLetterQuery): Promise<RouteDeadLetter[]>;
  countDeadLetters(endpoint?: string): Promise<number>;
  /**
   * Moves dead letters back to the outbox (new seqs, in their original order), for the endpoint
   * they were for (or `to`); returns how many. `ids` absent: every dead letter of `endpoint`.
   */
  replay(q: { endpoint: string; ids?: readonly number[]; to?: string }): Promise<number>;
  /** Deletes dead letters (of an endpoint, or the given ids); returns how many. */
  purgeDeadLetters(q: { endpoint: string; ids?: readonly number[] }): Promise<number>;
  /** Pending deliveries per endpoint, and the oldest one's commit time. */
  backlog(): Promise<Map<string, { count: number; oldest: number }>>;
}

export interface StoredRoute {
  id: string;
  endpointName: string;
  filter: string;
}

/** An endpoint as stored; `secret` is the value of its auth header, kept apart so it is never echoed. */
export interface StoredEndpoint {
  name: string;
  /** The endpoint's settings as JSON (type, url/topic/subject, mode ...), without the secret. */
  spec: Record<string, unknown>;
  secret?: string;
}

export interface EventRouteStore {
  listRoutes(): Promise<StoredRoute[]>;
  putRoute(route: StoredRoute): Promise<void>;
  /** Returns false when absent. */
  deleteRoute(id: string): Promise<boolean>;
  listEndpoints(): Promise<StoredEndpoint[]>;
  putEndpoint(endpoint: StoredEndpoint): Promise<void>;
  deleteEndpoint(name: string): Promise<boolean>;
}

/** Delivers events to one endpoint. */
export interface EndpointSender {
  /**
   * Resolves once the endpoint has taken the event (2xx, PUBACK, JetStream ack). Rejects with a
   * DeliveryFailure; `permanent` failures are dead-lettered at once (a 400 or 413 from a webhook).
   */
  send(event: CloudEvent): Promise<void>;
  /**
   * Most events one sendBatch() carries; absent or 1: the endpoint takes one event per send.
   */
  readonly maxBatch?: number;
  /**
   * Sends several events (of different twins) in one request, all or nothing: resolves once the
   * endpoint took them all, rejects with a DeliveryFailure for the whole batch.
   */
  sendBatch?(events: readonly CloudEvent[]): Promise<void>;
  close(): Promise<void>;
}

/** Why a send failed, for retries, the dead letters and the logs (never holds a secret). */
export class DeliveryFailure extends Error {
  constructor(
    message: string,
    readonly permanent = false,
  ) {
    super(message);
    this.name = 'DeliveryFailure';
  }
}
