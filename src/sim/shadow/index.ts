/** Shadow mode: a behaviour model beside each live twin, residuals written back as telemetry. */
export { ShadowTwin } from './shadow-twin.js';
export type { ShadowObservation, ShadowTwinOptions } from './shadow-twin.js';
export { PREDICTED_SUFFIX, RESIDUAL_SUFFIX, ShadowService } from './shadow-service.js';
export type { ShadowServiceOptions, ShadowStats } from './shadow-service.js';
