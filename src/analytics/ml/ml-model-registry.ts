/**
 * The ML model registry of one workspace (docs/ml-models.md): trained models checked and stored with
 * their version (MlModelStore), listed, compared, promoted to active and rolled back — with who and
 * why — and deleted. Whoever runs live inference subscribes with `onChange` and reloads the target's
 * active model (`active(kind, target)`) when told it changed.
 *
 * It lives in analytics/ (not core/) because it checks models against the RUL shapes of
 * analytics/rul/rul-types.ts, and core imports only core.
 */
import { TwinloopError, quote } from '../../core/errors/errors.js';
import {
  MAX_ML_PAGE,
  ML_MODEL_STATUSES,
  type MlActivation,
  type MlActivationResult,
  type MlModelKind,
  type MlModelRecord,
  type MlModelStatus,
  type MlModelStore,
} from '../../core/ports/ml-model-store.js';
import { compareModels, type MlModelComparison } from './ml-model-checks.js';
import {
  checkActor,
  checkModelId,
  checkModelInput,
  checkModelKind,
  checkTarget,
  invalidArgument,
  type MlActor,
  type MlModelInput,
} from './ml-model-input.js';

export {
  MAX_ML_ACTOR,
  MAX_ML_ID,
  MAX_ML_NOTE,
  checkModelId,
  checkModelKind,
  checkTarget,
  type MlActor,
  type MlModelInput,
} from './ml-model-input.js';

/** A change of the registry, told to `onChange` listeners after it is stored. */
export interface MlModelChange {
  type: 'added' | 'activated' | 'deleted';
  workspace: string;
  kind: MlModelKind;
  target: string;
  modelId: string;
  version: number;
  /** For `activated`: promote or rollback, and the model it replaced. */
  action?: 'promote' | 'rollback';
  previousId?: string;
  previousVersion?: number;
  by?: string;
  reason?: string;
  at: number;
  /** True when another node made the change (seen by `follow`; who and why are in the log). */
  remote?: boolean;
}

export type MlModelListener = (change: MlModelChange) => void | Promise<void>;

export interface MlModelRegistryOptions {
  workspace: string;
  store: MlModelStore;
  /** The code version stored with models added without one (e.g. `0.1.0+6829d5d`). */
  codeVersion: string;
  /** Largest artefact accepted, characters of JSON text (default 64 MiB). */
  maxArtefactChars?: number;
  now?: () => number;
  /** Lets other work run between the steps of a big add (default: a timer tick). */
  yieldNow?: () => Promise<void>;
  /** Told when a listener throws or rejects (the change itself is stored). */
  onListenerError?: (error: unknown, change: MlModelChange) => void;
}

/**
 * @example
 *   const registry = new MlModelRegistry({ workspace: 'default', store: storage.mlModels, codeVersion: '0.1.0' });
 *   registry.onChange((c) => { if (c.type === 'activated') void inference.reload(c.kind, c.target); });
 *   const m = await registry.add({ kind: 'rul', target: 'dtmi:x:Pump;1', features: spec, metrics, trainingRange, artefact });
 *   await registry.promote(m.id, { by: 'alice', reason: 'better RMSE' });
 */
export class MlModelRegistry {
  private readonly listeners = new Set<MlModelListener>();
  /** The model this node last activated per `kind target` (follow() does not tell it again). */
  private readonly activatedHere = new Map<string, string>();
  private readonly now: () => number;

  constructor(private readonly o: MlModelRegistryOptions) {
    this.now = o.now ?? Date.now;
  }

  get workspace(): string {
    return this.o.workspace;
  }

