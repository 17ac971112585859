/**
 * Loads a pilot (models, twins, relationships) into a workspace through the same services the API
 * uses, so a pilot's files are checked exactly like a user's requests. Runs on first start only.
 * Its derived-value definitions are read and checked at every start (loadPilotDerived).
 */
import type { ModelService } from '../core/models/model-service.js';
import type { TwinService } from '../core/twins/twin-service.js';
import { TwinloopError, errors, isTwinloopError } from '../core/errors/errors.js';
import { checkDerived } from '../analytics/derived/check-derived.js';
import type { DerivedCheckWorld } from '../analytics/derived/check-derived.js';
import type { DerivedFileSpec, DerivedSet } from '../analytics/derived/derived-types.js';
import { readDerived } from '../analytics/derived/read-derived.js';
import type { Problem } from '../core/errors/errors.js';
import { readPilot, readPilotDerived } from './pilot-files.js';

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

/**
 * A pilot's derived-value definitions (`derived/*.yaml`), read and checked against the workspace's
 * models and twins, for the analytics runtime; called at every start (definitions are files, not
 * stored data). Warnings are returned with the sets.
 *
 * `lenient` (a data folder started before, whose models were stored when it was first started): a
 * file with problems is left out, its problems returned as warnings with `skipped` naming it, and
 * the rest is checked again without it (files may read each other's values) — the pilot's files may
 * be newer than the folder's models (a property added since), and that must not stop the start.
 * @throws TwinloopError ValidationFailed listing every problem of every file (file, line, column),
 *   unless lenient.
 */
export function loadPilotDerived(
  nameOrPath: string,
  world: DerivedCheckWorld,
  options: { lenient?: boolean } = {},
): { sets: DerivedSet[]; warnings: Problem[]; skipped: string[] } {
  let specs: DerivedFileSpec[] = [];
  const readProblems: Problem[] = [];
  for (const { source, text } of readPilotDerived(nameOrPath)) {
    const r = readDerived(text, source);
    readProblems.push(...r.problems);
    if (r.spec) specs.push(r.spec);
  }
  const isError = (p: Problem) => p.severity !== 'warning';
  const skipped: string[] = [];
  const demoted: Problem[] = [];
  for (;;) {
    const checked = checkDerived(specs, world);
    const problems = [...readProblems, ...checked.problems];
    const errs = problems.filter(isError);
    if (errs.length === 0)
      return { sets: checked.sets, warnings: [...demoted, ...problems.filter((p) => !isError(p))], skipped };
    if (!options.lenient)
      throw errors.validation('ValidationFailed', `Pilot derived values are invalid.`, errs);
    // Leave out every file with an error (a problem without a file leaves out all of them).
    const bad = new Set(errs.map((p) => p.source ?? ''));
    for (const p of errs) demoted.push({ ...p, severity: 'warning' });
    readProblems.length = 0;
    const keep = specs.filter((sp) => !bad.has(sp.source ?? '') && !bad.has(''));
    for (const sp of specs) if (!keep.includes(sp)) skipped.push(sp.source ?? '(unnamed)');
    for (const src of bad) if (src !== '' && !skipped.includes(src)) skipped.push(src);
    if (keep.length === specs.length) return { sets: [], warnings: demoted, skipped };
    specs = keep;
  }
}
