/**
 * 3D scenes (docs/scenes.md): the pilot's scene files read and checked at every start (the models
 * are served from memory), their shipped bindings stored when the scene store has none yet (later
 * edits made in the app are kept, like rules), and the HTTP routes.
 */
import type { Logger } from 'pino';
import type { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { Storage } from '../../core/ports/storage.js';
import { SceneService } from '../../core/scenes/scene-service.js';
import { sceneRoutesPlugin } from '../../adapters/http/http-scene-routes.js';
import { readPilotScenes } from '../pilot-scenes.js';

export interface ScenesSubsystem {
  service: SceneService;
  plugin: ReturnType<typeof sceneRoutesPlugin>;
}

export async function startScenes(o: {
  workspace: string;
  storage: Pick<Storage, 'scenes'>;
  graph: InMemoryTwinGraph;
  logger: Logger;
  /** The pilot whose scene/ folder to read ('none': no scenes). */
  pilot: string;
}): Promise<ScenesSubsystem> {
  const scenes = o.pilot === 'none' ? [] : readPilotScenes(o.pilot);
  const service = new SceneService({
    workspace: o.workspace,
    store: o.storage.scenes,
    scenes,
    twinExists: (id) => o.graph.getTwin(id) !== undefined,
  });
  const seeded = await service.seed();
  if (scenes.length) o.logger.info({ pilot: o.pilot, scenes: scenes.length, seeded }, 'pilot scenes loaded');
  return { service, plugin: sceneRoutesPlugin(service) };
}
