/**
 * HTTP metrics in the registry the composition root passes: requests by method, route pattern and
 * status, and their duration. Route patterns (not URLs) keep the label set small.
 */
import type { FastifyInstance } from 'fastify';
import { Counter, Histogram, type Registry } from 'prom-client';

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

export function installHttpMetrics(app: FastifyInstance, registry: Registry): void {
  const requests = counter(registry);
  const duration = histogram(registry);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
}
