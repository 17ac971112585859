/**
 * The write paths of a workspace: twin writes (TwinService: REST, jobs, the pilot) and telemetry
 * ingest (IngestService: MQTT, HTTP), both committing to storage, journaling event-route events and
 * announcing what they committed on the live event bus. Nothing to close: storage owns the resources.
 */
import type { Logger } from 'pino';
import type { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { LiveEventBus } from '../../core/live/live-events.js';
import type { ModelService } from '../../core/models/model-service.js';
import type { EventRouteService } from '../../core/events/event-route-service.js';
import { BusIngestService } from '../../core/cluster/bus-ingest-service.js';
import type { IngestBus } from '../../core/ports/cluster.js';
import { IngestService } from '../../core/telemetry/ingest-service.js';
import { IngestStats } from '../../core/telemetry/ingest-stats.js';
import { TwinService } from '../../core/twins/twin-service.js';
import type { Storage } from '../../core/ports/storage.js';
import type { TwinloopConfig } from '../config.js';
import type { Subsystem } from './subsystem.js';

export interface IngestSubsystem extends Subsystem {
  twins: TwinService;
  ingest: IngestService;
  stats: IngestStats;
}

export function startIngest(o: {
  config: Readonly<Pick<TwinloopConfig, 'mqtt'>>;
  logger: Logger;
  workspace: string;
  models: ModelService;
  graph: InMemoryTwinGraph;
  storage: Pick<Storage, 'twins' | 'history' | 'deadLetters'>;
  live: LiveEventBus;
  journal: EventRouteService;
  /** An api node of a cluster: device telemetry is published to this bus instead of stored here. */
  bus?: IngestBus;
}): IngestSubsystem {
  const { workspace, models, graph, storage, live, logger } = o;
  const twins = new TwinService({
    workspace,
    models,
    graph,
    store: storage.twins,
    history: storage.history,
    live,
    journal: o.journal,
    onHistoryError: (err, twinId) =>
      logger.error(
        { err, twin: twinId },
        'a twin write is committed, but its property history could not be recorded',
      ),
  });
  const stats = new IngestStats();
  const options = {
    workspace: (name: string) => (name === workspace ? { graph, models } : undefined),
    history: storage.history,
    deadLetters: storage.deadLetters,
    live,
    stats,
    maxPayloadBytes: o.config.mqtt.maxMessageBytes,
    journal: o.journal,
  };
  const ingest = o.bus ? new BusIngestService({ ...options, bus: o.bus }) : new IngestService(options);
  return { twins, ingest, stats, close: () => Promise.resolve() };
}