  /** Subscribes to changes (after they are stored); returns the unsubscribe. */
  onChange(listener: MlModelListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private tell(change: MlModelChange): void {
    for (const l of [...this.listeners]) {
      try {
        const r = l(change);
        if (r && typeof (r as Promise<void>).catch === 'function')
          (r as Promise<void>).catch((e: unknown) => this.o.onListenerError?.(e, change));
      } catch (e) {
        this.o.onListenerError?.(e, change);
      }
    }
  }

  /**
   * Checks a trained model and stores it as a candidate with the next version of its target.
   * @throws ValidationFailed (every problem, with its JSON pointer); PayloadTooLarge (artefact);
   *   StorageError
   */
  async add(input: MlModelInput): Promise<MlModelRecord> {
    const checked = checkModelInput(input, this.o.codeVersion, this.o.maxArtefactChars);
    // Reading MBs of artefact took a while: let ingest and requests run before the store reads it again.
    await (this.o.yieldNow ?? yieldToTimers)();
    const m = await this.o.store.add({
      workspace: this.o.workspace,
      kind: input.kind,
      target: input.target,
      createdAt: this.now(),
      features: input.features,
      trainingRange: input.trainingRange,
      metrics: input.metrics,
      codeVersion: checked.codeVersion,
      artefact: checked.artefact,
      ...(input.note !== undefined ? { note: input.note } : {}),
    });
    this.tell({
      type: 'added',
      workspace: m.workspace,
      kind: m.kind,
      target: m.target,
      modelId: m.id,
      version: m.version,
      at: m.createdAt,
    });
    return m;
  }

  /** A model (with its artefact when asked). @throws NotFound; InvalidArgument */
  async get(id: string, options: { artefact?: boolean } = {}): Promise<MlModelRecord> {
    checkModelId(id);
    const m = await this.o.store.get(this.o.workspace, id, options);
    if (!m) throw notFound(id);
    return m;
  }

  /** Models newest first, without artefacts (limit default 100, at most 1000). @throws InvalidArgument */
  async list(
    q: {
      kind?: MlModelKind;
      target?: string;
      status?: MlModelStatus;
      limit?: number;
      beforeSeq?: number;
    } = {},
  ): Promise<MlModelRecord[]> {
    if (q.kind !== undefined) checkModelKind(q.kind);
    if (q.target !== undefined) checkTarget(q.target);
    if (q.status !== undefined && !(ML_MODEL_STATUSES as readonly string[]).includes(q.status))
      throw invalidArgument(`status must be one of ${ML_MODEL_STATUSES.join(', ')}.`);
    const limit = q.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_ML_PAGE)
      throw invalidArgument(`limit must be a whole number from 1 to ${MAX_ML_PAGE}.`);
    if (q.beforeSeq !== undefined && !Number.isSafeInteger(q.beforeSeq))
      throw invalidArgument('beforeSeq must be an integer.');
    return this.o.store.list({
      workspace: this.o.workspace,
      limit,
      ...(q.kind !== undefined ? { kind: q.kind } : {}),
      ...(q.target !== undefined ? { target: q.target } : {}),
      ...(q.status !== undefined ? { status: q.status } : {}),
      ...(q.beforeSeq !== undefined ? { beforeSeq: q.beforeSeq } : {}),
    });
  }

  /** Two models side by side: metrics, feature and training-range differences. @throws NotFound */
  async compare(a: string, b: string): Promise<MlModelComparison> {
    const [x, y] = await Promise.all([this.get(a), this.get(b)]);
    return compareModels(x, y);
  }

  /**
   * Makes a model its target's active one (the previous one retired), logged with who and why.
   * Promoting the active model changes nothing. @throws NotFound; InvalidArgument
   */
  async promote(id: string, actor: MlActor): Promise<MlActivationResult> {
    checkModelId(id);
    const who = checkActor(actor);
    const r = await this.o.store.setActive(this.o.workspace, id, { at: this.now(), ...who });
    this.activated(r);
    return r;
  }

  /**
   * Re-activates the model that was active before the target's current one (logged with who and why).
   * @throws Conflict (nothing to roll back to); InvalidArgument
   */
  async rollback(kind: MlModelKind, target: string, actor: MlActor): Promise<MlActivationResult> {
    checkModelKind(kind);
    checkTarget(target);
    const who = checkActor(actor);
    const r = await this.o.store.rollback(this.o.workspace, kind, target, { at: this.now(), ...who });
    this.activated(r);
    return r;
  }

