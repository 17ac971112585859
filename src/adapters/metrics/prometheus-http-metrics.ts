/**
 * The HTTP server's metrics in a prom-client registry: requests answered by method, route pattern
 * and status, and their duration; /metrics serves the whole registry. Registering twice in one
 * registry (two servers, tests) reuses the metrics already there.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { HttpMetrics } from '../http/http-context.js';

function counter(registry: Registry): Counter<'method' | 'route' | 'status'> {
  const name = 'twinloop_http_requests_total';
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<'method' | 'route' | 'status'>;
  return new Counter({
    name,
    help: 'HTTP requests answered, by method, route and status.',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
}

function histogram(registry: Registry): Histogram<'method' | 'route'> {
  const name = 'twinloop_http_request_duration_seconds';
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram<'method' | 'route'>;
  return new Histogram({
    name,
    help: 'HTTP request duration, by method and route.',
    labelNames: ['method', 'route'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
}

/** The HTTP server's view of a registry (createHttpServer's `metrics` option). */
export function prometheusHttpMetrics(registry: Registry): HttpMetrics {
  const requests = counter(registry);
  const duration = histogram(registry);
  return {
    get contentType() {
      return registry.contentType;
    },
    metrics: () => registry.metrics(),
    observeRequest: (method, route, status, seconds) => {
      requests.inc({ method, route, status: String(status) });
      duration.observe({ method, route }, seconds);
    },
  };
}
