/**
 * The cluster side of an API node (`--role api`): the ingest bus device telemetry is published to
 * (instead of being ingested here) and the cluster feed the node tells its committed twin,
 * relationship, model, event-route and rule changes on and applies the others' changes from (graph,
 * models, event routes, rules, live events, telemetry last values). Closing stops following the feed, then closes the connections.
 */
import type { Logger } from 'pino';
import { openJetStreamIngestBus } from '../../adapters/nats/jetstream-ingest-bus.js';
import { openNatsClusterFeed } from '../../adapters/nats/nats-cluster-feed.js';
import { FeedReplica } from '../../core/cluster/feed-replica.js';
import type { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { LiveEventBus } from '../../core/live/live-events.js';
import type { EventRouteService } from '../../core/events/event-route-service.js';
import type { ModelService } from '../../core/models/model-service.js';
import type { IngestBus } from '../../core/ports/cluster.js';
import type { Storage } from '../../core/ports/storage.js';
import type { TwinloopConfig } from '../config.js';
import { subsystem, type Subsystem } from './subsystem.js';

export interface ClusterApi extends Subsystem {
  bus: IngestBus;
  replica: FeedReplica;
  origin: string;
}

/** Opens the bus (before ingest is built: ingest publishes to it). */
export function openClusterBus(o: {
  config: Readonly<Pick<TwinloopConfig, 'bus'>>;
  logger: Logger;
  origin: string;
}): Promise<Subsystem & { bus: IngestBus }> {
  return subsystem(o.logger, async (closers) => {
    const bus = await openJetStreamIngestBus({
      url: o.config.bus.url!,
      subjectPrefix: o.config.bus.prefix,
      partitions: o.config.bus.partitions,
      name: o.origin,
    });
    closers.push(() => bus.close());
    return { bus };
  });
}

/** What an api node's feed replica keeps current. */
export interface FollowOptions {
  workspace: string;
  storage: Pick<Storage, 'twins'>;
  models: ModelService;
  graph: InMemoryTwinGraph;
  live: LiveEventBus;
  /** The event routes this node journals with (reloaded when another node changed them). */
  routes: Pick<EventRouteService, 'load'>;
  /** Reloads the rules of the live rule engine from the store (another node changed them). */
  reloadRules?: () => Promise<void>;
}

/**
 * Opens the feed and reads its position; call it before the read model is loaded, then `follow`
 * once it is: the changes committed meanwhile are applied, none older is replayed.
 */
export function openClusterFeed(o: {
  config: Readonly<Pick<TwinloopConfig, 'bus'>>;
  logger: Logger;
  origin: string;
}): Promise<
  Subsystem & {
    follow(r: FollowOptions): Promise<FeedReplica>;
  }
> {
  const { logger } = o;
  return subsystem(logger, async (closers) => {
    const feed = await openNatsClusterFeed({
      url: o.config.bus.url!,
      subjectPrefix: o.config.bus.prefix,
      name: o.origin,
    });
    closers.push(() => feed.close());
    const position = await feed.position();
    const log = logger.child({ component: 'cluster-feed' });
    const follow = async (r: FollowOptions): Promise<FeedReplica> => {
      const { graph, workspace, storage } = r;
      const replica = new FeedReplica({
        origin: o.origin,
        workspace,
        graph,
        live: r.live,
        feed,
        // What this node commits itself (NDJSON bulk, derived values); device telemetry goes to the bus.
        publishTelemetry: true,
        reloadModels: async () => {
          await r.models.load();
        },
        reloadRoutes: () => r.routes.load(),
        ...(r.reloadRules ? { reloadRules: r.reloadRules } : {}),
        reloadGraph: async () => {
          for await (const t of storage.twins.loadTwins(workspace)) graph.putTwin(t);
          for await (const rel of storage.twins.loadRelationships(workspace))
            try {
              graph.putRelationship(rel);
            } catch {
              // its twin is gone: skipped, as at start
            }
        },
        log: (level, message, fields) => log[level](fields ?? {}, message),
      });
      await replica.start(position);
      // Before the feed connection closes (closers run in reverse).
      closers.push(() => replica.stop());
      return replica;
    };
    return { follow };
  });
}

/**
 * Tells the cluster after each model write of this node that committed (upload, decommission,
 * delete), with what changed: the other nodes bring their models in step with the store (removing
 * deleted ones too: ModelService.load). The model service has no change event
 * of its own, so its three write methods are wrapped on this instance.
 */
export function announceModelChanges(models: ModelService, replica: FeedReplica): void {
  const add = models.add.bind(models);
  const update = models.update.bind(models);
  const del = models.delete.bind(models);
  models.add = async (batch) => {
    const r = await add(batch);
    await replica.modelsChanged({ op: 'upload', ids: r.map((m) => m.id) });
    return r;
  };
  models.update = async (id, patch) => {
    await update(id, patch);
    await replica.modelsChanged({ op: 'decommission', ids: [id] });
  };
  models.delete = async (id) => {
    await del(id);
    await replica.modelsChanged({ op: 'delete', ids: [id] });
  };
}
