/** Pilot scenario files: simulation settings, a generated fleet, timed events. */
export { expandScenarioFleet, fleetTwinId, readScenario } from './read-scenario.js';
export type * from './scenario-types.js';
