/**
 * Reads a pilot folder: `models/*.json` (DTDL interfaces, one or an array per file) and `twins.json`
 * (`{ twins: [ADT twin JSON], relationships: [ADT relationship JSON] }`). Pilots ship in `pilots/`;
 * a user copies one to make their own and passes its path with --pilot.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TwinloopError, errors } from '../core/errors/errors.js';
import { expandScenarioFleet, readScenario } from '../sim/scenario/read-scenario.js';
import type { ScenarioSpec } from '../sim/scenario/scenario-types.js';

export interface PilotFiles {
  name: string;
  dir: string;
  description?: string;
  /** scenario.yaml, when the pilot has one (simulation settings, generated fleet, events). */
  scenario?: ScenarioSpec;
  models: { source: string; json: unknown }[];
  twins: Record<string, unknown>[];
  relationships: Record<string, unknown>[];
}

/** The pilots/ folder shipped with the package (works from src/ with tsx and from dist/). */
export function shippedPilotsDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'pilots');
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return path.resolve('pilots');
}

/** Resolves a pilot name (a folder under pilots/) or a path. */
export function resolvePilotDir(nameOrPath: string): string {
  if (nameOrPath.includes('/') || nameOrPath.startsWith('.')) return path.resolve(nameOrPath);
  return path.join(shippedPilotsDir(), nameOrPath);
}

function parseJsonFile(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) as unknown;
  } catch (e) {
    throw new TwinloopError('BadRequest', `Pilot file ${file} is not valid JSON: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** Options of readPilot. */
export interface ReadPilotOptions {
  /** How many assets the scenario's fleet generates (--assets N; default: its `count`). */
  assets?: number;
}

/**
 * Reads a pilot's scenario.yaml (undefined without one).
 * @throws TwinloopError ValidationFailed with every problem at its line and column.
 */
export function readPilotScenario(nameOrPath: string): ScenarioSpec | undefined {
  const file = path.join(resolvePilotDir(nameOrPath), 'scenario.yaml');
  if (!existsSync(file)) return undefined;
  const { scenario, problems } = readScenario(readFileSync(file, 'utf8').replace(/^\uFEFF/, ''), file);
  const errs = problems.filter((p) => p.severity !== 'warning');
  if (!scenario || errs.length)
    throw errors.validation('ValidationFailed', `Pilot scenario ${file} is invalid.`, errs);
  return scenario;
}

/**
 * Reads a pilot folder: models, twins.json, and the twins and relationships its scenario's fleet
 * generates. @throws TwinloopError NotFound (no such pilot), BadRequest (bad JSON), ValidationFailed
 * (bad scenario), BadRequest (--assets without a fleet).
 */
export function readPilot(nameOrPath: string, options: ReadPilotOptions = {}): PilotFiles {
  const dir = resolvePilotDir(nameOrPath);
  const modelsDir = path.join(dir, 'models');
  if (!existsSync(modelsDir)) {
    const available = existsSync(shippedPilotsDir()) ? readdirSync(shippedPilotsDir()).join(', ') : 'none';
    throw new TwinloopError(
      'NotFound',
      `No pilot at ${dir} (it needs a models/ folder). Shipped pilots: ${available}.`,
    );
  }
  const models = readdirSync(modelsDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) => {
      const json = parseJsonFile(path.join(modelsDir, f));
      return (Array.isArray(json) ? json : [json]).map((j) => ({
        source: path.join(modelsDir, f),
        json: j as unknown,
      }));
    });
  const twinsFile = path.join(dir, 'twins.json');
  const graph = existsSync(twinsFile)
    ? (parseJsonFile(twinsFile) as {
        description?: string;
        twins?: Record<string, unknown>[];
        relationships?: Record<string, unknown>[];
      })
    : {};
  const scenario = readPilotScenario(dir);
  if (options.assets !== undefined && !scenario?.fleet)
    throw new TwinloopError(
      'BadRequest',
      `Pilot ${path.basename(dir)} generates no fleet (its scenario.yaml has no 'fleet:'), so --assets cannot size it.`,
    );
  const fleet = scenario?.fleet ? expandScenarioFleet(scenario.fleet, options.assets) : undefined;
  return {
    name: path.basename(dir),
    dir,
    description: graph.description,
    ...(scenario ? { scenario } : {}),
    models,
    twins: [...(graph.twins ?? []), ...(fleet?.twins ?? [])],
    relationships: [...(graph.relationships ?? []), ...(fleet?.relationships ?? [])],
  };
}

/** A pilot's behaviour model files (`behaviours/*.yaml|yml|json`, sorted); [] without the folder. */
export function readPilotBehaviours(nameOrPath: string): { source: string; text: string }[] {
  return readPilotFolder(nameOrPath, 'behaviours', 'behaviour');
}

/** A pilot's derived-value definitions (`derived/*.yaml|yml|json`, sorted); [] without the folder. */
export function readPilotDerived(nameOrPath: string): { source: string; text: string }[] {
  return readPilotFolder(nameOrPath, 'derived', 'derived-values');
}

/** A pilot's behaviour plug-in modules (`behaviours/*.plugin.mjs|js`, sorted); [] without any. */
export function pilotBehaviourPlugins(nameOrPath: string): string[] {
  const dir = path.join(resolvePilotDir(nameOrPath), 'behaviours');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.plugin\.(mjs|js)$/.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** A pilot's rule files (`rules/*.yaml|yml|json`, sorted; docs/rules.md); [] without the folder. */
export function readPilotRules(nameOrPath: string): { source: string; text: string }[] {
  return readPilotFolder(nameOrPath, 'rules', 'rule');
}

/** The YAML/JSON files of one folder of a pilot, sorted, BOM removed; [] without the folder. */
function readPilotFolder(
  nameOrPath: string,
  folder: string,
  what: string,
): { source: string; text: string }[] {
  const dir = path.join(resolvePilotDir(nameOrPath), folder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort()
    .map((f) => {
      const source = path.join(dir, f);
      try {
        return { source, text: readFileSync(source, 'utf8').replace(/^\uFEFF/, '') };
      } catch (e) {
        throw new TwinloopError(
          'BadRequest',
          `Cannot read the ${what} file ${source}: ${(e as Error).message}`,
          {
            cause: e,
          },
        );
      }
    });
}
