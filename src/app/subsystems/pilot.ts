/**
 * The pilot of the data folder: seeded on the first run (models, twins, relationships), recorded in
 * `pilot.json`; later runs keep the folder's own and refuse another. Its behaviour models
 * (`behaviours/`) are compiled against the workspace's models into the one catalog the simulator,
 * what-if runs, shadow mode and calibration share.
 */
import type { Logger } from 'pino';
import { TwinloopError } from '../../core/errors/errors.js';
import type { ModelService } from '../../core/models/model-service.js';
import type { TwinService } from '../../core/twins/twin-service.js';
import { BehaviourCatalog } from '../../sim/behaviour/behaviour-catalog.js';
import { loadBehaviourCatalog } from '../behaviour-files.js';
import type { TwinloopConfig } from '../config.js';
import { loadPilot } from '../pilot-loader.js';
import { readPilotRecord, writePilotRecord } from '../runtime-files.js';

/** The pilot a new data folder is seeded with. */
export const DEFAULT_PILOT = 'pump-line';

export interface PilotChoice {
  /** The pilot's name or path, or 'none'. */
  pilot: string;
  /** True when the folder names no pilot and the default one is assumed (checked by loadBehaviours). */
  guessed: boolean;
}

/**
 * Decides the pilot and seeds an empty workspace with it.
 * @throws TwinloopError InvalidConfig when the folder holds another pilot than the one asked for.
 */
export async function seedPilot(o: {
  config: Readonly<Pick<TwinloopConfig, 'dataDir' | 'pilot'>>;
  logger: Logger;
  /** What storage held before (a new data folder: nothing). */
  loaded: { models: number; twins: number };
  models: ModelService;
  twins: TwinService;
}): Promise<PilotChoice> {
  const { config, logger, models, twins } = o;
  const recorded = readPilotRecord(config.dataDir)?.pilot;
  const empty = o.loaded.models === 0 && o.loaded.twins === 0;
  if (!empty && recorded && config.pilot && config.pilot !== 'none' && config.pilot !== recorded)
    throw new TwinloopError(
      'InvalidConfig',
      `The data folder ${config.dataDir} holds the pilot '${recorded}', not '${config.pilot}'. Start '${config.pilot}' in its own folder (--data ./data-${config.pilot.replace(/[^\w-]+/g, '_')}), or leave out --pilot to go on with '${recorded}'.`,
    );
  // A folder seeded before pilot.json existed is taken to hold the default pilot (checked below).
  const guessed = !config.pilot && !recorded && !empty;
  const pilot = config.pilot ?? recorded ?? DEFAULT_PILOT;
  if (empty) writePilotRecord(config.dataDir, pilot);
  if (empty && pilot !== 'none') {
    const r = await loadPilot(pilot, { models, twins });
    logger.info(
      { pilot: r.name, models: r.models, twins: r.twins, relationships: r.relationships },
      'pilot loaded',
    );
  }
  return { pilot, guessed };
}

/**
 * The pilot's behaviour models compiled against the workspace's models (empty for 'none'). A guessed
 * pilot whose behaviours do not fit turns into 'none' with a warning.
 * @throws TwinloopError from the behaviour files (file and line) when the pilot was named.
 */
export async function loadBehaviours(o: {
  choice: PilotChoice;
  models: ModelService;
  logger: Logger;
}): Promise<{ pilot: string; behaviours: BehaviourCatalog }> {
  let pilot = o.choice.pilot;
  let behaviours = new BehaviourCatalog([], o.models);
  if (pilot !== 'none') {
    try {
      behaviours = await loadBehaviourCatalog(pilot, o.models);
    } catch (e) {
      if (!o.choice.guessed) throw e;
      o.logger.warn(
        { err: e },
        `the data folder names no pilot and the ${pilot} behaviours do not fit its models: no simulation (give --pilot)`,
      );
      pilot = 'none';
    }
  }
  return { pilot, behaviours };
}
