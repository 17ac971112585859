/**
 * Loads a pilot (models, twins, relationships) into a workspace through the same services the API
 * uses, so a pilot's files are checked exactly like a user's requests. Runs on first start only.
 */
import type { ModelService } from '../core/models/model-service.js';
import type { TwinService } from '../core/twins/twin-service.js';
import { TwinloopError, isTwinloopError } from '../core/errors/errors.js';
import { readPilot } from './pilot-files.js';

export interface PilotLoadResult {
  name: string;
  models: number;
  twins: number;
  relationships: number;
}

export async function loadPilot(
  nameOrPath: string,
  services: { models: ModelService; twins: TwinService },
): Promise<PilotLoadResult> {
  const pilot = readPilot(nameOrPath);
  const where = (what: string, e: unknown) =>
    isTwinloopError(e)
      ? new TwinloopError(e.code, `Pilot ${pilot.name}: ${what}: ${e.message}`, {
          cause: e,
          problems: e.problems,
        })
      : e;
  try {
    await services.models.add(pilot.models.map((m) => m.json));
  } catch (e) {
    throw where('models', e);
  }
  for (const t of pilot.twins) {
    const { $dtId, ...body } = t;
    try {
      await services.twins.createOrReplace(String($dtId), body);
    } catch (e) {
      throw where(`twin ${String($dtId)}`, e);
    }
  }
  for (const r of pilot.relationships) {
    const { $sourceId, $relationshipId, ...body } = r;
    try {
      await services.twins.relationships.createOrReplace(String($sourceId), String($relationshipId), body);
    } catch (e) {
      throw where(`relationship ${String($sourceId)}/${String($relationshipId)}`, e);
    }
  }
  return {
    name: pilot.name,
    models: pilot.models.length,
    twins: pilot.twins.length,
    relationships: pilot.relationships.length,
  };
}
