/**
 * Event-route metrics per endpoint, on the platform's prom-client registry:
 * - twinloop_route_delivered_total, twinloop_route_retried_total, twinloop_route_dead_lettered_total;
 * - twinloop_route_delivery_seconds: commit to acknowledgement by the endpoint (histogram);
 * - twinloop_route_send_seconds: one send, request to acknowledgement (histogram);
 * - twinloop_route_pending_events and twinloop_route_lag_seconds (age of the oldest pending event),
 *   read from the outbox at scrape time; twinloop_route_endpoint_down (1 while probed as down);
 * - twinloop_route_delivering: 1 on the node that delivers (on a cluster, the lease holder).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DeliveryObserver } from '../../core/events/delivery-engine.js';

export interface RouteMetricsSources {
  backlog: () => Promise<Map<string, { count: number; oldest: number }>>;
  down: () => Map<string, boolean>;
  /** Whether this node delivers now (a cluster: one node at a time). */
  delivering?: () => boolean;
  now?: () => number;
}

/** Registers the metrics; returns the observer to give the delivery engine. */
export function registerRouteMetrics(registry: Registry, sources: RouteMetricsSources): DeliveryObserver {
  const labelNames = ['endpoint'] as const;
  const delivered = new Counter({
    name: 'twinloop_route_delivered_total',
    help: 'Events an endpoint acknowledged.',
    labelNames,
    registers: [registry],
  });
  const retried = new Counter({
    name: 'twinloop_route_retried_total',
    help: 'Failed sends that will be retried.',
    labelNames,
    registers: [registry],
  });
  const dead = new Counter({
    name: 'twinloop_route_dead_lettered_total',
    help: 'Events moved to the dead letters (endpoint down past its limit, or refused).',
    labelNames,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'twinloop_route_delivery_seconds',
    help: 'From the commit of a change to its acknowledgement by the endpoint.',
    labelNames,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const send = new Histogram({
    name: 'twinloop_route_send_seconds',
    help: 'One send, from request to acknowledgement.',
    labelNames,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [registry],
  });
  const now = sources.now ?? Date.now;
  new Gauge({
    name: 'twinloop_route_pending_events',
    help: 'Events committed and not yet delivered or dead-lettered.',
    labelNames,
    registers: [registry],
    async collect() {
      this.reset();
      for (const [ep, b] of await sources.backlog()) this.set({ endpoint: ep }, b.count);
    },
  });
  new Gauge({
    name: 'twinloop_route_lag_seconds',
    help: 'Age of the oldest pending event (0 when none).',
    labelNames,
    registers: [registry],
    async collect() {
      this.reset();
      for (const [ep, b] of await sources.backlog())
        this.set({ endpoint: ep }, Math.max(0, now() - b.oldest) / 1000);
    },
  });
  new Gauge({
    name: 'twinloop_route_endpoint_down',
    help: '1 while the endpoint failed several sends in a row (probed one send at a time).',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [ep, d] of sources.down()) this.set({ endpoint: ep }, d ? 1 : 0);
    },
  });
  new Gauge({
    name: 'twinloop_route_delivering',
    help: '1 on the node that delivers the outbox (on a cluster, the holder of the delivery lease).',
    registers: [registry],
    collect() {
      this.set(sources.delivering?.() === false ? 0 : 1);
    },
  });
  return {
    delivered: (endpoint, latencyMs, sendMs) => {
      delivered.inc({ endpoint });
      latency.observe({ endpoint }, latencyMs / 1000);
      send.observe({ endpoint }, sendMs / 1000);
    },
    retried: (endpoint) => retried.inc({ endpoint }),
    deadLettered: (endpoint) => dead.inc({ endpoint }),
  };
}
