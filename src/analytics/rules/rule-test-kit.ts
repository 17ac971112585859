/**
 * What the rule tests share: a small twin context over plain maps (the interface is a read-only view,
 * not a store), a sink that records what the engine decided, and a rule built from YAML.
 */
import type { AlarmConditionCleared, AlarmRaise, AlarmSink, TwinContext } from '../analytics-types.js';
import { readRuleText } from './read-rule.js';
import type { RuleSpec, VersionedRule } from './rule-types.js';

export const PUMP = 'dtmi:test:Pump;1';
export const BIG_PUMP = 'dtmi:test:BigPump;1';

export class TestTwins implements TwinContext {
  readonly models = new Map<string, string>();
  readonly props = new Map<string, unknown>();
  /** model -> its base (one level is enough here) */
  readonly bases = new Map<string, string>([[BIG_PUMP, PUMP]]);

  twin(id: string, model: string, props: Record<string, unknown> = {}): this {
    this.models.set(id, model);
    for (const [k, v] of Object.entries(props)) this.props.set(`${id}\u0000${k}`, v);
    return this;
  }
  modelOf(_ws: string, twinId: string): string | undefined {
    return this.models.get(twinId);
  }
  isOfModel(_ws: string, modelId: string, base: string): boolean {
    return modelId === base || this.bases.get(modelId) === base;
  }
  property(_ws: string, twinId: string, name: string): unknown {
    return this.props.get(`${twinId}\u0000${name}`);
  }
  related(): readonly string[] {
    return [];
  }
}

export type Decision = ({ kind: 'raise' } & AlarmRaise) | ({ kind: 'clear' } & AlarmConditionCleared);

export class RecordingSink implements AlarmSink {
  readonly events: Decision[] = [];
  raise(a: AlarmRaise): void {
    this.events.push({ kind: 'raise', ...a });
  }
  conditionCleared(c: AlarmConditionCleared): void {
    this.events.push({ kind: 'clear', ...c });
  }
  /** "raise@t" / "clear@t" per decision, for compact assertions. */
  get trace(): string[] {
    return this.events.map((e) => `${e.kind}@${e.time}`);
  }
}

/** A rule from YAML. @throws Error listing the problems when the text is not a valid rule. */
export function rule(yaml: string, version = 1): VersionedRule {
  const r = readRuleText(yaml, 'yaml');
  if (!r.rule) throw new Error(r.problems.map((p) => `${p.line}:${p.column} ${p.message}`).join('\n'));
  return { spec: r.rule, version };
}

export function spec(yaml: string): RuleSpec {
  return rule(yaml).spec;
}
