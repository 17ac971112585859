/**
 * The ML model registry of one workspace (docs/ml-models.md): trained models checked and stored with
 * their version (MlModelStore), listed, compared, promoted to active and rolled back — with who and
 * why — and deleted. Whoever runs live inference subscribes with `onChange` and reloads the target's
 * active model (`active(kind, target)`) when told it changed.
 *
 * It lives in analytics/ (not core/) because it checks models against the RUL shapes of
 * analytics/rul/rul-types.ts, and core imports only core.
 */
import { TwinloopError, errors, quote, type Problem } from '../../core/errors/errors.js';
import { isDtmi } from '../../core/models/dtdl/dtmi.js';
import {
  MAX_ML_PAGE,
  ML_MODEL_KINDS,
  ML_MODEL_STATUSES,
  type MlActivation,
  type MlActivationResult,
  type MlModelKind,
  type MlModelRecord,
  type MlModelStatus,
  type MlModelStore,
  type MlTrainingRange,
} from '../../core/ports/ml-model-store.js';
import { ML_KIND_CHECKS, compareModels, type MlModelComparison } from './ml-model-checks.js';

/** What training hands to `add` (the registry gives it its id, version, time and status). */
export interface MlModelInput {
  kind: MlModelKind;
  /** The DTDL interface (DTMI) of the twins it is for. */
  target: string;
  /** For `rul`: the RulTrainingSpec. */
  features: unknown;
  trainingRange: MlTrainingRange;
  /** For `rul`: the RulMetrics. */
  metrics: unknown;
  /** For `rul`: the RulArtefact, as an object or its JSON text. */
  artefact: unknown;
  /** Default: the registry's (package version + git commit). */
  codeVersion?: string;
  note?: string;
}

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

/** Who acts, and why. */
export interface MlActor {
  by: string;
  reason?: string;
}

export const MAX_ML_NOTE = 2000;
export const MAX_ML_ACTOR = 200;
export const MAX_ML_ID = 256;
const DEFAULT_MAX_ARTEFACT = 64 * 1024 * 1024;

function invalidArgument(message: string): TwinloopError {
  return new TwinloopError('InvalidArgument', message);
}

/** Checks an id argument. @throws InvalidArgument */
export function checkModelId(id: unknown): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ML_ID)
    throw invalidArgument(`An ML model id is a string of 1 to ${MAX_ML_ID} characters.`);
  return id;
}

/** Checks a kind argument. @throws InvalidArgument */
export function checkModelKind(kind: unknown): MlModelKind {
  if (typeof kind !== 'string' || !(ML_MODEL_KINDS as readonly string[]).includes(kind))
    throw invalidArgument(
      `kind must be one of ${ML_MODEL_KINDS.join(', ')}, not '${quote(String(kind), 40)}'.`,
    );
  return kind as MlModelKind;
}

/** Checks a target argument (a DTMI). @throws InvalidArgument */
export function checkTarget(target: unknown): string {
  if (!isDtmi(target))
    throw invalidArgument(
      `target must be the DTMI of a DTDL interface (e.g. dtmi:com:example:Pump;1), not '${quote(String(target), 80)}'.`,
    );
  return target;
}

