/**
 * What the ML model registry checks before it stores a model, per kind (today `rul`: the feature
 * definition is a RulTrainingSpec, the metrics RulMetrics, the artefact a RulArtefact whose spec is
 * the feature definition), and the comparison of two models (metrics side by side, differences of
 * their feature definitions and training ranges as JSON pointers). Pure; every problem is reported
 * at once with its JSON pointer.
 */
import type { Problem } from '../../core/errors/errors.js';
import { jsonEqual } from '../../core/json/json-equal.js';
import type { MlModelKind, MlModelRecord } from '../../core/ports/ml-model-store.js';
import type { RulMetrics, RulTrainingSpec } from '../rul/rul-types.js';

/** The members of a RUL training spec and of its metrics (tied to rul-types.ts by the compiler). */
const SPEC_KEYS = {
  sensors: true,
  settings: true,
  window: true,
  cap: true,
  regimes: true,
  validationFraction: true,
  seed: true,
} as const satisfies Record<keyof RulTrainingSpec, true>;
const METRIC_KEYS = {
  validationRmse: true,
  validationScore: true,
  validationMethod: true,
  trainingAssets: true,
  validationAssets: true,
  trainingRows: true,
  notes: true,
  trainingMs: true,
} as const satisfies Record<keyof RulMetrics, true>;

/** One problem at a pointer of the model given to `add`. */
function problem(out: Problem[], pointer: string, message: string): void {
  out.push({ code: 'ml.model.invalid', message, pointer, source: 'ML model' });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isInt = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): boolean =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;

function stringList(v: unknown, pointer: string, out: Problem[], o: { min: number; max: number }): void {
  if (!Array.isArray(v)) return problem(out, pointer, 'must be a list of names');
  if (v.length < o.min || v.length > o.max)
    problem(out, pointer, `must hold ${o.min} to ${o.max} names (has ${v.length})`);
  const seen = new Set<string>();
  v.slice(0, o.max + 1).forEach((s, i) => {
    if (typeof s !== 'string' || s.length === 0 || s.length > 256)
      problem(out, `${pointer}/${i}`, 'must be a name of 1 to 256 characters');
    else if (seen.has(s)) problem(out, `${pointer}/${i}`, `'${s}' is given twice`);
    else seen.add(s);
  });
}

/**
 * Reports each member of `keys` absent from `o` as missing, and gives the list the member checks
 * push to: their problems about those members (the same pointer) are dropped, so each shows once.
 */
function missingFirst(o: Record<string, unknown>, keys: object, pointer: string, out: Problem[]): Problem[] {
  const gone = new Set(
    Object.keys(keys)
      .filter((k) => !Object.hasOwn(o, k))
      .map((k) => `${pointer}/${k}`),
  );
  for (const p of gone) problem(out, p, 'is missing');
  if (!gone.size) return out;
  const filtered = [] as Problem[];
  filtered.push = (...ps: Problem[]) => out.push(...ps.filter((x) => !gone.has(x.pointer ?? '')));
  return filtered;
}

/** Problems of a RUL feature definition (RulTrainingSpec); extra members are kept. */
export function rulSpecProblems(spec: unknown, pointer: string, out: Problem[]): void {
  if (!isObject(spec)) return problem(out, pointer, 'must be an object (the training spec)');
  out = missingFirst(spec, SPEC_KEYS, pointer, out);
  stringList(spec.sensors, `${pointer}/sensors`, out, { min: 1, max: 1000 });
  stringList(spec.settings, `${pointer}/settings`, out, { min: 0, max: 100 });
  if (!isInt(spec.window, 1, 100_000))
    problem(out, `${pointer}/window`, 'must be an integer from 1 to 100000');
  if (typeof spec.cap !== 'number' || !(spec.cap > 0) || !Number.isFinite(spec.cap))
    problem(out, `${pointer}/cap`, 'must be a positive number of steps');
  if (spec.regimes !== 'auto' && !isInt(spec.regimes, 1, 1000))
    problem(out, `${pointer}/regimes`, "must be 'auto' or an integer from 1 to 1000");
  const f = spec.validationFraction;
  if (typeof f !== 'number' || !(f >= 0 && f < 1))
    problem(out, `${pointer}/validationFraction`, 'must be a number from 0 to below 1');
  if (!isInt(spec.seed, Number.MIN_SAFE_INTEGER)) problem(out, `${pointer}/seed`, 'must be an integer');
}

