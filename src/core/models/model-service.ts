/**
 * ADT model semantics for one workspace: upload a batch (all or nothing), list with
 * `dependenciesFor` / `includeModelDefinition`, get, decommission, delete. The registry does the DTDL
 * work (parsing, resolution, dependency graph); this service adds what ADT exposes on top of it
 * (upload time, decommissioned flag, the document as uploaded) and persists through a ModelStore.
 * Writes are asynchronous (the store is): a write changes the registry and this service's view
 * only once the store has it; an upload checks and registers its batch synchronously before the
 * store write, so a concurrent upload of the same ids is refused (ModelAlreadyExists), and takes
 * it back out when the store write fails.
 */
import { TwinloopError, errors, type Problem } from '../errors/errors.js';
import type { ModelStore, StoredModel } from '../ports/storage-ports.js';
import type { ModelRegistry } from './model-registry.js';
import type { InterfaceInfo, ModelLookup } from './model-types.js';

/** ADT's DigitalTwinsModelData. */
export interface ModelData {
  id: string;
  displayName: Record<string, string>;
  description: Record<string, string>;
  /** ISO 8601. */
  uploadTime: string;
  decommissioned: boolean;
  model?: unknown;
}

export interface ModelServiceOptions {
  workspace: string;
  registry: ModelRegistry;
  store: ModelStore;
  /** Clock, ms since epoch (tests pass a fixed one). */
  now?: () => number;
}

export interface ListModelsOptions {
  /** Return these models and everything they depend on. @throws ModelNotFound for an unknown id */
  dependenciesFor?: readonly string[];
  includeModelDefinition?: boolean;
}

interface ModelMeta {
  definition: unknown;
  uploadTime: number;
  decommissioned: boolean;
}

/**
 * One workspace's models, ADT-style.
 *
 * @example
 * const models = new ModelService({ workspace: 'default', registry, store });
 * await models.load();                 // from the store, at start
 * await models.add([{ '@id': 'dtmi:ex:Room;1', '@type': 'Interface', '@context': 'dtmi:dtdl:context;3' }]);
 */
export class ModelService implements ModelLookup {
  readonly workspace: string;
  private readonly registry: ModelRegistry;
  private readonly store: ModelStore;
  private readonly now: () => number;
  /** In upload order (Map keeps insertion order). */
  private readonly meta = new Map<string, ModelMeta>();
  /** Ids of uploads whose store write is in flight (registered, not yet listed). */
  private readonly adding = new Set<string>();
  /** Ids being deleted or decommissioned (one store write per model at a time). */
  private readonly busy = new Set<string>();

  constructor(options: ModelServiceOptions) {
    this.workspace = options.workspace;
    this.registry = options.registry;
    this.store = options.store;
    this.now = options.now ?? Date.now;
  }

  /**
   * Loads the stored models into the registry: at start, and again whenever another node of a
   * cluster changed them (the store is shared): models uploaded since are added, decommissioned
   * ones flagged, deleted ones removed (dependents first), one deleted and uploaded again replaced
   * (told by its upload time). This node's own writes in flight are left
   * alone. Returns how many models are stored.
   * @throws DTDLParserError when stored documents no longer resolve
   */
  async load(): Promise<number> {
    const stored = await this.store.list(this.workspace);
    // Gone, or deleted and uploaded again (another definition) since this node read it.
    const inStore = new Map(stored.map((m) => [m.id, m.uploadTime]));
    this.removeGone(
      [...this.meta]
        .filter(([id, m]) => inStore.get(id) !== m.uploadTime && !this.busy.has(id))
        .map(([id]) => id),
    );
    const fresh = stored.filter((m) => !this.meta.has(m.id) && !this.adding.has(m.id));
    const docs = fresh.map((m) => parseStored(m));
    if (fresh.length)
      this.registry.add(
        docs.map((json, i) => ({ source: `stored model ${fresh[i]!.id}`, json })),
        { reload: true },
      );
    fresh.forEach((m, i) =>
      this.meta.set(m.id, { definition: docs[i], uploadTime: m.uploadTime, decommissioned: false }),
    );
    for (const m of stored) {
      const known = this.meta.get(m.id);
      if (!m.decommissioned || !known || known.decommissioned) continue;
      this.registry.setDecommissioned(m.id, true);
      known.decommissioned = true;
    }
    return stored.length;
  }

  /** Removes models deleted elsewhere, each after the models that extend it or use it (also gone). */
  private removeGone(ids: string[]): void {
    for (const id of ids) if (!this.registry.getInterface(id)) this.meta.delete(id);
    let left = ids.filter((id) => this.meta.has(id));
    while (left.length) {
      const blocked = left.filter((id) => this.registry.blockersOf(id).length > 0);
      if (blocked.length === left.length) return; // still used by a model this node knows: kept
      for (const id of left)
        if (!blocked.includes(id)) {
          this.registry.remove(id);
          this.meta.delete(id);
        }
      left = blocked;
    }
  }

  // ---------------------------------------------------------------- ModelLookup

