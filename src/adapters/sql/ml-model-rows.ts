/**
 * What both SQL ML model stores share (adapters/sqlite/sqlite-ml-model-store.ts,
 * adapters/postgres/pg-ml-model-store.ts): the checks a model passes before it is written, its JSON
 * fields as text, its id, the rows records are read from, and the walk of the activation log that
 * decides what a rollback re-activates.
 *
 * JSON fields (features, training range, metrics) are serialised when the caller hands them over,
 * so a value that is not JSON (a cycle, a BigInt) is a BadRequest; parsing gives plain data (a
 * `__proto__` key is an own property, never a prototype). The artefact is kept as the text given,
 * after checking that it is the JSON text of an object: a valid JSON text holds no raw NUL, so
 * PostgreSQL can keep any artefact SQLite keeps.
 */
import { createHash } from 'node:crypto';
import { TwinloopError, quote } from '../../core/errors/errors.js';
import {
  MAX_ML_PAGE,
  ML_MODEL_KINDS,
  ML_MODEL_STATUSES,
  type MlActivation,
  type MlModelKind,
  type MlModelRecord,
  type MlModelStatus,
  type NewMlModel,
} from '../../core/ports/ml-model-store.js';

function bad(message: string, cause?: unknown): TwinloopError {
  return new TwinloopError('BadRequest', message, cause === undefined ? undefined : { cause });
}

const KINDS = new Set<string>(ML_MODEL_KINDS);
const STATUSES = new Set<string>(ML_MODEL_STATUSES);

/** The id of version `version` of a (kind, target): `rul-3f9a0c1b2d4e-v2`. */
export function mlModelId(kind: MlModelKind, target: string, version: number): string {
  const h = createHash('sha256').update(target, 'utf8').digest('hex').slice(0, 12);
  return `${kind}-${h}-v${version}`;
}

/** JSON text of a field. @throws BadRequest when it is not a JSON value or cannot be serialised. */
export function mlJsonText(what: string, value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw bad(`The model's ${what} is not JSON: ${(e as Error).message.slice(0, 200)}`, e);
  }
  if (text === undefined) throw bad(`The model's ${what} is not a JSON value (${typeof value}).`);
  return text;
}

/** A model checked, with its JSON fields as text. */
export interface PreparedMlModel {
  m: NewMlModel;
  features: string;
  trainingRange: string;
  metrics: string;
}

function isText(v: unknown): v is string {
  return typeof v === 'string';
}

/** Problems of the fields every model has (new or imported). */
function modelProblems(m: NewMlModel, problems: string[]): void {
  for (const k of ['workspace', 'target', 'codeVersion'] as const)
    if (!isText(m[k]) || (k !== 'codeVersion' && m[k].length === 0))
      problems.push(`${k} must be a ${k === 'codeVersion' ? '' : 'non-empty '}string`);
  if (!isText(m.kind) || !KINDS.has(m.kind))
    problems.push(`kind must be one of ${ML_MODEL_KINDS.join(', ')}`);
  if (typeof m.createdAt !== 'number' || !Number.isSafeInteger(m.createdAt))
    problems.push('createdAt must be an integer (ms since epoch)');
  if (m.note !== undefined && !isText(m.note)) problems.push('note must be a string');
  const r = m.trainingRange as unknown as Record<string, unknown> | null;
  if (r === null || typeof r !== 'object' || Array.isArray(r))
    problems.push('trainingRange must be an object');
  else {
    for (const k of ['from', 'to'] as const)
      if (typeof r[k] !== 'number' || !Number.isFinite(r[k]))
        problems.push(`trainingRange.${k} must be a number (ms)`);
    if (typeof r.rows !== 'number' || !Number.isSafeInteger(r.rows) || r.rows < 0)
      problems.push('trainingRange.rows must be a non-negative integer');
    const a = r.assets;
    const ok =
      (typeof a === 'number' && Number.isSafeInteger(a) && a >= 0) || (Array.isArray(a) && a.every(isText));
    if (!ok) problems.push('trainingRange.assets must be a list of twin ids or a count');
  }
  if (!isText(m.artefact)) problems.push('artefact must be the JSON text of an object');
  else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(m.artefact);
    } catch (e) {
      problems.push(`artefact is not JSON text (${(e as Error).message.slice(0, 120)})`);
      parsed = {};
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      problems.push('artefact must be the JSON text of an object');
  }
}

/** Checks a new model. @throws BadRequest naming every problem. */
export function prepareMlModel(m: NewMlModel): PreparedMlModel {
  if (m === null || typeof m !== 'object') throw bad('A model must be an object.');
  const problems: string[] = [];
  modelProblems(m, problems);
  if (problems.length) throw bad(`Cannot store the model: ${problems.join('; ')}.`);
  return {
    m,
    features: mlJsonText('features', m.features),
    trainingRange: mlJsonText('trainingRange', m.trainingRange),
    metrics: mlJsonText('metrics', m.metrics),
  };
}

