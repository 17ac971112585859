/**
 * What-if runs (docs/what-if.md): the request as a client writes it, the world a run reads (never
 * writes), the jobs and the results.
 */

/** Where a twin's run starts from. */
export type ForkSource =
  /** The live device simulator's state of the twin (it is a simulated device). */
  | 'simulator'
  /** The shadow's state (the model following the live twin on its real inputs). */
  | 'shadow'
  /** The model's initial states; states a telemetry reads directly start at its latest value. */
  | 'model';

/** The simulated state of a twin at a moment, as the live simulator (or a shadow) holds it. */
export interface TwinSimSnapshot {
  /** Simulated time (s) of the snapshot. */
  t: number;
  /** States, model.layout.states order. */
  state: Float64Array;
  /** Raw inputs (model.layout.inputs order); absent: the model's defaults and the twin's properties. */
  inputs?: Float64Array;
  /** Fault switch-on times, model time (NaN = off); absent: all off. */
  faultStart?: Float64Array;
  /** Values held by stuck faults (NaN until captured). */
  faultHold?: Float64Array;
  /** Every parameter value the live twin runs with. */
  parameters?: Record<string, number>;
}

/**
 * Read-only access to the live twins. A run calls only these readers, before it starts (the fork);
 * it never writes anything through them and keeps no reference to what they return.
 */
export interface WhatIfWorld {
  /** The twin's model id, or undefined when there is no such twin. */
  modelOf(twinId: string): string | undefined;
  /** The twin's own property value (for `property` inputs), undefined when unset. */
  property(twinId: string, name: string): unknown;
  /** Ids at the other end of the twin's relationships called `relationship`. */
  related(twinId: string, relationship: string, direction: 'outgoing' | 'incoming'): string[];
  /** Every relationship leaving a twin (to follow a subgraph from a root). */
  outgoing(twinId: string): { name: string; targetId: string }[];
  /** Latest telemetry (else property) value of a twin by name. */
  latest(twinId: string, name: string): unknown;
  /** The simulated time (s) now: where a twin that forks from its model starts. */
  now(): number;
  /** The live state of a twin, best source first (simulator, then shadow); undefined when none. */
  snapshot?(twinId: string): { source: 'simulator' | 'shadow'; snapshot: TwinSimSnapshot } | undefined;
  /** Parameter values applied to the twin (a calibration), if any. */
  parameters?(twinId: string): Readonly<Record<string, number>> | undefined;
}

/** A change at a time of the run (seconds after the fork, or a duration such as "2h"). */
export interface WhatIfEventRequest {
  at: number | string;
  twin: string;
  /** A command of the twin's interface, with its request payload. */
  command?: string;
  payload?: unknown;
  /** A fault of the behaviour: switched on (or off with `off: true`). */
  fault?: string;
  off?: boolean;
  /** An input of the behaviour set to `value` (from then on, not re-read from relationships). */
  input?: string;
  value?: number;
}

/** Values set at the fork, by name. */
export interface WhatIfTwinChanges {
  parameters?: Record<string, number>;
  inputs?: Record<string, number>;
  states?: Record<string, number>;
}

/** The body of POST /simulations. */
export interface WhatIfRequest {
  /** A label for the run. */
  name?: string;
  /** Twins to run (each must have a behaviour). */
  twins?: string[];
  /** A twin and the twins reachable from it over outgoing relationships (`follow`: only these names). */
  root?: string;
  follow?: string[];
  /** Most relationship hops from `root` (default: unlimited). */
  depth?: number;
  /** Simulated time to run: seconds or a duration ("90min", "24h", "7d"). */
  horizon: number | string;
  /** Seconds (or a duration) between samples of the trajectories (default: horizon / 500, ≥ step). */
  sampleInterval?: number | string;
  /** 'rk4' (default; fixed step `step`) or 'dopri5' (adaptive; `step` is the largest step). */
  method?: 'rk4' | 'dopri5';
  /** RK4 step, DOPRI5 largest step, seconds (default 1 for rk4, 60 for dopri5). */
  step?: number | string;
  /** Per twin id ("*": every twin of the run): parameters, inputs and states overridden at the fork. */
  changes?: Record<string, WhatIfTwinChanges>;
  events?: WhatIfEventRequest[];
}

export type WhatIfStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** One twin's trajectories: sample times (simulated s since the fork) and series by name. */
export interface TwinTrajectory {
  twinId: string;
  /** The behaviour model's name. */
  behaviour: string;
  fork: ForkSource;
  /** Simulated time (s) of the fork: sample time 0 is this moment of the twin's model time. */
  forkTime: number;
  times: number[];
  /** Noise-free telemetry, as a perfect sensor would read it (process faults count, sensor faults not). */
  telemetry: Record<string, number[]>;
  /** Noise-free reported properties the behaviour maps (empty when it maps none). */
  properties: Record<string, number[]>;
  states: Record<string, number[]>;
  outputs: Record<string, number[]>;
  /** Units by series name, where the behaviour or the DTDL interface declares one. */
  units: Record<string, string>;
}

export interface WhatIfResult {
  twins: TwinTrajectory[];
}

export interface WhatIfJob {
  id: string;
  name?: string;
  status: WhatIfStatus;
  /** 0..1 of the horizon simulated. */
  progress: number;
  /** Simulated seconds done. */
  simulatedSeconds: number;
  /** Seconds. */
  horizon: number;
  sampleInterval: number;
  method: 'rk4' | 'dopri5';
  step: number;
  /** Twins simulated, in the order of the trajectories. */
  twins: string[];
  /** Twins of the subgraph that have no behaviour (not simulated). */
  skipped: { twinId: string; reason: string }[];
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  error?: { code: string; message: string };
}
