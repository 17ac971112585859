/**
 * Streaming anomaly detectors: one interface for every kind, a factory that builds a detector from
 * a kind and a configuration or restores it from a snapshot. A detector sees one stream's readings
 * in order, answers a score in [0, 1] for every reading, keeps bounded state, and costs O(1)
 * amortised per reading; its snapshot is plain JSON (no NaN, no Infinity) that the analytics
 * runtime persists to survive a restart.
 */
import { TwinloopError, type Problem } from '../../core/errors/errors.js';

/** A univariate streaming detector. */
export interface AnomalyDetector {
  readonly kind: DetectorKind;
  /**
   * Scores one reading (time in ms since epoch, the value) and learns from it. Always answers a
   * number in [0, 1]; a reading that is not a finite number scores 0 and leaves the state as it was.
   */
  score(time: number, value: number): number;
  /** The state to persist: JSON-safe, restorable with createDetector(kind, undefined, snapshot). */
  snapshot(): DetectorSnapshot;
}

export const DETECTOR_KINDS = ['ewma', 'resonance'] as const;
export type DetectorKind = (typeof DETECTOR_KINDS)[number];

export interface DetectorSnapshot {
  kind: DetectorKind;
  version: 1;
  config: Record<string, number>;
  state: Record<string, unknown>;
}

/** Readings a detector learns from before it scores (NAB gives detectors min(0.15·n, 750)). */
export const DEFAULT_PROBATION = 750;

/** Values beyond ±1e150 are clamped, so squares and sums stay finite. */
const LIMIT = 1e150;
export function clampValue(v: number): number {
  return v > LIMIT ? LIMIT : v < -LIMIT ? -LIMIT : v;
}

/** The snapshot's fields, checked: a corrupt snapshot is a StorageCorrupt error listing every problem. */
export function readSnapshot(kind: DetectorKind, raw: unknown): DetectorSnapshot {
  const problems: Problem[] = [];
  const o = raw as Partial<DetectorSnapshot> | null;
  if (typeof o !== 'object' || o === null) {
    problems.push({ code: 'anomaly.snapshot.type', message: 'A snapshot is an object.', pointer: '' });
  } else {
    if (o.kind !== kind)
      problems.push({
        code: 'anomaly.snapshot.kind',
        message: `The snapshot is of kind '${String(o.kind).slice(0, 40)}', not '${kind}'.`,
        pointer: '/kind',
      });
    if (o.version !== 1)
      problems.push({
        code: 'anomaly.snapshot.version',
        message: 'Unknown snapshot version.',
        pointer: '/version',
      });
    if (typeof o.config !== 'object' || o.config === null)
      problems.push({ code: 'anomaly.snapshot.config', message: 'config is an object.', pointer: '/config' });
    if (typeof o.state !== 'object' || o.state === null)
      problems.push({ code: 'anomaly.snapshot.state', message: 'state is an object.', pointer: '/state' });
  }
  if (problems.length) throw snapshotError(problems);
  return o as DetectorSnapshot;
}

export function snapshotError(problems: readonly Problem[]): TwinloopError {
  return new TwinloopError(
    'StorageCorrupt',
    `The anomaly detector snapshot cannot be restored:\n${problems.map((p) => `${p.pointer ?? ''}: ${p.message}`).join('\n')}`,
    { problems },
  );
}

/** A finite number field of a snapshot's state, or a problem. */
export function stateNumber(state: Record<string, unknown>, key: string, problems: Problem[]): number {
  const v = state[key];
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  problems.push({
    code: 'anomaly.snapshot.field',
    message: `${key} is not a finite number.`,
    pointer: `/state/${key}`,
  });
  return 0;
}

/** A finite number array field of a snapshot's state, of the given length, or a problem. */
export function stateArray(
  state: Record<string, unknown>,
  key: string,
  length: number,
  problems: Problem[],
): Float64Array {
  const v = state[key];
  if (Array.isArray(v) && v.length === length && v.every((x) => typeof x === 'number' && Number.isFinite(x)))
    return Float64Array.from(v as number[]);
  problems.push({
    code: 'anomaly.snapshot.field',
    message: `${key} is not an array of ${length} finite numbers.`,
    pointer: `/state/${key}`,
  });
  return new Float64Array(length);
}

/**
 * Merges a partial configuration over defaults: every key must be known and a finite number within
 * [min, max]; all problems are reported at once (InvalidConfig).
 */
export function readConfig<T extends Record<string, number>>(
  defaults: T,
  bounds: { [K in keyof T]: readonly [number, number] },
  given: unknown,
): T {
  const out: Record<string, number> = { ...defaults };
  const problems: Problem[] = [];
  if (given !== undefined) {
    if (typeof given !== 'object' || given === null || Array.isArray(given)) {
      problems.push({
        code: 'anomaly.config.type',
        message: 'A detector configuration is an object.',
        pointer: '',
      });
    } else {
      for (const [k, v] of Object.entries(given)) {
        if (!Object.prototype.hasOwnProperty.call(defaults, k)) {
          problems.push({
            code: 'anomaly.config.unknown',
            message: `Unknown setting '${k.slice(0, 40)}'.`,
            pointer: `/${k}`,
          });
          continue;
        }
        const [lo, hi] = bounds[k as keyof T];
        if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) {
          problems.push({
            code: 'anomaly.config.range',
            message: `${k} must be a number in [${lo}, ${hi}].`,
            pointer: `/${k}`,
          });
          continue;
        }
        out[k] = v;
      }
    }
  }
  if (problems.length)
    throw new TwinloopError(
      'InvalidConfig',
      `Invalid anomaly detector configuration:\n${problems.map((p) => `${p.pointer}: ${p.message}`).join('\n')}`,
      { problems },
    );
  return out as T;
}
