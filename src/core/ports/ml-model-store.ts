/**
 * ML model store port (docs/ml-models.md): every trained model (today: remaining-useful-life, kind
 * `rul`) is kept with its version, feature definition, training data range, metrics, code version
 * and artefact (its JSON text, up to a few MB).
 *
 * - A model is for one target: the DTDL interface (a DTMI) of the twins it predicts for. Versions are
 *   numbered per (workspace, kind, target) by the store, atomically (1, 2, …), never given twice
 *   (not even after a delete).
 * - Status: `candidate` (stored, not used) → `active` (the one live inference uses; at most one per
 *   target) → `retired` (was active, replaced). A retired model can be made active again.
 * - Every activation is logged (who, when, from which version, why). `rollback` undoes the latest
 *   activation: it re-activates the model that was active before it, and a second rollback goes one
 *   further back (the log is walked like a stack; models deleted since are skipped).
 * - Lists never carry artefacts; `get(…, { artefact: true })` and `active` do.
 *
 * Adapters: SQLite (adapters/sqlite/sqlite-ml-model-store.ts) and PostgreSQL
 * (adapters/postgres/pg-ml-model-store.ts), both checked by ml-model-store.contract.ts. Storage
 * failures reject with TwinloopError('StorageError'); bad arguments with 'BadRequest'.
 */

/** The kinds of model the registry keeps. */
export const ML_MODEL_KINDS = ['rul'] as const;
export type MlModelKind = (typeof ML_MODEL_KINDS)[number];

export const ML_MODEL_STATUSES = ['candidate', 'active', 'retired'] as const;
export type MlModelStatus = (typeof ML_MODEL_STATUSES)[number];

/** The data a model was trained on. */
export interface MlTrainingRange {
  /** First and last reading used, ms since epoch. */
  from: number;
  to: number;
  /** The assets (twin ids) trained on, or only how many. */
  assets: string[] | number;
  /** Rows (steps) trained on. */
  rows: number;
}

/** A model as it is about to be stored: the store gives it its id, version and status. */
export interface NewMlModel {
  workspace: string;
  kind: MlModelKind;
  /** The DTDL interface (DTMI) of the twins the model is for. */
  target: string;
  /** ms since epoch. */
  createdAt: number;
  /** The feature definition (for `rul`: the RulTrainingSpec), JSON. */
  features: unknown;
  trainingRange: MlTrainingRange;
  /** The training's figures (for `rul`: RulMetrics), JSON. */
  metrics: unknown;
  /** Package version and git commit of the code that trained it, e.g. `0.1.0+6829d5d`. */
  codeVersion: string;
  /** The artefact: JSON text (an object), possibly a few MB. */
  artefact: string;
  note?: string;
}

/** A stored model; `artefact` only where asked for. */
export interface MlModelRecord extends Omit<NewMlModel, 'artefact'> {
  /** `<kind>-<12 hex of the target's SHA-256>-v<version>`, e.g. `rul-3f9a0c1b2d4e-v2`. */
  id: string;
  version: number;
  status: MlModelStatus;
  /** When it was last made active, ms since epoch (kept once retired). */
  activatedAt?: number;
  /** Length of the artefact text, characters. */
  artefactSize: number;
  /** Increasing per store: the order models were stored in (paging key of `list`). */
  seq: number;
  artefact?: string;
}

/** Who activates, when and why. */
export interface MlActivationInfo {
  /** ms since epoch. */
  at: number;
  /** A user name, `cli`, `api`, `training` … */
  by: string;
  reason?: string;
}

/** One line of the activation log. */
export interface MlActivation {
  seq: number;
  workspace: string;
  kind: MlModelKind;
  target: string;
  action: 'promote' | 'rollback';
  /** The model made active, and its version. */
  modelId: string;
  version: number;
  /** The model active just before (absent when none was). */
  fromId?: string;
  fromVersion?: number;
  /** The model a rollback of this activation re-activates (absent: nothing to roll back to). */
  rollbackToId?: string;
  at: number;
  by: string;
  reason?: string;
}

/** What an activation did. */
export interface MlActivationResult {
  /** The model now active (without artefact). */
  model: MlModelRecord;
  /** The model that was active before (now retired), when there was one. */
  previous?: MlModelRecord;
  /** False when the model was already active (nothing changed, nothing logged). */
  changed: boolean;
  /** The log line written (absent when nothing changed). */
  activation?: MlActivation;
}

export interface MlModelQuery {
  workspace: string;
  kind?: MlModelKind;
  target?: string;
  status?: MlModelStatus;
  /** Newest first; at most this many (adapters cap it at 1000). */
  limit: number;
  /** Only models with a smaller seq (paging back). */
  beforeSeq?: number;
}

export interface MlActivationQuery {
  workspace: string;
  kind?: MlModelKind;
  target?: string;
  /** Newest first; at most this many (capped at 1000). */
  limit: number;
  beforeSeq?: number;
}

/** Largest page a list answers. */
export const MAX_ML_PAGE = 1000;

export interface MlModelStore {
  /**
   * Stores a model as `candidate` with the next version of its (workspace, kind, target).
   * @throws BadRequest (a field of the wrong type, an artefact that is not a JSON object's text, a NUL
   *   where the store cannot keep one); StorageError
   */
  add(model: NewMlModel): Promise<MlModelRecord>;
  /** A model, with its artefact when asked; undefined when absent. @throws StorageError */
  get(workspace: string, id: string, options?: { artefact?: boolean }): Promise<MlModelRecord | undefined>;
  /** Models newest first (by seq), without artefacts. @throws BadRequest (limit); StorageError */
  list(q: MlModelQuery): Promise<MlModelRecord[]>;
  /**
   * Makes a model active, atomically: the target's active one (if another) becomes `retired`, and the
   * activation is logged. @throws NotFound (no such model); StorageError
   */
  setActive(workspace: string, id: string, info: MlActivationInfo): Promise<MlActivationResult>;
  /**
   * Re-activates the model that was active before the current one (per the log), atomically; the
   * current one becomes `retired`. @throws Conflict (no active model, or nothing before it); StorageError
   */
  rollback(
    workspace: string,
    kind: MlModelKind,
    target: string,
    info: MlActivationInfo,
  ): Promise<MlActivationResult>;
  /** Deletes a model and its artefact; false when absent. @throws Conflict (it is active); StorageError */
  delete(workspace: string, id: string): Promise<boolean>;
  /** The target's active model with its artefact; undefined when none. @throws StorageError */
  active(workspace: string, kind: MlModelKind, target: string): Promise<MlModelRecord | undefined>;
  /** The activation log, newest first. @throws StorageError */
  activations(q: MlActivationQuery): Promise<MlActivation[]>;
  /**
   * Stores models exactly as given (id, version, status, times) — for `migrate-store`. The
   * target's version counter moves past them. @throws Conflict (an id or version already stored);
   * BadRequest; StorageError
   */
  importModels(models: readonly (MlModelRecord & { artefact: string })[]): Promise<void>;
  /** Appends log lines as given (oldest first; seqs are the store's own) — for `migrate-store`. */
  importActivations(entries: readonly MlActivation[]): Promise<void>;
}
