/**
 * Reads a derived-values file (YAML, or JSON which YAML 1.2 accepts) into a DerivedFileSpec with
 * every problem at once, each at its line, column and JSON pointer; never throws on bad input.
 * Problem codes are `analytics.derived.*`. Format (docs/analytics.md):
 *
 *   model: dtmi:twinloop:pumpline:Pump;1      # or  twin: pump-1a
 *   values:
 *     hydraulicPower: { expr: 'flow / 36 * head', unit: kilowatt }
 *     vibrationEwma: { ewma: { of: vibration, halfLife: 5min } }
 *     vibrationMax10: { sliding: { of: vibration, size: 10min, aggregate: max } }
 *     healthIndex: { expr: 'clamp(vibrationMargin / 7, 0, 1)', target: property, every: 1min, deadband: 0.01 }
 *     vibrationSmooth: { ewma: { of: vibration, halfLife: 1min }, deadband: 0.02, heartbeat: 5min }
 *
 * `deadband` (and `heartbeat`) on a telemetry value: reported by exception (report-filter.ts).
 */
import type { Problem } from '../../core/errors/errors.js';
import { readLocatedDocument } from '../../sim/behaviour/located-document.js';
import type { LEntry, LNode, Loc } from '../../sim/behaviour/located-document.js';
import { SpecReader } from '../../sim/behaviour/spec-reader.js';
import { isReservedName } from '../../sim/expr/functions.js';
import { parseScenarioTime } from '../../sim/scenario/scenario-time.js';
import { DEFAULT_HEARTBEAT_MS } from '../runtime/report-filter.js';
import { DERIVED_LIMITS, DERIVED_TARGETS, RATE_UNITS, WINDOW_AGGREGATES } from './derived-types.js';
import type {
  DerivedComputation,
  DerivedFileSpec,
  DerivedValueSpec,
  WindowAggregate,
} from './derived-types.js';

const ROOT_KEYS = ['model', 'twin', 'description', 'values'];
const KINDS = ['expr', 'tumbling', 'sliding', 'ewma', 'rate', 'since'] as const;
const VALUE_KEYS = ['unit', 'description', 'target', 'every', 'deadband', 'heartbeat', ...KINDS];
/** DTDL's rule for content names, which derived values share (they become telemetry names). */
const NAME = /^[A-Za-z](?:[A-Za-z0-9_]{0,62}[A-Za-z0-9])?$/;

/** A value's name: a content name; for `target: property` also `component.name`. */
function isValueName(name: string, property: boolean): boolean {
  const parts = property ? name.split('.') : [name];
  return parts.length <= 2 && parts.every((p) => NAME.test(p) && !isReservedName(p));
}

/** Whether the (unchecked) mapping of a value says `target: property` (to judge its name first). */
function saysProperty(node: LNode): boolean {
  if (node.kind !== 'map') return false;
  const t = node.entries.find((x) => x.key === 'target')?.value;
  return t?.kind === 'scalar' && t.value === 'property';
}

class DerivedReader extends SpecReader {
  /** A duration (seconds, or text such as '5min'), in ms, > 0 and at most `maxMs`. */
  duration(node: LNode | undefined, what: string, maxMs: number): number | undefined {
    if (node === undefined) return undefined;
    const r = parseScenarioTime(node.kind === 'scalar' ? node.value : undefined);
    if (!r.ok) {
      this.problem('sim.behaviour.invalidValue', `${what} ${r.message}.`, node.loc);
      return undefined;
    }
    const ms = r.seconds * 1000;
    if (!(ms >= 1) || ms > maxMs) {
      this.problem(
        'sim.behaviour.invalidValue',
        `${what} must be from 1 ms to ${maxMs / 3_600_000} h.`,
        node.loc,
      );
      return undefined;
    }
    return ms;
  }

  oneOf<T extends string>(node: LNode | undefined, what: string, allowed: readonly T[]): T | undefined {
    const s = this.str(node, what);
    if (s === undefined || node === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(s)) {
      this.problem('sim.behaviour.invalidValue', `${what} must be one of: ${allowed.join(', ')}.`, node.loc);
      return undefined;
    }
    return s as T;
  }

  /** A telemetry or derived value name (checked against the model later). */
  input(node: LNode | undefined, what: string): string | undefined {
    const s = this.str(node, what);
    if (
      s !== undefined &&
      node !== undefined &&
      !/^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$/.test(s)
    ) {
      this.problem('sim.behaviour.invalidValue', `${what} '${s}' is not a name.`, node.loc);
      return undefined;
    }
    return s;
  }
}

