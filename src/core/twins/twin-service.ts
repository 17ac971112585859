/**
 * ADT twin semantics for one workspace: get, create-or-replace, JSON-Patch update and delete of twins
 * and their components. Every write is checked against the twin's model (all problems at once, each
 * with a pointer), persisted through the TwinStore, applied to the in-memory graph, its property
 * changes appended to history, and only then published as live events.
 *
 * Each write holds its twin (twin-commit-queue.ts: per-twin serialisation, so If-Match checks cannot
 * interleave with another write to it) from its checks until its commit, which it shares with the
 * writes to other twins queued in the same tick (group commit). The store is told the etag each
 * write started from (a stale graph on another node fails with PreconditionFailed). The graph
 * changes only after the commit succeeded; then the history append is awaited. When that append
 * fails, the write stays what it is, committed: it is returned and published as usual, the failure
 * goes to `onHistoryError`, and `historyNotRecorded(twin)` tells the caller (never a failed write).
 * Relationships live in relationship-service.ts; TwinService exposes both through one object.
 */
import { TwinloopError, errors, quote } from '../errors/errors.js';
import { looksLikeComponent } from '../graph/twin-json.js';
import type { RelationshipRecord, TwinGraph, TwinRecord } from '../graph/graph-types.js';
import type { LiveEvent } from '../live/live-events.js';
import type { InterfaceInfo } from '../models/model-types.js';
import type { HistoryPoint, TwinStore } from '../ports/storage-ports.js';
import { checkUntrustedValue } from '../json/untrusted-json.js';
import { applyPatch, clone, parsePatch, toPointer } from './json-patch.js';
import { RelationshipService } from './relationship-service.js';
import { TwinCommitQueue } from './twin-commit-queue.js';
import { readTwinBody, retimed, touchTimes, valueAt } from './twin-body.js';
import { withDesiredChanges } from './twin-desired.js';
import { splitMetadataOps } from './twin-metadata.js';
import { checkTwinContents } from './twin-validation.js';
import {
  checkIfMatch,
  checkIfNoneMatch,
  commitChange,
  newEtag,
  type ChangeJournal,
  type LiveEventSink,
  type PropertyHistoryPort,
  type TwinModelPort,
  type WriteConditions,
} from './twin-write-support.js';

export interface TwinServiceOptions {
  /** The workspace this service serves (only "default" exists for now). */
  workspace: string;
  models: TwinModelPort;
  graph: TwinGraph;
  store: TwinStore;
  /** Property changes are appended here as kind 'property' points (optional). */
  history?: PropertyHistoryPort;
  /** Committed changes are published here (optional). */
  live?: LiveEventSink;
  /** Changes are journaled here, in the write's transaction, for event routes (optional). */
  journal?: ChangeJournal;
  /** The commit queue (default: one of its own over `store`). */
  commits?: TwinCommitQueue;
  /** Clock, ms since epoch. */
  now?: () => number;
  /** Etag factory (default W/"<uuid>"). */
  etag?: () => string;
  /** Longest twin / relationship id accepted (default 1024 characters). */
  maxIdLength?: number;
  /** Told when a committed write's property history could not be appended (to log it). */
  onHistoryError?: (err: unknown, twinId: string) => void;
}

/**
 * @example
 * const twins = new TwinService({ workspace: 'default', models, graph, store, history, live });
 * await twins.createOrReplace('pump-1', { $metadata: { $model: 'dtmi:ex:Pump;1' }, rpm: 1200 });
 * await twins.update('pump-1', [{ op: 'replace', path: '/rpm', value: 1400 }], { ifMatch: etag });
 */
export class TwinService {
  readonly workspace: string;
  /** Relationship operations (same models, graph, store and events). */
  readonly relationships: RelationshipService;
  /** Where writes are serialised per twin and committed in groups. */
  readonly commits: TwinCommitQueue;
  /** Twins returned by writes whose property history could not be recorded, with the error. */
  private readonly unrecorded = new WeakMap<TwinRecord, unknown>();
  private readonly o: Required<
    Pick<TwinServiceOptions, 'models' | 'graph' | 'store' | 'now' | 'etag' | 'maxIdLength'>
  > &
    TwinServiceOptions;

