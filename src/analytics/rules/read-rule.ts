/**
 * Reads and checks a rule document (YAML text, JSON text or a parsed JSON value; format in
 * docs/rules.md): every problem at once, each at its JSON pointer (and line:column for YAML), codes
 * `rule.*`. Never throws on bad input. Expressions are parsed and checked here (forbidden names,
 * unknown functions, and, when a schema of the model is given, unknown telemetry and properties).
 */
import { ANOMALY_RULE_PREFIX } from '../analytics-types.js';
import type { Problem } from '../../core/errors/errors.js';
import type { LNode } from '../../sim/behaviour/located-document.js';
import { ALARM_SEVERITIES, type AlarmSeverity } from '../analytics-types.js';
import { readRuleJsonText, readRuleValue, readRuleYaml, type RuleDocument } from './rule-document.js';
import { checkNames, readCondition } from './read-condition.js';
import { RuleReader as Reader } from './rule-reader.js';
import type { RuleModelSchema, RuleSpec } from './rule-types.js';

export type { RuleModelSchema } from './rule-types.js';

export interface ReadRuleOptions {
  /** Names the document in problems (a file path). */
  source?: string;
  /** The id the rule must have (from the URL or the file name); taken when the document has none. */
  id?: string;
  /** The schema of a model, when known: names a rule reads are then checked against it. */
  schema?: (modelId: string) => RuleModelSchema | undefined;
}

export interface ReadRuleResult {
  rule?: RuleSpec;
  /** The document as plain JSON (stored and compared for versions); only when the rule is valid. */
  document?: Record<string, unknown>;
  problems: Problem[];
}

export const RULE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const TOP = [
  'id',
  'description',
  'appliesTo',
  'severity',
  'condition',
  'for',
  'message',
  'repeatEvery',
  'enabled',
];

/** Reads a rule from text; `format` by the content type or file extension. */
export function readRuleText(
  text: string,
  format: 'yaml' | 'json',
  options: ReadRuleOptions = {},
): ReadRuleResult {
  return checkRule(format === 'json' ? readRuleJsonText(text) : readRuleYaml(text, options.source), options);
}

/** Reads a rule from a parsed JSON value (a request body). */
export function readRuleObject(value: unknown, options: ReadRuleOptions = {}): ReadRuleResult {
  return checkRule(readRuleValue(value), options);
}

function checkRule(doc: RuleDocument, options: ReadRuleOptions): ReadRuleResult {
  const r = new Reader(doc.lines, options.source);
  const problems = doc.problems.map((p) => (options.source ? { ...p, source: options.source } : p));
  if (doc.root === undefined) {
    if (problems.length === 0)
      problems.push({
        code: 'rule.missing',
        message: 'The rule document is empty.',
        pointer: '',
        severity: 'error',
      });
    return { problems };
  }
  const top = r.map(doc.root, TOP, 'A rule');
  if (!top) return { problems: [...problems, ...r.problems] };
  const rootLoc = doc.root.loc;
  const need = (key: string): LNode | undefined => {
    const e = top.get(key);
    if (!e) r.problem('rule.missing', `A rule needs '${key}'.`, rootLoc);
    return e?.value;
  };

  let id = r.str(top.get('id')?.value, 'The rule id', RULE_ID_PATTERN, 128);
  if (top.get('id') === undefined) {
    if (options.id === undefined) r.problem('rule.missing', "A rule needs 'id'.", rootLoc);
    else id = options.id;
  } else if (id !== undefined && options.id !== undefined && id !== options.id) {
    r.problem(
      'rule.invalidValue',
      `The rule's id '${id}' differs from '${options.id}' it is stored under.`,
      top.get('id')!.value.loc,
    );
  }
  if (id !== undefined && id.startsWith(ANOMALY_RULE_PREFIX))
    r.problem(
      'rule.invalidValue',
      `Rule ids starting with '${ANOMALY_RULE_PREFIX}' are reserved for the anomaly detectors' alarms; choose another id than '${id}'.`,
      top.get('id')?.value.loc ?? rootLoc,
    );
  const description = r.str(top.get('description')?.value, 'description');
  const message = r.str(need('message'), 'message');
  const severityNode = need('severity');
  const severity = r.str(severityNode, 'severity');
  if (severity !== undefined && !(ALARM_SEVERITIES as readonly string[]).includes(severity))
    r.problem(
      'rule.invalidValue',
      `severity must be one of ${ALARM_SEVERITIES.join(', ')}.`,
      severityNode!.loc,
    );
  const forMs = top.has('for') ? r.duration(top.get('for')?.value, "'for'") : 0;
  const repeatEveryMs = r.duration(top.get('repeatEvery')?.value, 'repeatEvery', true);
  const enabledNode = top.get('enabled')?.value;
  if (enabledNode && !(enabledNode.kind === 'scalar' && typeof enabledNode.value === 'boolean'))
    r.problem('rule.type', 'enabled must be true or false.', enabledNode.loc);
  const enabled = !(enabledNode?.kind === 'scalar' && enabledNode.value === false);

  const appliesTo = readAppliesTo(r, need('appliesTo'));
  const condNode = need('condition');
  const condition = condNode ? readCondition(r, condNode) : undefined;

  if (condition && appliesTo?.model && options.schema)
    checkNames(r, condition, options.schema(appliesTo.model), appliesTo.model, condNode!);

  const all = [...problems, ...r.problems];
  if (
    all.some((p) => p.severity !== 'warning') ||
    !id ||
    !message ||
    !appliesTo ||
    !condition ||
    forMs === undefined
  )
    return { problems: all };
  const rule: RuleSpec = {
    id,
    appliesTo,
    severity: severity as AlarmSeverity,
    condition,
    forMs,
    message,
    enabled,
    ...(description !== undefined ? { description } : {}),
    ...(repeatEveryMs !== undefined ? { repeatEveryMs } : {}),
  };
  const document = toPlain(doc.root) as Record<string, unknown>;
  if (document.id === undefined) document.id = id;
  return { rule, document, problems: all };
}

function readAppliesTo(r: Reader, node: LNode | undefined): RuleSpec['appliesTo'] | undefined {
  if (!node) return undefined;
  const m = r.map(node, ['model', 'twins'], 'appliesTo');
  if (!m) return undefined;
  const model = r.str(m.get('model')?.value, 'appliesTo.model', /^dtmi:[A-Za-z0-9_:]+;[0-9]+$/, 4096);
  let twins: string[] | undefined;
  const t = m.get('twins')?.value;
  if (t) {
    if (t.kind !== 'seq' || t.items.length === 0 || t.items.length > 10_000) {
      r.problem('rule.type', 'appliesTo.twins must be a list of 1 to 10000 twin ids.', t.loc);
    } else {
      twins = [];
      for (const [i, item] of t.items.entries()) {
        const s = r.str(item, `appliesTo.twins[${i}]`, undefined, 1024);
        if (s !== undefined) twins.push(s);
      }
    }
  }
  if (!m.has('model') && !m.has('twins')) {
    r.problem('rule.missing', "appliesTo needs 'model' or 'twins'.", node.loc);
    return undefined;
  }
  return { ...(model !== undefined ? { model } : {}), ...(twins ? { twins } : {}) };
}

/** An LNode as plain JSON (only called on checked rules, whose keys are all known field names). */
function toPlain(n: LNode): unknown {
  if (n.kind === 'scalar') return n.value;
  if (n.kind === 'seq') return n.items.map(toPlain);
  const out: Record<string, unknown> = {};
  for (const e of n.entries)
    Object.defineProperty(out, e.key, {
      value: toPlain(e.value),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return out;
}
