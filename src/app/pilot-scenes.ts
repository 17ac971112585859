/**
 * A pilot's 3D scenes (docs/scenes.md): `scene/<id>.glb` (the model) beside `scene/<id>.binding.json`
 * (which part shows which twin). Generated from the pilot's own twin graph by generatePilotScene
 * (`twinloop scene generate`), read at start by readPilotScenes: the model is kept in memory and
 * served as it is; the binding seeds the scene store on the first start (later starts keep what the
 * app changed, like rules). Files are size-capped and checked (GLB header, binding against the
 * model's part names) before anything is served.
 */
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { TwinloopError, errors } from '../core/errors/errors.js';
import { ModelRegistry } from '../core/models/model-registry.js';
import { parseUntrustedJson } from '../core/json/untrusted-json.js';
import { checkSceneBinding, type SceneBinding } from '../core/scenes/scene-binding.js';
import { readGlbNodeNames } from '../core/scenes/scene-gltf.js';
import { generateScene, type GeneratedScene, type TelemetryInfo } from '../core/scenes/scene-generate.js';
import { readPilot, resolvePilotDir } from './pilot-files.js';

/** Largest model file served (bytes). */
export const MAX_SCENE_MODEL_BYTES = 16 * 1024 * 1024;
/** Largest binding file read (bytes). */
export const MAX_SCENE_BINDING_BYTES = 1024 * 1024;
/** Most scenes one pilot ships. */
export const MAX_PILOT_SCENES = 32;

export interface PilotScene {
  id: string;
  /** The GLB bytes. */
  model: Buffer;
  /** The part (node) names of the model. */
  parts: string[];
  /** The binding as shipped (checked). */
  binding: SceneBinding;
}

const SCENE_ID = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** The telemetry of every model of a pilot, `extends` flattened (numeric ones can colour). */
function pilotTelemetry(pilotDir: string): (modelId: string) => TelemetryInfo[] {
  const pilot = readPilot(pilotDir);
  const registry = ModelRegistry.load(pilot.models);
  return (modelId) => {
    const info = registry.getInterface(modelId);
    if (!info) return [];
    const out: TelemetryInfo[] = [];
    for (const c of info.contents.values()) {
      if (c.kind !== 'Telemetry') continue;
      const numeric =
        c.schema.kind === 'primitive' && ['double', 'float', 'integer', 'long'].includes(c.schema.name);
      out.push({ name: c.name, numeric, ...(c.unit ? { unit: c.unit } : {}) });
    }
    return out;
  };
}

/** The scene a pilot's twin graph gives (id: the pilot's folder name). */
export function generatePilotScene(nameOrPath: string): GeneratedScene & { id: string } {
  const pilot = readPilot(nameOrPath);
  const telemetryOf = pilotTelemetry(pilot.dir);
  const twins = pilot.twins.map((t) => ({
    id: String(t.$dtId),
    modelId: String(((t.$metadata ?? {}) as { $model?: unknown }).$model),
  }));
  const relationships = pilot.relationships.map((r) => ({
    source: String(r.$sourceId),
    target: String(r.$targetId),
    name: String(r.$relationshipName),
  }));
  return { id: pilot.name, ...generateScene({ title: pilot.name, twins, relationships, telemetryOf }) };
}

/**
 * JSON as the repository's formatter writes it: two-space indents, arrays of plain values on one
 * line (so a generated file passes `prettier --check` and the drift test compares bytes).
 */
export function formatSceneJson(value: unknown): string {
  const text = JSON.stringify(value, null, 2);
  return `${text.replace(/\[\n\s+([^[\]{}]*?)\n\s*\]/g, (_m, inner: string) => `[${inner.split(/,\n\s+/).join(', ')}]`)}\n`;
}

/** The files generatePilotScene's scene is written as: name → bytes. */
export function sceneFiles(scene: GeneratedScene & { id: string }): Map<string, Uint8Array> {
  return new Map<string, Uint8Array>([
    [`${scene.id}.glb`, scene.glb],
    [`${scene.id}.binding.json`, new TextEncoder().encode(formatSceneJson(scene.binding))],
  ]);
}

/** Writes the scene into `outDir` (default: the pilot's scene/ folder); returns the paths written. */
export function writePilotScene(nameOrPath: string, outDir?: string): string[] {
  const scene = generatePilotScene(nameOrPath);
  const dir = outDir ?? path.join(resolvePilotDir(nameOrPath), 'scene');
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  for (const [name, bytes] of sceneFiles(scene)) {
    const file = path.join(dir, name);
    writeFileSync(file, bytes);
    written.push(file);
  }
  return written;
}

function readCapped(file: string, max: number, what: string): Buffer {
  const size = statSync(file).size;
  if (size > max)
    throw new TwinloopError('PayloadTooLarge', `The ${what} ${file} is ${size} bytes; at most ${max}.`);
  return readFileSync(file);
}

/**
 * A pilot's scenes ([] without a scene/ folder).
 * @throws TwinloopError BadRequest / ValidationFailed / PayloadTooLarge naming the file and what is
 *   wrong (a model that is not GLB 2.0, a binding that is not valid or names parts the model lacks)
 */
export function readPilotScenes(nameOrPath: string): PilotScene[] {
  const dir = path.join(resolvePilotDir(nameOrPath), 'scene');
  if (!existsSync(dir)) return [];
  const ids = readdirSync(dir)
    .filter((f) => f.endsWith('.glb'))
    .map((f) => f.slice(0, -'.glb'.length))
    .sort();
  if (ids.length > MAX_PILOT_SCENES)
    throw new TwinloopError('BadRequest', `${dir} holds ${ids.length} scenes; at most ${MAX_PILOT_SCENES}.`);
  return ids.map((id) => {
    if (!SCENE_ID.test(id))
      throw new TwinloopError(
        'BadRequest',
        `Scene file ${path.join(dir, `${id}.glb`)}: a scene id is lower-case letters, digits and '-' (at most 64).`,
      );
    const modelFile = path.join(dir, `${id}.glb`);
    const model = readCapped(modelFile, MAX_SCENE_MODEL_BYTES, 'scene model');
    let parts: string[];
    try {
      parts = readGlbNodeNames(model);
    } catch (e) {
      throw new TwinloopError('BadRequest', `Scene model ${modelFile}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const bindingFile = path.join(dir, `${id}.binding.json`);
    if (!existsSync(bindingFile))
      throw new TwinloopError(
        'NotFound',
        `Scene ${id} has a model but no binding: ${bindingFile} is missing.`,
      );
    const parsed = parseUntrustedJson(readCapped(bindingFile, MAX_SCENE_BINDING_BYTES, 'scene binding'), {
      what: `The scene binding ${bindingFile}`,
      source: bindingFile,
    });
    if (!parsed.ok)
      throw errors.validation('ValidationFailed', `Scene binding ${bindingFile} is not valid JSON.`, [
        parsed.problem,
      ]);
    const { binding, problems } = checkSceneBinding(parsed.value, {
      parts: new Set(parts),
      source: bindingFile,
    });
    if (!binding)
      throw errors.validation('ValidationFailed', `Scene binding ${bindingFile} is invalid.`, problems);
    return { id, model, parts, binding };
  });
}

/** SCENE_ID as a check, for routes. */
export function isSceneId(id: string): boolean {
  return SCENE_ID.test(id);
}
