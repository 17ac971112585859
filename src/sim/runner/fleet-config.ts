/**
 * Configuration of a fleet run: the options a caller gives, their checks (every problem at once,
 * each with its JSON pointer) and the seeded per-asset parameter variation and noise streams, so
 * that the same seed always builds the same fleet.
 */
import { TwinloopError } from '../../core/errors/errors.js';
import type { Problem } from '../../core/errors/errors.js';
import type { CompiledBehaviour } from '../behaviour/compile-behaviour.js';
import type { InputSpec } from '../behaviour/behaviour-types.js';
import { gaussian, seededRandom } from '../behaviour/random.js';
import type { SolverMethod, StepperOptions } from '../solvers/ode-types.js';
import type { Clock } from './clock.js';

export interface FleetAsset {
  /** Unique within the fleet (the twin id, typically). */
  id: string;
  /** Parameter values for this asset; they win over the seeded variation. */
  parameters?: Readonly<Record<string, number>>;
}

/** One sample of one asset: its measured telemetry at simulated time `time` (seconds). */
export interface ReadingSet {
  assetId: string;
  time: number;
  /** Telemetry name -> value (noise and sensor faults applied). */
  values: Record<string, number | boolean>;
  /** Reported properties the behaviour maps. */
  properties: Record<string, number | boolean>;
  /** Names withheld by an active dropout fault. */
  dropped: string[];
  /** Names whose value was not finite (withheld, listed so they are never silently lost). */
  invalid: string[];
}

export type ReadingSink = (readings: ReadingSet) => void;

/** Values of the related twins for one relationship input of one asset. */
export type RelationshipWiring = (assetId: string, input: InputSpec) => readonly number[];

export interface FleetRunnerOptions {
  model: CompiledBehaviour;
  assets: readonly FleetAsset[];
  /** Simulated start time, seconds (default 0). */
  t0?: number;
  /** Simulated seconds per tick (default 1). */
  tick?: number;
  /** Simulated seconds between samples; a whole number of ticks (default: one tick). */
  sampleInterval?: number;
  /** Default 'rk4' (with h = tick unless stepper.h says otherwise). */
  method?: SolverMethod;
  stepper?: StepperOptions;
  /**
   * RK4 with one step per tick: step the assets together in structure of arrays (default true;
   * same results to rounding, several times faster). Assets with faults or actions step alone.
   */
  batch?: boolean;
  /**
   * Threads stepping the batch, this one included (an integer 1–64). Default: as many as pay off —
   * up to the machine's cores, with at least 256 batched assets each, once a run is long enough.
   * Results are the same bits whatever the number.
   */
  threads?: number;
  /** Seed of the parameter variation and of each asset's noise stream (default 1). */
  seed?: number;
  /** Relative standard deviation per parameter: value × (1 + std·N(0,1)), drawn per asset. */
  variation?: Readonly<Record<string, number>>;
  /** Receives every reading set; without it nothing is measured (the fastest run). */
  sink?: ReadingSink;
  /** Called for each asset and relationship input to read the related twins' values. */
  relationships?: RelationshipWiring;
  /** Refresh relationship inputs every this many ticks (default 1). */
  relationshipEvery?: number;
  /** Needed by start()/stop(), the clock-driven mode. */
  clock?: Clock;
  /** Simulated seconds per wall-clock second in clock-driven mode (default 1). */
  speed?: number;
  /** Wall milliseconds between clock-driven advances (default: one tick at `speed`, at least 1). */
  timerMs?: number;
  /** Errors raised while running from a timer (default: rethrown to the clock). */
  onError?: (error: unknown) => void;
}

