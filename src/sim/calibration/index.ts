/** Calibration: fit a simulation's parameters to a twin's history (LM or Nelder–Mead) and report the fit. */
export { calibrate } from './calibrate.js';
export type {
  CalibratedParameter,
  CalibrationParameter,
  CalibrationRequest,
  CalibrationResult,
} from './calibrate.js';
export { behaviourSeriesSimulator, behaviourSimulator } from './behaviour-simulator.js';
export type { BehaviourSimulatorOptions } from './behaviour-simulator.js';
export { calibrateTwin } from './twin-calibration.js';
export { CalibrationService, historyFromStore } from './calibration-service.js';
export type {
  CalibrationServiceOptions,
  EffectiveParameters,
  TwinCalibrationRequest,
} from './calibration-service.js';
export { levenbergMarquardt } from './levenberg-marquardt.js';
export type {
  LevenbergMarquardtOptions,
  LevenbergMarquardtResult,
  ResidualFunction,
} from './levenberg-marquardt.js';
export { nelderMead } from './nelder-mead.js';
export type { NelderMeadOptions, NelderMeadResult } from './nelder-mead.js';
export { studentTQuantile } from './dense.js';
