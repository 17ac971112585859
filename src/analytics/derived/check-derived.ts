/**
 * Checks read definition files against the models and twins they name: every problem at once, each
 * at its file, line, column and pointer (unknown model or twin, names that clash with the model's
 * contents or with another file, inputs that are not numeric telemetry or properties, unknown
 * relationships, expression problems, dependency cycles named in full). Gives the checked sets,
 * values in dependency order, that the DerivedEngine runs.
 */
import type { Problem } from '../../core/errors/errors.js';
import type { InterfaceInfo, ModelLookup, Schema } from '../../core/models/model-types.js';
import { positionInScalar } from '../../sim/behaviour/located-document.js';
import { namesIn } from '../../sim/expr/ast.js';
import { checkExpr } from '../../sim/expr/compile-expr.js';
import type { PropertyWritePolicy } from '../analytics-types.js';
import { DERIVED_PROPERTY_SCHEMAS } from './derived-types.js';
import type {
  DerivedFileSpec,
  DerivedLoc,
  DerivedSet,
  DerivedValue,
  DerivedValueSpec,
  ExprInput,
} from './derived-types.js';
import { rewriteAggregates } from './neighbour-aggregates.js';

/** What the checker consults: the models, and the twins' models (for per-twin files). */
export interface DerivedCheckWorld {
  models: ModelLookup;
  /** A twin's model id; undefined when there is no such twin. */
  twinModel(twinId: string): string | undefined;
  /**
   * Every model id known (to find the extensions of a relationship's target, whose twins may have
   * values the target lacks). Without it, a neighbour value the target lacks is only a warning.
   */
  modelIds?(): Iterable<string>;
}

const NUMERIC = new Set([
  'double', 'float', 'decimal', 'integer', 'long', 'short', 'byte',
  'unsignedByte', 'unsignedShort', 'unsignedInteger', 'unsignedLong', 'boolean',
]); // prettier-ignore

const isNumeric = (s: Schema): boolean =>
  (s.kind === 'primitive' && NUMERIC.has(s.name)) || (s.kind === 'enum' && s.valueSchema === 'integer');

/** Readable names of an interface: `name` and `component.name`, numeric or not. */
function readableNames(
  models: ModelLookup,
  iface: InterfaceInfo,
): Map<string, { from: 'telemetry' | 'property'; numeric: boolean }> {
  const out = new Map<string, { from: 'telemetry' | 'property'; numeric: boolean }>();
  const add = (i: InterfaceInfo, prefix: string, depth: number): void => {
    for (const c of i.contents.values()) {
      if (c.kind === 'Telemetry' || c.kind === 'Property')
        out.set(prefix + c.name, {
          from: c.kind === 'Telemetry' ? 'telemetry' : 'property',
          numeric: isNumeric(c.schema),
        });
      else if (c.kind === 'Component' && depth === 0) {
        const ci = models.getInterface(c.schema);
        if (ci) add(ci, `${c.name}.`, 1);
      }
    }
  };
  add(iface, '', 0);
  return out;
}

/**
 * Where a derived property is written: the Property `name` (own or inherited) or `component.name`
 * that the model declares, writable, with a numeric schema. Gives the write policy, or the problem.
 */
