/**
 * A pilot's scenario (pilots/NAME/scenario.yaml, docs/pilots.md): how its simulation runs — speed,
 * sampling, seed — the assets it generates besides twins.json, and what happens when.
 */
import type { Loc } from '../behaviour/located-document.js';

export interface ScenarioSimulation {
  /** Simulated seconds per wall second, unless --sim-speed says otherwise. */
  speed?: number;
  /** Simulated seconds between two readings of one asset. */
  sampleInterval?: number;
  /** Seed of the parameter spread and the sensor noise. */
  seed?: number;
}

/**
 * A value of a generated twin's property: the same for every twin, or `{ each: [a, b, …] }` taken in
 * turn (twin 1 gets a, twin 2 gets b, …, wrapping around).
 */
export type ScenarioValue = unknown;

/** A relationship from each generated twin. */
export interface ScenarioOutgoing {
  name: string;
  /** Target twin ids (patterns: `{index}` is the generated twin's index); several are taken in turn. */
  targets: string[];
  /** Properties of the relationship (declared on the DTDL Relationship). */
  properties: Record<string, ScenarioValue>;
  loc: Loc;
}

/** A relationship to each generated twin from an existing twin. */
export interface ScenarioIncoming {
  name: string;
  /** Source twin ids (patterns allowed); several are taken in turn. */
  sources: string[];
  properties: Record<string, ScenarioValue>;
  loc: Loc;
}

/**
 * One group of generated assets: `count` twins of `model`, ids from a pattern such as
 * `ev-{index:03}` (ev-001, ev-002, …).
 */
export interface ScenarioAssetGroup {
  model: string;
  count: number;
  /** `{index}` is the 1-based index; `{index:03}` pads it with zeros to 3 digits. */
  id: string;
  /** Property values of each generated twin; strings may use `{index}` too. */
  properties: Record<string, ScenarioValue>;
  /** Relationships from each generated twin. */
  relationships: ScenarioOutgoing[];
  /** Relationships to each generated twin from existing twins. */
  incoming: ScenarioIncoming[];
  loc: Loc;
}

/** @deprecated The name of a single asset group before scenarios had several; use ScenarioAssetGroup. */
export type ScenarioFleet = ScenarioAssetGroup;

export type ScenarioAction =
  | { kind: 'command'; command: string; payload?: unknown }
  | { kind: 'fault'; fault: string; on: boolean }
  | { kind: 'input'; input: string; value: number };

/** An event on one named twin (`twin: id`, or one of `twins: [...]`). */
export interface ScenarioEvent {
  /** Simulated seconds after the simulation starts. */
  at: number;
  twin: string;
  action: ScenarioAction;
  description?: string;
  /** Where the event is written. */
  loc: Loc;
  /** Where its twin (or model) is named. */
  targetLoc: Loc;
  /** Where its command, fault or input is named. */
  actionLoc: Loc;
}

/** An event on every twin of a model (or of a model extending it): `model: dtmi:…`. */
export interface ScenarioModelEvent extends Omit<ScenarioEvent, 'twin'> {
  model: string;
}

export interface ScenarioSpec {
  scenario: string;
  description?: string;
  /** The document's name (a file path) given to readScenario, for later problems. */
  source?: string;
  simulation: ScenarioSimulation;
  /** Groups of generated twins, in the order written. */
  assets: ScenarioAssetGroup[];
  /** @deprecated The first asset group, for callers written when a scenario had at most one. */
  fleet?: ScenarioAssetGroup;
  /** Events on named twins, one per twin, by time (ties: as written). */
  events: ScenarioEvent[];
  /** Events on every twin of a model, by time; `resolveScenarioEvents` turns them into per-twin events. */
  modelEvents: ScenarioModelEvent[];
}