function readComputation(
  r: DerivedReader,
  kind: (typeof KINDS)[number],
  e: LEntry,
  what: string,
): { computation: DerivedComputation; ast?: DerivedValueSpec['ast'] } | undefined {
  const node = e.value;
  if (kind === 'expr') {
    const src = r.expr(node, `${what} 'expr'`);
    return src ? { computation: { kind: 'expr', expr: src.text }, ast: src.ast } : undefined;
  }
  if (kind === 'since' && node.kind === 'scalar' && node.value === null) return { computation: { kind } };
  const keys: Record<typeof kind, string[]> = {
    tumbling: ['of', 'size', 'aggregate'],
    sliding: ['of', 'size', 'aggregate', 'maxPoints'],
    ewma: ['of', 'halfLife'],
    rate: ['of', 'per', 'halfLife'],
    since: ['of'],
  };
  const m = r.map(node, keys[kind], `${what} '${kind}'`);
  if (!m) return undefined;
  const w = `${what} '${kind}.`;
  if (kind === 'since') {
    const of = r.input(m.get('of')?.value, `${w}of'`);
    return { computation: of === undefined ? { kind } : { kind, of } };
  }
  const of = r.input(r.required(m, 'of', node.loc, `${what} '${kind}'`), `${w}of'`);
  if (kind === 'tumbling' || kind === 'sliding') {
    const maxMs = kind === 'sliding' ? DERIVED_LIMITS.maxSlidingMs : DERIVED_LIMITS.maxWindowMs;
    const sizeMs = r.duration(r.required(m, 'size', node.loc, `${what} '${kind}'`), `${w}size'`, maxMs);
    const aggregate = r.oneOf<WindowAggregate>(
      r.required(m, 'aggregate', node.loc, `${what} '${kind}'`),
      `${w}aggregate'`,
      WINDOW_AGGREGATES,
    );
    const mp = m.get('maxPoints')?.value;
    const maxPoints = r.num(mp, `${w}maxPoints'`, { positive: true }) ?? DERIVED_LIMITS.defaultSlidingPoints;
    if (mp && (!Number.isInteger(maxPoints) || maxPoints > DERIVED_LIMITS.maxSlidingPoints))
      r.problem(
        'sim.behaviour.invalidValue',
        `${w}maxPoints' must be a whole number up to ${DERIVED_LIMITS.maxSlidingPoints}.`,
        mp.loc,
      );
    if (of === undefined || sizeMs === undefined || aggregate === undefined) return undefined;
    return {
      computation:
        kind === 'tumbling'
          ? { kind, of, sizeMs, aggregate }
          : { kind, of, sizeMs, aggregate, maxPoints: Math.min(maxPoints, DERIVED_LIMITS.maxSlidingPoints) },
    };
  }
  if (kind === 'ewma') {
    const halfLifeMs = r.duration(
      r.required(m, 'halfLife', node.loc, `${what} 'ewma'`),
      `${w}halfLife'`,
      DERIVED_LIMITS.maxWindowMs,
    );
    return of === undefined || halfLifeMs === undefined
      ? undefined
      : { computation: { kind, of, halfLifeMs } };
  }
  const perNode = m.get('per')?.value;
  const per = perNode ? r.oneOf(perNode, `${w}per'`, Object.keys(RATE_UNITS)) : 's';
  const perMs = per === undefined ? undefined : RATE_UNITS[per];
  const hlNode = m.get('halfLife')?.value;
  const halfLifeMs = hlNode ? r.duration(hlNode, `${w}halfLife'`, DERIVED_LIMITS.maxWindowMs) : undefined;
  if (of === undefined || perMs === undefined || (hlNode && halfLifeMs === undefined)) return undefined;
  return { computation: halfLifeMs === undefined ? { kind, of, perMs } : { kind, of, perMs, halfLifeMs } };
}

/**
 * `target`, `every`, `deadband` and `heartbeat` of a value: the property policy for `target:
 * property`; for telemetry, the report policy when `deadband` is given (reported by exception).
 */
