/**
 * The rule engine's view of the models: the schema (telemetry and property names, own,
 * inherited and of components as `component/name`) a rule's names are checked against.
 */
import type { ModelLookup } from '../../core/models/model-types.js';
import type { RuleModelSchema } from './read-rule.js';

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
