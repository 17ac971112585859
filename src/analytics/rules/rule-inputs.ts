/**
 * What a compiled rule is (CompiledRule) and the plain per-(rule, twin) data it keeps (PairInputs),
 * with the small helpers every condition shares: reading a limit, folding readings in. Apart from
 * compile-rule.ts so that each condition's compiler can live in its own file without an import
 * cycle.
 */
import type { ScratchMap } from '../scratch-map.js';
import type { ForecastBuffer } from '../forecast/forecast-buffer.js';
import type { RuleSpec, ValueRef } from './rule-types.js';

/** The last forecast a forecast condition fitted (absolute source times, ms). */
export interface ForecastFit {
  /** Source time of the reading the refit was made at. */
  at: number;
  /** The limit it was judged against (a changed property makes a refit due). */
  limit: number;
  /** First forecast time the limit is reached (at the condition's probability); absent: not within the horizon. */
  cross?: number;
  /** The same at the clear probability (hysteresis); absent: not within the horizon. */
  clear?: number;
  /** Largest per-step probability of being beyond the limit within `within`. */
  probability: number;
}

/** The inputs kept per (rule, twin); plain data so that it snapshots as JSON. */
export interface PairInputs {
  /** Latest numeric readings by telemetry key (`name` or `component/name`), for expressions and messages. */
  latest: Record<string, number>;
  /** Last reading time of the watched telemetry (missing data). */
  lastSeen?: number;
  /** Rate of change: [t0, v0, t1, v1, ...] inside the window, at most RATE_POINTS pairs. */
  window?: number[];
  /** Forecast: the bounded, thinned buffer of recent readings (forecast-buffer.ts). */
  buffer?: ForecastBuffer;
  /** Forecast: the last refit's answer. */
  fit?: ForecastFit;
}

export interface Judgement {
  on: boolean;
  off: boolean;
  value?: number;
  limit?: number;
}

export interface RuleLookup {
  property(name: string): unknown;
}

/** A condition refitted now and then (forecast): the engine decides when, within its budget. */
export interface RuleRefit {
  /** Whether a refit is due at this reading time (enough data, `every` elapsed or the limit changed). */
  due(inputs: PairInputs, time: number, twin: RuleLookup): boolean;
  /** Refits (bounded CPU: see forecast-buffer.ts) and keeps the answer in the inputs. */
  run(inputs: PairInputs, time: number, twin: RuleLookup): void;
}

export interface CompiledRule {
  readonly spec: RuleSpec;
  readonly version: number;
  /** Telemetry keys whose readings concern the rule. */
  readonly reads: ReadonlySet<string>;
  /** The telemetry the condition is about (threshold, rate, missing, forecast), for messages. */
  readonly telemetry?: string;
  /** The twins the rule is limited to, when it names them. */
  readonly twinSet?: ReadonlySet<string>;
  /** Whether tick() can change anything (durations, missing data). */
  readonly needsTick: boolean;
  /** Present when the condition refits a model (forecast). */
  readonly refit?: RuleRefit;
  /** Folds one reading set into the inputs (keys already component-qualified). Must not keep `values`: the engine reuses it. */
  update(inputs: PairInputs, time: number, values: ReadonlyScratch): void;
  /** Judges the condition from the inputs. The judgement may be the rule's own, reused by its next judge (Verdict). */
  judge(inputs: PairInputs, time: number, twin: RuleLookup): Judgement;
}

/** Inputs unknown (e.g. a limit property unset): nothing changes. */
export const UNKNOWN: Judgement = { on: false, off: false };

/**
 * A compiled rule's own judgement, filled in by each of its judges (one object per rule, not one
 * per reading): the engine reads it before it judges again and keeps nothing of it.
 */
export class Verdict implements Judgement {
  on = false;
  off = false;
  value: number | undefined = undefined;
  limit: number | undefined = undefined;

  /** This judgement, now `on`/`off` with `value` and `limit` (undefined: none). */
  of(on: boolean, off: boolean, value: number | undefined, limit: number | undefined): Judgement {
    this.on = on;
    this.off = off;
    this.value = value;
    this.limit = limit;
    return this;
  }
}

const num = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'boolean' ? (v ? 1 : 0) : undefined;

/** A twin's property as a number (booleans as 1/0), undefined when unset or not a number. */
export const propertyNumber = (twin: RuleLookup, name: string): number | undefined =>
  num(twin.property(name));

/** The value of a limit for a twin (a constant, or its property now). */
export function resolveRef(ref: ValueRef | undefined, twin: RuleLookup): number | undefined {
  if (ref === undefined) return undefined;
  return ref.kind === 'number' ? ref.value : propertyNumber(twin, ref.name);
}

/** The values of one reading set one rule reads (the engine's scratch, reused for every rule and reading). */
export type ReadonlyScratch = Pick<ScratchMap<string, number>, 'size' | 'get' | 'has' | 'keyAt' | 'valueAt'>;

/** Keeps the latest value of each reading (for expressions and message placeholders). */
export function storeLatest(inputs: PairInputs, values: ReadonlyScratch): void {
  const latest = inputs.latest;
  for (let i = 0; i < values.size; i++) latest[values.keyAt(i)] = values.valueAt(i);
}
