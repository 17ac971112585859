/**
 * The live stream's hub: subscriptions of WebSocket clients (by twin, by model, live queries) on the
 * live event bus, with IS_OF_MODEL's rule (later versions too) and a smaller query budget, since live
 * evaluations are synchronous. The WebSocket plugin that serves it is mounted by the HTTP subsystem.
 */
import type { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { LiveEventBus } from '../../core/live/live-events.js';
import { LiveHub } from '../../core/live/live-hub.js';
import { createLiveQueryCompiler } from '../../core/live/live-query.js';
import type { ModelService } from '../../core/models/model-service.js';
import type { TwinloopConfig } from '../config.js';
import type { Subsystem } from './subsystem.js';

export interface LiveSubsystem extends Subsystem {
  hub: LiveHub;
}

export function startLive(o: {
  config: Readonly<Pick<TwinloopConfig, 'query'>>;
  workspace: string;
  live: LiveEventBus;
  models: ModelService;
  graph: InMemoryTwinGraph;
}): LiveSubsystem {
  const { config, workspace, models, graph } = o;
  // IS_OF_MODEL's rule (later versions too) for model subscriptions and live queries alike.
  const isOfModel = (_ws: string, modelId: string, baseId: string) => models.matchesModel(modelId, baseId);
  const hub = new LiveHub({
    bus: o.live,
    isOfModel,
    compileQuery: createLiveQueryCompiler({
      graphOf: (ws) => (ws === workspace ? graph : undefined),
      isOfModel,
      ...(config.query.maxHops !== undefined ? { maxHops: config.query.maxHops } : {}),
      // Live evaluations are synchronous: a smaller visit budget keeps each to ~20 ms.
      budget: {
        ...config.query,
        maxVisits: config.query.liveMaxVisits,
        visitsSetting: 'query.liveMaxVisits',
      },
    }),
  });
  return { hub, close: () => Promise.resolve(hub.close()) };
}
