/**
 * A pilot's scenario (pilots/NAME/scenario.yaml, docs/pilots.md): how its simulation runs — speed,
 * sampling, seed — the fleet of assets it generates besides twins.json, and what happens when.
 */
import type { Loc } from '../behaviour/located-document.js';

export interface ScenarioSimulation {
  /** Simulated seconds per wall second, unless --sim-speed says otherwise. */
  speed?: number;
  /** Simulated seconds between two readings of one asset. */
  sampleInterval?: number;
  seed?: number;
}

/** Generated assets: `count` twins of `model`, ids from a pattern like `ev-{n:3}` (ev-001 ...). */
export interface ScenarioFleet {
  model: string;
  count: number;
  /** `{n}` is the 1-based index; `{n:3}` pads it to 3 digits. */
  id: string;
  /** Property values of each generated twin (strings may use `{n}` too). */
  properties: Record<string, unknown>;
  /** Relationships from each generated twin; with several targets, each twin takes the next in turn. */
  relationships: { name: string; targets: string[] }[];
  /** Relationships to each generated twin from existing twins. */
  incoming: { source: string; name: string }[];
  loc: Loc;
}

export type ScenarioAction =
  | { kind: 'command'; command: string; payload?: unknown }
  | { kind: 'fault'; fault: string; on: boolean }
  | { kind: 'input'; input: string; value: number };

export interface ScenarioEvent {
  /** Simulated seconds after the simulation starts. */
  at: number;
  twin: string;
  action: ScenarioAction;
  loc: Loc;
}

export interface ScenarioSpec {
  scenario: string;
  description?: string;
  simulation: ScenarioSimulation;
  fleet?: ScenarioFleet;
  events: ScenarioEvent[];
}
