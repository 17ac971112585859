/**
 * A checked rule compiled for streaming: which telemetry it reads, how one reading updates the
 * per-(rule, twin) inputs, and how the condition is judged from them. The judgement is three-valued:
 * `on` (the raise condition holds), `off` (a raised alarm may clear; hysteresis makes this stricter
 * than "not on"), or neither (inputs unknown, e.g. a limit property unset: nothing changes).
 */
import type { ExprNode } from '../../sim/expr/ast.js';
import { compileChecked, namesIn, EXPR_CONSTANTS } from '../../sim/expr/index.js';
import type { Evaluator } from '../../sim/expr/index.js';
import { compileForecast } from './forecast-condition.js';
import {
  propertyNumber,
  resolveRef,
  storeLatest,
  UNKNOWN,
  Verdict,
  type CompiledRule,
} from './rule-inputs.js';
import type { VersionedRule } from './rule-types.js';

export type { CompiledRule, Judgement, PairInputs, RuleLookup } from './rule-inputs.js';

/** Rate-of-change points kept per (rule, twin): readings are thinned to window/32 apart. */
export const RATE_POINTS = 40;

/** Compiles a checked rule. @throws TwinloopError InternalError on an expression read-rule refused. */
export function compileRule(r: VersionedRule): CompiledRule {
  const spec = r.spec;
  const c = spec.condition;
  const base = {
    spec,
    version: r.version,
    needsTick: spec.forMs > 0 || c.kind === 'missing',
    ...(spec.appliesTo.twins ? { twinSet: new Set(spec.appliesTo.twins) } : {}),
  };
  if (c.kind === 'threshold') {
    const key = c.telemetry;
    const verdict = new Verdict();
    return {
      ...base,
      reads: new Set([key]),
      telemetry: key,
      update: (inputs, _time, values) => storeLatest(inputs, values),
      judge: (inputs, _time, twin) => {
        const v = inputs.latest[key];
        const above = c.above !== undefined;
        const limit = resolveRef(above ? c.above : c.below, twin);
        if (v === undefined || limit === undefined) return UNKNOWN;
        const clear = resolveRef(above ? c.clearBelow : c.clearAbove, twin) ?? limit;
        return above
          ? verdict.of(v > limit, v <= clear, v, limit)
          : verdict.of(v < limit, v >= clear, v, limit);
      },
    };
  }
  if (c.kind === 'rateOfChange') {
    const key = c.telemetry;
    const spacing = c.windowMs / 32;
    return {
      ...base,
      reads: new Set([key]),
      telemetry: key,
      update: (inputs, time, values) => {
        storeLatest(inputs, values);
        const v = values.get(key);
        if (v === undefined) return;
        const w = (inputs.window ??= []);
        while (w.length >= 4 && (w[0] as number) < time - c.windowMs) w.splice(0, 2);
        const lastT = w.length ? (w[w.length - 2] as number) : -Infinity;
        if (time - lastT >= spacing || w.length === 0) {
          if (w.length >= RATE_POINTS * 2) w.splice(0, 2);
          w.push(time, v);
        } else {
          // Within the spacing of the last kept point: it moves to the newest reading.
          w[w.length - 2] = time;
          w[w.length - 1] = v;
        }
      },
      judge: (inputs, time) => {
        const w = inputs.window;
        if (!w || w.length < 4) return UNKNOWN;
        let i = 0;
        while (i + 2 < w.length && (w[i] as number) < time - c.windowMs) i += 2;
        const t0 = w[i] as number;
        const t1 = w[w.length - 2] as number;
        if (t1 - t0 < c.windowMs / 2) return UNKNOWN;
        const rate = (((w[w.length - 1] as number) - (w[i + 1] as number)) / (t1 - t0)) * c.perMs;
        const on = (c.above !== undefined && rate > c.above) || (c.below !== undefined && rate < c.below);
        return {
          on,
          off: !on,
          value: rate,
          ...(c.above !== undefined ? { limit: c.above } : c.below !== undefined ? { limit: c.below } : {}),
        };
      },
    };
  }
  if (c.kind === 'forecast') return compileForecast(c, base);
  if (c.kind === 'missing') {
    const key = c.telemetry;
    const verdict = new Verdict();
    return {
      ...base,
      reads: new Set([key]),
      telemetry: key,
      update: (inputs, time, values) => {
        storeLatest(inputs, values);
        if (values.has(key)) inputs.lastSeen = Math.max(inputs.lastSeen ?? time, time);
      },
      judge: (inputs, time) => {
        if (inputs.lastSeen === undefined) return UNKNOWN;
        const silent = time - inputs.lastSeen;
        return verdict.of(silent >= c.afterMs, silent < c.afterMs, silent / 1000, c.afterMs / 1000);
      },
    };
  }
  // expression
  const names = new Set<string>();
  for (const e of [c.when, c.clearWhen, c.value]) if (e) namesIn(e.ast, names);
  for (const n of EXPR_CONSTANTS.keys()) names.delete(n);
  const slots = [...names];
  const scope = new Map(slots.map((n, i) => [n, i] as const));
  const keys = slots.map((n) => n.replace('.', '/'));
  const frame = new Float64Array(slots.length);
  const when = compileChecked(c.when.ast, scope);
  const clearWhen = c.clearWhen ? compileChecked(c.clearWhen.ast, scope) : undefined;
  const sides = comparisonSides(c.when.ast);
  const value: Evaluator | undefined = c.value
    ? compileChecked(c.value.ast, scope)
    : sides
      ? compileChecked(sides.left, scope)
      : undefined;
  const limit = !c.value && sides ? compileChecked(sides.right, scope) : undefined;
  const truthy = (v: number): boolean => v !== 0 && v === v;
  const verdict = new Verdict();
  return {
    ...base,
    reads: new Set(keys),
    update: (inputs, _time, values) => storeLatest(inputs, values),
    judge: (inputs, _time, twin) => {
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        const v = Object.hasOwn(inputs.latest, key) ? inputs.latest[key] : propertyNumber(twin, key);
        if (v === undefined) return UNKNOWN;
        frame[i] = v;
      }
      const on = truthy(when(frame));
      const off = clearWhen ? truthy(clearWhen(frame)) : !on;
      const v = value?.(frame);
      const l = limit?.(frame);
      return verdict.of(
        on,
        off,
        v !== undefined && Number.isFinite(v) ? v : undefined,
        l !== undefined && Number.isFinite(l) ? l : undefined,
      );
    },
  };
}

/**
 * `a > b` and the like at the top of an expression (or first in a chain of `&&`): its sides are the
 * alarm's value and limit.
 */
function comparisonSides(n: ExprNode): { left: ExprNode; right: ExprNode } | undefined {
  if (n.kind !== 'binary') return undefined;
  if (n.op === '&&') return comparisonSides(n.left) ?? comparisonSides(n.right);
  return ['>', '>=', '<', '<='].includes(n.op) ? { left: n.left, right: n.right } : undefined;
}