function readTarget(
  r: DerivedReader,
  m: Map<string, LEntry>,
  what: string,
): {
  ok: boolean;
  property?: { everyMs: number; deadband: number };
  report?: { deadband: number; heartbeatMs: number };
} {
  const tNode = m.get('target')?.value;
  const target = tNode ? r.oneOf(tNode, `${what} 'target'`, DERIVED_TARGETS) : 'telemetry';
  const everyNode = m.get('every')?.value;
  const deadbandNode = m.get('deadband')?.value;
  const heartbeatNode = m.get('heartbeat')?.value;
  if (target === undefined) return { ok: false };
  const misplaced = (node: LNode | undefined, key: string, applies: string): boolean => {
    if (!node) return false;
    r.problem('sim.behaviour.invalidValue', `${what} '${key}' applies only to ${applies}.`, node.loc);
    return true;
  };
  if (target !== 'property') {
    const bad = misplaced(everyNode, 'every', "'target: property'");
    if (heartbeatNode && !deadbandNode) {
      r.problem(
        'sim.behaviour.invalidValue',
        `${what} 'heartbeat' needs a 'deadband' (the value is reported by exception: when it moved by more than the deadband, or after the heartbeat).`,
        heartbeatNode.loc,
      );
      return { ok: false };
    }
    if (!deadbandNode) return { ok: !bad };
    const deadband = r.num(deadbandNode, `${what} 'deadband'`, { min: 0 });
    const heartbeatMs = heartbeatNode
      ? r.duration(heartbeatNode, `${what} 'heartbeat'`, DERIVED_LIMITS.maxPropertyEveryMs)
      : DEFAULT_HEARTBEAT_MS;
    if (heartbeatMs !== undefined && heartbeatMs < DERIVED_LIMITS.minPropertyEveryMs) {
      r.problem(
        'sim.behaviour.invalidValue',
        `${what} 'heartbeat' must be at least ${DERIVED_LIMITS.minPropertyEveryMs / 1000} s.`,
        heartbeatNode!.loc,
      );
      return { ok: false };
    }
    if (bad || deadband === undefined || heartbeatMs === undefined) return { ok: false };
    return { ok: true, report: { deadband, heartbeatMs } };
  }
  if (misplaced(heartbeatNode, 'heartbeat', "telemetry (a property is written at most every 'every')"))
    return { ok: false };
  let everyMs: number | undefined = DERIVED_LIMITS.defaultPropertyEveryMs;
  if (everyNode) {
    everyMs = r.duration(everyNode, `${what} 'every'`, DERIVED_LIMITS.maxPropertyEveryMs);
    if (everyMs !== undefined && everyMs < DERIVED_LIMITS.minPropertyEveryMs) {
      r.problem(
        'sim.behaviour.invalidValue',
        `${what} 'every' must be at least ${DERIVED_LIMITS.minPropertyEveryMs / 1000} s (each write is a twin update).`,
        everyNode.loc,
      );
      everyMs = undefined;
    }
  }
  const deadband = deadbandNode ? r.num(deadbandNode, `${what} 'deadband'`, { min: 0 }) : 0;
  if (everyMs === undefined || deadband === undefined) return { ok: false };
  return { ok: true, property: { everyMs, deadband } };
}

function readValue(r: DerivedReader, e: LEntry): DerivedValueSpec | undefined {
  const what = `Derived value '${e.key}'`;
  const nameOk = isValueName(e.key, saysProperty(e.value));
  if (!nameOk)
    r.problem(
      'sim.behaviour.invalidName',
      `${what}: a name is letters, digits and _ (starting with a letter, at most 64; 'component.name' for a property of a component) and not one of the expression language's own.`,
      e.keyLoc,
    );
  const m = r.map(e.value, VALUE_KEYS, what);
  if (!m) return undefined;
  const kinds = KINDS.filter((k) => m.has(k));
  if (kinds.length !== 1) {
    r.problem(
      kinds.length === 0 ? 'sim.behaviour.missing' : 'sim.behaviour.unknownField',
      `${what} needs exactly one of: ${KINDS.join(', ')}${kinds.length ? ` (has ${kinds.join(', ')})` : ''}.`,
      e.keyLoc,
    );
    return undefined;
  }
  const kind = kinds[0] as (typeof KINDS)[number];
  const ke = m.get(kind) as LEntry;
  const c = readComputation(r, kind, ke, what);
  const unit = r.str(m.get('unit')?.value, `${what} 'unit'`);
  const description = r.str(m.get('description')?.value, `${what} 'description'`);
  const target = readTarget(r, m, what);
  if (!c || !nameOk || !target.ok) return undefined;
  const v = ke.value;
  return {
    name: e.key,
    ...(target.property ? { property: target.property } : {}),
    ...(target.report ? { report: target.report } : {}),
    ...(unit === undefined ? {} : { unit }),
    ...(description === undefined ? {} : { description }),
    computation: c.computation,
    ...(c.ast ? { ast: c.ast } : {}),
    loc: e.keyLoc,
    ...(v.kind === 'scalar' ? { exprLoc: { ...v.loc, style: v.style } } : {}),
    ...(v.kind === 'map' ? ofLocOf(v) : {}),
  };
}

