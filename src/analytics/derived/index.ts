/** Derived values: definitions as data (read, checked) and the streaming DerivedEngine (docs/analytics.md). */
export { readDerived } from './read-derived.js';
export { checkDerived, dependencyOrder, findCycles } from './check-derived.js';
export type { DerivedCheckWorld } from './check-derived.js';
export { DerivedEngine } from './derived-engine.js';
export type { DerivedEngineOptions, DerivedSnapshot, DerivedStats } from './derived-engine.js';
export { SlidingWindow } from './sliding-window.js';
export {
  DERIVED_LIMITS,
  DERIVED_PROPERTY_SCHEMAS,
  DERIVED_TARGETS,
  NEIGHBOUR_AGGREGATES,
  RATE_UNITS,
  WINDOW_AGGREGATES,
} from './derived-types.js';
export type * from './derived-types.js';
