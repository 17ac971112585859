/**
 * What the event-route delivery engine (core/events/delivery-engine.ts) takes from outside besides
 * the outbox and the senders (core/ports/event-routing.ts): a clock with timers, and an observer
 * for metrics and logs. (Declared in delivery-engine.ts before; re-exported there.)
 */

export interface DeliveryClock {
  now(): number;
  /** Calls fn after ms; returns a function that cancels it. */
  setTimeout(fn: () => void, ms: number): () => void;
}

/** What the engine reports (metrics and logs); every method must be fast and never throw. */
export interface DeliveryObserver {
  delivered?(endpoint: string, latencyMs: number, sendMs: number): void;
  retried?(endpoint: string, reason: string): void;
  deadLettered?(endpoint: string, reason: string): void;
  endpointDown?(endpoint: string, reason: string): void;
  endpointUp?(endpoint: string): void;
  storageError?(err: unknown): void;
}
