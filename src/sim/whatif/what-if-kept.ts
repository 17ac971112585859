/**
 * Kept what-if results: trajectories compacted into Float64Arrays when a run finishes, so what a
 * kept run costs is known to the byte (8 bytes a value plus a small fixed overhead per series),
 * and the size a plan will produce, computed before it runs, to refuse a run too large to keep.
 */
import type { WhatIfPlan } from './what-if-engine.js';
import type { ForkSource, TwinTrajectory, WhatIfResult } from './what-if-types.js';

/** One twin's trajectories as kept: like TwinTrajectory, with Float64Array series. */
export interface KeptTrajectory {
  twinId: string;
  behaviour: string;
  fork: ForkSource;
  forkTime: number;
  times: Float64Array;
  telemetry: Record<string, Float64Array>;
  properties: Record<string, Float64Array>;
  states: Record<string, Float64Array>;
  outputs: Record<string, Float64Array>;
  units: Record<string, string>;
}

export interface KeptResult {
  twins: KeptTrajectory[];
  /** Bytes accounted for this result: the arrays' bytes plus the fixed overheads below. */
  bytes: number;
}

/** Accounted per series (array object, buffer header, map entry) and per twin, bytes. */
export const SERIES_OVERHEAD_BYTES = 128;
export const TWIN_OVERHEAD_BYTES = 512;

const MiB = 1024 * 1024;
/** Bytes as MiB for messages ("12.5 MiB"). */
export const mib = (bytes: number): string => `${+(bytes / MiB).toFixed(1)} MiB`;

function compact(byName: Record<string, number[]>): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  for (const [name, values] of Object.entries(byName)) out[name] = Float64Array.from(values);
  return out;
}

function seriesCount(t: { telemetry: object; properties: object; states: object; outputs: object }): number {
  return (
    1 +
    Object.keys(t.telemetry).length +
    Object.keys(t.properties).length +
    Object.keys(t.states).length +
    Object.keys(t.outputs).length
  );
}

/** Compacts a run's result; the number arrays can be dropped afterwards. */
export function keepResult(result: WhatIfResult): KeptResult {
  let bytes = 0;
  const twins = result.twins.map((t: TwinTrajectory): KeptTrajectory => {
    const kept: KeptTrajectory = {
      twinId: t.twinId,
      behaviour: t.behaviour,
      fork: t.fork,
      forkTime: t.forkTime,
      times: Float64Array.from(t.times),
      telemetry: compact(t.telemetry),
      properties: compact(t.properties),
      states: compact(t.states),
      outputs: compact(t.outputs),
      units: t.units,
    };
    bytes += TWIN_OVERHEAD_BYTES + seriesCount(kept) * SERIES_OVERHEAD_BYTES;
    for (const group of [kept.telemetry, kept.properties, kept.states, kept.outputs])
      for (const a of Object.values(group)) bytes += a.byteLength;
    bytes += kept.times.byteLength;
    return kept;
  });
  return { twins, bytes };
}

/** Samples per twin a plan records (0, every sampleInterval, and the horizon). */
export function samplesOf(plan: Pick<WhatIfPlan, 'horizon' | 'sampleInterval'>): number {
  return Math.ceil(plan.horizon / plan.sampleInterval - 1e-9) + 1;
}

/** The bytes the plan's result will be accounted, computed before it runs. */
export function plannedResultBytes(plan: WhatIfPlan): number {
  const samples = samplesOf(plan);
  let bytes = 0;
  for (const t of plan.twins) {
    const series = 1 + t.probes.list.length + t.model.layout.states.length + t.model.layout.outputs.length;
    bytes += TWIN_OVERHEAD_BYTES + series * (SERIES_OVERHEAD_BYTES + 8 * samples);
  }
  return bytes;
}