/** Checked options with defaults filled in. */
export interface FleetConfig {
  t0: number;
  tick: number;
  ticksPerSample: number;
  method: SolverMethod;
  stepper: StepperOptions;
  seed: number;
  speed: number;
  timerMs: number;
  relationshipEvery: number;
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** @throws TwinloopError ValidationFailed listing every problem of the options. */
export function checkFleetOptions(o: FleetRunnerOptions): FleetConfig {
  const problems: Problem[] = [];
  const add = (pointer: string, message: string): void => {
    problems.push({ code: 'sim.runner.invalidOption', source: 'fleet runner options', pointer, message });
  };
  const model = o?.model;
  if (!model || typeof model.createRuntime !== 'function')
    add('/model', 'model must be a compiled behaviour (compileBehaviour).');
  const t0 = o.t0 ?? 0;
  if (!isNum(t0)) add('/t0', `t0 must be a finite number, got ${String(t0)}.`);
  const tick = o.tick ?? 1;
  if (!isNum(tick) || tick <= 0) add('/tick', `tick must be a finite number > 0, got ${String(tick)}.`);
  const sample = o.sampleInterval ?? tick;
  let ticksPerSample = 1;
  if (!isNum(sample) || sample <= 0) {
    add('/sampleInterval', `sampleInterval must be a finite number > 0, got ${String(sample)}.`);
  } else if (isNum(tick) && tick > 0) {
    ticksPerSample = Math.round(sample / tick);
    if (ticksPerSample < 1 || Math.abs(ticksPerSample * tick - sample) > 1e-9 * sample)
      add('/sampleInterval', `sampleInterval (${sample} s) must be a whole number of ticks (${tick} s).`);
  }
  const method = o.method ?? 'rk4';
  if (method !== 'rk4' && method !== 'dopri5') add('/method', `method must be 'rk4' or 'dopri5'.`);
  const seed = o.seed ?? 1;
  if (!Number.isInteger(seed)) add('/seed', `seed must be an integer, got ${String(seed)}.`);
  const speed = o.speed ?? 1;
  if (!isNum(speed) || speed <= 0) add('/speed', `speed must be a finite number > 0, got ${String(speed)}.`);
  const timerMs = o.timerMs ?? Math.max(1, (tick * 1000) / speed);
  if (!isNum(timerMs) || timerMs <= 0) add('/timerMs', `timerMs must be a finite number > 0.`);
  const relationshipEvery = o.relationshipEvery ?? 1;
  if (!Number.isInteger(relationshipEvery) || relationshipEvery < 1)
    add('/relationshipEvery', 'relationshipEvery must be an integer >= 1.');
  if (o.threads !== undefined && (!Number.isInteger(o.threads) || o.threads < 1 || o.threads > 64))
    add('/threads', `threads must be an integer from 1 to 64, got ${String(o.threads)}.`);
  for (const [k, f] of [
    ['sink', o.sink],
    ['relationships', o.relationships],
    ['onError', o.onError],
  ] as const) {
    if (f !== undefined && typeof f !== 'function') add(`/${k}`, `${k} must be a function.`);
  }
  if (!Array.isArray(o.assets) || o.assets.length === 0) {
    add('/assets', 'assets must be a non-empty array of { id, parameters? }.');
  } else {
    const seen = new Set<string>();
    o.assets.forEach((a, i) => {
      if (typeof a?.id !== 'string' || a.id === '') add(`/assets/${i}/id`, 'id must be a non-empty string.');
      else if (seen.has(a.id)) add(`/assets/${i}/id`, `duplicate asset id '${a.id}'.`);
      else seen.add(a.id);
      for (const [name, v] of Object.entries(a?.parameters ?? {})) {
        if (model && !model.layout.parameters.includes(name))
          add(`/assets/${i}/parameters/${name}`, `the behaviour has no parameter '${name}'.`);
        else if (!isNum(v)) add(`/assets/${i}/parameters/${name}`, 'must be a finite number.');
      }
    });
  }
  for (const [name, std] of Object.entries(o.variation ?? {})) {
    if (model && !model.layout.parameters.includes(name))
      add(`/variation/${name}`, `the behaviour has no parameter '${name}'.`);
    else if (!isNum(std) || std < 0) add(`/variation/${name}`, 'relative std must be a finite number >= 0.');
  }
  if (problems.length) {
    throw new TwinloopError(
      'ValidationFailed',
      `Invalid fleet runner options:\n${problems.map((p) => `${p.pointer}: ${p.message}`).join('\n')}`,
      { problems },
    );
  }
  const stepper: StepperOptions = { ...o.stepper };
  if (method === 'rk4' && stepper.h === undefined) stepper.h = tick;
  return { t0, tick, ticksPerSample, method, stepper, seed, speed, timerMs, relationshipEvery };
}

/** Parameter values per asset: seeded variation (in asset order), then the asset's own values. */
export function fleetParameters(o: FleetRunnerOptions, seed: number): Record<string, number>[] {
  const rng = seededRandom(mix(seed, 0));
  const base = new Map(o.model.spec.parameters.map((p) => [p.name, p.value]));
  const variation = Object.entries(o.variation ?? {});
  return o.assets.map((a) => {
    const values: Record<string, number> = {};
    for (const [name, std] of variation) {
      const g = gaussian(rng);
      if (std > 0) values[name] = (base.get(name) as number) * (1 + std * g);
    }
    return { ...values, ...a.parameters };
  });
}

/** The noise stream of asset `index`: independent of the other assets and of sampling order. */
export function noiseStream(seed: number, index: number): () => number {
  return seededRandom(mix(seed, index + 1));
}

/** Mixes a seed and a stream number (murmur3's finaliser) so nearby seeds give unrelated streams. */
function mix(seed: number, stream: number): number {
  let h = (Math.imul(seed ^ 0x85ebca6b, 0xc2b2ae35) + Math.imul(stream, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
