/**
 * A workspace's 3D scenes (docs/scenes.md): models given at start (a pilot's `scene/*.glb`, kept in
 * memory) and their bindings, stored versioned in the scene store so an edit made in the app
 * survives a restart. A scene's shipped binding seeds the store when the store has none for it (the
 * first start, or a data folder older than scenes); later edits are kept.
 *
 * @example
 * const scenes = new SceneService({ workspace: 'default', store: storage.scenes, scenes: readPilotScenes('pump-line'),
 *   twinExists: (id) => graph.getTwin(id) !== undefined });
 * await scenes.seed();
 * await scenes.putBinding('pump-line', body); // → the stored version, or ValidationFailed with pointers
 */
import { createHash } from 'node:crypto';
import { TwinloopError, errors, quote } from '../errors/errors.js';
import type { RuleStore } from '../ports/rule-store.js';
import { checkSceneBinding, type SceneBinding } from './scene-binding.js';

/** A scene's model as given at start. */
export interface SceneModel {
  id: string;
  /** GLB bytes. */
  model: Uint8Array;
  /** The model's part (node) names. */
  parts: readonly string[];
  /** The binding shipped with the model (seeds the store). */
  binding: SceneBinding;
}

export interface SceneView {
  id: string;
  title: string;
  /** Version of the stored binding (1, 2, …). */
  version: number;
  updatedAt: number;
  binding: SceneBinding;
  parts: readonly string[];
}

export interface SceneModelFile {
  bytes: Uint8Array;
  /** A strong validator of the bytes (quoted, for ETag). */
  etag: string;
}

export class SceneService {
  private readonly models = new Map<string, SceneModel & { etag: string }>();

  constructor(
    private readonly o: {
      workspace: string;
      store: RuleStore;
      scenes: readonly SceneModel[];
      /** Whether a twin exists now: a binding put through the API may name only existing twins. */
      twinExists: (id: string) => boolean;
    },
  ) {
    for (const s of o.scenes) {
      const etag = `"${createHash('sha256').update(s.model).digest('base64url').slice(0, 27)}"`;
      this.models.set(s.id, { ...s, etag });
    }
  }

  /** Stores each shipped binding whose scene has none stored yet; returns how many it stored. */
  async seed(): Promise<number> {
    let n = 0;
    for (const s of this.models.values()) {
      if (await this.o.store.get(this.o.workspace, s.id)) continue;
      await this.o.store.put(this.o.workspace, s.id, s.binding as unknown as Record<string, unknown>);
      n++;
    }
    return n;
  }

  ids(): string[] {
    return [...this.models.keys()];
  }

  private model(id: string) {
    const m = this.models.get(id);
    if (!m) throw new TwinloopError('NotFound', `There is no scene '${quote(id)}'.`);
    return m;
  }

  /** @throws NotFound for an unknown scene; StorageError */
  async get(id: string): Promise<SceneView> {
    const m = this.model(id);
    const stored = await this.o.store.get(this.o.workspace, id);
    // A stored binding is read back through the same check: storage is not trusted to be what we wrote.
    const binding = stored ? (checkSceneBinding(stored.definition).binding ?? m.binding) : m.binding;
    return {
      id,
      title: binding.title,
      version: stored?.version ?? 0,
      updatedAt: stored?.createdAt ?? 0,
      binding,
      parts: m.parts,
    };
  }

  /** Every scene, by id; with `twin`, only those binding a part to it. */
  async list(twin?: string): Promise<SceneView[]> {
    const out: SceneView[] = [];
    for (const id of [...this.models.keys()].sort()) {
      const v = await this.get(id);
      if (twin === undefined || Object.values(v.binding.parts).some((p) => p.twin === twin)) out.push(v);
    }
    return out;
  }

  /** @throws NotFound for an unknown scene */
  modelFile(id: string): SceneModelFile {
    const m = this.model(id);
    return { bytes: m.model, etag: m.etag };
  }

  /**
   * Replaces a scene's binding (a new version when it differs).
   * @throws NotFound for an unknown scene; ValidationFailed with every problem at its JSON pointer
   *   (unknown parts, twins that do not exist, bad scales, unknown or forbidden keys)
   */
  async putBinding(
    id: string,
    body: unknown,
  ): Promise<SceneView & { outcome: 'created' | 'updated' | 'unchanged' }> {
    const m = this.model(id);
    const { binding, problems } = checkSceneBinding(body, {
      parts: new Set(m.parts),
      twinExists: this.o.twinExists,
      source: 'request body',
    });
    if (!binding)
      throw errors.validation(
        'ValidationFailed',
        `The binding of scene '${quote(id)}' is invalid.`,
        problems,
      );
    const { rule, outcome } = await this.o.store.put(
      this.o.workspace,
      id,
      binding as unknown as Record<string, unknown>,
    );
    return {
      id,
      title: binding.title,
      version: rule.version,
      updatedAt: rule.createdAt,
      binding,
      parts: m.parts,
      outcome,
    };
  }
}
