/**
 * The analytics files of a pilot folder that the analytics subsystem reads at start:
 * `anomaly.yaml` (which streams are scored, by which detector). A pilot without the file has no
 * anomaly detection; a file with problems stops the start with every problem at its line.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { TwinloopError } from '../core/errors/errors.js';
import type { AnomalyPlanSpec } from '../analytics/runtime/anomaly-plan.js';
import { readAnomalyPlan } from '../analytics/runtime/anomaly-plan.js';
import { resolvePilotDir } from './pilot-files.js';

/** Largest analytics file read (they are written by hand). */
const MAX_FILE_BYTES = 1 << 20;

/**
 * The pilot's anomaly plan, or undefined when it has none (or the pilot is "none").
 * @throws TwinloopError ValidationFailed (every problem at its line and column), BadRequest (too large).
 */
export function readPilotAnomalyPlan(pilot: string, kinds: readonly string[]): AnomalyPlanSpec | undefined {
  if (pilot === 'none') return undefined;
  const file = path.join(resolvePilotDir(pilot), 'anomaly.yaml');
  if (!existsSync(file)) return undefined;
  const bytes = readFileSync(file);
  if (bytes.length > MAX_FILE_BYTES)
    throw new TwinloopError(
      'BadRequest',
      `${file} is ${bytes.length} bytes; at most ${MAX_FILE_BYTES} are read.`,
    );
  const r = readAnomalyPlan(bytes.toString('utf8'), file, kinds);
  if ('problems' in r)
    throw new TwinloopError(
      'ValidationFailed',
      `The anomaly plan ${file} has ${r.problems.length} problem(s):\n${r.problems.map((p) => `  ${p.message}`).join('\n')}`,
      { problems: r.problems },
    );
  return r.plan;
}
