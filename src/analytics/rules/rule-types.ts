/**
 * A rule as the engine uses it, after reading and checking (read-rule.ts): which twins it watches,
 * the condition that raises its alarm, how long the condition must hold, and the message. Rules are
 * data (JSON or YAML documents, docs/rules.md); this is their checked, normalised form.
 */
import type { ExprNode } from '../../sim/expr/ast.js';
import type { AlarmSeverity } from '../analytics-types.js';

/** A limit: a constant, or a property of the twin itself (`$vibrationLimit`). */
export type ValueRef = { kind: 'number'; value: number } | { kind: 'property'; name: string };

/** An expression with its text (kept for messages and for writing the rule back). */
export interface RuleExpr {
  text: string;
  ast: ExprNode;
}

export type RuleCondition =
  /**
   * A telemetry above (or below) a limit. Hysteresis: once raised, the condition holds until the
   * value falls to `clearBelow` (rises to `clearAbove`); without it, until it is no longer above.
   */
  | {
      kind: 'threshold';
      telemetry: string;
      above?: ValueRef;
      below?: ValueRef;
      clearBelow?: ValueRef;
      clearAbove?: ValueRef;
    }
  /** Change of a telemetry per `perMs` over the last `windowMs` above `above` or below `below`. */
  | {
      kind: 'rateOfChange';
      telemetry: string;
      windowMs: number;
      perMs: number;
      above?: number;
      below?: number;
    }
  /** No reading of the telemetry for `afterMs` (decided by tick; twins that never reported are not watched). */
  | { kind: 'missing'; telemetry: string; afterMs: number }
  /**
   * Any expression of the simulator's language over the twin's latest telemetry and its properties
   * (a name is the telemetry when the twin reported one by that name, else the property). `clearWhen`
   * adds hysteresis; `value` says what number the alarm carries.
   */
  | { kind: 'expression'; when: RuleExpr; clearWhen?: RuleExpr; value?: RuleExpr }
  /**
   * A telemetry forecast to reach a limit (`above`: at or above it; `below`: at or below) within
   * `withinMs` of the latest reading: an ETS forecast (src/analytics/forecast/) refitted at most
   * every `everyMs` of source time on a bounded buffer of the pair's recent readings. "Reaches" is
   * the point forecast by default, or a probability of being beyond the limit at least
   * `probability`. It clears once the forecast does not reach the limit within `clearWithinMs`
   * (at `clearProbability`), and the latest reading is not beyond it.
   */
  | {
      kind: 'forecast';
      telemetry: string;
      above?: ValueRef;
      below?: ValueRef;
      withinMs: number;
      probability?: number;
      everyMs: number;
      clearWithinMs: number;
      clearProbability?: number;
    };

export interface RuleSpec {
  id: string;
  description?: string;
  /** Twins of this model or of models extending it (IS_OF_MODEL), and/or these twins. */
  appliesTo: { model?: string; twins?: readonly string[] };
  severity: AlarmSeverity;
  condition: RuleCondition;
  /** How long the condition must hold without a break before the alarm is raised (0: at once). */
  forMs: number;
  /** Message template: {value}, {limit}, {twinId}, {ruleId}, {for}, {telemetry}, {$property}, {telemetryName}; {eta}, {probability} (forecast). */
  message: string;
  /** While raised, raise again with the latest value at most this often (absent: once per episode). */
  repeatEveryMs?: number;
  /** A disabled rule is kept and versioned but raises nothing. */
  enabled: boolean;
}

/** A rule with the version the store gave it (alarms name it). */
export interface VersionedRule {
  spec: RuleSpec;
  version: number;
}

/** Telemetry and property names of a model (its own and inherited), to check the names a rule uses. */
export interface RuleModelSchema {
  telemetry: ReadonlySet<string>;
  properties: ReadonlySet<string>;
}
