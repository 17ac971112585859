/**
 * Reads and checks a rule document (YAML text, JSON text or a parsed JSON value; format in
 * docs/rules.md): every problem at once, each at its JSON pointer (and line:column for YAML), codes
 * `rule.*`. Never throws on bad input. Expressions are parsed and checked here (forbidden names,
 * unknown functions, and, when a schema of the model is given, unknown telemetry and properties).
 */
import type { Problem } from '../../core/errors/errors.js';
import { TwinloopError } from '../../core/errors/errors.js';
import type { LEntry, LNode, Loc } from '../../sim/behaviour/located-document.js';
import { positionInScalar } from '../../sim/behaviour/located-document.js';
import { checkExpr, EXPR_CONSTANTS, isForbiddenName, namesIn, parseExpr } from '../../sim/expr/index.js';
import { ALARM_SEVERITIES, type AlarmSeverity } from '../analytics-types.js';
import { readRuleJsonText, readRuleValue, readRuleYaml, type RuleDocument } from './rule-document.js';
import { parseDuration } from './rule-duration.js';
import type { RuleCondition, RuleExpr, RuleSpec, ValueRef } from './rule-types.js';

/** Telemetry and property names of a model (its own and inherited), to check the names a rule uses. */
export interface RuleModelSchema {
  telemetry: ReadonlySet<string>;
  properties: ReadonlySet<string>;
}

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
const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*(?:\/[A-Za-z_][A-Za-z0-9_]*)?$/;
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
const CONDITIONS = ['threshold', 'rateOfChange', 'missing', 'expression'] as const;
const PER_MS: ReadonlyMap<string, number> = new Map([
  ['second', 1000],
  ['minute', 60_000],
  ['hour', 3_600_000],
]);

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

class Reader {
  readonly problems: Problem[] = [];
  constructor(
    private readonly lines: readonly string[],
    private readonly source: string | undefined,
  ) {}

  problem(code: string, message: string, loc: Loc): void {
    this.problems.push({
      code,
      message,
      severity: 'error',
      pointer: loc.pointer,
      ...(loc.line > 0 ? { line: loc.line, column: loc.column } : {}),
      ...(this.source === undefined ? {} : { source: this.source }),
    });
  }

  map(node: LNode, allowed: readonly string[], what: string): Map<string, LEntry> | undefined {
    if (node.kind !== 'map') {
      this.problem('rule.type', `${what} must be a mapping.`, node.loc);
      return undefined;
    }
    const out = new Map<string, LEntry>();
    for (const e of node.entries) {
      if (!allowed.includes(e.key)) {
        this.problem(
          'rule.unknownField',
          `Unknown field '${e.key.slice(0, 64)}' in ${what}; expected one of: ${allowed.join(', ')}.`,
          e.keyLoc,
        );
      } else out.set(e.key, e);
    }
    return out;
  }

  str(node: LNode | undefined, what: string, pattern?: RegExp, max = 2000): string | undefined {
    if (node === undefined) return undefined;
    if (node.kind !== 'scalar' || typeof node.value !== 'string' || node.value === '') {
      this.problem('rule.type', `${what} must be a non-empty string.`, node.loc);
      return undefined;
    }
    if (node.value.length > max || (pattern && !pattern.test(node.value))) {
      this.problem('rule.invalidValue', `${what} '${node.value.slice(0, 64)}' is not valid.`, node.loc);
      return undefined;
    }
    return node.value;
  }

  num(node: LNode | undefined, what: string): number | undefined {
    if (node === undefined) return undefined;
    if (node.kind !== 'scalar' || typeof node.value !== 'number' || !Number.isFinite(node.value)) {
      this.problem('rule.type', `${what} must be a finite number.`, node.loc);
      return undefined;
    }
    return node.value;
  }

  duration(node: LNode | undefined, what: string, positive = false): number | undefined {
    if (node === undefined) return undefined;
    const ms = node.kind === 'scalar' ? parseDuration(node.value) : undefined;
    if (ms === undefined || (positive && ms === 0)) {
      this.problem(
        'rule.invalidValue',
        `${what} must be a duration such as 30s, 5m, 2h or a number of seconds${positive ? ' (more than 0)' : ''}, at most a year.`,
        node.loc,
      );
      return undefined;
    }
    return ms;
  }