  constructor(options: TwinServiceOptions) {
    this.workspace = options.workspace;
    this.o = { now: Date.now, etag: newEtag, maxIdLength: 1024, ...options };
    this.commits = options.commits ?? new TwinCommitQueue({ store: options.store });
    this.relationships = new RelationshipService({
      ...this.o,
      commits: this.commits,
      checkId: (kind, id) => this.checkId(kind, id),
    });
  }

  /**
   * The error that kept the property history of this write from being recorded, when it was not:
   * the twin returned by a write is committed either way.
   */
  historyNotRecorded(twin: TwinRecord): unknown {
    return this.unrecorded.get(twin);
  }

  /** The twin. @throws DigitalTwinNotFound */
  get(id: string): TwinRecord {
    const t = this.o.graph.getTwin(id);
    if (!t) throw errors.twinNotFound(id);
    return t;
  }

  /** True when `name` is a component of the twin's model (for serialising the twin). */
  isComponent(twin: TwinRecord, name: string): boolean {
    const iface = this.o.models.getInterface(twin.modelId);
    // A twin whose model was deleted still reads as it was written (ADT keeps such twins).
    if (!iface) return looksLikeComponent(twin, name);
    return iface.contents.get(name)?.kind === 'Component';
  }

  /**
   * Creates or replaces a twin from ADT's body (`$metadata.$model` plus properties and components).
   * @throws PreconditionFailed (If-None-Match: * and it exists), ModelDecommissioned, ValidationFailed
   */
  async createOrReplace(id: string, body: unknown, cond: WriteConditions = {}): Promise<TwinRecord> {
    this.checkId('twin', id);
    const { twin, paths, now, events } = await this.commits.exclusive([id], () =>
      this.writeTwin(id, body, cond),
    );
    await this.appendHistory(twin, paths, now);
    this.publish(events);
    return twin;
  }

  private async writeTwin(
    id: string,
    body: unknown,
    cond: WriteConditions,
  ): Promise<{ twin: TwinRecord; paths: string[]; now: number; events: LiveEvent[] }> {
    const existing = this.o.graph.getTwin(id);
    checkIfNoneMatch(`Digital twin '${id}'`, existing !== undefined, cond.ifNoneMatch);
    // Untrusted keys are data: a __proto__ member would be copied as a prototype, unchecked.
    const hostile = checkUntrustedValue(body, { what: 'The digital twin', source: 'request body' });
    if (hostile) throw errors.validation('ValidationFailed', `Digital twin '${id}' is not valid.`, [hostile]);
    const { modelId, contents, sourceTimes, problems } = readTwinBody(body);
    let iface: InterfaceInfo | undefined;
    if (modelId !== undefined) {
      iface = this.o.models.getInterface(modelId);
      if (!iface) {
        problems.push({
          code: 'twin.model.unknown',
          message: `Model ${modelId} is not uploaded.`,
          pointer: '/$metadata/$model',
          source: 'request body',
        });
      } else if (this.o.models.isDecommissioned(modelId)) {
        throw new TwinloopError(
          'ModelDecommissioned',
          `Model ${modelId} is decommissioned: no new twins can use it.`,
        );
      }
    }
    if (iface) {
      problems.push(...checkTwinContents(iface, contents, this.o.models, { requireComponents: true }));
      for (const key of Object.keys(sourceTimes)) {
        // A component has no sourceTime of its own: its properties have, in its own $metadata.
        if (!key.includes('/') && iface.contents.get(key)?.kind === 'Component') {
          problems.push({
            code: 'twin.metadata.member',
            message: `'${key}' is a component: set sourceTime of its properties in its own $metadata.`,
            pointer: toPointer(['$metadata', key, 'sourceTime']),
            source: 'request body',
          });
        }
      }
    }
    if (problems.length || !iface || modelId === undefined) {
      throw errors.validation('ValidationFailed', `Digital twin '${quote(id)}' is not valid.`, problems);
    }
    const now = this.o.now();
    const propertyTimes: Record<string, number> = {};
    for (const [name, value] of Object.entries(contents)) {
      if (iface.contents.get(name)?.kind === 'Component') {
        for (const p of Object.keys(value as object)) propertyTimes[`${name}/${p}`] = now;
      } else propertyTimes[name] = now;
    }
    const twin: TwinRecord = {
      id,
      modelId,
      workspace: this.workspace,
      etag: this.o.etag(),
      lastUpdateTime: now,
      contents,
      propertyTimes,
      // Latest telemetry survives a replace; the ingest service updates this object in place.
      telemetry: existing?.telemetry ?? {},
    };
    if (Object.keys(sourceTimes).length) twin.sourceTimes = sourceTimes;
    // The device side stays; a changed writable property counts up the desired version (same commit).
    const device = withDesiredChanges(
      iface,
      this.o.models,
      existing?.contents,
      contents,
      existing?.device,
      now,
    );
    if (device) twin.device = device;
    await commitChange(
      this.commits,
      this.o.journal,
      [{ op: 'putTwin', twin, expectEtag: existing?.etag ?? null }],
      () => (existing ? { kind: 'twinReplaced', before: existing, twin } : { kind: 'twinCreated', twin }),
    );
    this.o.graph.putTwin(twin);
    const events: LiveEvent[] = [
      {
        type: existing ? 'twinReplaced' : 'twinCreated',
        workspace: this.workspace,
        twinId: id,
        modelId,
        time: now,
      },
    ];
    return { twin, paths: Object.keys(propertyTimes), now, events };
  }