/** Checks a model to import as it is (id, version, status, times). @throws BadRequest */
export function prepareImportedModel(m: MlModelRecord & { artefact: string }): PreparedMlModel {
  if (m === null || typeof m !== 'object') throw bad('A model must be an object.');
  const problems: string[] = [];
  modelProblems(m, problems);
  if (!isText(m.id) || m.id.length === 0) problems.push('id must be a non-empty string');
  if (typeof m.version !== 'number' || !Number.isSafeInteger(m.version) || m.version < 1)
    problems.push('version must be a positive integer');
  if (!isText(m.status) || !STATUSES.has(m.status)) problems.push('status is not a model status');
  if (m.activatedAt !== undefined && !Number.isSafeInteger(m.activatedAt))
    problems.push('activatedAt must be an integer');
  if (problems.length) throw bad(`Cannot import the model '${quote(String(m.id))}': ${problems.join('; ')}.`);
  return {
    m,
    features: mlJsonText('features', m.features),
    trainingRange: mlJsonText('trainingRange', m.trainingRange),
    metrics: mlJsonText('metrics', m.metrics),
  };
}

/** Checks who activates and when. @throws BadRequest */
export function checkActivationInfo(info: { at: number; by: string; reason?: string }): void {
  const problems: string[] = [];
  if (info === null || typeof info !== 'object') throw bad('The activation must say when and by whom.');
  if (typeof info.at !== 'number' || !Number.isSafeInteger(info.at))
    problems.push('at must be an integer (ms)');
  if (!isText(info.by)) problems.push('by must be a string');
  if (info.reason !== undefined && !isText(info.reason)) problems.push('reason must be a string');
  if (problems.length) throw bad(`Cannot activate: ${problems.join('; ')}.`);
}

/** Checks a log line to import. @throws BadRequest */
export function checkImportedActivation(a: MlActivation): void {
  const problems: string[] = [];
  if (a === null || typeof a !== 'object') throw bad('An activation must be an object.');
  for (const k of ['workspace', 'target', 'modelId', 'by'] as const)
    if (!isText(a[k])) problems.push(`${k} must be a string`);
  if (!isText(a.kind) || !KINDS.has(a.kind)) problems.push('kind is not a model kind');
  if (a.action !== 'promote' && a.action !== 'rollback') problems.push('action must be promote or rollback');
  if (!Number.isSafeInteger(a.version)) problems.push('version must be an integer');
  if (!Number.isSafeInteger(a.at)) problems.push('at must be an integer');
  for (const k of ['fromId', 'rollbackToId', 'reason'] as const)
    if (a[k] !== undefined && !isText(a[k])) problems.push(`${k} must be a string`);
  if (a.fromVersion !== undefined && !Number.isSafeInteger(a.fromVersion))
    problems.push('fromVersion must be an integer');
  if (problems.length) throw bad(`Cannot import the activation: ${problems.join('; ')}.`);
}

/** Checks the string arguments of a read. @throws BadRequest */
export function checkMlText(fields: Record<string, unknown>): void {
  const wrong = Object.entries(fields)
    .filter(([, v]) => typeof v !== 'string')
    .map(([k]) => k);
  if (wrong.length) throw bad(`${wrong.join(', ')} must be ${wrong.length > 1 ? 'strings' : 'a string'}.`);
}

/** Checks an optional kind filter. @throws BadRequest */
export function checkKind(kind: unknown, required = false): void {
  if (kind === undefined && !required) return;
  if (!isText(kind) || !KINDS.has(kind)) throw bad(`kind must be one of ${ML_MODEL_KINDS.join(', ')}.`);
}

/** Checks an optional status filter. @throws BadRequest */
export function checkStatus(status: unknown): void {
  if (status === undefined) return;
  if (!isText(status) || !STATUSES.has(status))
    throw bad(`status must be one of ${ML_MODEL_STATUSES.join(', ')}.`);
}

/** Checks a page's limit and caps it. @throws BadRequest */
export function mlPageLimit(limit: unknown): number {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1)
    throw bad(`limit must be a positive integer (got ${String(limit).slice(0, 40)}).`);
  return Math.min(limit, MAX_ML_PAGE);
}

/** Checks an optional paging key. @throws BadRequest */
export function checkBeforeSeq(v: unknown): void {
  if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v))) throw bad('beforeSeq must be a number.');
}

/** A model's row as both stores read it (no artefact column: it has a table of its own). */
export interface MlModelRow {
  seq: number;
  workspace: string;
  id: string;
  kind: string;
  target: string;
  version: number;
  status: string;
  created_at: number;
  activated_at: number | null;
  features: string;
  training_range: string;
  metrics: string;
  code_version: string;
  note: string | null;
  artefact_size: number;
}

/** The columns of MlModelRow, for SELECT lists (prefix: a table alias with its dot). */
export function mlModelColumns(prefix = ''): string {
  return [
    'seq',
    'workspace',
    'id',
    'kind',
    'target',
    'version',
    'status',
    'created_at',
    'activated_at',
    'features',
    'training_range',
    'metrics',
    'code_version',
    'note',
    'artefact_size',
  ]
    .map((c) => prefix + c)
    .join(', ');
}

