/**
 * The import and delete targets over the workspace's services: every write goes through the same
 * model, twin and relationship services as the REST API (same validation, history, live events),
 * with ADT's create-only semantics for imports (an existing twin or relationship is an error).
 */
import { TwinloopError, isTwinloopError } from '../errors/errors.js';
import type { TwinGraph } from '../graph/graph-types.js';
import type { ModelService } from '../models/model-service.js';
import type { TwinService } from '../twins/twin-service.js';
import type { DeleteTarget } from './delete-runner.js';
import type { ImportTarget } from './import-runner.js';

export interface ServiceTargetOptions {
  models: ModelService;
  twins: TwinService;
  graph: TwinGraph;
}

export function serviceImportTarget(o: ServiceTargetOptions): ImportTarget {
  const exists =
    (code: 'DigitalTwinAlreadyExists' | 'RelationshipAlreadyExists', what: string) => (e: unknown) => {
      if (isTwinloopError(e) && e.code === 'PreconditionFailed') {
        throw new TwinloopError(code, `${what} exists already; an import job does not replace it.`);
      }
      throw e;
    };
  return {
    hasModel: (id) => o.models.has(id),
    addModels: async (models) => {
      await o.models.add(models);
    },
    createTwin: (id, body) =>
      o.twins
        .createOrReplace(id, body, { ifNoneMatch: '*' })
        .catch(exists('DigitalTwinAlreadyExists', `Twin '${id}'`)),
    createRelationship: (sourceId, relId, body) =>
      o.twins.relationships
        .createOrReplace(sourceId, relId, body, { ifNoneMatch: '*' })
        .catch(exists('RelationshipAlreadyExists', `Relationship '${relId}' of '${sourceId}'`)),
  };
}

export function serviceDeleteTarget(o: ServiceTargetOptions): DeleteTarget {
  return {
    // Safe to go on with while what was yielded is deleted: the twins (a Map) do not change during
    // this phase, and each twin's relationships are copied before the first is yielded.
    relationships: function* () {
      for (const t of o.graph.allTwins()) {
        yield* [...o.graph.outgoing(t.id)].map((r) => ({ sourceId: r.sourceId, id: r.id }));
      }
    },
    // A Map iteration: deleting visited twins does not disturb it.
    twinIds: function* () {
      for (const t of o.graph.allTwins()) yield t.id;
    },
    modelIds: () => o.models.list().map((m) => m.id),
    relationshipCount: () => o.graph.relationshipCount,
    twinCount: () => o.graph.twinCount,
    deleteRelationship: (sourceId, id) => o.twins.relationships.delete(sourceId, id),
    deleteTwin: (id) => o.twins.delete(id),
    deleteModel: (id) => o.models.delete(id),
  };
}
