/**
 * The validated form of a behaviour model (see docs/behaviour-models.md): what the reader produces
 * from YAML/JSON and the compiler turns into slot layouts and compiled expressions. Every part keeps
 * its location so later checks still point at the line.
 */
import type { ExprNode } from '../expr/ast.js';
import type { Loc } from './located-document.js';

/** An expression as written, parsed, with where its text starts in the document. */
export interface ExprSource {
  text: string;
  ast: ExprNode;
  loc: Loc;
  style: 'plain' | 'quoted' | 'block';
}

export interface ParameterSpec {
  name: string;
  value: number;
  unit?: string;
  min?: number;
  max?: number;
  description?: string;
  loc: Loc;
}

export type InputSource =
  /** Set by an interface command's request payload (a number or boolean, or `field` of an object). */
  | { kind: 'command'; command: string; field?: string }
  /**
   * Read from the twins at the other end of a relationship: their property or telemetry `source`.
   * `outgoing` (default): twins this twin points to; `incoming`: twins pointing to this one.
   */
  | {
      kind: 'relationship';
      relationship: string;
      source: string;
      direction: 'outgoing' | 'incoming';
      aggregate: 'sum' | 'mean' | 'min' | 'max' | 'first';
    }
  /** This twin's own property (e.g. a set-point written by an operator). */
  | { kind: 'property'; property: string }
  /** Piecewise in time: [[t0, v0], [t1, v1], ...], linear or step, optionally repeating every `period` s. */
  | {
      kind: 'schedule';
      points: readonly (readonly [number, number])[];
      interpolation: 'linear' | 'step';
      period?: number;
    }
  /** A duty cycle: `high` for `duty`·period seconds, then `low`, repeating; shifted by `phase` seconds. */
  | { kind: 'cycle'; period: number; duty: number; high: number; low: number; phase: number }
  /** Set only by the runner (`setInput`). */
  | { kind: 'external' };

export interface InputSpec {
  name: string;
  source: InputSource;
  /** Value before anything sets it (and when a relationship has no target). */
  default: number;
  unit?: string;
  loc: Loc;
}

export interface StateSpec {
  name: string;
  initial: ExprSource;
  derivative: ExprSource;
  unit?: string;
  loc: Loc;
}

export interface OutputSpec {
  name: string;
  expr: ExprSource;
  unit?: string;
  loc: Loc;
}

export interface NoiseSpec {
  /** Standard deviation of zero-mean Gaussian noise, in the output's unit. */
  std: number;
  /** Quantisation step applied after the noise (a sensor's resolution); 0 = none. */
  resolution: number;
}

/** Maps a model value to one telemetry or property of the interface. */
export interface MappingSpec {
  /** The DTDL content name. */
  name: string;
  contentKind: 'Telemetry' | 'Property';
  from: ExprSource;
  noise?: NoiseSpec;
  /** How the double becomes the content's schema. */
  encoding: 'double' | 'integer' | 'boolean';
  loc: Loc;
}

export type FaultKind = 'bias' | 'drift' | 'spike' | 'stuck' | 'dropout' | 'degradation';

export interface FaultSpec {
  name: string;
  kind: FaultKind;
  /**
   * A process signal (input, state, output: the whole model sees the fault) or a sensor,
   * `telemetry.NAME` / `properties.NAME` (only the measurement). `dropout` needs a sensor,
   * `degradation` a state.
   */
  target: string;
  /** bias and spike: offset added. */
  magnitude: number;
  /** drift: offset growth per second; degradation: added to the target state's derivative. */
  rate: number;
  /** stuck: the value held (NaN = the value the target had when the fault switched on). */
  value: number;
  /** Seconds the fault stays on once switched on (Infinity = until switched off; spike default 1). */
  duration: number;
  /** Switch on at this simulation time (seconds), when given. */
  at?: number;
  /** Switch on when this command is received, when given. */
  command?: string;
  loc: Loc;
}

export interface BehaviourSpec {
  behaviour: string;
  interface: string;
  /** Where `interface` is written (for the mismatch problem). */
  interfaceLoc: Loc;
  description?: string;
  parameters: ParameterSpec[];
  inputs: InputSpec[];
  states: StateSpec[];
  outputs: OutputSpec[];
  telemetry: MappingSpec[];
  properties: MappingSpec[];
  faults: FaultSpec[];
}