function checkActor(a: MlActor): MlActor {
  const problems: string[] = [];
  if (a === null || typeof a !== 'object') throw invalidArgument('Say who acts.');
  // eslint-disable-next-line no-control-regex
  if (typeof a.by !== 'string' || a.by.length > MAX_ML_ACTOR || /[\u0000-\u001f\u007f]/.test(a.by))
    problems.push(`who acts must be at most ${MAX_ML_ACTOR} characters without control characters`);
  if (
    a.reason !== undefined &&
    (typeof a.reason !== 'string' || a.reason.length > MAX_ML_NOTE || a.reason.includes('\u0000'))
  )
    problems.push(`the reason must be a string of at most ${MAX_ML_NOTE} characters without NUL`);
  if (problems.length) throw invalidArgument(`Cannot activate: ${problems.join('; ')}.`);
  return {
    by: a.by.trim() || 'anonymous',
    ...(a.reason !== undefined && a.reason !== '' ? { reason: a.reason } : {}),
  };
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
    const problems: Problem[] = [];
    const at = (pointer: string, message: string) =>
      problems.push({ code: 'ml.model.invalid', message, pointer, source: 'ML model' });
    if (input === null || typeof input !== 'object')
      throw errors.validation('ValidationFailed', 'An ML model must be an object.', []);
    const kindOk =
      typeof input.kind === 'string' && (ML_MODEL_KINDS as readonly string[]).includes(input.kind);
    if (!kindOk) at('/kind', `must be one of ${ML_MODEL_KINDS.join(', ')}`);
    if (!isDtmi(input.target)) at('/target', 'must be the DTMI of a DTDL interface');
    const r = input.trainingRange as unknown;
    if (r === null || typeof r !== 'object' || Array.isArray(r)) at('/trainingRange', 'must be an object');
    else {
      const range = r as Record<string, unknown>;
      for (const k of ['from', 'to'] as const)
        if (typeof range[k] !== 'number' || !Number.isFinite(range[k]))
          at(`/trainingRange/${k}`, 'must be a time (ms)');
      if (typeof range.from === 'number' && typeof range.to === 'number' && range.from > range.to)
        at('/trainingRange', 'from is after to');
      if (!Number.isSafeInteger(range.rows) || (range.rows as number) < 0)
        at('/trainingRange/rows', 'must be a non-negative integer');
      const a = range.assets;
      if (
        !(Number.isSafeInteger(a) && (a as number) >= 0) &&
        !(Array.isArray(a) && a.every((x) => typeof x === 'string'))
      )
        at('/trainingRange/assets', 'must be a list of twin ids or a count');
    }
    const codeVersion = input.codeVersion ?? this.o.codeVersion;
    if (typeof codeVersion !== 'string' || codeVersion.length > 200 || codeVersion.includes('\u0000'))
      at('/codeVersion', 'must be a string of at most 200 characters');
    if (
      input.note !== undefined &&
      (typeof input.note !== 'string' || input.note.length > MAX_ML_NOTE || input.note.includes('\u0000'))
    )
      at('/note', `must be a string of at most ${MAX_ML_NOTE} characters without NUL`);
    const checks = kindOk ? ML_KIND_CHECKS[input.kind] : undefined;
    checks?.features(input.features, '/features', problems);
    checks?.metrics(input.metrics, '/metrics', problems);
    const artefact = this.artefactText(input.artefact, problems);
    if (artefact && checks) checks.artefact(artefact.value, input.features, '/artefact', problems);
    if (problems.length || !artefact)
      throw errors.validation('ValidationFailed', 'The ML model is not valid.', problems);
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
      codeVersion: codeVersion,
      artefact: artefact.text,
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

  /** The artefact as JSON text and parsed, or undefined with a problem. @throws PayloadTooLarge */
  private artefactText(v: unknown, problems: Problem[]): { text: string; value: unknown } | undefined {
    const max = this.o.maxArtefactChars ?? DEFAULT_MAX_ARTEFACT;
    const at = (message: string) =>
      problems.push({ code: 'ml.model.invalid', message, pointer: '/artefact', source: 'ML model' });
    let text: string;
    let value: unknown;
    if (typeof v === 'string') {
      text = v;
      if (text.length > max) throw tooLarge(text.length, max);
      try {
        value = JSON.parse(text);
      } catch (e) {
        at(`is not JSON text: ${(e as Error).message.slice(0, 160)}`);
        return undefined;
      }
    } else {
      value = v;
      let t: string | undefined;
      try {
        t = JSON.stringify(v);
      } catch (e) {
        at(`cannot be written as JSON: ${(e as Error).message.slice(0, 160)}`);
        return undefined;
      }
      if (t === undefined) {
        at('is missing');
        return undefined;
      }
      text = t;
      if (text.length > max) throw tooLarge(text.length, max);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      at('must be a JSON object');
      return undefined;
    }
    return { text, value };
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

function tooLarge(n: number, max: number): TwinloopError {
  return new TwinloopError(
    'PayloadTooLarge',
    `The ML model's artefact is ${n} characters of JSON; at most ${max} are kept.`,
  );
}
