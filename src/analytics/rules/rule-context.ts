/**
 * The rule engine's views of the platform, built from the core's read-only parts: a TwinContext over
 * the twin graph and the model registry, and the schema (telemetry and property names, own,
 * inherited and of components as `component/name`) a rule's names are checked against.
 */
import type { GraphView } from '../../core/graph/graph-types.js';
import type { ModelLookup } from '../../core/models/model-types.js';
import type { TwinContext } from '../analytics-types.js';
import type { RuleModelSchema } from './read-rule.js';

/** A TwinContext over one workspace's graph (other workspaces have no twins here). */
export function graphTwinContext(
  workspace: string,
  graph: GraphView,
  models: Pick<ModelLookup, 'isOfModel'>,
): TwinContext {
  return {
    modelOf: (ws, id) => (ws === workspace ? graph.getTwin(id)?.modelId : undefined),
    isOfModel: (_ws, modelId, base) => models.isOfModel(modelId, base),
    property: (ws, id, name) => {
      if (ws !== workspace) return undefined;
      const twin = graph.getTwin(id);
      if (!twin) return undefined;
      const slash = name.indexOf('/');
      const own = (o: Record<string, unknown>, k: string) => (Object.hasOwn(o, k) ? o[k] : undefined);
      if (slash < 0) return own(twin.contents, name);
      const comp = own(twin.contents, name.slice(0, slash));
      return typeof comp === 'object' && comp !== null
        ? own(comp as Record<string, unknown>, name.slice(slash + 1))
        : undefined;
    },
    related: (ws, id, rel) => (ws === workspace ? [...graph.outgoing(id, rel)].map((r) => r.targetId) : []),
  };
}

/**
 * The names a rule on `modelId` may read; undefined when the model is unknown. `derived` adds the
 * telemetry the platform derives for twins of the model (derived values, anomaly scores), which
 * reach the rules on the stream like readings.
 */
export function ruleModelSchema(
  models: Pick<ModelLookup, 'getInterface'>,
  modelId: string,
  derived?: (modelId: string) => Iterable<string>,
): RuleModelSchema | undefined {
  const root = models.getInterface(modelId);
  if (!root) return undefined;
  const telemetry = new Set<string>(derived ? derived(modelId) : []);
  const properties = new Set<string>();
  for (const [name, c] of root.contents) {
    if (c.kind === 'Telemetry') telemetry.add(name);
    else if (c.kind === 'Property') properties.add(name);
    else if (c.kind === 'Component') {
      for (const [n, cc] of models.getInterface(c.schema)?.contents ?? []) {
        if (cc.kind === 'Telemetry') telemetry.add(`${name}/${n}`);
        else if (cc.kind === 'Property') properties.add(`${name}/${n}`);
      }
    }
  }
  return { telemetry, properties };
}