  getInterface(id: string): InterfaceInfo | undefined {
    return this.registry.getInterface(id);
  }

  isOfModel(modelId: string, baseId: string): boolean {
    return this.registry.isOfModel(modelId, baseId);
  }

  /** The query language's IS_OF_MODEL (later versions and models extending them match too). */
  matchesModel(modelId: string, queried: string): boolean {
    return this.registry.matchesModel(modelId, queried);
  }

  has(id: string): boolean {
    return this.meta.has(id);
  }

  isDecommissioned(id: string): boolean {
    return this.meta.get(id)?.decommissioned ?? false;
  }

  get count(): number {
    return this.meta.size;
  }

  // ---------------------------------------------------------------- ADT operations

  /**
   * Uploads a batch of DTDL interfaces, all or nothing.
   * @throws DTDLParserError (400) when the body is not an array of objects or a document is not valid DTDL
   * @throws ModelAlreadyExists (409) when an id is already uploaded (or repeated in the batch)
   */
  async add(batch: unknown): Promise<ModelData[]> {
    if (!Array.isArray(batch)) {
      throw errors.validation(
        'DTDLParserError',
        'The request body must be a JSON array of DTDL interfaces.',
        [
          {
            code: 'models.notArray',
            message: 'Expected an array of DTDL interfaces.',
            pointer: '',
            source: 'request body',
          },
        ],
      );
    }
    if (batch.length === 0) {
      throw errors.validation('DTDLParserError', 'The batch of models is empty.', [
        {
          code: 'models.empty',
          message: 'Expected at least one DTDL interface.',
          pointer: '',
          source: 'request body',
        },
      ]);
    }
    const problems: Problem[] = [];
    const ids: string[] = [];
    const seen = new Set<string>();
    const existing: string[] = [];
    batch.forEach((doc, i) => {
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
        problems.push({
          code: 'models.notObject',
          message: 'Each model must be a JSON object.',
          pointer: `/${i}`,
          source: 'request body',
        });
        return;
      }
      const id = (doc as Record<string, unknown>)['@id'];
      if (typeof id !== 'string') {
        problems.push({
          code: 'models.id.missing',
          message: "The model has no string '@id'.",
          pointer: `/${i}/@id`,
          source: 'request body',
        });
        return;
      }
      if (seen.has(id)) {
        problems.push({
          code: 'models.id.duplicate',
          message: `The id '${id}' appears twice in the batch.`,
          pointer: `/${i}/@id`,
          source: 'request body',
        });
      }
      seen.add(id);
      ids.push(id);
      if (this.meta.has(id) || this.adding.has(id)) existing.push(id);
    });
    if (problems.length) throw errors.validation('DTDLParserError', 'The models are not valid.', problems);
    if (existing.length) {
      throw new TwinloopError(
        'ModelAlreadyExists',
        `Model with same id already exists: ${existing.join(', ')}. Delete it first or upload a new version (;N+1).`,
        { details: { ids: existing } },
      );
    }

