/**
 * A request to train a remaining-useful-life model (POST /ml/training, `twinloop train rul`),
 * checked at once against the target model so a typo is a 400 with where it is, not a failed job
 * minutes later. Every field but `target` has a default (docs/predictive-maintenance.md).
 */
import { TwinloopError, type Problem } from '../../core/errors/errors.js';
import type { RulTrainingSpec } from './rul-types.js';

/** What the checks need to know of the target model. */
export interface RulModelInfo {
  /** The model's numeric telemetry (double, float, integer, long), by name; undefined: no such model. */
  numericTelemetry(target: string): readonly string[] | undefined;
}

export interface RulTrainingRequest {
  kind: 'rul';
  /** The DTDL interface (dtmi) of the twins to learn from; twins of models that extend it count too. */
  target: string;
  spec: RulTrainingSpec;
  /** One step of the resampled history, ms; undefined: taken as the median spacing of the readings. */
  stepMs?: number;
  /** The twins to learn from (default: every twin of the target model). */
  twins?: string[];
  /** Only twins whose id starts with this. */
  twinIdPrefix?: string;
  /**
   * A twin property holding the time the asset failed (ISO 8601 text or ms): twins without it are
   * left out (still running). Without this option every chosen twin's last reading is its failure.
   */
  failedAtProperty?: string;
  /** Make the trained model the active one of its target when it is stored. */
  promote: boolean;
  note?: string;
}

export const RUL_DEFAULTS = {
  window: 150,
  cap: 125,
  validationFraction: 0.2,
  seed: 1,
} as const;

const LIMITS = { sensors: 200, twins: 100_000, note: 1000, name: 256 } as const;
const NAME = /^[A-Za-z](?:[A-Za-z0-9_]{0,62}[A-Za-z0-9])?$/;

function own(o: Record<string, unknown>, k: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined;
}

/**
 * Checks a request body. @throws ValidationFailed listing every problem (with its JSON pointer);
 * ModelNotFound when the target is not a model
 */