  /** A limit: a number or `$property`. */
  ref(node: LNode | undefined, what: string): ValueRef | undefined {
    if (node === undefined) return undefined;
    if (node.kind === 'scalar' && typeof node.value === 'string' && node.value.startsWith('$')) {
      const name = node.value.slice(1);
      if (
        NAME_PATTERN.test(name) &&
        !name.split('/').some((p) => p === '__proto__' || p === 'constructor' || p === 'prototype')
      )
        return { kind: 'property', name };
      this.problem(
        'rule.invalidValue',
        `${what}: '${node.value.slice(0, 64)}' is not a property name.`,
        node.loc,
      );
      return undefined;
    }
    const value = this.num(node, `${what} (a number or $property)`);
    return value === undefined ? undefined : { kind: 'number', value };
  }

  expr(node: LNode | undefined, what: string): (RuleExpr & { node: LNode }) | undefined {
    if (node === undefined) return undefined;
    if (node.kind !== 'scalar' || typeof node.value !== 'string' || node.value.trim() === '') {
      this.problem('rule.type', `${what} must be an expression (a string).`, node.loc);
      return undefined;
    }
    const text = node.value;
    try {
      const ast = parseExpr(text);
      const scope = new Map([...namesIn(ast)].map((n, i) => [n, i] as const));
      for (const p of checkExpr(ast, scope)) this.exprProblem(p, text, node);
      return { text, ast, node };
    } catch (e) {
      if (!(e instanceof TwinloopError)) throw e;
      for (const p of e.problems) this.exprProblem(p, text, node);
      return undefined;
    }
  }