  /**
   * Follows activations made by other nodes sharing the store (a cluster on PostgreSQL): every
   * `intervalMs` the active models are read (one query, no artefacts) and a change not made here is
   * told to the listeners as `activated` with `remote: true`. Returns the stop.
   */
  follow(intervalMs = 2000, onError?: (e: unknown) => void): () => void {
    let known: Map<string, MlModelRecord> | undefined;
    let busy = false;
    let stopped = false;
    const tick = async (): Promise<void> => {
      if (busy || stopped) return;
      busy = true;
      try {
        const active = await this.o.store.list({
          workspace: this.o.workspace,
          status: 'active',
          limit: MAX_ML_PAGE,
        });
        const now = new Map(active.map((m) => [`${m.kind} ${m.target}`, m]));
        if (known && !stopped)
          for (const [k, m] of now) {
            const before = known.get(k);
            if (before?.id === m.id || this.activatedHere.get(k) === m.id) continue;
            this.tell({
              type: 'activated',
              workspace: m.workspace,
              kind: m.kind,
              target: m.target,
              modelId: m.id,
              version: m.version,
              ...(before ? { previousId: before.id, previousVersion: before.version } : {}),
              at: m.activatedAt ?? this.now(),
              remote: true,
            });
          }
        known = now;
      } catch (e) {
        onError?.(e);
      } finally {
        busy = false;
      }
    };
    void tick();
    const timer = setInterval(() => void tick(), intervalMs);
    (timer as { unref?: () => void }).unref?.();
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }

  private activated(r: MlActivationResult): void {
    if (!r.changed || !r.activation) return;
    const a = r.activation;
    this.activatedHere.set(`${a.kind} ${a.target}`, a.modelId);
    this.tell({
      type: 'activated',
      workspace: a.workspace,
      kind: a.kind,
      target: a.target,
      modelId: a.modelId,
      version: a.version,
      action: a.action,
      ...(a.fromId !== undefined ? { previousId: a.fromId } : {}),
      ...(a.fromVersion !== undefined ? { previousVersion: a.fromVersion } : {}),
      by: a.by,
      ...(a.reason !== undefined ? { reason: a.reason } : {}),
      at: a.at,
    });
  }

  /** Deletes a model that is not active. @throws NotFound; Conflict (it is active) */
  async delete(id: string): Promise<void> {
    const m = await this.get(id);
    if (!(await this.o.store.delete(this.o.workspace, id))) throw notFound(id);
    this.tell({
      type: 'deleted',
      workspace: m.workspace,
      kind: m.kind,
      target: m.target,
      modelId: m.id,
      version: m.version,
      at: this.now(),
    });
  }

  /** The target's active model with its artefact, undefined when none. @throws InvalidArgument */
  async active(kind: MlModelKind, target: string): Promise<MlModelRecord | undefined> {
    checkModelKind(kind);
    checkTarget(target);
    return this.o.store.active(this.o.workspace, kind, target);
  }

  /** The activation log, newest first. @throws InvalidArgument */
  async activations(
    q: { kind?: MlModelKind; target?: string; limit?: number; beforeSeq?: number } = {},
  ): Promise<MlActivation[]> {
    if (q.kind !== undefined) checkModelKind(q.kind);
    if (q.target !== undefined) checkTarget(q.target);
    const limit = q.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_ML_PAGE)
      throw invalidArgument(`limit must be a whole number from 1 to ${MAX_ML_PAGE}.`);
    if (q.beforeSeq !== undefined && !Number.isSafeInteger(q.beforeSeq))
      throw invalidArgument('beforeSeq must be an integer.');
    return this.o.store.activations({
      workspace: this.o.workspace,
      limit,
      ...(q.kind !== undefined ? { kind: q.kind } : {}),
      ...(q.target !== undefined ? { target: q.target } : {}),
      ...(q.beforeSeq !== undefined ? { beforeSeq: q.beforeSeq } : {}),
    });
  }
}

const yieldToTimers = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

function notFound(id: string): TwinloopError {
  return new TwinloopError('NotFound', `There is no ML model '${quote(id)}'.`, {
    innerCode: 'MlModelNotFound',
  });
}