/** Problems of RUL metrics (RulMetrics); extra members are kept. */
export function rulMetricsProblems(m: unknown, pointer: string, out: Problem[]): void {
  if (!isObject(m)) return problem(out, pointer, 'must be an object (the training metrics)');
  out = missingFirst(m, METRIC_KEYS, pointer, out);
  for (const k of ['validationRmse', 'validationScore'] as const) {
    const v = m[k];
    if (v !== null && (typeof v !== 'number' || !Number.isFinite(v)))
      problem(out, `${pointer}/${k}`, 'must be a finite number, or null when there was no validation');
  }
  if (typeof m.validationMethod !== 'string') problem(out, `${pointer}/validationMethod`, 'must be a string');
  for (const k of ['trainingAssets', 'validationAssets', 'trainingRows'] as const)
    if (!isInt(m[k], 0)) problem(out, `${pointer}/${k}`, 'must be a non-negative integer');
  if (typeof m.trainingMs !== 'number' || !(m.trainingMs >= 0) || !Number.isFinite(m.trainingMs))
    problem(out, `${pointer}/trainingMs`, 'must be a non-negative number of ms');
  if (!Array.isArray(m.notes) || !m.notes.every((n) => typeof n === 'string'))
    problem(out, `${pointer}/notes`, 'must be a list of strings');
}

/** Problems of a RUL artefact (RulArtefact) given its model's feature definition. */
export function rulArtefactProblems(a: unknown, features: unknown, pointer: string, out: Problem[]): void {
  if (!isObject(a)) return problem(out, pointer, 'must be a JSON object (the trained model)');
  if (a.format !== 'twinloop-rul/1') problem(out, `${pointer}/format`, "must be 'twinloop-rul/1'");
  if (!Object.hasOwn(a, 'model')) problem(out, `${pointer}/model`, "is missing (the learner's parameters)");
  if (!jsonEqual(a.spec, features))
    problem(out, `${pointer}/spec`, 'must be the model’s feature definition (`features`): they differ');
}

/** The checks of one kind of model. */
export interface MlKindChecks {
  features(v: unknown, pointer: string, out: Problem[]): void;
  metrics(v: unknown, pointer: string, out: Problem[]): void;
  artefact(v: unknown, features: unknown, pointer: string, out: Problem[]): void;
  /** Metrics where lower is better (compare says which model is better on them). */
  lowerIsBetter: readonly string[];
}

export const ML_KIND_CHECKS: Readonly<Record<MlModelKind, MlKindChecks>> = {
  rul: {
    features: rulSpecProblems,
    metrics: rulMetricsProblems,
    artefact: rulArtefactProblems,
    lowerIsBetter: ['validationRmse', 'validationScore'] satisfies (keyof RulMetrics)[],
  },
};

/** One metric of two models side by side. */
export interface MetricRow {
  name: string;
  a?: unknown;
  b?: unknown;
  /** b − a, when both are numbers. */
  difference?: number;
  /** Which model is better on it, for metrics with a known direction. */
  better?: 'a' | 'b' | 'equal';
}

/** A leaf where two JSON values differ (absent on one side: no `a` or no `b`). */
export interface JsonDifference {
  pointer: string;
  a?: unknown;
  b?: unknown;
}

/** Most differences listed; the rest are counted in `truncated`. */
export const MAX_DIFFERENCES = 200;
const MAX_DIFF_DEPTH = 32;

const escapePointer = (k: string): string => k.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * The leaves where `a` and `b` differ, as JSON pointers (at most MAX_DIFFERENCES; deeper than 32
 * levels a whole subtree is one difference). Without recursion.
 */
