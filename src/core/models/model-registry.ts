/**
 * The per-workspace, in-memory registry of DTDL models. Batches are validated by the DTDL parser against
 * what is already registered and added all-or-nothing; the registry answers ModelLookup for the twin
 * service, ingestion and queries (IS_OF_MODEL via matchesModel). Persistence is the caller's business:
 * it stores `definition(id)` and reloads with `ModelRegistry.load`.
 */
import { TwinloopError, errors } from '../errors/errors.js';
import type { Problem } from '../errors/errors.js';
import { isSameOrLaterVersion } from './dtdl/dtmi.js';
import { parseDtdl } from './dtdl/parse-dtdl.js';
import type { InterfaceInfo, ModelLookup } from './model-types.js';

export interface ModelDocument {
  /** A label for problems (file name, "request body[0]" ...). */
  source: string;
  /** One Interface or an array of Interfaces. */
  json: unknown;
}

export interface ModelAddOptions {
  /** Skip the "already exists" check and replace nothing (used when reloading stored definitions). */
  reload?: boolean;
  /** Accept extension contexts the parser does not know. */
  allowUndefinedExtensions?: boolean;
}

interface Entry {
  info: InterfaceInfo;
  /** Original JSON of a top-level Interface; undefined for Interfaces defined inline in another. */
  definition: unknown;
  /** The top-level model that defines this Interface (itself when top-level). */
  definedBy: string;
  decommissioned: boolean;
  uploadedAt: string;
}

function topLevelObjects(json: unknown): unknown[] {
  return Array.isArray(json) ? json : [json];
}

function idOf(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const id = (v as Record<string, unknown>)['@id'];
  return typeof id === 'string' ? id : undefined;
}

export class ModelRegistry implements ModelLookup {
  private readonly entries = new Map<string, Entry>();

  /** Rebuilds a registry from stored definitions (one batch, so they may reference each other). */
  static load(docs: readonly ModelDocument[], options: Omit<ModelAddOptions, 'reload'> = {}): ModelRegistry {
    const r = new ModelRegistry();
    if (docs.length) r.add(docs, { ...options, reload: true });
    return r;
  }

  /**
   * Validates a batch against the registered models and adds it, all or nothing.
   * @throws TwinloopError ModelAlreadyExists when an id is taken; DTDLParserError with every problem.
   */
  add(docs: readonly ModelDocument[], options: ModelAddOptions = {}): { added: InterfaceInfo[] } {
    const topIds: string[] = [];
    for (const d of docs)
      for (const o of topLevelObjects(d.json)) {
        const id = idOf(o);
        if (id !== undefined) topIds.push(id);
      }
    if (!options.reload) {
      const taken = topIds.filter((id) => this.entries.has(id));
      if (taken.length)
        throw new TwinloopError('ModelAlreadyExists', `Model id(s) already exist: ${taken.join(', ')}.`, {
          details: { ids: taken },
        });
    }
    const result = parseDtdl(
      docs.map((d) => ({ source: d.source, json: d.json })),
      { known: this, allowUndefinedExtensions: options.allowUndefinedExtensions ?? false },
    );
    const problems: Problem[] = result.problems.filter((p) => p.severity !== 'warning');
    if (problems.length || result.unresolved.length)
      throw errors.validation(
        'DTDLParserError',
        `The model batch is not valid DTDL${result.unresolved.length ? ` (unresolved: ${result.unresolved.join(', ')})` : ''}.`,
        problems,
      );
    const nested = [...result.interfaces.keys()].filter((id) => !topIds.includes(id) && this.entries.has(id));
    if (!options.reload && nested.length)
      throw new TwinloopError('ModelAlreadyExists', `Model id(s) already exist: ${nested.join(', ')}.`, {
        details: { ids: nested },
      });

    const now = new Date().toISOString();
    const definitions = new Map<string, unknown>();
    for (const d of docs)
      for (const o of topLevelObjects(d.json)) {
        const id = idOf(o);
        if (id !== undefined) definitions.set(id, o);
      }
    const added: InterfaceInfo[] = [];
    for (const [id, info] of result.interfaces) {
      const top = definitions.has(id);
      const owner = top ? id : (topIds.find((t) => this.containsId(definitions.get(t), id)) ?? id);
      this.entries.set(id, {
        info,
        definition: top ? definitions.get(id) : undefined,
        definedBy: owner,
        decommissioned: false,
        uploadedAt: now,
      });
      added.push(info);
    }
    return { added };
  }

  private containsId(json: unknown, id: string): boolean {
    return json !== undefined && JSON.stringify(json).includes(JSON.stringify(id));
  }

