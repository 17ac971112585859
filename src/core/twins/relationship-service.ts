/**
 * ADT relationship semantics for one workspace: create-or-replace (If-None-Match), get, JSON-Patch
 * update (If-Match), delete (If-Match), list outgoing (optionally by name) and incoming. Every write
 * is checked against the source twin's model: the relationship is declared (own or inherited), the
 * target exists and is of the declared target model, maxMultiplicity holds, properties are valid.
 * A write holds its source twin (and a create its target twin) shared and the relationship
 * exclusively from its checks to its commit (twin-commit-queue.ts), and tells the store the etag
 * it started from.
 */
import { TwinloopError, errors, quote, type Problem } from '../errors/errors.js';
import type { RelationshipRecord, TwinGraph, TwinRecord } from '../graph/graph-types.js';
import type { LiveEvent } from '../live/live-events.js';
import type { RelationshipInfo } from '../models/model-types.js';
import type { TwinStore } from '../ports/storage-ports.js';
import { checkUntrustedValue } from '../json/untrusted-json.js';
import { applyPatch, clone, parsePatch, toPointer } from './json-patch.js';
import type { TwinCommitQueue } from './twin-commit-queue.js';
import { checkRelationshipProperties } from './twin-validation.js';
import {
  checkIfMatch,
  checkIfNoneMatch,
  type LiveEventSink,
  type TwinModelPort,
  commitChange,
  type ChangeJournal,
  type WriteConditions,
} from './twin-write-support.js';

export interface RelationshipServiceOptions {
  workspace: string;
  models: TwinModelPort;
  graph: TwinGraph;
  store: TwinStore;
  live?: LiveEventSink;
  journal?: ChangeJournal;
  commits: TwinCommitQueue;
  now: () => number;
  etag: () => string;
  checkId: (kind: 'twin' | 'relationship', id: string) => void;
}

const SRC = 'request body';

/** The commit queue's key of a twin (twin-service.ts holds the same key exclusively). */
export const twinKey = (id: string): string => id;

/** A relationship write's holds: its source twin shared, the relationship exclusively. */
function relKeys(sourceId: string, relId: string): { key: string; shared?: boolean }[] {
  return [{ key: twinKey(sourceId), shared: true }, { key: `rel\u0000${sourceId}\u0000${relId}` }];
}
const SYSTEM_KEYS = new Set([
  '$relationshipId',
  '$sourceId',
  '$targetId',
  '$relationshipName',
  '$etag',
  '$lastUpdateTime',
]);

export class RelationshipService {
  constructor(private readonly o: RelationshipServiceOptions) {}

  /** @throws DigitalTwinNotFound, RelationshipNotFound */
  get(sourceId: string, relId: string): RelationshipRecord {
    this.twin(sourceId);
    const r = this.o.graph.getRelationship(sourceId, relId);
    if (!r) throw errors.relationshipNotFound(sourceId, relId);
    return r;
  }

  /** Outgoing relationships of a twin, optionally only those called `name`. @throws DigitalTwinNotFound */
  listOutgoing(sourceId: string, name?: string): RelationshipRecord[] {
    this.twin(sourceId);
    return [...this.o.graph.outgoing(sourceId, name)];
  }

  /** Relationships pointing at a twin. @throws DigitalTwinNotFound */
  listIncoming(targetId: string): RelationshipRecord[] {
    this.twin(targetId);
    return [...this.o.graph.incoming(targetId)];
  }

  /**
   * Creates or replaces relationship `relId` of `sourceId` from ADT's body
   * (`$targetId`, `$relationshipName`, properties).
   * @throws DigitalTwinNotFound (source), TargetTwinNotFound (404), OperationNotAllowed (to itself),
   *   PreconditionFailed, InvalidRelationship
   */
  async createOrReplace(
    sourceId: string,
    relId: string,
    body: unknown,
    cond: WriteConditions = {},
  ): Promise<RelationshipRecord> {
    this.o.checkId('relationship', relId);
    const b = body as { $targetId?: unknown; $relationshipName?: unknown } | null;
    const keys = [
      ...relKeys(sourceId, relId),
      { key: `name\u0000${sourceId}\u0000${String(b?.$relationshipName)}` },
    ];
    if (typeof b?.$targetId === 'string') keys.push({ key: twinKey(b.$targetId), shared: true });
    return this.o.commits.hold(keys, () => this.put(sourceId, relId, body, cond));
  }

