/**
 * The ML model registry (docs/ml-models.md): the workspace's MlModelRegistry over the storage's model
 * store, stamping models with the running code's version, and its HTTP routes. Live inference (wired
 * by whoever adds it) subscribes with `registry.onChange` and reloads a target's active model.
 */
import type { Logger } from 'pino';
import type { Storage } from '../../core/ports/storage.js';
import { MlModelRegistry } from '../../analytics/ml/ml-model-registry.js';
import { mlRoutesPlugin } from '../../adapters/http/http-ml-routes.js';
import { codeVersion } from '../code-version.js';

export interface MlModelsSubsystem {
  registry: MlModelRegistry;
  plugin: ReturnType<typeof mlRoutesPlugin>;
  /** Stops following other nodes' activations. */
  close(): void;
}

export function startMlModels(o: {
  workspace: string;
  storage: Pick<Storage, 'mlModels'>;
  logger: Logger;
  /** On a cluster: follow activations made on other nodes (every 2 s), so every node's listeners hear them. */
  followOtherNodes?: boolean;
}): MlModelsSubsystem {
  const log = o.logger.child({ component: 'ml-models' });
  const registry = new MlModelRegistry({
    workspace: o.workspace,
    store: o.storage.mlModels,
    codeVersion: codeVersion(),
    onListenerError: (err, change) => log.error({ err, change }, 'an ML model change listener failed'),
  });
  registry.onChange((c) => {
    if (c.type !== 'added') log.info({ change: c }, `ML model ${c.modelId} ${c.type}`);
  });
  const stop = o.followOtherNodes
    ? registry.follow(2000, (err) => log.warn({ err }, 'cannot read the active ML models'))
    : undefined;
  return { registry, plugin: mlRoutesPlugin(registry), close: () => stop?.() };
}