  /**
   * Applies a JSON Patch (add/replace/remove on `/prop`, `/comp/prop`, `/obj/field`) atomically.
   * @throws DigitalTwinNotFound, PreconditionFailed, JsonPatchInvalid, ValidationFailed
   */
  async update(id: string, patch: unknown, cond: WriteConditions = {}): Promise<TwinRecord> {
    return this.patchHeld(id, () => {
      const twin = this.get(id);
      checkIfMatch(`Digital twin '${id}'`, twin.etag, cond.ifMatch);
      return { twin, patch };
    });
  }

  /** A component's values. @throws DigitalTwinNotFound, ComponentNotFound */
  getComponent(id: string, component: string): { twin: TwinRecord; value: Record<string, unknown> } {
    const twin = this.get(id);
    this.requireComponent(twin, component);
    const value = twin.contents[component];
    return {
      twin,
      value: typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {},
    };
  }

  /** Patches one component (paths relative to it). @throws as update, and ComponentNotFound */
  async updateComponent(
    id: string,
    component: string,
    patch: unknown,
    cond: WriteConditions = {},
  ): Promise<TwinRecord> {
    return this.patchHeld(id, () => {
      const twin = this.get(id);
      this.requireComponent(twin, component);
      checkIfMatch(`Digital twin '${id}'`, twin.etag, cond.ifMatch);
      const prefix = toPointer([component]);
      const rebased = Array.isArray(patch)
        ? patch.map((op: unknown) =>
            typeof op === 'object' && op !== null && typeof (op as { path?: unknown }).path === 'string'
              ? { ...op, path: prefix + String((op as { path: string }).path) }
              : op,
          )
        : patch;
      return { twin, patch: rebased };
    });
  }

  /** Runs the checks and the patch holding the twin, then appends its history. */
  private async patchHeld(
    id: string,
    prepare: () => { twin: TwinRecord; patch: unknown },
  ): Promise<TwinRecord> {
    const { twin, paths, now, events } = await this.commits.exclusive([id], () => {
      const p = prepare();
      return this.applyTwinPatch(p.twin, p.patch);
    });
    await this.appendHistory(twin, paths, now);
    this.publish(events);
    return twin;
  }

  /**
   * Deletes a twin that has no relationships left (ADT's rule).
   * @throws DigitalTwinNotFound, PreconditionFailed, RelationshipsNotDeleted (400)
   */
  async delete(id: string, cond: WriteConditions = {}): Promise<void> {
    await this.commits.exclusive([id], () => this.deleteHeld(id, cond));
  }

