/**
 * Models and the twin graph of one workspace: the model registry and service over the model store,
 * and the in-memory twin graph (the read model every query, live subscription and simulation reads)
 * loaded from the twin store. Nothing to close: it holds no resource of its own.
 */
import type { Logger } from 'pino';
import { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import { ModelRegistry } from '../../core/models/model-registry.js';
import { ModelService } from '../../core/models/model-service.js';
import type { Storage } from '../../core/ports/storage.js';
import type { Subsystem } from './subsystem.js';

export interface ModelsAndGraph extends Subsystem {
  models: ModelService;
  graph: InMemoryTwinGraph;
  /** What was loaded (a new data folder loads nothing and is seeded with the pilot). */
  loaded: { models: number; twins: number; relationships: number };
}

export async function loadModelsAndGraph(o: {
  workspace: string;
  storage: Pick<Storage, 'models' | 'twins' | 'where'>;
  logger: Logger;
}): Promise<ModelsAndGraph> {
  const { workspace, storage, logger } = o;
  const registry = new ModelRegistry();
  const models = new ModelService({ workspace, registry, store: storage.models });
  const modelCount = await models.load();
  const graph = new InMemoryTwinGraph({ hierarchy: registry });
  let twinCount = 0;
  for await (const t of storage.twins.loadTwins(workspace)) {
    graph.putTwin(t);
    twinCount++;
  }
  let relCount = 0;
  for await (const r of storage.twins.loadRelationships(workspace)) {
    try {
      graph.putRelationship(r);
      relCount++;
    } catch (e) {
      logger.warn(
        { err: e, relationship: r.id, source: r.sourceId },
        'skipped a stored relationship whose twin is missing',
      );
    }
  }
  logger.info(
    { models: modelCount, twins: twinCount, relationships: relCount, store: storage.where },
    'storage opened',
  );
  return {
    models,
    graph,
    loaded: { models: modelCount, twins: twinCount, relationships: relCount },
    close: () => Promise.resolve(),
  };
}
