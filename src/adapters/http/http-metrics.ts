/**
 * HTTP metrics in the metrics the composition root passes: requests by method, route pattern and
 * status, and their duration. Route patterns (not URLs) keep the label set small. The Prometheus
 * side is adapters/metrics/prometheus-http-metrics.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { HttpMetrics } from './http-context.js';

export function installHttpMetrics(app: FastifyInstance, metrics: HttpMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });
}