  private async deleteHeld(id: string, cond: WriteConditions): Promise<void> {
    const twin = this.get(id);
    checkIfMatch(`Digital twin '${id}'`, twin.etag, cond.ifMatch);
    const out = first(this.o.graph.outgoing(id));
    const inc = first(this.o.graph.incoming(id));
    if (out || inc) {
      const r = (out ?? inc)!;
      throw new TwinloopError(
        'RelationshipsNotDeleted',
        `Digital twin '${id}' still has relationships (e.g. '${r.id}' from '${r.sourceId}' to '${r.targetId}'); delete its outgoing and incoming relationships first.`,
      );
    }
    await commitChange(
      this.commits,
      this.o.journal,
      [{ op: 'deleteTwin', workspace: this.workspace, id, expectEtag: twin.etag }],
      () => ({ kind: 'twinDeleted', twin }),
    );
    this.o.graph.deleteTwin(id);
    this.publish([
      {
        type: 'twinDeleted',
        workspace: this.workspace,
        twinId: id,
        modelId: twin.modelId,
        time: this.o.now(),
      },
    ]);
  }

  // ---------------------------------------------------------------- relationship shortcuts

  getRelationship(id: string, relId: string): RelationshipRecord {
    return this.relationships.get(id, relId);
  }

  // ---------------------------------------------------------------- internals

  private async applyTwinPatch(
    twin: TwinRecord,
    patch: unknown,
  ): Promise<{ twin: TwinRecord; paths: string[]; now: number; events: LiveEvent[] }> {
    const parsed = parsePatch(patch);
    const problems = parsed.problems;
    const current = this.o.models.getInterface(twin.modelId);
    const isComp = (name: string): boolean => current?.contents.get(name)?.kind === 'Component';
    const { valueOps, metaOps, problems: metaProblems } = splitMetadataOps(parsed.ops, isComp);
    problems.push(...metaProblems);
    const next = clone(twin.contents);
    problems.push(...applyPatch(next, valueOps));
    if (problems.length)
      throw errors.validation(
        'JsonPatchInvalid',
        `The patch of digital twin '${quote(twin.id)}' is not valid.`,
        problems,
      );
    const modelOp = metaOps.filter((m) => m.kind === 'model').at(-1);
    const modelId = modelOp === undefined ? twin.modelId : this.newModelOf(twin, modelOp.value);
    const iface = this.o.models.getInterface(modelId);
    if (!iface) {
      throw errors.validation('ValidationFailed', `Digital twin '${quote(twin.id)}' cannot be patched.`, [
        {
          code: 'twin.model.unknown',
          message: `Its model ${twin.modelId} is no longer uploaded: upload it again, or move the twin to another model (replace /$metadata/$model).`,
          pointer: '/$metadata/$model',
        },
      ]);
    }
    const moved = modelId !== twin.modelId;
    const touched = new Set(valueOps.map((op) => op.segments[0]!));
    // A twin moved to another model must be valid for it as a whole (ADT's rule).
    const invalid = checkTwinContents(iface, next, this.o.models, {
      requireComponents: moved,
      ...(moved ? {} : { only: touched }),
    });
    const sourceTimes = { ...twin.sourceTimes };
    for (const m of metaOps) {
      if (m.kind !== 'sourceTime') continue;
      if (m.remove) delete sourceTimes[m.key];
      else if (valueAt(next, m.key) === null) {
        invalid.push({
          code: 'twin.metadata.noProperty',
          message: `sourceTime is set for '${m.key}', which has no value (set the value in the same patch).`,
          pointer: `/${m.index}/path`,
          source: 'request body',
        });
      } else sourceTimes[m.key] = m.value!;
    }
    if (invalid.length)
      throw errors.validation(
        'ValidationFailed',
        `The patch of digital twin '${quote(twin.id)}' is not valid for model ${modelId}.`,
        invalid,
      );

    const now = this.o.now();
    const propertyTimes = moved ? retimed(iface, twin, next) : { ...twin.propertyTimes };
    const changed = new Set<string>();
    for (const op of valueOps) touchTimes(iface, op, next, propertyTimes, changed, now);
    for (const m of metaOps) if (m.kind === 'sourceTime' && !m.remove) propertyTimes[m.key] ??= now;
    // A sourceTime lives as long as its property.
    for (const k of Object.keys(sourceTimes)) if (propertyTimes[k] === undefined) delete sourceTimes[k];
    const updated: TwinRecord = {
      id: twin.id,
      modelId,
      workspace: twin.workspace,
      etag: this.o.etag(),
      lastUpdateTime: now,
      contents: next,
      propertyTimes,
      telemetry: twin.telemetry,
    };
    if (Object.keys(sourceTimes).length) updated.sourceTimes = sourceTimes;
    const device = withDesiredChanges(iface, this.o.models, twin.contents, next, twin.device, now);
    if (device) updated.device = device;
    const applied = parsed.ops.map((op) =>
      op.op === 'remove' ? { op: op.op, path: op.path } : { op: op.op, path: op.path, value: op.value },
    );
    await commitChange(
      this.commits,
      this.o.journal,
      [{ op: 'putTwin', twin: updated, expectEtag: twin.etag }],
      () => ({ kind: 'twinUpdated', twin: updated, patch: applied }),
    );
    this.o.graph.putTwin(updated);
    const events: LiveEvent[] = [
      {
        type: 'propertyChange',
        workspace: this.workspace,
        twinId: twin.id,
        modelId,
        time: now,
        patch: applied,
      },
    ];
    return { twin: updated, paths: [...changed], now, events };
  }

