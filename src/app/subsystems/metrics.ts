/**
 * The platform's Prometheus metrics: the registry (made first, so storage commits are timed from the
 * start) and, once the services exist, the gauges and counters read from them at scrape time.
 */
import { Registry } from 'prom-client';
import type { AnalyticsSubsystem } from './analytics.js';
import type { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { LiveHub } from '../../core/live/live-hub.js';
import type { IngestStats } from '../../core/telemetry/ingest-stats.js';
import { registerPlatformMetrics } from '../../adapters/metrics/prometheus-platform-metrics.js';
import type { Storage } from '../../core/ports/storage.js';

export function createMetricsRegistry(): Registry {
  return new Registry();
}

export function registerMetrics(
  metrics: Registry,
  o: {
    stats: IngestStats;
    hub: LiveHub;
    graph: InMemoryTwinGraph;
    brokerClients: () => number;
    storage: Pick<Storage, 'history'>;
    analytics?: AnalyticsSubsystem;
  },
): void {
  const an = o.analytics;
  // Totals over every run of this node (a cluster node may run the analytics several times).
  registerPlatformMetrics(metrics, {
    ingest: () => o.stats.snapshot(),
    live: () => o.hub.stats(),
    twins: () => o.graph.twinCount,
    relationships: () => o.graph.relationshipCount,
    mqttClients: o.brokerClients,
    historyBuffered: () => o.storage.history.bufferedPoints ?? 0,
    ...(an && an.state() !== 'off' ? { analytics: () => an.totals() } : {}),
    ...(an ? { analyticsLeader: () => (an.state() === 'running' ? 1 : 0) } : {}),
  });
}
