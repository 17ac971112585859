/** Forecasting: ETS with detected seasonality and prediction intervals, and threshold crossings for rules. */
export { forecast, forecastSteps, MAX_FIT_POINTS, MAX_HORIZON } from './forecast.js';
export type {
  FittedModel,
  ForecastOptions,
  ForecastPoint,
  ForecastResult,
  ForecastSeries,
} from './forecast.js';
export { forecastCrossing } from './forecast-crossing.js';
export type { Crossing, CrossingOptions } from './forecast-crossing.js';
export { MAX_GRID_POINTS, MAX_INPUT_POINTS } from './forecast-grid.js';
export { detectSeason } from './seasonality.js';
