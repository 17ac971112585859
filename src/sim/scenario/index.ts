/** Pilot scenario files: simulation settings, generated assets, timed events (docs/pilots.md). */
export { readScenario } from './read-scenario.js';
export { assetCounts, expandScenarioAssets, expandScenarioFleet } from './expand-assets.js';
export type { ExpandedAssets } from './expand-assets.js';
export { assetTwinId, fillValue, fleetTwinId } from './asset-pattern.js';
export { parseScenarioTime, TIME_UNITS } from './scenario-time.js';
export type { TimeResult } from './scenario-time.js';
export {
  behaviourCommands,
  checkScenario,
  resolveScenarioEvents,
  scheduleScenarioEvent,
} from './scenario-events.js';
export type { IsOfModel, ScenarioCheckWorld, ScenarioEventTarget, ScenarioTwin } from './scenario-events.js';
export type * from './scenario-types.js';
