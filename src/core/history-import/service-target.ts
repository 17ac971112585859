/**
 * The history import's target over a workspace's services: twins are created through the twin
 * service (validated like a REST create; an existing twin is kept as it is), points are appended
 * straight to the history store — an import of the past does not replay live events, rules or
 * event routes, which are about what happens now.
 */
import { TwinloopError, isTwinloopError } from '../errors/errors.js';
import type { GraphView } from '../graph/graph-types.js';
import type { ModelLookup } from '../models/model-types.js';
import type { HistoryStore } from '../ports/storage-ports.js';
import type { TwinService } from '../twins/twin-service.js';
import type { HistoryImportTarget } from './history-import-runner.js';

export interface HistoryTargetOptions {
  workspace: string;
  models: ModelLookup;
  graph: GraphView;
  twins: Pick<TwinService, 'createOrReplace'>;
  history: Pick<HistoryStore, 'append'>;
}

export function serviceHistoryTarget(o: HistoryTargetOptions): HistoryImportTarget {
  return {
    workspace: o.workspace,
    models: o.models,
    twinModel: (id) => o.graph.getTwin(id)?.modelId,
    createTwin: (id, body) =>
      o.twins.createOrReplace(id, body, { ifNoneMatch: '*' }).catch((e: unknown) => {
        if (isTwinloopError(e) && e.code === 'PreconditionFailed')
          throw new TwinloopError('DigitalTwinAlreadyExists', `Twin '${id}' exists already.`);
        throw e;
      }),
    append: (points) => o.history.append(points),
  };
}
