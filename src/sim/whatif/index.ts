/** What-if runs: fork twins, run them with changes, return trajectories; live twins untouched. */
export { parseDuration } from './duration.js';
export { graphWorld } from './graph-world.js';
export type { GraphWorldOptions } from './graph-world.js';
export { probesOf } from './probes.js';
export type { Probe, Probes } from './probes.js';
export { runWhatIf } from './what-if-engine.js';
export type {
  PlannedEvent,
  PlannedRelationship,
  PlannedTwin,
  RunControl,
  WhatIfPlan,
} from './what-if-engine.js';
export { forkTwins } from './what-if-fork.js';
export type { ForkTarget } from './what-if-fork.js';
export { DEFAULT_WHAT_IF_LIMITS, planWhatIf } from './what-if-plan.js';
export type { PlanContext, PlannedRun, WhatIfLimits } from './what-if-plan.js';
export { DEFAULT_MAX_KEPT_BYTES, DEFAULT_MAX_RESULT_BYTES, WhatIfService } from './what-if-service.js';
export { keepResult, plannedResultBytes } from './what-if-kept.js';
export type { KeptResult, KeptTrajectory } from './what-if-kept.js';
export type { WhatIfServiceOptions } from './what-if-service.js';
export type * from './what-if-types.js';
