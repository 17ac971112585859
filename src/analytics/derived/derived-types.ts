/**
 * Derived values as data: what a definition file says (read-derived.ts), what the checker turns it
 * into (check-derived.ts, JSON-safe, in dependency order) and the limits that bound a hostile file
 * and the engine's per-twin state (derived-engine.ts).
 */
import type { PropertyWritePolicy } from '../analytics-types.js';
import type { ExprNode } from '../../sim/expr/ast.js';
import type { ReportPolicy } from '../runtime/report-filter.js';

/** Aggregates of a window of one input. `stddev` is the population standard deviation (÷ n). */
export const WINDOW_AGGREGATES = ['mean', 'min', 'max', 'sum', 'count', 'stddev'] as const;
export type WindowAggregate = (typeof WINDOW_AGGREGATES)[number];

/** Aggregates over a relationship's targets inside an expression: `sum(feeds, flow)`. */
export const NEIGHBOUR_AGGREGATES = ['sum', 'avg', 'min', 'max', 'count'] as const;
export type NeighbourAggregate = (typeof NEIGHBOUR_AGGREGATES)[number];

/** Rate units: the rate of change is given per second, minute or hour. */
export const RATE_UNITS: Readonly<Record<string, number>> = { s: 1000, min: 60_000, h: 3_600_000 };

export const DERIVED_LIMITS = {
  /** Largest definition file, in characters. */
  maxFileChars: 1_000_000,
  /** Most values in one file. */
  maxValuesPerFile: 200,
  /** Longest window (tumbling or sliding), EWMA half-life: one week. */
  maxWindowMs: 7 * 86_400_000,
  /** A sliding window keeps at most this much time of points... */
  maxSlidingMs: 86_400_000,
  /** ...and at most this many points (default, and the most a definition may ask for). */
  defaultSlidingPoints: 10_000,
  maxSlidingPoints: 100_000,
  /** Most numeric values the engine caches per twin (telemetry and derived). */
  maxLatestPerTwin: 1024,
  /** A derived property is written at most this often per twin (the least `every`), and by default every minute. */
  minPropertyEveryMs: 1000,
  defaultPropertyEveryMs: 60_000,
  /** The longest `every` of a derived property: one week. */
  maxPropertyEveryMs: 7 * 86_400_000,
} as const;

/** Where a derived value goes: telemetry (history, the default) or a Property the model declares. */
export const DERIVED_TARGETS = ['telemetry', 'property'] as const;
export type DerivedTargetKind = (typeof DERIVED_TARGETS)[number];

/** Schemas a derived property may have; integer and long values are rounded. */
export const DERIVED_PROPERTY_SCHEMAS = ['double', 'float', 'integer', 'long'] as const;

/** What one derived value computes (times in ms). */
export type DerivedComputation =
  | { kind: 'expr'; expr: string }
  | { kind: 'tumbling'; of: string; sizeMs: number; aggregate: WindowAggregate }
  | { kind: 'sliding'; of: string; sizeMs: number; aggregate: WindowAggregate; maxPoints: number }
  | { kind: 'ewma'; of: string; halfLifeMs: number }
  /** Between the last two readings, or with `halfLifeMs` the slope fitted over readings weighted by age. */
  | { kind: 'rate'; of: string; perMs: number; halfLifeMs?: number }
  /** Seconds since the last reading of `of` (of any telemetry when absent); emitted on tick. */
  | { kind: 'since'; of?: string };

/** Which twins a definition set applies to: every twin of a model (IS_OF_MODEL), or one twin. */
export type DerivedTarget = { model: string } | { twin: string };

/** Where a value sits in its file (for problems found after reading). */
export interface DerivedLoc {
  line: number;
  column: number;
  pointer: string;
}

/** One value as read from a file. */
export interface DerivedValueSpec {
  name: string;
  unit?: string;
  description?: string;
  computation: DerivedComputation;
  /** The parsed expression (kind 'expr'). */
  ast?: ExprNode;
  loc: DerivedLoc;
  /** Where the computation's text sits (for positions inside an expression). */
  exprLoc?: DerivedLoc & { style: 'plain' | 'quoted' | 'block' };
  /** Where a windowed value's `of` sits. */
  ofLoc?: DerivedLoc;
  /** `target: property`: written to the twin's property of that name, at most every `everyMs`. */
  property?: { everyMs: number; deadband: number };
  /** A telemetry value with `deadband` (and `heartbeat`): reported by exception (report-filter.ts). */
  report?: ReportPolicy;
}

/** One definition file as read. */
export interface DerivedFileSpec {
  source?: string;
  target: DerivedTarget;
  targetLoc: DerivedLoc;
  description?: string;
  values: DerivedValueSpec[];
  /** Names of values that had problems (known to the checker, so that readers of them are not reported again). */
  broken: string[];
  /** The file's lines (to place problems found inside expressions at check time). */
  lines: readonly string[];
}

/** Where an expression reads one of its names from. */
export type ExprInput =
  | { slot: string; from: 'telemetry' | 'property' | 'derived'; name: string }
  | {
      slot: string;
      from: 'neighbours';
      aggregate: NeighbourAggregate;
      relationship: string;
      /** The neighbours' value (telemetry, derived or property); absent for `count(rel)`. */
      name?: string;
    };

/** A checked value, ready for the engine (JSON-safe). */
export type DerivedValue = {
  name: string;
  unit?: string;
  description?: string;
  /** Derived values of the same twin it reads (in the set or an applicable set). */
  dependsOn: string[];
  /**
   * Set for `target: property`: the value is written to the twin's Property `name` (`component.name`
   * for a component's) by the property sink, not stored as telemetry.
   */
  property?: PropertyWritePolicy;
  /**
   * Set for a telemetry value reported by exception (`deadband`, `heartbeat`): stored and published
   * only when it says something new (report-filter.ts); the rules still see every value.
   */
  report?: ReportPolicy;
} & (
  | { kind: 'expr'; expr: string; ast: ExprNode; inputs: ExprInput[] }
  | Exclude<DerivedComputation, { kind: 'expr' }>
);

/** A checked definition set: its values in dependency order. */
export interface DerivedSet {
  source?: string;
  /** For a twin's own set, `model` is the twin's model when checked. */
  target: { model: string } | { twin: string; model?: string };
  description?: string;
  values: DerivedValue[];
}

/**
 * Names of the telemetry that sets derive for twins of `modelId` (model sets that apply to it by
 * IS_OF_MODEL; twin sets are left out, they name one twin). Values written as properties are left
 * out too: they are Properties of the model already.
 */
export function derivedNamesOf(
  sets: readonly DerivedSet[],
  modelId: string,
  isOfModel: (modelId: string, baseId: string) => boolean,
): string[] {
  const names: string[] = [];
  for (const s of sets)
    if ('model' in s.target && !('twin' in s.target) && isOfModel(modelId, s.target.model))
      for (const v of s.values) if (v.property === undefined) names.push(v.name);
  return names;
}