export function readRulTrainingRequest(body: unknown, info: RulModelInfo): RulTrainingRequest {
  const problems: Problem[] = [];
  const bad = (pointer: string, message: string): void => {
    problems.push({ code: 'ml.training.invalid', pointer, message, source: 'request body' });
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new TwinloopError('ValidationFailed', 'The training request must be a JSON object.');
  const b = body as Record<string, unknown>;
  const known = new Set([
    'kind',
    'target',
    'sensors',
    'settings',
    'stepSeconds',
    'window',
    'cap',
    'regimes',
    'validationFraction',
    'seed',
    'twins',
    'twinIdPrefix',
    'failedAtProperty',
    'promote',
    'note',
  ]);
  for (const k of Object.keys(b)) if (!known.has(k)) bad(`/${k}`, `'${k}' is not a training option.`);
  const kind = own(b, 'kind') ?? 'rul';
  if (kind !== 'rul') bad('/kind', `The only kind of model trained is 'rul' (got ${JSON.stringify(kind)}).`);
  const target = own(b, 'target');
  if (typeof target !== 'string' || !target.startsWith('dtmi:') || target.length > 4096) {
    bad('/target', 'target must be the dtmi of the model whose twins to learn from.');
    throw new TwinloopError('ValidationFailed', 'The training request is not valid.', { problems });
  }
  const numeric = info.numericTelemetry(target);
  if (numeric === undefined) throw new TwinloopError('ModelNotFound', `There is no model ${target}.`);
  const numericSet = new Set(numeric);

  const names = (key: string, max: number): string[] | undefined => {
    const v = own(b, key);
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.length > max) {
      bad(`/${key}`, `${key} must be a list of at most ${max} telemetry names.`);
      return undefined;
    }
    const out: string[] = [];
    v.forEach((n, i) => {
      if (typeof n !== 'string' || !NAME.test(n))
        bad(`/${key}/${i}`, `${JSON.stringify(n)} is not a telemetry name.`);
      else if (!numericSet.has(n)) bad(`/${key}/${i}`, `${target} has no numeric telemetry '${n}'.`);
      else if (out.includes(n)) bad(`/${key}/${i}`, `'${n}' is listed twice.`);
      else out.push(n);
    });
    return out;
  };
  const settings = names('settings', 20) ?? [];
  const sensors = names('sensors', LIMITS.sensors) ?? numeric.filter((n) => !settings.includes(n));
  if (sensors.length === 0) bad('/sensors', `${target} has no numeric telemetry to learn from.`);
  for (const s of settings)
    if (own(b, 'sensors') !== undefined && sensors.includes(s))
      bad('/settings', `'${s}' is both a sensor and a setting.`);

  const num = (key: string, min: number, max: number, integer: boolean): number | undefined => {
    const v = own(b, key);
    if (v === undefined) return undefined;
    if (
      typeof v !== 'number' ||
      !Number.isFinite(v) ||
      v < min ||
      v > max ||
      (integer && !Number.isInteger(v))
    ) {
      bad(`/${key}`, `${key} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}.`);
      return undefined;
    }
    return v;
  };
  const stepSeconds = num('stepSeconds', 0.001, 366 * 86_400, false);
  const window = num('window', 1, 1000, true) ?? RUL_DEFAULTS.window;
  const cap = num('cap', 1, 1e7, false) ?? RUL_DEFAULTS.cap;
  const validationFraction = num('validationFraction', 0.05, 0.5, false) ?? RUL_DEFAULTS.validationFraction;
  const seed = num('seed', 0, 2 ** 31 - 1, true) ?? RUL_DEFAULTS.seed;
  let regimes: number | 'auto' = 'auto';
  const r = own(b, 'regimes');
  if (r !== undefined && r !== 'auto') {
    if (typeof r !== 'number' || !Number.isInteger(r) || r < 1 || r > 20)
      bad('/regimes', "regimes must be 'auto' or a whole number from 1 to 20.");
    else regimes = r;
  }

  let twins: string[] | undefined;
  const t = own(b, 'twins');
  if (t !== undefined) {
    if (!Array.isArray(t) || t.length === 0 || t.length > LIMITS.twins)
      bad('/twins', `twins must be a list of 1 to ${LIMITS.twins} twin ids.`);
    else if (t.some((x) => typeof x !== 'string' || x.length === 0 || x.length > LIMITS.name))
      bad('/twins', 'every twin id must be a non-empty string.');
    else twins = [...new Set(t as string[])];
  }
  const str = (key: string, max: number): string | undefined => {
    const v = own(b, key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length === 0 || v.length > max) {
      bad(`/${key}`, `${key} must be a string of 1 to ${max} characters.`);
      return undefined;
    }
    return v;
  };
  const twinIdPrefix = str('twinIdPrefix', LIMITS.name);
  const failedAtProperty = str('failedAtProperty', LIMITS.name);
  const note = str('note', LIMITS.note);
  const promote = own(b, 'promote') ?? false;
  if (typeof promote !== 'boolean') bad('/promote', 'promote must be true or false.');

  if (problems.length > 0)
    throw new TwinloopError(
      'ValidationFailed',
      `The training request is not valid: ${problems[0]!.message}`,
      { problems },
    );
  return {
    kind: 'rul',
    target,
    spec: { sensors, settings, window, cap, regimes, validationFraction, seed },
    ...(stepSeconds !== undefined ? { stepMs: Math.max(1, Math.round(stepSeconds * 1000)) } : {}),
    ...(twins ? { twins } : {}),
    ...(twinIdPrefix !== undefined ? { twinIdPrefix } : {}),
    ...(failedAtProperty !== undefined ? { failedAtProperty } : {}),
    promote: promote === true,
    ...(note !== undefined ? { note } : {}),
  };
}