function propertyTarget(
  models: ModelLookup,
  iface: InterfaceInfo,
  name: string,
  policy: { everyMs: number; deadband: number },
): PropertyWritePolicy | { code: string; message: string } {
  const dot = name.indexOf('.');
  let holder = iface;
  let prop = name;
  if (dot >= 0) {
    const comp = iface.contents.get(name.slice(0, dot));
    const ci = comp?.kind === 'Component' ? models.getInterface(comp.schema) : undefined;
    if (!ci)
      return {
        code: 'propertyNotDeclared',
        message: `'${name.slice(0, dot)}' is not a component of ${iface.id}, so '${name}' cannot be written.`,
      };
    holder = ci;
    prop = name.slice(dot + 1);
  }
  const c = holder.contents.get(prop);
  const what = dot >= 0 ? `component '${name.slice(0, dot)}' (${holder.id})` : iface.id;
  if (c?.kind !== 'Property')
    return {
      code: 'propertyNotDeclared',
      message: `'${name}' is ${c ? `a ${c.kind}` : 'not a content'} of ${what}: a derived value with 'target: property' is written to a Property the model declares (writable, with schema ${DERIVED_PROPERTY_SCHEMAS.join(', ')}).`,
    };
  if (!c.writable)
    return {
      code: 'propertyNotWritable',
      message: `Property '${name}' of ${what} is not writable ("writable": true in the model): the platform may not write it.`,
    };
  const schema = c.schema.kind === 'primitive' ? c.schema.name : undefined;
  if (schema === undefined || !(DERIVED_PROPERTY_SCHEMAS as readonly string[]).includes(schema))
    return {
      code: 'propertyNotNumeric',
      message: `Property '${name}' of ${what} has schema ${schema ?? c.schema.kind}; a derived property needs one of ${DERIVED_PROPERTY_SCHEMAS.join(', ')}.`,
    };
  return { ...policy, integer: schema === 'integer' || schema === 'long' };
}

interface Resolved {
  spec: DerivedFileSpec;
  model: string;
  iface: InterfaceInfo;
}

/**
 * Checks every file together (names must be unique per model and per twin across files).
 * @example const { sets, problems } = checkDerived([readDerived(text, file).spec!], world);
 */
