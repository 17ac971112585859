/**
 * Durations in simulated seconds: a number of seconds, or "500ms", "90s", "15min", "2h", "7d", "2w",
 * or parts of these ("1h30min"). One grammar with scenario files (scenario-time.ts), which also says
 * why a text is wrong.
 */
import { parseScenarioTime } from '../scenario/scenario-time.js';

/** Seconds, or undefined when `v` is not a finite non-negative duration. */
export function parseDuration(v: unknown): number | undefined {
  const r = parseScenarioTime(v);
  return r.ok ? r.seconds : undefined;
}