export function jsonDifferences(
  a: unknown,
  b: unknown,
): { differences: JsonDifference[]; truncated: number } {
  const differences: JsonDifference[] = [];
  let truncated = 0;
  const stack: { p: string; x: unknown; y: unknown; has: [boolean, boolean]; depth: number }[] = [
    { p: '', x: a, y: b, has: [true, true], depth: 0 },
  ];
  while (stack.length) {
    const { p, x, y, has, depth } = stack.pop()!;
    const both = has[0] && has[1];
    const containers =
      both &&
      typeof x === 'object' &&
      typeof y === 'object' &&
      x !== null &&
      y !== null &&
      Array.isArray(x) === Array.isArray(y);
    if (containers && depth < MAX_DIFF_DEPTH) {
      const xo = x as Record<string, unknown>;
      const yo = y as Record<string, unknown>;
      const keys = [...new Set([...Object.keys(xo), ...Object.keys(yo)])];
      if (Array.isArray(x)) keys.sort((i, j) => Number(i) - Number(j));
      else keys.sort();
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i]!;
        const hx = Object.hasOwn(xo, k);
        const hy = Object.hasOwn(yo, k);
        stack.push({
          p: `${p}/${escapePointer(k)}`,
          x: hx ? xo[k] : undefined,
          y: hy ? yo[k] : undefined,
          has: [hx, hy],
          depth: depth + 1,
        });
      }
      continue;
    }
    if (both && jsonEqual(x, y)) continue;
    if (differences.length >= MAX_DIFFERENCES) {
      truncated++;
      continue;
    }
    const d: JsonDifference = { pointer: p };
    if (has[0]) d.a = x;
    if (has[1]) d.b = y;
    differences.push(d);
  }
  return { differences, truncated };
}

/** Two models compared (docs/ml-models.md, "Comparing models"). */
export interface MlModelComparison {
  a: MlModelRecord;
  b: MlModelRecord;
  sameKind: boolean;
  sameTarget: boolean;
  /** Every metric of either model, in a's order then b's extra ones. */
  metrics: MetricRow[];
  /** Where the feature definitions differ. */
  features: JsonDifference[];
  /** Where the training ranges differ. */
  trainingRange: JsonDifference[];
  /** Differences not listed (beyond MAX_DIFFERENCES). */
  truncated: number;
  codeVersion?: { a: string; b: string };
}

/** Compares two stored models (without artefacts). */
export function compareModels(a: MlModelRecord, b: MlModelRecord): MlModelComparison {
  const lower = new Set(ML_KIND_CHECKS[a.kind]?.lowerIsBetter ?? []);
  const ma = isObject(a.metrics) ? a.metrics : {};
  const mb = isObject(b.metrics) ? b.metrics : {};
  const names = [...new Set([...Object.keys(ma), ...Object.keys(mb)])];
  const metrics = names.map((name): MetricRow => {
    const row: MetricRow = { name };
    const x = Object.hasOwn(ma, name) ? ma[name] : undefined;
    const y = Object.hasOwn(mb, name) ? mb[name] : undefined;
    if (x !== undefined) row.a = x;
    if (y !== undefined) row.b = y;
    if (typeof x === 'number' && typeof y === 'number') {
      row.difference = y - x;
      if (lower.has(name) && a.kind === b.kind) row.better = x === y ? 'equal' : x < y ? 'a' : 'b';
    }
    return row;
  });
  const f = jsonDifferences(a.features, b.features);
  const r = jsonDifferences(a.trainingRange, b.trainingRange);
  const strip = ({ artefact: _x, ...m }: MlModelRecord): MlModelRecord => m;
  return {
    a: strip(a),
    b: strip(b),
    sameKind: a.kind === b.kind,
    sameTarget: a.target === b.target,
    metrics,
    features: f.differences,
    trainingRange: r.differences,
    truncated: f.truncated + r.truncated,
    ...(a.codeVersion !== b.codeVersion ? { codeVersion: { a: a.codeVersion, b: b.codeVersion } } : {}),
  };
}