export function mlModelFromRow(r: MlModelRow, artefact?: string): MlModelRecord {
  const rec: MlModelRecord = {
    workspace: r.workspace,
    id: r.id,
    kind: r.kind as MlModelKind,
    target: r.target,
    version: Number(r.version),
    status: r.status as MlModelStatus,
    createdAt: Number(r.created_at),
    features: JSON.parse(r.features) as unknown,
    trainingRange: JSON.parse(r.training_range) as MlModelRecord['trainingRange'],
    metrics: JSON.parse(r.metrics) as unknown,
    codeVersion: r.code_version,
    artefactSize: Number(r.artefact_size),
    seq: Number(r.seq),
  };
  if (r.activated_at !== null) rec.activatedAt = Number(r.activated_at);
  if (r.note !== null) rec.note = r.note;
  if (artefact !== undefined) rec.artefact = artefact;
  return rec;
}

export interface MlActivationRow {
  seq: number;
  workspace: string;
  kind: string;
  target: string;
  action: string;
  model_id: string;
  version: number;
  from_id: string | null;
  from_version: number | null;
  rollback_to_id: string | null;
  at: number;
  by_whom: string;
  reason: string | null;
}

export const ML_ACTIVATION_COLUMNS =
  'seq, workspace, kind, target, action, model_id, version, from_id, from_version, rollback_to_id, at, by_whom, reason';

export function mlActivationFromRow(r: MlActivationRow): MlActivation {
  const a: MlActivation = {
    seq: Number(r.seq),
    workspace: r.workspace,
    kind: r.kind as MlModelKind,
    target: r.target,
    action: r.action as MlActivation['action'],
    modelId: r.model_id,
    version: Number(r.version),
    at: Number(r.at),
    by: r.by_whom,
  };
  if (r.from_id !== null) a.fromId = r.from_id;
  if (r.from_version !== null) a.fromVersion = Number(r.from_version);
  if (r.rollback_to_id !== null) a.rollbackToId = r.rollback_to_id;
  if (r.reason !== null) a.reason = r.reason;
  return a;
}

/** What a rollback re-activates, and what a later rollback of that goes back to. */
export interface RollbackPlan {
  to: string;
  rollbackToId: string | undefined;
}

/**
 * Walks the target's activation log (newest first) back from the activation of `current`: the
 * model that activation replaced is re-activated; one deleted since (`exists` false) is skipped by
 * following its own activation further back. The new log line's `rollbackToId` is what the
 * re-activated model's earlier activation would have rolled back to, so rollbacks walk back like a
 * stack (promote 1, 2, 3; rollback → 2; rollback → 1).
 * @throws Conflict when there is nothing to roll back to.
 */
export function planRollback(
  log: readonly { modelId: string; rollbackToId?: string | undefined }[],
  current: string,
  exists: (id: string) => boolean,
  label: string,
): RollbackPlan {
  const nothing = (why: string) =>
    new TwinloopError('Conflict', `Cannot roll back ${label}: ${why}.`, { innerCode: 'MlNothingToRollBack' });
  let pos = log.findIndex((e) => e.modelId === current);
  if (pos < 0) throw nothing(`the activation of its active model '${quote(current)}' is not in the log`);
  let cand = log[pos]!.rollbackToId;
  // Each step moves to an older line: the walk ends within the log's length.
  while (cand !== undefined) {
    const c = cand;
    const earlier = log.findIndex((e, i) => i > pos && e.modelId === c);
    if (c !== current && exists(c))
      return { to: c, rollbackToId: earlier >= 0 ? log[earlier]!.rollbackToId : undefined };
    if (earlier < 0) break;
    pos = earlier;
    cand = log[earlier]!.rollbackToId;
  }
  throw nothing('no model was active before the current one (or those that were have been deleted)');
}

/** The error for a model that is not stored. */
export function mlModelNotFound(workspace: string, id: string): TwinloopError {
  return new TwinloopError(
    'NotFound',
    `There is no ML model '${quote(id)}' in workspace '${quote(workspace)}'.`,
    {
      innerCode: 'MlModelNotFound',
    },
  );
}

/** The error for deleting the active model. */
export function mlModelActive(id: string): TwinloopError {
  return new TwinloopError(
    'Conflict',
    `The ML model '${quote(id)}' is active: promote another version (or roll back) before deleting it.`,
    { innerCode: 'MlModelActive' },
  );
}

/** The error for an import of an id or version already stored. */
export function mlModelExists(id: string): TwinloopError {
  return new TwinloopError('Conflict', `An ML model '${quote(id)}' (or its version) is already stored.`);
}

/** The label of a target in messages: `rul model of dtmi:x:Pump;1`. */
export function targetLabel(kind: string, target: string): string {
  return `the ${kind} model of '${quote(target)}'`;
}
