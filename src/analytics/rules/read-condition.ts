/**
 * The `condition` of a rule document read into a RuleCondition (threshold, rateOfChange, missing,
 * expression, forecast), and the names a condition reads checked against the model's schema.
 */
import type { LEntry, LNode } from '../../sim/behaviour/located-document.js';
import { EXPR_CONSTANTS, isForbiddenName, namesIn } from '../../sim/expr/index.js';
import { NAME_PATTERN, type RuleReader as Reader } from './rule-reader.js';
import type { RuleCondition, RuleExpr, RuleModelSchema } from './rule-types.js';

const CONDITIONS = ['threshold', 'rateOfChange', 'missing', 'expression', 'forecast'] as const;

/** Shortest `within` of a forecast condition (shorter is a threshold's business). */
export const FORECAST_MIN_WITHIN_MS = 60_000;
/** Shortest `every` of a forecast condition. */
export const FORECAST_MIN_EVERY_MS = 1_000;
/** `clearWhen.within` is at most this many times `within`. */
export const FORECAST_MAX_CLEAR_FACTOR = 2;
/** Default `clearWhen.within`, times `within`. */
export const FORECAST_CLEAR_FACTOR = 1.25;

/** The default refit period of a forecast condition: within / 12, at least a minute (never above within). */
export const defaultForecastEvery = (withinMs: number): number =>
  Math.min(withinMs, Math.max(60_000, Math.round(withinMs / 12)));
const PER_MS: ReadonlyMap<string, number> = new Map([
  ['second', 1000],
  ['minute', 60_000],
  ['hour', 3_600_000],
]);

export function readCondition(r: Reader, node: LNode): RuleCondition | undefined {
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
  if (kind === 'forecast') return readForecast(r, body, telemetry);
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

/** A probability in (0, 1). */
function probabilityOf(r: Reader, node: LNode | undefined, what: string): number | undefined {
  const p = r.num(node, what);
  if (p === undefined || (p > 0 && p < 1)) return p;
  r.problem('rule.invalidValue', `${what} must be above 0 and below 1.`, node!.loc);
  return undefined;
}

/** `forecast: { telemetry, above | below, within, probability?, every?, clearWhen?: { within?, probability? } }` */
function readForecast(
  r: Reader,
  body: LNode,
  telemetry: (m: Map<string, LEntry>) => string | undefined,
): RuleCondition | undefined {
  const t = r.map(
    body,
    ['telemetry', 'above', 'below', 'within', 'probability', 'every', 'clearWhen'],
    'forecast',
  );
  if (!t) return undefined;
  const name = telemetry(t);
  let ok = name !== undefined;
  const above = r.ref(t.get('above')?.value, 'above');
  const below = r.ref(t.get('below')?.value, 'below');
  if (t.has('above') === t.has('below')) {
    r.problem('rule.invalidValue', "forecast needs exactly one of 'above' and 'below'.", body.loc);
    ok = false;
  }
  if ((t.has('above') && !above) || (t.has('below') && !below)) ok = false;
  const withinNode = t.get('within')?.value;
  let withinMs = r.duration(withinNode, 'forecast.within', true);
  if (!withinNode) r.problem('rule.missing', "forecast needs 'within'.", body.loc);
  else if (withinMs !== undefined && withinMs < FORECAST_MIN_WITHIN_MS) {
    r.problem('rule.invalidValue', 'forecast.within must be at least a minute.', withinNode.loc);
    withinMs = undefined;
  }
  const probNode = t.get('probability')?.value;
  const probability = probabilityOf(r, probNode, 'forecast.probability');
  if (probNode && probability === undefined) ok = false;
  const everyNode = t.get('every')?.value;
  let everyMs = r.duration(everyNode, 'forecast.every', true);
  if (everyNode && everyMs === undefined) ok = false;
  if (everyMs !== undefined && everyMs < FORECAST_MIN_EVERY_MS) {
    r.problem('rule.invalidValue', 'forecast.every must be at least a second.', everyNode!.loc);
    ok = false;
  } else if (everyMs !== undefined && withinMs !== undefined && everyMs > withinMs) {
    r.problem('rule.invalidValue', 'forecast.every must not be longer than within.', everyNode!.loc);
    ok = false;
  }
  if (withinMs !== undefined) everyMs ??= defaultForecastEvery(withinMs);
  let clearWithinMs = withinMs === undefined ? undefined : Math.round(withinMs * FORECAST_CLEAR_FACTOR);
  let clearProbability = probability;
  const cw = t.get('clearWhen')?.value;
  if (cw) {
    const m = r.map(cw, ['within', 'probability'], 'forecast.clearWhen');
    if (!m) ok = false;
    const cwWithin = m?.get('within')?.value;
    if (cwWithin) {
      const ms = r.duration(cwWithin, 'forecast.clearWhen.within', true);
      if (ms === undefined) ok = false;
      else if (withinMs !== undefined && (ms < withinMs || ms > FORECAST_MAX_CLEAR_FACTOR * withinMs)) {
        r.problem(
          'rule.invalidValue',
          `forecast.clearWhen.within must be from within to ${FORECAST_MAX_CLEAR_FACTOR} × within.`,
          cwWithin.loc,
        );
        ok = false;
      } else clearWithinMs = ms;
    }
    const cwProb = m?.get('probability')?.value;
    if (cwProb) {
      const p = probabilityOf(r, cwProb, 'forecast.clearWhen.probability');
      if (p === undefined) ok = false;
      else if (probability === undefined) {
        r.problem(
          'rule.invalidValue',
          "forecast.clearWhen.probability goes with 'probability'.",
          m!.get('probability')!.keyLoc,
        );
        ok = false;
      } else if (p > probability) {
        r.problem(
          'rule.invalidValue',
          'forecast.clearWhen.probability must not be above probability.',
          cwProb.loc,
        );
        ok = false;
      } else clearProbability = p;
    }
  }
  if (!ok || withinMs === undefined || everyMs === undefined || clearWithinMs === undefined) return undefined;
  return {
    kind: 'forecast',
    telemetry: name!,
    ...(above ? { above } : {}),
    ...(below ? { below } : {}),
    withinMs,
    everyMs,
    clearWithinMs,
    ...(probability !== undefined ? { probability } : {}),
    ...(clearProbability !== undefined ? { clearProbability } : {}),
  };
}

/** Names a condition reads, checked against the model's schema (a component's as `component/name`). */
export function checkNames(
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
  if (c.kind === 'forecast')
    for (const field of ['above', 'below'] as const) {
      const ref = c[field];
      if (ref?.kind === 'property') unknown(ref.name, 'property', at('forecast', field));
    }
}