/** Where the `of` of a windowed value's mapping sits, when it has one. */
function ofLocOf(node: Extract<LNode, { kind: 'map' }>): { ofLoc?: Loc } {
  const e = node.entries.find((x) => x.key === 'of');
  return e ? { ofLoc: e.value.loc } : {};
}

const derivedCodes = (problems: Problem[]): Problem[] =>
  problems.map((p) => ({ ...p, code: p.code.replace(/^sim\.(behaviour|expr)\./, 'analytics.derived.') }));

/**
 * Reads one definition file. `spec` is undefined when the file is unusable; any problem of
 * severity 'error' means it must not be used (`spec` is then given only to be checked further).
 * @example readDerived('model: dtmi:x:Pump;1\nvalues:\n  p: { expr: flow * head }', 'pump.yaml')
 */
export function readDerived(text: string, source?: string): { spec?: DerivedFileSpec; problems: Problem[] } {
  const top: Loc = { line: 1, column: 1, pointer: '' };
  if (text.length > DERIVED_LIMITS.maxFileChars) {
    const p: Problem = {
      code: 'analytics.derived.tooLarge',
      message: `The file is longer than ${DERIVED_LIMITS.maxFileChars} characters.`,
      ...top,
      severity: 'error',
      ...(source === undefined ? {} : { source }),
    };
    return { problems: [p] };
  }
  let doc: ReturnType<typeof readLocatedDocument>;
  try {
    doc = readLocatedDocument(text, source);
  } catch (e) {
    // A pathologically nested text can exhaust the YAML parser's stack: a problem, not a crash.
    if (!(e instanceof RangeError)) throw e;
    return {
      problems: [
        {
          code: 'analytics.derived.syntax',
          message: 'The file is nested too deeply.',
          ...top,
          severity: 'error',
          ...(source === undefined ? {} : { source }),
        },
      ],
    };
  }
  const r = new DerivedReader(doc.lines, source);
  r.problems.push(...doc.problems);
  const root = doc.root;
  if (root === undefined || (root.kind === 'scalar' && root.value === null)) {
    if (r.problems.length === 0) r.problem('sim.behaviour.missing', 'The document is empty.', top);
    return { problems: derivedCodes(r.problems) };
  }
  const m = r.map(root, ROOT_KEYS, 'A derived-values file');
  if (!m) return { problems: derivedCodes(r.problems) };
  const model = m.get('model');
  const twin = m.get('twin');
  if ((model === undefined) === (twin === undefined))
    r.problem(
      'sim.behaviour.missing',
      "Give either 'model' (a DTMI) or 'twin' (a twin id), not both.",
      root.loc,
    );
  const targetEntry = model ?? twin;
  const targetName = r.str(targetEntry?.value, model ? "'model'" : "'twin'");
  const description = r.str(m.get('description')?.value, "'description'");
  const valuesNode = r.required(m, 'values', root.loc, 'A derived-values file');
  const values: DerivedValueSpec[] = [];
  const broken: string[] = [];
  if (valuesNode) {
    const vm = r.map(valuesNode, undefined, "'values'");
    if (vm && vm.size > DERIVED_LIMITS.maxValuesPerFile)
      r.problem(
        'sim.behaviour.invalidValue',
        `'values' may hold at most ${DERIVED_LIMITS.maxValuesPerFile} values (has ${vm.size}).`,
        valuesNode.loc,
      );
    else if (vm) {
      if (vm.size === 0) r.problem('sim.behaviour.missing', "'values' is empty.", valuesNode.loc);
      for (const e of vm.values()) {
        const v = readValue(r, e);
        if (v) values.push(v);
        else broken.push(e.key);
      }
    }
  }
  const problems = derivedCodes(r.problems);
  // A file with problems in some values is still given (its other values can be checked too, so
  // every problem shows at once), but must not be used: the caller refuses it on any error.
  if (targetName === undefined || targetEntry === undefined || (valuesNode && valuesNode.kind !== 'map'))
    return { problems };
  return {
    spec: {
      ...(source === undefined ? {} : { source }),
      target: model ? { model: targetName } : { twin: targetName },
      targetLoc: targetEntry.value.loc,
      ...(description === undefined ? {} : { description }),
      values,
      broken,
      lines: doc.lines,
    },
    problems,
  };
}
