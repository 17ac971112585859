/** What-if runs: fork twins, run them with changes, return trajectories; live twins untouched. */
export { parseDuration } from './duration.js';
export { runWhatIf } from './what-if-engine.js';
export type { PlannedEvent, PlannedTwin, RunControl, WhatIfPlan } from './what-if-engine.js';
export { WhatIfService } from './what-if-service.js';
export type { WhatIfLimits, WhatIfServiceOptions } from './what-if-service.js';
export type * from './what-if-types.js';