export function checkDerived(
  specs: readonly DerivedFileSpec[],
  world: DerivedCheckWorld,
): { sets: DerivedSet[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const at = (
    spec: DerivedFileSpec,
    loc: DerivedLoc,
    code: string,
    message: string,
    severity: Problem['severity'] = 'error',
  ): void => {
    problems.push({
      code: `analytics.derived.${code}`,
      message,
      pointer: loc.pointer,
      line: loc.line,
      column: loc.column,
      severity: severity ?? 'error',
      ...(spec.source === undefined ? {} : { source: spec.source }),
    });
  };
  const resolved: Resolved[] = [];
  const seen = new Map<string, DerivedFileSpec>();
  for (const spec of specs) {
    const t = spec.target;
    const model = 'model' in t ? t.model : world.twinModel(t.twin);
    const iface = model === undefined ? undefined : world.models.getInterface(model);
    if ('twin' in t && model === undefined)
      at(spec, spec.targetLoc, 'unknownTwin', `There is no twin '${t.twin}'.`);
    else if (!iface) at(spec, spec.targetLoc, 'unknownModel', `There is no model '${model ?? ''}'.`);
    const key = 'model' in t ? `m:${t.model}` : `t:${t.twin}`;
    for (const v of spec.values) {
      const other = seen.get(`${key}\u0000${v.name}`);
      if (other)
        at(
          spec,
          v.loc,
          'duplicate',
          `'${v.name}' is also defined for this target in ${other.source ?? 'another file'}.`,
        );
      else seen.set(`${key}\u0000${v.name}`, spec);
    }
    if (model !== undefined && iface) resolved.push({ spec, model, iface });
  }
  const modelSets = resolved.filter((r) => 'model' in r.spec.target);
  /** Model sets that apply to twins of `model`, most general first. */
  const applicable = (model: string): Resolved[] =>
    modelSets
      .filter((r) => world.models.isOfModel(model, r.model))
      .sort((a, b) =>
        world.models.isOfModel(a.model, b.model) ? 1 : world.models.isOfModel(b.model, a.model) ? -1 : 0,
      );
  /** Derived names defined for twins of a model or any of its bases or extensions (neighbours). */
  const derivedNamesNear = (model: string): Set<string> =>
    new Set(
      modelSets
        .filter((r) => world.models.isOfModel(model, r.model) || world.models.isOfModel(r.model, model))
        .flatMap((r) => r.spec.values.map((v) => v.name)),
    );

  const sets: DerivedSet[] = [];
  for (const r of resolved) {
    const { spec, iface } = r;
    const readable = readableNames(world.models, iface);
    // What this set sees: the applicable model sets (general to specific), then its own values.
    const others = applicable(r.model).filter(
      (o) => o !== r && ('twin' in spec.target || o.model !== r.model),
    );
    const scopeValues = new Map<string, DerivedValueSpec>();
    for (const o of others) for (const v of o.spec.values) scopeValues.set(v.name, v);
    for (const v of spec.values) scopeValues.set(v.name, v);
    const broken = new Set(spec.broken);
    const deps = new Map<string, string[]>();
    for (const o of others) for (const v of o.spec.values) deps.set(v.name, dependsOn(v, scopeValues));

    const values: DerivedValue[] = [];
    for (const v of spec.values) {
      let property: PropertyWritePolicy | undefined;
      if (v.property) {
        const t = propertyTarget(world.models, iface, v.name, v.property);
        if ('code' in t) {
          at(spec, v.loc, t.code, t.message);
          continue;
        }
        property = t;
      } else if (iface.contents.has(v.name)) {
        at(
          spec,
          v.loc,
          'nameClash',
          `'${v.name}' is already a ${iface.contents.get(v.name)?.kind ?? 'content'} of ${r.model}${iface.contents.get(v.name)?.kind === 'Property' ? " (to write it, say 'target: property')" : ''}.`,
        );
        continue;
      }
      const base = {
        name: v.name,
        ...(v.unit === undefined ? {} : { unit: v.unit }),
        ...(v.description === undefined ? {} : { description: v.description }),
        dependsOn: dependsOn(v, scopeValues),
        ...(property ? { property } : {}),
        ...(v.report ? { report: { ...v.report } } : {}),
      };
      deps.set(v.name, base.dependsOn);
      const c = v.computation;
      if (c.kind !== 'expr') {
        const of = c.of;
        if (of !== undefined && !scopeValues.has(of) && !broken.has(of)) {
          const info = readable.get(of);
          const where = v.ofLoc ?? v.loc;
          if (!info || info.from !== 'telemetry')
            at(
              spec,
              where,
              'unknownInput',
              `'${of}' is neither a telemetry of ${r.model} nor a derived value.`,
            );
          else if (!info.numeric) at(spec, where, 'notNumeric', `Telemetry '${of}' is not numeric.`);
        }
        values.push({ ...base, ...c });
        continue;
      }
      const ast = v.ast;
      if (!ast) continue;
      const errorCount = (): number => problems.filter((p) => p.severity !== 'warning').length;
      const before = errorCount();
      const exprAt = (p: Problem): void => {
        const loc = v.exprLoc ?? { ...v.loc, style: 'plain' as const };
        const pos = positionInScalar(loc, loc.style, spec.lines, p.line ?? 1, p.column ?? 1);
        at(
          spec,
          { ...pos, pointer: loc.pointer },
          p.code.replace(/^(sim\.expr|analytics\.derived)\./, ''),
          `${p.message} (in "${c.expr}")`,
          p.severity,
        );
      };
      const rw = rewriteAggregates(ast, (n) => iface.contents.get(n)?.kind === 'Relationship');
      rw.problems.forEach(exprAt);
      const inputs: ExprInput[] = [];
      const scope = new Map<string, number>();
      for (const a of rw.aggregates) {
        const rel = iface.contents.get(a.relationship);
        const target =
          rel?.kind === 'Relationship' && rel.target ? world.models.getInterface(rel.target) : undefined;
        if (a.name !== undefined && target) {
          const name = a.name;
          const has = (i: InterfaceInfo | undefined): boolean =>
            i !== undefined &&
            (derivedNamesNear(i.id).has(name) || readableNames(world.models, i).get(name)?.numeric === true);
          const all = world.modelIds ? [...world.modelIds()] : undefined;
          const found =
            has(target) ||
            (all ?? []).some(
              (m) => world.models.isOfModel(m, target.id) && has(world.models.getInterface(m)),
            );
          if (!found)
            exprAt({
              code: 'analytics.derived.unknownNeighbourValue',
              message: `Targets of '${a.relationship}' (${target.id}${all ? ' and the models extending it' : ''}) have no numeric value '${name}'.`,
              line: a.pos.line,
              column: a.pos.column,
              severity: all ? 'error' : 'warning',
            });
        }
        scope.set(a.slot, scope.size);
        inputs.push({
          slot: a.slot,
          from: 'neighbours',
          aggregate: a.aggregate,
          relationship: a.relationship,
          ...(a.name === undefined ? {} : { name: a.name }),
        });
      }
      for (const n of namesIn(rw.node)) {
        if (scope.has(n)) continue;
        const info = readable.get(n);
        if (broken.has(n)) scope.set(n, scope.size);
        else if (scopeValues.has(n)) {
          scope.set(n, scope.size);
          inputs.push({ slot: n, from: 'derived', name: n });
        } else if (info?.numeric) {
          scope.set(n, scope.size);
          inputs.push({ slot: n, from: info.from, name: n });
        } else if (info) {
          at(
            spec,
            v.exprLoc ?? v.loc,
            'notNumeric',
            `'${n}' is not numeric, so an expression cannot read it (in "${c.expr}").`,
          );
          scope.set(n, scope.size); // reported once, not again as unknown
        }
      }
      // Unknown and forbidden names, functions and arity, all at their columns.
      for (const p of checkExpr(rw.node, scope)) exprAt(p);
      if (errorCount() === before) values.push({ ...base, kind: 'expr', expr: c.expr, ast: rw.node, inputs });
    }
    for (const cycle of findCycles(deps, new Set(spec.values.map((v) => v.name)))) {
      const first = spec.values.find((v) => v.name === cycle[0]);
      if (first)
        at(
          spec,
          first.loc,
          'cycle',
          `Derived values depend on each other in a cycle: ${[...cycle, cycle[0]].join(' → ')}.`,
        );
    }
    const t = spec.target;
    sets.push({
      ...(spec.source === undefined ? {} : { source: spec.source }),
      target: 'model' in t ? { model: t.model } : { twin: t.twin, model: r.model },
      ...(spec.description === undefined ? {} : { description: spec.description }),
      values: dependencyOrder(values),
    });
  }
  return { sets: problems.some((p) => p.severity !== 'warning') ? [] : sets, problems };
}

/** The derived values of the scope a value reads (itself included: that is a cycle). */
function dependsOn(v: DerivedValueSpec, scope: ReadonlyMap<string, DerivedValueSpec>): string[] {
  const c = v.computation;
  if (c.kind !== 'expr') return c.of !== undefined && scope.has(c.of) ? [c.of] : [];
  return v.ast ? [...namesIn(v.ast)].filter((n) => scope.has(n)) : [];
}

/** Each elementary cycle through `own` values once, as the list of names along it. */
export function findCycles(
  deps: ReadonlyMap<string, readonly string[]>,
  own: ReadonlySet<string>,
): string[][] {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (n: string): void => {
    state.set(n, 1);
    stack.push(n);
    for (const d of deps.get(n) ?? []) {
      const s = state.get(d);
      if (s === 1) {
        const cycle = stack.slice(stack.indexOf(d));
        if (cycle.some((x) => own.has(x))) cycles.push(cycle);
      } else if (s === undefined) visit(d);
    }
    stack.pop();
    state.set(n, 2);
  };
  for (const n of deps.keys()) if (!state.has(n)) visit(n);
  return cycles;
}

/** Values sorted so each comes after the values of the same list it depends on (stable). */
export function dependencyOrder<T extends { name: string; dependsOn: readonly string[] }>(
  values: readonly T[],
): T[] {
  const byName = new Map(values.map((v) => [v.name, v]));
  const done = new Set<string>();
  const onPath = new Set<string>();
  const out: T[] = [];
  const visit = (v: T): void => {
    if (done.has(v.name) || onPath.has(v.name)) return;
    onPath.add(v.name);
    for (const d of v.dependsOn) {
      const dv = byName.get(d);
      if (dv) visit(dv);
    }
    onPath.delete(v.name);
    done.add(v.name);
    out.push(v);
  };
  values.forEach(visit);
  return out;
}
