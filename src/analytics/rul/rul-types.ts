/**
 * Remaining useful life (RUL): the shapes shared by training (rul-train.ts, run off the main
 * thread), the model registry (core/ports/ml-model-store.ts) and live inference (the analytics
 * operator). Everything here is plain data: an artefact is JSON, so it can be stored, copied
 * between stores and sent to a worker thread.
 *
 * Time is counted in *steps*: a twin's history is resampled to one row per `stepMs` (the average
 * of its readings in that step), counted from the twin's first reading (step 1). For NASA's
 * C-MAPSS engines one step is one cycle; for a pump it might be an hour. RUL is in steps.
 */

/** One asset's history resampled to steps, oldest first. */
export interface RulAssetSeries {
  /** The twin id (or the unit number of a file). */
  id: string;
  /** Step number of each row (1 = the asset's first step), ascending; gaps allowed. */
  steps: Float64Array;
  /** Column (telemetry name) → value per row; NaN where the step had no reading. */
  columns: Record<string, Float64Array>;
}

/** What a user chooses when training (everything else is learned or a documented default). */
export interface RulTrainingSpec {
  /** Telemetry read as sensor inputs. Columns found (near) constant in training are dropped and reported. */
  sensors: string[];
  /** Telemetry that gives the operating condition (clustered into regimes; may be empty). */
  settings: string[];
  /** Rows of one input window (default 30). Shorter histories are padded as the learner documents. */
  window: number;
  /** Training target cap, steps: RUL = min(cap, steps to failure) (piecewise linear; default 125). */
  cap: number;
  /** Operating regimes: a number, or 'auto' (chosen from the settings by clustering; default 'auto'). */
  regimes: number | 'auto';
  /** Share of assets held out, whole, for validation (default 0.2). */
  validationFraction: number;
  /** Seed of every random choice, so a training is repeatable (default 1). */
  seed: number;
}

/** Figures of a training; RMSE and the PHM08 score are on held-out assets. */
export interface RulMetrics {
  validationRmse: number;
  validationScore: number;
  /** How validation predictions were taken (e.g. "5 random cut points per held-out asset"). */
  validationMethod: string;
  trainingAssets: number;
  validationAssets: number;
  trainingRows: number;
  /** Columns dropped as constant, regimes found, and anything else worth showing. */
  notes: string[];
  /** Wall time of the training, ms. */
  trainingMs: number;
}

/** A trained model: JSON, versioned by the registry. `learner` is opaque outside rul/. */
export interface RulArtefact {
  format: 'twinloop-rul/1';
  spec: RulTrainingSpec;
  /** Learned preprocessing and the learner's parameters (the learner documents its shape). */
  model: unknown;
  /** One step of the resampled history, ms (set by the training service; live inference needs it). */
  stepMs?: number;
}

export interface RulTrainingProgress {
  /** e.g. 'features', 'regimes', 'fit', 'validate'. */
  phase: string;
  /** 0..1 over the whole training. */
  fraction: number;
  message?: string;
}

export interface RulPrediction {
  /** Remaining steps (≥ 0). */
  rul: number;
  /** A prediction interval, where the learner gives one. */
  lower?: number;
  upper?: number;
}

/** A loaded artefact, ready to predict. Pure and synchronous; safe on the main thread (≤ 1 ms a call). */
export interface RulPredictor {
  readonly spec: RulTrainingSpec;
  /** The columns it reads (sensors and settings). */
  readonly inputs: readonly string[];
  /**
   * The RUL at the asset's last row, from its recent rows (at least the last `spec.window`
   * when it has them; older rows are ignored). Rows with NaN are handled as the learner documents.
   */
  predict(recent: RulAssetSeries): RulPrediction;
}

/** An active RUL model of the registry, as inference loads it. */
export interface ActiveRulModel {
  /** The DTDL interface it is for (twins of models extending it too). */
  target: string;
  /** Its registry id and version (named in answers, logs and stats). */
  modelId: string;
  version: number;
  artefact: RulArtefact;
}