  /** The model a `/$metadata/$model` patch moves the twin to. @throws ValidationFailed, ModelDecommissioned */
  private newModelOf(twin: TwinRecord, value: unknown): string {
    if (typeof value !== 'string' || !this.o.models.getInterface(value)) {
      throw errors.validation('ValidationFailed', `Digital twin '${quote(twin.id)}' cannot change model.`, [
        {
          code: 'twin.model.unknown',
          message:
            typeof value === 'string'
              ? `Model ${quote(value)} is not uploaded.`
              : '$model must be the id of an uploaded model.',
          pointer: '/$metadata/$model',
          source: 'request body',
        },
      ]);
    }
    if (value !== twin.modelId && this.o.models.isDecommissioned(value)) {
      throw new TwinloopError(
        'ModelDecommissioned',
        `Model ${value} is decommissioned: no twin can move to it.`,
      );
    }
    return value;
  }

  private requireComponent(twin: TwinRecord, component: string): void {
    if (!this.isComponent(twin, component)) throw errors.componentNotFound(twin.id, component);
  }

  /** Appends the changed properties to history; a failure is recorded and told, never thrown. */
  private async appendHistory(twin: TwinRecord, paths: readonly string[], now: number): Promise<void> {
    if (!this.o.history || paths.length === 0) return;
    const points: HistoryPoint[] = paths.map((path) => ({
      workspace: this.workspace,
      twinId: twin.id,
      path,
      kind: 'property',
      ts: now,
      value: valueAt(twin.contents, path),
    }));
    try {
      await this.o.history.append(points);
    } catch (e) {
      // The twin is committed (store and graph): report what failed, not a failed write.
      this.unrecorded.set(twin, e);
      try {
        this.o.onHistoryError?.(e, twin.id);
      } catch {
        // a logger must never turn a committed write into a failure
      }
    }
  }

  private publish(events: LiveEvent[]): void {
    this.o.live?.publish(events);
  }

  private checkId(kind: 'twin' | 'relationship', id: string): void {
    if (id.length === 0 || id.length > this.o.maxIdLength || hasControlCharacter(id)) {
      throw new TwinloopError(
        'InvalidArgument',
        `The ${kind} id is invalid: it must be 1 to ${this.o.maxIdLength} characters without control characters (it has ${id.length}).`,
      );
    }
  }
}

function hasControlCharacter(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20) return true;
  return false;
}

function first<T>(it: Iterable<T>): T | undefined {
  for (const x of it) return x;
  return undefined;
}
