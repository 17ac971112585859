/**
 * Forecasting: ETS with detected seasonality and prediction intervals, threshold crossings for
 * rules, and the bounded buffer that streaming refits (forecast rules, continuous forecasts) use.
 */
export { forecast, forecastSteps, MAX_FIT_POINTS, MAX_HORIZON } from './forecast.js';
export type {
  FittedModel,
  ForecastOptions,
  ForecastPoint,
  ForecastResult,
  ForecastSeries,
} from './forecast.js';
export { beyondProbability, crossingOf, forecastCrossing } from './forecast-crossing.js';
export type { Crossing, CrossingOptions, CrossingQuery } from './forecast-crossing.js';
export {
  addReading,
  BUFFER_POINTS,
  bufferFromJson,
  bufferShape,
  bufferSize,
  forecastBuffer,
  MIN_FIT_POINTS,
  REFIT_EVALUATIONS,
} from './forecast-buffer.js';
export type { BufferShape, ForecastBuffer } from './forecast-buffer.js';
export { MAX_GRID_POINTS, MAX_INPUT_POINTS } from './forecast-grid.js';
export { detectSeason } from './seasonality.js';
