/**
 * A pilot folder's models, twins and relationships as the device simulator sees them, read from its
 * files (for `twinloop simulate` run without a platform in-process, and for tests): the behaviour
 * catalog compiled against the pilot's own DTDL, the twins, and a world answering from the files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TwinloopError } from '../core/errors/errors.js';
import { isValidResult, parseDtdl } from '../core/models/dtdl/parse-dtdl.js';
import type { ModelLookup } from '../core/models/model-types.js';
import { commandResponseOf, isReadOnlyProperty } from '../sim/device/command-response.js';
import type { SimulatorOptions, SimulatorWorld } from '../sim/device/device-simulator.js';
import { loadBehaviourCatalog } from './behaviour-files.js';
import { readPilot } from './pilot-files.js';

export async function pilotWorkspace(
  pilot: string,
  options: { assets?: number } = {},
): Promise<
  Pick<
    SimulatorOptions,
    'catalog' | 'twins' | 'world' | 'scenario' | 'commandResponse' | 'readOnlyProperty'
  > & {
    /** The pilot's twins and relationships (ADT JSON), generated fleet included. */
    files: ReturnType<typeof readPilot>;
  }
> {
  const files = readPilot(pilot, options);
  const modelsDir = path.join(files.dir, 'models');
  const parsed = parseDtdl(
    readdirSync(modelsDir)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => ({ source: path.join(modelsDir, f), text: readFileSync(path.join(modelsDir, f), 'utf8') })),
  );
  if (!isValidResult(parsed))
    throw new TwinloopError('DTDLParserError', `Pilot ${files.name}: its models are invalid.`, {
      problems: parsed.problems,
    });
  const models: ModelLookup = {
    getInterface: (id) => parsed.interfaces.get(id),
    isOfModel: (m, b) => m === b || (parsed.interfaces.get(m)?.ancestors.includes(b) ?? false),
  };
  const twins = files.twins.map((t) => ({
    id: String(t.$dtId),
    modelId: String((t.$metadata as { $model?: unknown } | undefined)?.$model ?? ''),
  }));
  const byId = new Map(files.twins.map((t) => [String(t.$dtId), t]));
  const rels = files.relationships.map((r) => ({
    source: String(r.$sourceId),
    target: String(r.$targetId),
    name: String(r.$relationshipName),
  }));
  const world: SimulatorWorld = {
    property: (id, name) => byId.get(id)?.[name],
    related: (id, name, direction) =>
      direction === 'outgoing'
        ? rels.filter((r) => r.source === id && r.name === name).map((r) => r.target)
        : rels.filter((r) => r.target === id && r.name === name).map((r) => r.source),
    latest: (id, name) => byId.get(id)?.[name],
  };
  const modelOf = new Map(twins.map((t) => [t.id, t.modelId]));
  return {
    catalog: await loadBehaviourCatalog(pilot, models),
    twins,
    world,
    // A simulated device answers a command with a value of the command's response schema.
    commandResponse: (twinId, command) => {
      const modelId = modelOf.get(twinId);
      const c = modelId === undefined ? undefined : models.getInterface(modelId)?.contents.get(command);
      return commandResponseOf(c?.kind === 'Command' ? c : undefined);
    },
    readOnlyProperty: (twinId, name) => {
      const modelId = modelOf.get(twinId);
      return isReadOnlyProperty(modelId === undefined ? undefined : models.getInterface(modelId), name);
    },
    ...(files.scenario ? { scenario: files.scenario } : {}),
    files,
  };
}