  private async put(
    sourceId: string,
    relId: string,
    body: unknown,
    cond: WriteConditions,
  ): Promise<RelationshipRecord> {
    const source = this.twin(sourceId);
    const existing = this.o.graph.getRelationship(sourceId, relId);
    checkIfNoneMatch(`Relationship '${relId}' of '${sourceId}'`, existing !== undefined, cond.ifNoneMatch);
    const problems: Problem[] = [];
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      problems.push({
        code: 'relationship.notObject',
        message: 'A relationship must be a JSON object.',
        pointer: '',
        source: SRC,
      });
      throw errors.validation('InvalidRelationship', `Relationship '${relId}' is not valid.`, problems);
    }
    const hostile = checkUntrustedValue(body, { what: 'The relationship', source: SRC });
    if (hostile)
      throw errors.validation('InvalidRelationship', `Relationship '${relId}' is not valid.`, [hostile]);
    const b = body as Record<string, unknown>;
    const targetId = b.$targetId;
    const name = b.$relationshipName;
    if (typeof targetId !== 'string' || targetId === '') {
      problems.push({
        code: 'relationship.target.missing',
        message: '"$targetId" (the target twin id) is required.',
        pointer: '/$targetId',
        source: SRC,
      });
    }
    if (typeof name !== 'string' || name === '') {
      problems.push({
        code: 'relationship.name.missing',
        message: '"$relationshipName" is required.',
        pointer: '/$relationshipName',
        source: SRC,
      });
    }
    if (b.$relationshipId !== undefined && b.$relationshipId !== relId) {
      problems.push({
        code: 'relationship.id.mismatch',
        message: `"$relationshipId" must be '${relId}' (the id in the URL).`,
        pointer: '/$relationshipId',
        source: SRC,
      });
    }
    if (b.$sourceId !== undefined && b.$sourceId !== sourceId) {
      problems.push({
        code: 'relationship.source.mismatch',
        message: `"$sourceId" must be '${sourceId}' (the twin in the URL).`,
        pointer: '/$sourceId',
        source: SRC,
      });
    }
    const properties: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(b)) {
      if (SYSTEM_KEYS.has(k)) continue;
      if (k.startsWith('$')) {
        problems.push({
          code: 'relationship.member.reserved',
          message: `'${k}' is not a writable system property.`,
          pointer: toPointer([k]),
          source: SRC,
        });
      } else properties[k] = v;
    }
    let info: RelationshipInfo | undefined;
    if (typeof name === 'string' && name !== '') {
      info = this.declared(source, name, problems);
    }
    if (typeof targetId === 'string' && targetId !== '') {
      if (targetId === sourceId) {
        throw new TwinloopError(
          'OperationNotAllowed',
          `Relationship '${quote(relId)}' cannot connect twin '${quote(sourceId)}' to itself (ADT refuses relationships to the same twin).`,
        );
      }
      const target = this.o.graph.getTwin(targetId);
      if (!target) {
        throw new TwinloopError(
          'TargetTwinNotFound',
          `The target twin '${quote(targetId)}' of relationship '${quote(relId)}' does not exist.`,
          {
            problems: [
              {
                code: 'relationship.target.notFound',
                message: `There is no digital twin with id '${quote(targetId)}'.`,
                pointer: '/$targetId',
                source: SRC,
              },
            ],
          },
        );
      } else if (info?.target && !this.o.models.isOfModel(target.modelId, info.target)) {
        problems.push({
          code: 'relationship.target.model',
          message: `Relationship '${info.name}' must target a twin of ${info.target}; '${targetId}' is a ${target.modelId}.`,
          pointer: '/$targetId',
          source: SRC,
        });
      }
    }
    if (info) {
      if (info.maxMultiplicity !== undefined) {
        let count = 0;
        for (const r of this.o.graph.outgoing(sourceId, info.name)) if (r.id !== relId) count++;
        if (count >= info.maxMultiplicity) {
          problems.push({
            code: 'relationship.maxMultiplicity',
            message: `Twin '${sourceId}' already has ${count} '${info.name}' relationship(s); the model allows at most ${info.maxMultiplicity}.`,
            pointer: '/$relationshipName',
            source: SRC,
          });
        }
      }
      problems.push(...checkRelationshipProperties(info.properties, info.name, properties));
    }
    if (problems.length)
      throw errors.validation(
        'InvalidRelationship',
        `Relationship '${relId}' of '${sourceId}' is not valid.`,
        problems,
      );

    const now = this.o.now();
    const rel: RelationshipRecord = {
      id: relId,
      sourceId,
      targetId: targetId as string,
      name: name as string,
      workspace: this.o.workspace,
      etag: this.o.etag(),
      lastUpdateTime: now,
      properties,
    };
    await commitChange(
      this.o.commits,
      this.o.journal,
      [{ op: 'putRelationship', rel, expectEtag: existing?.etag ?? null }],
      () =>
        existing
          ? { kind: 'relationshipReplaced', before: existing, rel, modelId: source.modelId }
          : { kind: 'relationshipCreated', rel, modelId: source.modelId },
    );
    this.o.graph.putRelationship(rel);
    this.publish(existing ? 'relationshipReplaced' : 'relationshipCreated', source, rel, now);
    return rel;
  }

  /** Patches a relationship's properties atomically. @throws RelationshipNotFound, PreconditionFailed, JsonPatchInvalid, InvalidRelationship */
  async update(
    sourceId: string,
    relId: string,
    patch: unknown,
    cond: WriteConditions = {},
  ): Promise<RelationshipRecord> {
    return this.o.commits.hold(relKeys(sourceId, relId), () => this.patch(sourceId, relId, patch, cond));
  }

  private async patch(
    sourceId: string,
    relId: string,
    patch: unknown,
    cond: WriteConditions,
  ): Promise<RelationshipRecord> {
    const rel = this.get(sourceId, relId);
    checkIfMatch(`Relationship '${relId}' of '${sourceId}'`, rel.etag, cond.ifMatch);
    const { ops, problems } = parsePatch(patch);
    const usable = ops.filter((op) => {
      if (!op.segments[0]!.startsWith('$')) return true;
      problems.push({
        code: 'patch.path.system',
        message: `${op.path}: system properties of a relationship cannot be patched (replace the relationship instead).`,
        pointer: `/${op.index}/path`,
        source: SRC,
      });
      return false;
    });
    const next = clone(rel.properties);
    problems.push(...applyPatch(next, usable));
    if (problems.length)
      throw errors.validation(
        'JsonPatchInvalid',
        `The patch of relationship '${relId}' is not valid.`,
        problems,
      );
    const source = this.twin(sourceId);
    const invalid: Problem[] = [];
    const info = this.declared(source, rel.name, invalid);
    if (info) {
      const touched = new Set(usable.map((op) => op.segments[0]!));
      const subset = Object.fromEntries(Object.entries(next).filter(([k]) => touched.has(k)));
      invalid.push(...checkRelationshipProperties(info.properties, rel.name, subset));
    }
    if (invalid.length)
      throw errors.validation(
        'InvalidRelationship',
        `The patch of relationship '${relId}' is not valid for its model.`,
        invalid,
      );
    const now = this.o.now();
    const updated: RelationshipRecord = {
      ...rel,
      etag: this.o.etag(),
      lastUpdateTime: now,
      properties: next,
    };
    await commitChange(
      this.o.commits,
      this.o.journal,
      [{ op: 'putRelationship', rel: updated, expectEtag: rel.etag }],
      () => ({
        kind: 'relationshipUpdated',
        rel: updated,
        modelId: source.modelId,
        patch: usable.map((op) =>
          op.op === 'remove' ? { op: op.op, path: op.path } : { op: op.op, path: op.path, value: op.value },
        ),
      }),
    );
    this.o.graph.putRelationship(updated);
    this.publish('relationshipUpdated', source, updated, now);
    return updated;
  }

  /** @throws RelationshipNotFound, PreconditionFailed */
  async delete(sourceId: string, relId: string, cond: WriteConditions = {}): Promise<void> {
    await this.o.commits.hold(relKeys(sourceId, relId), () => this.remove(sourceId, relId, cond));
  }

  private async remove(sourceId: string, relId: string, cond: WriteConditions): Promise<void> {
    const rel = this.get(sourceId, relId);
    checkIfMatch(`Relationship '${relId}' of '${sourceId}'`, rel.etag, cond.ifMatch);
    const sourceModel = this.twin(sourceId).modelId;
    await commitChange(
      this.o.commits,
      this.o.journal,
      [
        {
          op: 'deleteRelationship',
          workspace: this.o.workspace,
          sourceId,
          relId,
          expectEtag: rel.etag,
        },
      ],
      () => ({ kind: 'relationshipDeleted', rel, modelId: sourceModel }),
    );
    this.o.graph.deleteRelationship(sourceId, relId);
    this.publish('relationshipDeleted', this.twin(sourceId), rel, this.o.now());
  }

  private twin(id: string): TwinRecord {
    const t = this.o.graph.getTwin(id);
    if (!t) throw errors.twinNotFound(id);
    return t;
  }

  /** The relationship `name` declared by the source's model (own or inherited), or a problem. */
  private declared(source: TwinRecord, name: string, problems: Problem[]): RelationshipInfo | undefined {
    const iface = this.o.models.getInterface(source.modelId);
    if (!iface) {
      problems.push({
        code: 'relationship.source.modelUnknown',
        message: `The source twin's model ${source.modelId} is no longer uploaded.`,
        pointer: '/$relationshipName',
        source: SRC,
      });
      return undefined;
    }
    const c = iface.contents.get(name);
    if (c?.kind === 'Relationship') return c;
    const declaredNames = [...iface.contents.values()]
      .filter((x) => x.kind === 'Relationship')
      .map((x) => x.name);
    problems.push({
      code: 'relationship.name.unknown',
      message: `Model ${source.modelId} declares no relationship '${name}'${declaredNames.length ? ` (it declares: ${declaredNames.join(', ')})` : ' (it declares none)'}.`,
      pointer: '/$relationshipName',
      source: SRC,
    });
    return undefined;
  }

  private publish(
    type: Extract<LiveEvent, { relationshipId: string }>['type'],
    source: TwinRecord,
    rel: RelationshipRecord,
    now: number,
  ): void {
    this.o.live?.publish([
      {
        type,
        workspace: this.o.workspace,
        twinId: rel.sourceId,
        modelId: source.modelId,
        relationshipId: rel.id,
        relationshipName: rel.name,
        targetId: rel.targetId,
        time: now,
      },
    ]);
  }
}