  exprProblem(p: Problem, text: string, node: LNode): void {
    const style = node.kind === 'scalar' ? node.style : 'plain';
    const at =
      node.loc.line > 0
        ? positionInScalar(node.loc, style, this.lines, p.line ?? 1, p.column ?? 1)
        : { line: 0, column: 0 };
    this.problem(`rule.${p.code.replace(/^sim\./, '')}`, `${p.message} (in "${text.slice(0, 200)}")`, {
      ...at,
      pointer: node.loc.pointer,
    });
  }
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

function readCondition(r: Reader, node: LNode): RuleCondition | undefined {
  const m = r.map(node, CONDITIONS, 'condition');
  if (!m) return undefined;
  if (m.size !== 1) {
    if (m.size > 1 || (node.kind === 'map' && node.entries.length === 0))
      r.problem('rule.invalidValue', `A condition is exactly one of: ${CONDITIONS.join(', ')}.`, node.loc);
    return undefined;
  }
  const [kind, entry] = [...m.entries()][0]!;
  const body = entry.value;
  const telemetry = (mm: Map<string, LEntry>): string | undefined => {
    const node = mm.get('telemetry')?.value;
    if (!node) {
      r.problem('rule.missing', `${kind} needs 'telemetry'.`, body.loc);
      return undefined;
    }
    const name = r.str(node, `${kind}.telemetry`, NAME_PATTERN, 256);
    if (name !== undefined && isForbiddenName(name.replace('/', '.'))) {
      r.problem('rule.forbiddenName', `'${name}' may not be used as a telemetry name.`, node.loc);
      return undefined;
    }
    return name;
  };
  if (kind === 'threshold') {
    const t = r.map(body, ['telemetry', 'above', 'below', 'clearBelow', 'clearAbove'], 'threshold');
    if (!t) return undefined;
    const name = telemetry(t);
    const above = r.ref(t.get('above')?.value, 'above');
    const below = r.ref(t.get('below')?.value, 'below');
    const clearBelow = r.ref(t.get('clearBelow')?.value, 'clearBelow');
    const clearAbove = r.ref(t.get('clearAbove')?.value, 'clearAbove');
    if (t.has('above') === t.has('below'))
      r.problem('rule.invalidValue', "threshold needs exactly one of 'above' and 'below'.", body.loc);
    if (t.has('clearBelow') && !t.has('above'))
      r.problem('rule.invalidValue', "clearBelow goes with 'above'.", t.get('clearBelow')!.keyLoc);
    if (t.has('clearAbove') && !t.has('below'))
      r.problem('rule.invalidValue', "clearAbove goes with 'below'.", t.get('clearAbove')!.keyLoc);
    if (above?.kind === 'number' && clearBelow?.kind === 'number' && clearBelow.value > above.value)
      r.problem(
        'rule.invalidValue',
        'clearBelow must not be above the limit.',
        t.get('clearBelow')!.value.loc,
      );
    if (below?.kind === 'number' && clearAbove?.kind === 'number' && clearAbove.value < below.value)
      r.problem(
        'rule.invalidValue',
        'clearAbove must not be below the limit.',
        t.get('clearAbove')!.value.loc,
      );
    if (!name) return undefined;
    return {
      kind,
      telemetry: name,
      ...(above ? { above } : {}),
      ...(below ? { below } : {}),
      ...(clearBelow ? { clearBelow } : {}),
      ...(clearAbove ? { clearAbove } : {}),
    };
  }
  if (kind === 'rateOfChange') {
    const t = r.map(body, ['telemetry', 'window', 'per', 'above', 'below'], 'rateOfChange');
    if (!t) return undefined;
    const name = telemetry(t);
    const windowMs = t.has('window')
      ? r.duration(t.get('window')?.value, 'rateOfChange.window', true)
      : (r.problem('rule.missing', "rateOfChange needs 'window'.", body.loc), undefined);
    const perText = t.has('per') ? r.str(t.get('per')?.value, 'rateOfChange.per') : 'second';
    const perMs = perText === undefined ? undefined : PER_MS.get(perText);
    if (perText !== undefined && perMs === undefined)
      r.problem('rule.invalidValue', 'per must be second, minute or hour.', t.get('per')!.value.loc);
    const above = r.num(t.get('above')?.value, 'above');
    const below = r.num(t.get('below')?.value, 'below');
    if (!t.has('above') && !t.has('below'))
      r.problem('rule.missing', "rateOfChange needs 'above' or 'below' (or both).", body.loc);
    if (!name || windowMs === undefined || perMs === undefined) return undefined;
    return {
      kind,
      telemetry: name,
      windowMs,
      perMs,
      ...(above !== undefined ? { above } : {}),
      ...(below !== undefined ? { below } : {}),
    };
  }
  if (kind === 'missing') {
    const t = r.map(body, ['telemetry', 'after'], 'missing');
    if (!t) return undefined;
    const name = telemetry(t);
    const afterMs = t.has('after')
      ? r.duration(t.get('after')?.value, 'missing.after', true)
      : (r.problem('rule.missing', "missing needs 'after'.", body.loc), undefined);
    if (!name || afterMs === undefined) return undefined;
    return { kind, telemetry: name, afterMs };
  }
  // expression: a string, or { when, clearWhen?, value? }
  if (body.kind === 'scalar') {
    const when = r.expr(body, 'expression');
    return when ? { kind: 'expression', when: { text: when.text, ast: when.ast } } : undefined;
  }
  const t = r.map(body, ['when', 'clearWhen', 'value'], 'expression');
  if (!t) return undefined;
  const when = t.has('when')
    ? r.expr(t.get('when')?.value, 'expression.when')
    : (r.problem('rule.missing', "expression needs 'when'.", body.loc), undefined);
  const clearWhen = r.expr(t.get('clearWhen')?.value, 'expression.clearWhen');
  const value = r.expr(t.get('value')?.value, 'expression.value');
  if (!when) return undefined;
  const plain = (e: RuleExpr | undefined) => (e ? { text: e.text, ast: e.ast } : undefined);
  return {
    kind: 'expression',
    when: plain(when)!,
    ...(clearWhen ? { clearWhen: plain(clearWhen)! } : {}),
    ...(value ? { value: plain(value)! } : {}),
  };
}

/** Names a condition reads, checked against the model's schema (a component's as `component/name`). */
function checkNames(
  r: Reader,
  c: RuleCondition,
  schema: RuleModelSchema | undefined,
  model: string,
  node: LNode,
): void {
  if (!schema) return;
  const at = (...path: string[]): LNode => {
    let n = node;
    for (const key of path) {
      const next = n.kind === 'map' ? n.entries.find((e) => e.key === key)?.value : undefined;
      if (!next) return n;
      n = next;
    }
    return n;
  };
  const unknown = (name: string, what: 'telemetry' | 'property' | 'either', where: LNode) => {
    const ok =
      what === 'telemetry'
        ? schema.telemetry.has(name)
        : what === 'property'
          ? schema.properties.has(name)
          : schema.telemetry.has(name) || schema.properties.has(name);
    if (!ok)
      r.problem(
        'rule.unknownName',
        `The model ${model} has no ${what === 'either' ? 'telemetry or property' : what} '${name}'.`,
        where.loc,
      );
  };
  if (c.kind === 'expression') {
    for (const [field, e] of [
      ['when', c.when],
      ['clearWhen', c.clearWhen],
      ['value', c.value],
    ] as const)
      if (e)
        for (const n of namesIn(e.ast))
          if (!EXPR_CONSTANTS.has(n)) unknown(n.replace('.', '/'), 'either', at('expression', field));
    return;
  }
  unknown(c.telemetry, 'telemetry', at(c.kind, 'telemetry'));
  if (c.kind === 'threshold')
    for (const field of ['above', 'below', 'clearAbove', 'clearBelow'] as const) {
      const ref = c[field];
      if (ref?.kind === 'property') unknown(ref.name, 'property', at('threshold', field));
    }
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