  getInterface(id: string): InterfaceInfo | undefined {
    return this.entries.get(id)?.info;
  }

  get(id: string): InterfaceInfo | undefined {
    return this.getInterface(id);
  }

  /** Every registered Interface (top-level and inline ones). */
  list(): InterfaceInfo[] {
    return [...this.entries.values()].map((e) => e.info);
  }

  /** The original JSON of a top-level model (undefined for unknown or inline Interfaces). */
  definition(id: string): unknown {
    return this.entries.get(id)?.definition;
  }

  /** Time the model was added (ISO 8601). */
  uploadTime(id: string): string | undefined {
    return this.entries.get(id)?.uploadedAt;
  }

  isOfModel(modelId: string, baseId: string): boolean {
    if (modelId === baseId) return this.entries.has(modelId);
    return this.entries.get(modelId)?.info.ancestors.includes(baseId) ?? false;
  }

  /**
   * IS_OF_MODEL of ADT's query language (not exact): true when the model `modelId`, or a model it
   * extends (transitively), is `queried` or a later version of it — `dtmi:ex:Pump;2` and a model
   * extending `dtmi:ex:Pump;3` both match `dtmi:ex:Pump;2`. A model no longer registered matches
   * its own id and later versions of it.
   */
  matchesModel(modelId: string, queried: string): boolean {
    if (isSameOrLaterVersion(modelId, queried)) return true;
    const ancestors = this.entries.get(modelId)?.info.ancestors ?? [];
    return ancestors.some((a) => isSameOrLaterVersion(a, queried));
  }

  /** Models that extend `id`, directly or transitively (not `id` itself). */
  descendantsOf(id: string): string[] {
    return [...this.entries.values()].filter((e) => e.info.ancestors.includes(id)).map((e) => e.info.id);
  }

  /** Direct dependencies: bases, component schemas and relationship targets. */
  private directDependencies(info: InterfaceInfo, withTargets: boolean): string[] {
    const out = new Set<string>(info.extends);
    for (const c of info.contents.values()) {
      if (c.kind === 'Component') out.add(c.schema);
      if (withTargets && c.kind === 'Relationship' && c.target !== undefined) out.add(c.target);
    }
    out.delete(info.id);
    return [...out];
  }

  /** Transitive dependencies of a model: extends, component schemas, relationship targets. */
  dependenciesOf(id: string): string[] {
    const out = new Set<string>();
    const walk = (m: string): void => {
      const info = this.entries.get(m)?.info;
      if (!info) return;
      for (const d of this.directDependencies(info, true)) {
        if (d === id || out.has(d)) continue;
        out.add(d);
        walk(d);
      }
    };
    walk(id);
    return [...out];
  }

  /**
   * The models that keep `id` from being deleted: those that extend it or use it (or an Interface
   * defined inline in it) as a component schema. Relationship targets do not count (ADT's rule):
   * two models whose relationships target each other can both be deleted.
   * @throws TwinloopError ModelNotFound
   */
  blockersOf(id: string): string[] {
    const entry = this.entries.get(id);
    if (!entry) throw errors.modelNotFound(id);
    const owned = this.ownedBy(entry.definedBy);
    return [...this.entries.values()]
      .filter(
        (e) => !owned.has(e.info.id) && this.directDependencies(e.info, false).some((d) => owned.has(d)),
      )
      .map((e) => e.info.id);
  }

  /**
   * Deletes a top-level model (and the Interfaces defined inline in it).
   * @throws TwinloopError ModelNotFound; ModelReferencesNotDeleted when another model extends it or uses it as a component.
   */
  remove(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) throw errors.modelNotFound(id);
    const users = this.blockersOf(id);
    if (users.length)
      throw new TwinloopError(
        'ModelReferencesNotDeleted',
        `Model '${id}' is used by ${users.join(', ')} (extends or component); delete those first.`,
        { details: { users } },
      );
    for (const k of this.ownedBy(entry.definedBy)) this.entries.delete(k);
  }

  private ownedBy(definedBy: string): Set<string> {
    return new Set([...this.entries.entries()].filter(([, e]) => e.definedBy === definedBy).map(([k]) => k));
  }

  /** @throws TwinloopError ModelNotFound */
  setDecommissioned(id: string, decommissioned: boolean): void {
    const entry = this.entries.get(id);
    if (!entry) throw errors.modelNotFound(id);
    entry.decommissioned = decommissioned;
  }

  isDecommissioned(id: string): boolean {
    return this.entries.get(id)?.decommissioned ?? false;
  }
}
