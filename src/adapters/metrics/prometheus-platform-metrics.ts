/**
 * Prometheus metrics of the platform (prom-client). The core keeps plain counters; this adapter
 * reads them at scrape time, so the hot paths never touch prom-client.
 */
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import type { IngestStatsSnapshot } from '../../core/telemetry/ingest-stats.js';
import type { LiveHubStats } from '../../core/live/live-hub.js';

export interface PlatformMetricSources {
  ingest: () => IngestStatsSnapshot;
  live: () => LiveHubStats;
  twins: () => number;
  relationships: () => number;
  mqttClients: () => number;
  historyBuffered: () => number;
  /** Streaming analytics totals (absent when analytics are off). */
  analytics?: () => AnalyticsMetricFigures;
  /** 1 while this node runs the streaming analytics (on a cluster: holds their lease), else 0. */
  analyticsLeader?: () => number;
}

/** What the streaming analytics count (plain numbers; missing parts read as 0). */
export interface AnalyticsMetricFigures {
  observed?: number;
  overflowed?: number;
  queued?: number;
  operatorErrors?: number;
  derivedWritten?: number;
  derivedFailed?: number;
  derivedDropped?: number;
  /** Derived values computed but not stored (report by exception: within their deadband). */
  derivedHeld?: number;
  /** Derived values written as twin properties (PropertyWriter). */
  derivedPropertyWritten?: number;
  derivedPropertyFailed?: number;
  derivedPropertySkipped?: number;
  derivedPropertyDropped?: number;
  /** Twins with a derived property waiting to be written (gauge). */
  derivedPropertyPending?: number;
  anomalyScored?: number;
  /** Rules the running rule engine evaluates (0 where the analytics do not run). */
  rules?: number;
  /** Forecast refits run (continuous forecasts and forecast rules). */
  forecastRefits?: number;
  /** Forecast refits that waited for a later tick (the per-tick budget was spent). */
  forecastRefitsDeferred?: number;
}

/** A counter whose value is read from a running total at scrape time. */
function totalCounter(registry: Registry, name: string, help: string, read: () => number): void {
  let last = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const now = read();
      if (now > last) this.inc(now - last);
      last = now;
    },
  });
}

/** Metrics fed by the platform as things happen (not read at scrape time). */
export interface PlatformMetricRecorders {
  /** One durable group commit of history (ms, items). */
  observeHistoryCommit(info: { ms: number; items: number; failed: boolean }): void;
}

