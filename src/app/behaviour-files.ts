/**
 * Reads a pilot's behaviour models (`behaviours/*.yaml|json`) and compiles them against the
 * workspace's models into a BehaviourCatalog: the one catalog the device simulator, what-if runs,
 * shadow mode and calibration share. Every error names the file (and the line).
 */
import { TwinloopError } from '../core/errors/errors.js';
import type { ModelLookup } from '../core/models/model-types.js';
import { BehaviourCatalog, type CatalogEntry } from '../sim/behaviour/behaviour-catalog.js';
import { compileBehaviour } from '../sim/behaviour/compile-behaviour.js';
import { readLocatedDocument } from '../sim/behaviour/located-document.js';
import { pathToFileURL } from 'node:url';
import { installBehaviourPlugin } from '../sim/behaviour/behaviour-plugin.js';
import { pilotBehaviourPlugins, readPilotBehaviours } from './pilot-files.js';

/** The `interface:` of a behaviour text, read without compiling (the model is needed to compile). */
function interfaceOf(source: string, text: string): string {
  const doc = readLocatedDocument(text, source);
  const root = doc.root;
  if (root === undefined || doc.problems.some((p) => p.severity !== 'warning')) {
    const first = doc.problems[0];
    throw new TwinloopError(
      'ValidationFailed',
      `Behaviour model ${source}${first?.line !== undefined ? `:${first.line}:${first.column ?? 1}` : ''} is not valid YAML/JSON: ${first?.message ?? 'empty document'}`,
      { problems: doc.problems },
    );
  }
  const entry = root.kind === 'map' ? root.entries.find((e) => e.key === 'interface') : undefined;
  if (!entry || entry.value.kind !== 'scalar' || typeof entry.value.value !== 'string') {
    const loc = entry?.value.loc ?? root.loc;
    throw new TwinloopError(
      'ValidationFailed',
      `Behaviour model ${source}:${loc.line}:${loc.column}: it needs an 'interface:' naming the DTMI of the twins it simulates.`,
    );
  }
  return entry.value.value;
}

/** Compiles one behaviour text against the models. @throws TwinloopError naming the file and line. */
export function compileBehaviourFile(source: string, text: string, models: ModelLookup): CatalogEntry {
  const interfaceId = interfaceOf(source, text);
  const iface = models.getInterface(interfaceId);
  if (!iface) {
    const line = text.split('\n').findIndex((l) => /^interface\s*:/.test(l)) + 1;
    throw new TwinloopError(
      'ModelNotFound',
      `Behaviour model ${source}:${line || 1}: interface ${interfaceId} is not a model of the workspace.`,
    );
  }
  return { source, interfaceId, model: compileBehaviour(text, iface, { source, lookup: models }) };
}

/**
 * Installs a pilot's behaviour plug-ins (`behaviours/*.plugin.mjs|js`, see
 * src/sim/behaviour/behaviour-plugin.ts). @returns the functions installed.
 * @throws TwinloopError ValidationFailed naming the file when one cannot be loaded or is malformed.
 */
export async function loadBehaviourPlugins(pilot: string): Promise<string[]> {
  const names: string[] = [];
  for (const file of pilotBehaviourPlugins(pilot)) {
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
    } catch (e) {
      throw new TwinloopError(
        'ValidationFailed',
        `Behaviour plug-in ${file} cannot be loaded: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    names.push(...installBehaviourPlugin(mod.default, file));
  }
  return names;
}

/**
 * The catalog of a pilot's behaviours (empty when it has no behaviours/ folder), its plug-ins
 * installed first. @throws TwinloopError ValidationFailed / ModelNotFound / Conflict naming the file.
 */
export async function loadBehaviourCatalog(pilot: string, models: ModelLookup): Promise<BehaviourCatalog> {
  await loadBehaviourPlugins(pilot);
  const entries = readPilotBehaviours(pilot).map(({ source, text }) =>
    compileBehaviourFile(source, text, models),
  );
  return new BehaviourCatalog(entries, models);
}