    // Validates and resolves against what is uploaded; throws DTDLParserError with every problem.
    this.registry.add(batch.map((json, i) => ({ source: `request body[${i}]`, json })));
    const uploadTime = this.now();
    const stored: StoredModel[] = batch.map((doc, i) => ({
      workspace: this.workspace,
      id: ids[i]!,
      definition: JSON.stringify(doc),
      uploadTime,
      decommissioned: false,
    }));
    for (const id of ids) this.adding.add(id);
    try {
      await this.store.insert(stored);
    } catch (e) {
      // Keep the registry in step with the store: nothing of the batch stays.
      for (const id of [...ids].reverse()) this.safeRemove(id);
      throw e;
    } finally {
      for (const id of ids) this.adding.delete(id);
    }
    batch.forEach((doc, i) => this.meta.set(ids[i]!, { definition: doc, uploadTime, decommissioned: false }));
    return ids.map((id) => this.toData(id, false));
  }

  /** Models in upload order (or `dependenciesFor` and their dependencies). @throws ModelNotFound */
  list(options: ListModelsOptions = {}): ModelData[] {
    const include = options.includeModelDefinition ?? false;
    if (!options.dependenciesFor || options.dependenciesFor.length === 0) {
      return [...this.meta.keys()].map((id) => this.toData(id, include));
    }
    const wanted = new Set<string>();
    for (const id of options.dependenciesFor) {
      if (!this.meta.has(id)) throw errors.modelNotFound(id);
      wanted.add(id);
      for (const dep of this.registry.dependenciesOf(id)) wanted.add(dep);
    }
    return [...this.meta.keys()].filter((id) => wanted.has(id)).map((id) => this.toData(id, include));
  }

  /** One model. @throws ModelNotFound */
  get(id: string, includeModelDefinition = false): ModelData {
    if (!this.meta.has(id)) throw errors.modelNotFound(id);
    return this.toData(id, includeModelDefinition);
  }

  /**
   * Applies ADT's model patch: only `[{ "op": "replace", "path": "/decommissioned", "value": true }]`.
   * @throws ModelNotFound, JsonPatchInvalid
   */
  async update(id: string, patch: unknown): Promise<void> {
    const m = this.meta.get(id);
    if (!m) throw errors.modelNotFound(id);
    const problems: Problem[] = [];
    if (!Array.isArray(patch) || patch.length === 0) {
      problems.push({
        code: 'patch.notArray',
        message: 'Expected a non-empty JSON Patch array.',
        pointer: '',
        source: 'request body',
      });
    } else {
      patch.forEach((op: unknown, i) => {
        const o = (typeof op === 'object' && op !== null ? op : {}) as Record<string, unknown>;
        if (o.op !== 'replace')
          problems.push({
            code: 'patch.op',
            message: "Only 'replace' is supported on a model.",
            pointer: `/${i}/op`,
            source: 'request body',
          });
        if (o.path !== '/decommissioned')
          problems.push({
            code: 'patch.path',
            message: "Only '/decommissioned' can be changed on a model.",
            pointer: `/${i}/path`,
            source: 'request body',
          });
        if (o.value !== true)
          problems.push({
            code: 'patch.value',
            message: 'A model can only be decommissioned (value true); it cannot be recommissioned.',
            pointer: `/${i}/value`,
            source: 'request body',
          });
      });
    }
    if (problems.length)
      throw errors.validation('JsonPatchInvalid', `The patch of model '${id}' is not valid.`, problems);
    if (m.decommissioned) return;
    this.claim(id);
    try {
      if (!(await this.store.setDecommissioned(this.workspace, id, true))) throw errors.modelNotFound(id);
    } finally {
      this.busy.delete(id);
    }
    this.registry.setDecommissioned(id, true);
    m.decommissioned = true;
  }

  /**
   * Deletes a model unless another model extends it or uses it as a component schema (ADT's rule:
   * relationship targets do not block, so models that target each other can be deleted). Twins of
   * the deleted model stay, as in ADT: they can be read, queried, deleted and moved to another model
   * (`PATCH /$metadata/$model`); other writes to them fail until the model is uploaded again.
   * @throws ModelNotFound, ModelReferencesNotDeleted (409)
   */
  async delete(id: string): Promise<void> {
    if (!this.meta.has(id)) throw errors.modelNotFound(id);
    const dependents = this.registry.blockersOf(id);
    if (dependents.length) {
      throw new TwinloopError(
        'ModelReferencesNotDeleted',
        `Model '${id}' cannot be deleted: other models extend it or use it as a component (${dependents.join(', ')}). Delete those first.`,
        { details: { dependents } },
      );
    }
    this.claim(id);
    try {
      await this.store.delete(this.workspace, id);
    } finally {
      this.busy.delete(id);
    }
    this.meta.delete(id);
    this.registry.remove(id);
  }

  /** One store write per model at a time. @throws Conflict-like PreconditionFailed when one is in flight */
  private claim(id: string): void {
    if (this.busy.has(id))
      throw new TwinloopError(
        'PreconditionFailed',
        `Model '${id}' is being changed by another request; try again.`,
      );
    this.busy.add(id);
  }

  private safeRemove(id: string): void {
    try {
      this.registry.remove(id);
    } catch {
      // Best effort rollback; the store error is what the caller must see.
    }
  }

  private toData(id: string, includeModel: boolean): ModelData {
    const m = this.meta.get(id)!;
    const doc = (typeof m.definition === 'object' && m.definition !== null ? m.definition : {}) as Record<
      string,
      unknown
    >;
    const data: ModelData = {
      id,
      displayName: languageMap(doc.displayName),
      description: languageMap(doc.description),
      uploadTime: new Date(m.uploadTime).toISOString(),
      decommissioned: m.decommissioned,
    };
    if (includeModel) data.model = m.definition;
    return data;
  }
}

/**
 * DTDL (v2 and v3) allows a plain string, a language map, or an array of strings and
 * `{ "@value", "@language" }` objects; ADT always answers a language map (English by default).
 */
function languageMap(v: unknown): Record<string, string> {
  if (typeof v === 'string') return { en: v };
  if (Array.isArray(v)) {
    const out: Record<string, string> = {};
    for (const item of v) {
      if (typeof item === 'string') out.en = item;
      else if (typeof item === 'object' && item !== null) {
        const o = item as Record<string, unknown>;
        const lang = typeof o['@language'] === 'string' ? o['@language'] : 'en';
        if (typeof o['@value'] === 'string') out[lang] = o['@value'];
      }
    }
    return out;
  }
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, string> = {};
    for (const [k, s] of Object.entries(v)) if (typeof s === 'string') out[k] = s;
    return out;
  }
  return {};
}

function parseStored(m: StoredModel): unknown {
  try {
    return JSON.parse(m.definition) as unknown;
  } catch (e) {
    throw new TwinloopError(
      'StorageCorrupt',
      `Stored model '${m.id}' of workspace '${m.workspace}' is not valid JSON.`,
      { cause: e },
    );
  }
}