/** The commit-latency histogram; created before storage opens so storage can report into it. */
export function createCommitMetrics(registry: Registry): PlatformMetricRecorders {
  const latency = new Histogram({
    name: 'twinloop_history_commit_seconds',
    help: 'Duration of one durable group commit of history (transaction + fsync)',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const points = new Counter({
    name: 'twinloop_history_committed_points_total',
    help: 'History points made durable by group commits',
    registers: [registry],
  });
  const failures = new Counter({
    name: 'twinloop_history_commit_failures_total',
    help: 'Group commits of history that failed (their writers were not acknowledged)',
    registers: [registry],
  });
  return {
    observeHistoryCommit({ ms, items, failed }) {
      latency.observe(ms / 1000);
      if (failed) failures.inc();
      else points.inc(items);
    },
  };
}

export function registerPlatformMetrics(registry: Registry, s: PlatformMetricSources): void {
  collectDefaultMetrics({ register: registry, prefix: 'twinloop_process_' });
  totalCounter(
    registry,
    'twinloop_ingest_messages_total',
    'Telemetry messages accepted (durably committed)',
    () => s.ingest().acceptedMessages,
  );
  totalCounter(
    registry,
    'twinloop_ingest_readings_total',
    'Telemetry readings accepted',
    () => s.ingest().acceptedReadings,
  );
  totalCounter(
    registry,
    'twinloop_ingest_storage_failures_total',
    'History appends that failed (not acknowledged)',
    () => s.ingest().storageFailures,
  );
  const lastByCode = new Map<string, number>();
  new Counter({
    name: 'twinloop_dead_letters_total',
    help: 'Messages rejected to the dead-letter store, by error code',
    labelNames: ['code'],
    registers: [registry],
    collect() {
      for (const [code, n] of Object.entries(s.ingest().deadLettersByCode)) {
        const prev = lastByCode.get(code) ?? 0;
        if (n > prev) this.inc({ code }, n - prev);
        lastByCode.set(code, n);
      }
    },
  });
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge('twinloop_twins', 'Digital twins in memory', s.twins);
  gauge('twinloop_relationships', 'Relationships in memory', s.relationships);
  gauge('twinloop_mqtt_clients', 'Clients connected to the embedded MQTT broker', s.mqttClients);
  gauge(
    'twinloop_history_buffered_points',
    'History points committed to the log, not yet compacted into chunks',
    s.historyBuffered,
  );
  const a = s.analytics;
  if (a !== undefined) {
    const t = (name: string, help: string, k: keyof AnalyticsMetricFigures) =>
      totalCounter(registry, name, help, () => a()[k] ?? 0);
    t('twinloop_analytics_observed_total', 'Readings taken by the streaming analytics', 'observed');
    t(
      'twinloop_analytics_overflowed_total',
      'Readings the analytics could not queue (overload)',
      'overflowed',
    );
    t(
      'twinloop_analytics_operator_errors_total',
      'Readings an analytics operator failed on',
      'operatorErrors',
    );
    t('twinloop_analytics_derived_written_total', 'Derived values stored', 'derivedWritten');
    t('twinloop_analytics_derived_failed_total', 'Derived values whose write failed', 'derivedFailed');
    t(
      'twinloop_analytics_derived_dropped_total',
      'Derived values dropped (writer queue full)',
      'derivedDropped',
    );
    t(
      'twinloop_analytics_derived_held_total',
      'Derived values computed but not stored or published (report by exception: within their deadband, before their heartbeat)',
      'derivedHeld',
    );
    t(
      'twinloop_analytics_derived_property_written_total',
      'Derived values written to twin properties (twin patches committed)',
      'derivedPropertyWritten',
    );
    t(
      'twinloop_analytics_derived_property_failed_total',
      'Derived property values whose twin patch failed (twin deleted, model changed)',
      'derivedPropertyFailed',
    );
    t(
      'twinloop_analytics_derived_property_skipped_total',
      'Derived property values not written: replaced within their interval, within the deadband, or out of order',
      'derivedPropertySkipped',
    );
    t(
      'twinloop_analytics_derived_property_dropped_total',
      'Derived property values dropped (too many twins tracked)',
      'derivedPropertyDropped',
    );
    gauge(
      'twinloop_analytics_derived_property_pending',
      'Twins with a derived property waiting to be written',
      () => a().derivedPropertyPending ?? 0,
    );
    t('twinloop_analytics_anomaly_scored_total', 'Readings scored by anomaly detectors', 'anomalyScored');
    t(
      'twinloop_analytics_forecast_refits_total',
      'Forecast refits (continuous forecasts and forecast rules)',
      'forecastRefits',
    );
    t(
      'twinloop_analytics_forecast_refits_deferred_total',
      'Forecast refits that waited for a later tick (refit budget spent)',
      'forecastRefitsDeferred',
    );
    gauge('twinloop_analytics_queued', 'Readings waiting for the streaming analytics', () => a().queued ?? 0);
    gauge(
      'twinloop_analytics_rules',
      'Rules the streaming analytics evaluate on this node',
      () => a().rules ?? 0,
    );
  }
  if (s.analyticsLeader)
    gauge(
      'twinloop_analytics_leader',
      'Whether this node runs the streaming analytics (1; on a cluster the holder of the analytics lease) or not (0)',
      s.analyticsLeader,
    );
  gauge('twinloop_live_sessions', 'WebSocket live sessions', () => s.live().sessions);
  gauge('twinloop_live_subscriptions', 'Live subscriptions', () => s.live().subscriptions);
  gauge('twinloop_live_queued_events', 'Events queued for live subscribers', () => s.live().queued);
  totalCounter(
    registry,
    'twinloop_live_delivered_total',
    'Events delivered to live subscribers',
    () => s.live().delivered,
  );
  totalCounter(
    registry,
    'twinloop_live_coalesced_total',
    'Live events merged into a queued update of the same twin (slow subscriber)',
    () => s.live().coalesced,
  );
  totalCounter(
    registry,
    'twinloop_live_dropped_total',
    'Live events dropped because a subscriber queue was full',
    () => s.live().dropped,
  );
  totalCounter(
    registry,
    'twinloop_live_catchups_total',
    'Catch-up frames (latest values per twin) sent to subscribers that fell behind',
    () => s.live().catchUps,
  );
  gauge(
    'twinloop_live_behind_sessions',
    'Live sessions whose socket is above its high-water mark',
    () => s.live().behindSessions,
  );
}
