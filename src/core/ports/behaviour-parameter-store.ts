/**
 * Behaviour parameter port: what calibration needs kept durably for each twin — the parameter values
 * applied to its behaviour model (the simulator, shadow mode and what-if runs use them instead of the
 * model's defaults) and the calibrations run on it, each with its fit report, so that one can be
 * applied later. The embedded adapter is SQLite (adapters/sqlite); every adapter passes
 * behaviour-parameter-store.contract.ts. Every method is asynchronous (a store may be remote); storage
 * failures reject with TwinloopError('StorageError').
 */

/** The parameter values applied to one twin's behaviour (only those that differ from the model's). */
export interface BehaviourParameters {
  workspace: string;
  twinId: string;
  /** The behaviour model's name (`behaviour:`) the values belong to. */
  behaviour: string;
  values: Record<string, number>;
  /** The calibration the values came from, when they came from one. */
  calibrationId?: string;
  /** When they were applied, ms since epoch. */
  appliedAt: number;
}

/** One fitted parameter of a calibration report. */
export interface CalibrationRecordParameter {
  name: string;
  value: number;
  /** The value the fit started from. */
  initial: number;
  /** The bounds the fit was held to, when bounded. */
  min?: number;
  max?: number;
  /** Levenberg–Marquardt only, when the covariance exists and the value is not at a bound. */
  stdError?: number;
  /** Confidence interval of the value (default 95%), clipped to min/max. */
  low?: number;
  high?: number;
  unit?: string;
}

/** How one telemetry series was used and how well the fitted model follows it. */
export interface CalibrationRecordSeries {
  name: string;
  /** First and last point used, ms since epoch. */
  from: number;
  to: number;
  /** Points used in the fit (after downsampling). */
  points: number;
  /** Points read from history in the window (before skipping and downsampling). */
  read: number;
  /** Points skipped: not a number or a boolean, or a repeated time. */
  skipped: number;
  /** Standard deviation of the observations used. */
  std: number;
  /** Root mean square of predicted − observed at the fitted values, in the telemetry's unit. */
  rmse: number;
  /** 1 − SS_res/SS_tot of this series; null when its observations are all equal. */
  r2: number | null;
  /** Mean of predicted − observed (a systematic offset shows here). */
  bias: number;
}

/** What a calibration used and found. JSON-safe (no NaN: absent or null instead). */
export interface CalibrationRecord {
  /** Unique per (workspace, twinId). */
  id: string;
  workspace: string;
  twinId: string;
  behaviour: string;
  /** When it ran, ms since epoch. */
  createdAt: number;
  method: 'lm' | 'nelder-mead';
  converged: boolean;
  /** Why the optimiser stopped. */
  reason: string;
  iterations: number;
  /** Simulations run. */
  evaluations: number;
  /** Wall time of the fit, ms. */
  durationMs: number;
  /** Over every point of every series, in their own units (see the series for each one). */
  rmse: number;
  r2: number | null;
  parameters: CalibrationRecordParameter[];
  /** The fitted values by name. */
  values: Record<string, number>;
  /** Parameters applied to the twin when the fit ran (held fixed, unless fitted): applying sets both. */
  base: Record<string, number>;
  /** Inputs held constant during the fit (given in the request or read from the twin's properties). */
  inputs: Record<string, number>;
  /**
   * How the simulation started: 'estimated' — states a fitted telemetry reads directly were fitted
   * too (see `initialStates`), the others started at their `initial`; 'model' — every state at its `initial`.
   */
  initialState: 'estimated' | 'model';
  /** The start values of states estimated with the parameters (empty with 'model'). */
  initialStates: CalibrationRecordParameter[];
  data: {
    /** First and last point used over all series, ms since epoch. */
    from: number;
    to: number;
    points: number;
    /** Simulated seconds of the first and last point (the time mapping applied). */
    simFrom: number;
    simTo: number;
    /** True when the history read hit its cap: `to` is then the last point read, not the window's end. */
    truncated: boolean;
    telemetry: CalibrationRecordSeries[];
  };
}

export interface BehaviourParameterStore {
  /** The parameters applied to a twin, undefined when none are. */
  get(workspace: string, twinId: string): Promise<BehaviourParameters | undefined>;
  /** The parameters applied to every twin of a workspace (loaded once at start, then kept in memory). */
  listParameters(workspace: string): Promise<BehaviourParameters[]>;
  /** Durably inserts or replaces the twin's applied parameters. @throws BadRequest (a value not finite); StorageError */
  put(parameters: BehaviourParameters): Promise<void>;
  /** Removes the twin's applied parameters; false when it had none. @throws StorageError */
  delete(workspace: string, twinId: string): Promise<boolean>;
  /** Durably stores a calibration. @throws Conflict when the twin already has one with this id; StorageError */
  addCalibration(record: CalibrationRecord): Promise<void>;
  /** One calibration of a twin, undefined when absent. */
  getCalibration(workspace: string, twinId: string, id: string): Promise<CalibrationRecord | undefined>;
  /** A twin's calibrations, newest first, at most `limit` (default 100). @throws BadRequest (a bad limit) */
  listCalibrations(workspace: string, twinId: string, limit?: number): Promise<CalibrationRecord[]>;
  /** Removes the twin's applied parameters and calibrations (the twin was deleted). @throws StorageError */
  deleteTwin(workspace: string, twinId: string): Promise<void>;
}
