/**
 * The analytics files of a pilot folder that the analytics subsystem reads at start:
 * `derived/*.yaml` (values derived per model), `anomaly.yaml` (which streams are scored, by which
 * detector, and which are scored together by a multivariate detector) and `forecast.yaml` (which
 * streams are forecast continuously). A pilot without anomaly.yaml or forecast.yaml has no anomaly
 * detection or continuous forecasts; a file with problems stops the start with every problem at its
 * line.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TwinloopError } from '../core/errors/errors.js';
import type { AnomalyPlanSpec } from '../analytics/runtime/anomaly-plan.js';
import { readAnomalyPlan } from '../analytics/runtime/anomaly-plan.js';
import { resolvePilotDir } from './pilot-files.js';
import { loadPilotDerived } from './pilot-loader.js';
import type { DerivedCheckWorld } from '../analytics/derived/check-derived.js';
import type { DerivedSet } from '../analytics/derived/derived-types.js';
import { derivedNamesOf } from '../analytics/derived/derived-types.js';
import { planGroups, planStreams } from '../analytics/runtime/anomaly-plan.js';
import { checkAnomalyPlan } from '../analytics/runtime/check-anomaly-plan.js';
import { ANOMALY_SCORE_SUFFIX } from '../analytics/runtime/anomaly-operator.js';
import type { ForecastPlanSpec, ForecastPlanWorld } from '../analytics/runtime/forecast-plan.js';
import { forecastNames, planForecastStreams, readForecastPlan } from '../analytics/runtime/forecast-plan.js';
import type { Problem } from '../core/errors/errors.js';

/** Largest analytics file read (they are written by hand). */
const MAX_FILE_BYTES = 1 << 20;

/** The text of one analytics file of a pilot, or undefined without it. @throws TwinloopError BadRequest (too large) */
function readPilotFile(pilot: string, name: string): { file: string; text: string } | undefined {
  if (pilot === 'none') return undefined;
  const file = path.join(resolvePilotDir(pilot), name);
  if (!existsSync(file)) return undefined;
  const bytes = readFileSync(file);
  if (bytes.length > MAX_FILE_BYTES)
    throw new TwinloopError(
      'BadRequest',
      `${file} is ${bytes.length} bytes; at most ${MAX_FILE_BYTES} are read.`,
    );
  return { file, text: bytes.toString('utf8') };
}

function planProblems(what: string, file: string, problems: Problem[]): TwinloopError {
  return new TwinloopError(
    'ValidationFailed',
    `The ${what} ${file} has ${problems.length} problem(s):\n${problems.map((p) => `  ${p.message}`).join('\n')}`,
    { problems },
  );
}

/**
 * The pilot's anomaly plan, or undefined when it has none (or the pilot is "none").
 * @throws TwinloopError ValidationFailed (every problem at its line and column), BadRequest (too large).
 */
export function readPilotAnomalyPlan(pilot: string, kinds: readonly string[]): AnomalyPlanSpec | undefined {
  const f = readPilotFile(pilot, 'anomaly.yaml');
  if (!f) return undefined;
  const r = readAnomalyPlan(f.text, f.file, kinds);
  if ('problems' in r) throw planProblems('anomaly plan', f.file, r.problems);
  return r.plan;
}

/**
 * The pilot's continuous forecasts, or undefined when it has none (or the pilot is "none").
 * @throws TwinloopError ValidationFailed (every problem at its line and column), BadRequest (too large).
 */
export function readPilotForecastPlan(
  pilot: string,
  world?: ForecastPlanWorld,
): ForecastPlanSpec | undefined {
  const f = readPilotFile(pilot, 'forecast.yaml');
  if (!f) return undefined;
  const r = readForecastPlan(f.text, f.file, world);
  if ('problems' in r) throw planProblems('forecast plan', f.file, r.problems);
  return r.plan;
}

/** What a pilot folder says about its analytics, read and checked once at start. */
export interface PilotAnalytics {
  /** Derived values (empty without a pilot or without a derived/ folder). */
  derived: DerivedSet[];
  /** Problems in the derived files that do not stop the start. */
  derivedWarnings: Problem[];
  /** Derived files left out (lenient: they do not fit the data folder's models). */
  derivedSkipped: string[];
  /** The anomaly plan; undefined when the pilot scores no stream. */
  anomalyPlan: AnomalyPlanSpec | undefined;
  /** The continuous forecasts; undefined when the pilot forecasts no stream. */
  forecastPlan: ForecastPlanSpec | undefined;
  /** Every telemetry name the platform derives for twins of a model (rules may read them). */
  derivedNames(modelId: string): string[];
}

/**
 * Reads a pilot's derived values, anomaly plan and forecast plan and checks them against the
 * models loaded (forecast streams: numeric telemetry of the model, names that clash with nothing).
 * @throws TwinloopError ValidationFailed (every problem at its place).
 */
export function loadPilotAnalytics(
  pilot: string,
  world: DerivedCheckWorld & { models: { matchesModel(modelId: string, baseId: string): boolean } },
  kinds: readonly string[],
  options: { lenient?: boolean } = {},
): PilotAnalytics {
  const derived =
    pilot === 'none' ? { sets: [], warnings: [], skipped: [] } : loadPilotDerived(pilot, world, options);
  const anomalyPlan = readPilotAnomalyPlan(pilot, kinds);
  const isOf = (m: string, b: string) => world.models.matchesModel(m, b);
  if (anomalyPlan) {
    // Every derived value twins of a model get, from model files and from twin files.
    const derivedOf = (modelId: string): string[] =>
      derived.sets.flatMap((s) => {
        const t = s.target;
        const applies = 'twin' in t ? t.model === modelId : isOf(modelId, t.model);
        return applies ? s.values.map((v) => v.name) : [];
      });
    const file = path.join(resolvePilotDir(pilot), 'anomaly.yaml');
    const problems = checkAnomalyPlan(anomalyPlan, file, {
      models: world.models,
      ...(world.modelIds ? { modelIds: world.modelIds } : {}),
      derivedNames: derivedOf,
    });
    if (problems.length) throw planProblems('anomaly plan', file, problems);
  }
  const beforeForecasts = (modelId: string): string[] => [
    ...derivedNamesOf(derived.sets, modelId, isOf),
    ...(anomalyPlan
      ? [
          ...planStreams(anomalyPlan, modelId, isOf),
          ...planGroups(anomalyPlan, modelId, isOf).map((g) => g.name),
        ].map((n) => n + ANOMALY_SCORE_SUFFIX)
      : []),
  ];
  const forecastPlan = readPilotForecastPlan(pilot, {
    getInterface: (id) => world.models.getInterface(id),
    derivedNames: beforeForecasts,
  });
  return {
    derived: derived.sets,
    derivedWarnings: derived.warnings,
    derivedSkipped: derived.skipped,
    anomalyPlan,
    forecastPlan,
    derivedNames: (modelId) => [
      ...beforeForecasts(modelId),
      ...(forecastPlan
        ? planForecastStreams(forecastPlan, modelId, isOf).flatMap((s) => forecastNames(s.telemetry))
        : []),
    ],
  };
}
