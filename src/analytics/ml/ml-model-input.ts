/**
 * What the ML model registry checks of what it is given (ml-model-registry.ts): a model to add (every
 * problem at once, each at its JSON pointer; the artefact read as JSON text and as a value) and the
 * arguments of its other operations (ids, kinds, targets, who acts). Pure.
 */
import { TwinloopError, errors, quote, type Problem } from '../../core/errors/errors.js';
import { isDtmi } from '../../core/models/dtdl/dtmi.js';
import { ML_MODEL_KINDS, type MlModelKind, type MlTrainingRange } from '../../core/ports/ml-model-store.js';
import { ML_KIND_CHECKS } from './ml-model-checks.js';

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

/** Who acts, and why. */
export interface MlActor {
  by: string;
  reason?: string;
}

export const MAX_ML_NOTE = 2000;
export const MAX_ML_ACTOR = 200;
export const MAX_ML_ID = 256;
const DEFAULT_MAX_ARTEFACT = 64 * 1024 * 1024;

/** An InvalidArgument error. */
export function invalidArgument(message: string): TwinloopError {
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

export function checkActor(a: MlActor): MlActor {
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

/** A model to add, checked: its artefact as JSON text, and the code version to store. */
export interface CheckedModelInput {
  artefact: string;
  codeVersion: string;
}

/**
 * Checks a model to add. @throws ValidationFailed (every problem, with its JSON pointer);
 *   PayloadTooLarge (an artefact over maxArtefactChars)
 */
export function checkModelInput(
  input: MlModelInput,
  defaultCodeVersion: string,
  maxArtefactChars = DEFAULT_MAX_ARTEFACT,
): CheckedModelInput {
  const problems: Problem[] = [];
  const at = (pointer: string, message: string) =>
    problems.push({ code: 'ml.model.invalid', message, pointer, source: 'ML model' });
  if (input === null || typeof input !== 'object')
    throw errors.validation('ValidationFailed', 'An ML model must be an object.', []);
  const kindOk = typeof input.kind === 'string' && (ML_MODEL_KINDS as readonly string[]).includes(input.kind);
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
  const codeVersion = input.codeVersion ?? defaultCodeVersion;
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
  const artefact = artefactText(input.artefact, problems, maxArtefactChars);
  if (artefact && checks) checks.artefact(artefact.value, input.features, '/artefact', problems);
  if (problems.length || !artefact)
    throw errors.validation('ValidationFailed', 'The ML model is not valid.', problems);
  return { artefact: artefact.text, codeVersion: codeVersion as string };
}

/** The artefact as JSON text and parsed, or undefined with a problem. @throws PayloadTooLarge */
function artefactText(
  v: unknown,
  problems: Problem[],
  max: number,
): { text: string; value: unknown } | undefined {
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

function tooLarge(n: number, max: number): TwinloopError {
  return new TwinloopError(
    'PayloadTooLarge',
    `The ML model's artefact is ${n} characters of JSON; at most ${max} are kept.`,
  );
}
