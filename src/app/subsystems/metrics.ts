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
  registerPlatformMetrics(metrics, {
    ingest: () => o.stats.snapshot(),
    live: () => o.hub.stats(),
    twins: () => o.graph.twinCount,
    relationships: () => o.graph.relationshipCount,
    mqttClients: o.brokerClients,
    historyBuffered: () => o.storage.history.bufferedPoints ?? 0,
    ...(an?.runtime
      ? {
          analytics: () => {
            const st = an.stats();
            const errors = Object.values(st.runtime?.operatorErrors ?? {}).reduce((x, y) => x + y, 0);
            return {
              observed: st.runtime?.observed ?? 0,
              overflowed: st.runtime?.overflowed ?? 0,
              queued: st.runtime?.queued ?? 0,
              operatorErrors: errors,
              derivedWritten: st.derived?.written ?? 0,
              derivedFailed: st.derived?.failed ?? 0,
              derivedDropped: st.derived?.dropped ?? 0,
              anomalyScored: st.anomaly?.scored ?? 0,
              forecastRefits: (st.forecast?.refits ?? 0) + (st.rules?.refits ?? 0),
              forecastRefitsDeferred: (st.forecast?.refitsDeferred ?? 0) + (st.rules?.refitsDeferred ?? 0),
            };
          },
        }
      : {}),
  });
}
