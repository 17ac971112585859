/**
 * The analytics worker's view of the twins (TwinContext): a copy of what the operators read —
 * each twin's model and properties, relationship targets by name, the ancestors of the twins' models —
 * loaded from a snapshot when the worker starts and kept current by updates the ingest thread
 * sends in the order of the committed events. Updates carry state, not changes (a twin's whole
 * contents, a relationship by id), so one applied twice, or after a snapshot that already had it,
 * leaves the same copy.
 */
import type { TwinContext } from '../analytics-types.js';
import { isSameOrLaterVersion } from '../../core/models/dtdl/dtmi.js';
import { propertyIn } from './graph-twin-context.js';

export type ReplicaUpdate =
  /** A twin created, replaced or patched: its model and all its properties now. */
  | { k: 'twin'; id: string; modelId: string; contents: Record<string, unknown> }
  | { k: 'twinDeleted'; id: string }
  | { k: 'rel'; source: string; relId: string; name: string; target: string }
  | { k: 'relDeleted'; source: string; relId: string }
  /** The models `id` extends, directly or not (fixed when it is uploaded). */
  | { k: 'model'; id: string; ancestors: string[] };

export interface ReplicaSnapshot {
  twins: { id: string; modelId: string; contents: Record<string, unknown> }[];
  /** [source, relationship id, name, target]. */
  rels: [string, string, string, string][];
  /** [model id, its ancestors]. */
  models: [string, string[]][];
}

interface TwinCopy {
  modelId: string;
  contents: Record<string, unknown>;
  /** Outgoing relationships by id. */
  rels: Map<string, { name: string; target: string }>;
}

export class TwinReplica implements TwinContext {
  private readonly twins = new Map<string, TwinCopy>();
  private readonly ancestors = new Map<string, readonly string[]>();

  /** @param workspace the one workspace it copies: reads of any other find nothing. */
  constructor(private readonly workspace: string) {}

  get twinCount(): number {
    return this.twins.size;
  }

  /** The twins' ids now. */
  twinIds(): IterableIterator<string> {
    return this.twins.keys();
  }

  /** Model ids whose ancestors it has (the ingest thread sends each once). */
  knowsModel(id: string): boolean {
    return this.ancestors.has(id);
  }

  load(s: ReplicaSnapshot): void {
    for (const [id, ancestors] of s.models) this.apply({ k: 'model', id, ancestors });
    for (const t of s.twins) this.apply({ k: 'twin', ...t });
    for (const [source, relId, name, target] of s.rels) this.apply({ k: 'rel', source, relId, name, target });
  }

  apply(u: ReplicaUpdate): void {
    switch (u.k) {
      case 'twin': {
        const t = this.twins.get(u.id);
        if (t && t.modelId === u.modelId) t.contents = u.contents;
        else this.twins.set(u.id, { modelId: u.modelId, contents: u.contents, rels: t?.rels ?? new Map() });
        return;
      }
      case 'twinDeleted':
        this.twins.delete(u.id);
        return;
      case 'rel':
        this.twins.get(u.source)?.rels.set(u.relId, { name: u.name, target: u.target });
        return;
      case 'relDeleted':
        this.twins.get(u.source)?.rels.delete(u.relId);
        return;
      case 'model':
        this.ancestors.set(u.id, u.ancestors);
        return;
    }
  }

  modelOf(ws: string, id: string): string | undefined {
    return ws === this.workspace ? this.twins.get(id)?.modelId : undefined;
  }

  /** As ModelRegistry.matchesModel: the model, a later version, or one extending either. */
  isOfModel(_ws: string, modelId: string, baseId: string): boolean {
    if (isSameOrLaterVersion(modelId, baseId)) return true;
    for (const a of this.ancestors.get(modelId) ?? []) if (isSameOrLaterVersion(a, baseId)) return true;
    return false;
  }

  property(ws: string, id: string, name: string): unknown {
    const t = ws === this.workspace ? this.twins.get(id) : undefined;
    return t === undefined ? undefined : propertyIn(t.contents, name);
  }

  related(ws: string, id: string, relationshipName: string): readonly string[] {
    const t = ws === this.workspace ? this.twins.get(id) : undefined;
    if (t === undefined) return [];
    const out: string[] = [];
    for (const r of t.rels.values()) if (r.name === relationshipName) out.push(r.target);
    return out;
  }
}
