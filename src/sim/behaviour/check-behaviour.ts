/**
 * Checks the meaning of a behaviour model read by read-behaviour.ts: names (unique, not reserved),
 * the slot layout, every expression against what it may read, the order of algebraic outputs (cycles
 * reported), fault targets, and the attachment to the DTDL interface (mapped contents exist and are
 * numeric/boolean, commands/properties/relationships used as inputs exist). Problems are collected.
 */
import type { InterfaceInfo, ModelLookup, Schema } from '../../core/models/model-types.js';
import { UNIT_TYPES } from '../../core/models/dtdl/quantitative-types.js';
import { namesIn } from '../expr/ast.js';
import { checkExpr } from '../expr/compile-expr.js';
import { isReservedName } from '../expr/functions.js';
import type { BehaviourSpec, ExprSource, MappingSpec, OutputSpec } from './behaviour-types.js';
import type { Loc } from './located-document.js';
import type { SpecReader } from './spec-reader.js';

/** The name of simulation time (seconds since the simulation started) in every expression. */
export const TIME_NAME = 't';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const KNOWN_UNITS: ReadonlySet<string> = new Set(Object.values(UNIT_TYPES).flat());

export interface CheckedLayout {
  /** name -> frame slot: t, then parameters, inputs, states, outputs. */
  slots: Map<string, number>;
  /** Parameters only (what `initial` expressions may read). */
  parameterSlots: Map<string, number>;
  /** Outputs in evaluation order (each after everything it reads). */
  outputOrder: OutputSpec[];
}

export function checkBehaviour(
  r: SpecReader,
  spec: BehaviourSpec,
  iface: InterfaceInfo,
  lookup?: ModelLookup,
): CheckedLayout {
  const slots = new Map<string, number>([[TIME_NAME, 0]]);
  const define = (name: string, loc: Loc): void => {
    if (!NAME.test(name)) {
      r.problem(
        'sim.behaviour.invalidName',
        `'${name}' is not a valid name (letters, digits, _; not starting with a digit).`,
        loc,
      );
    } else if (name === TIME_NAME || isReservedName(name)) {
      r.problem(
        'sim.behaviour.reservedName',
        `'${name}' is reserved (time, a function, a constant or a forbidden name).`,
        loc,
      );
    } else if (slots.has(name)) {
      r.problem(
        'sim.behaviour.duplicateName',
        `'${name}' is defined more than once (parameters, inputs, states and outputs share one namespace).`,
        loc,
      );
      return;
    }
    if (!slots.has(name)) slots.set(name, slots.size);
  };
  for (const p of spec.parameters) define(p.name, p.loc);
  const parameterSlots = new Map(spec.parameters.map((p) => [p.name, slots.get(p.name) ?? 0]));
  for (const i of spec.inputs) define(i.name, i.loc);
  for (const s of spec.states) define(s.name, s.loc);
  for (const o of spec.outputs) define(o.name, o.loc);

  const check = (src: ExprSource, scope: ReadonlyMap<string, number>, what: string): void => {
    for (const p of checkExpr(src.ast, scope)) {
      const code = p.code === 'sim.expr.unknownVariable' ? 'sim.behaviour.unknownVariable' : p.code;
      r.exprProblem({ ...p, message: `${what}: ${p.message}` }, src, code);
    }
  };
  for (const s of spec.states) {
    check(s.initial, parameterSlots, `initial value of '${s.name}' (may read parameters only)`);
    check(s.derivative, slots, `derivative of '${s.name}'`);
  }
  for (const o of spec.outputs) check(o.expr, slots, `output '${o.name}'`);
  for (const m of [...spec.telemetry, ...spec.properties]) check(m.from, slots, `'${m.name}'`);

  for (const x of [...spec.parameters, ...spec.inputs, ...spec.states, ...spec.outputs]) {
    if (x.unit !== undefined && !KNOWN_UNITS.has(x.unit)) {
      r.problem(
        'sim.behaviour.unknownUnit',
        `Unit '${x.unit}' of '${x.name}' is not a DTDL quantitativeTypes unit.`,
        x.loc,
        'warning',
      );
    }
  }

  const outputOrder = orderOutputs(r, spec.outputs);
  checkFaults(r, spec, slots);
  checkInterface(r, spec, iface, lookup);
  return { slots, parameterSlots, outputOrder };
}

/** Orders outputs by dependency (Tarjan's SCCs come out dependencies first); reports every cycle. */
function orderOutputs(r: SpecReader, outputs: readonly OutputSpec[]): OutputSpec[] {
  const byName = new Map(outputs.map((o) => [o.name, o]));
  const deps = new Map(outputs.map((o) => [o.name, [...namesIn(o.expr.ast)].filter((n) => byName.has(n))]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const order: OutputSpec[] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v) as number);
    stack.push(v);
    onStack.add(v);
    for (const w of deps.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    for (;;) {
      const w = stack.pop() as string;
      onStack.delete(w);
      scc.push(w);
      if (w === v) break;
    }
    if (scc.length > 1 || (deps.get(v) ?? []).includes(v)) {
      const members = scc.reverse();
      const first = byName.get(members[0] as string) as OutputSpec;
      r.problem(
        'sim.behaviour.cycle',
        `Outputs depend on each other in a cycle: ${[...members, members[0]].join(' -> ')}.`,
        first.loc,
      );
    } else order.push(byName.get(v) as OutputSpec);
  };
  for (const o of outputs) if (!index.has(o.name)) visit(o.name);
  return order;
}

/**
 * Fault targets: a plain name is a process signal (input, state, output) and the fault changes what
 * the whole model sees; `telemetry.NAME` / `properties.NAME` is a sensor fault that changes only the
 * measurement. A dropout is always a sensor fault (a plain mapped name is accepted and normalised).
 */
function checkFaults(r: SpecReader, spec: BehaviourSpec, slots: ReadonlyMap<string, number>): void {
  const states = new Set(spec.states.map((s) => s.name));
  const sensors = new Set([
    ...spec.telemetry.map((m) => `telemetry.${m.name}`),
    ...spec.properties.map((m) => `properties.${m.name}`),
  ]);
  const signals = new Set([...spec.inputs.map((i) => i.name), ...states, ...spec.outputs.map((o) => o.name)]);
  for (const f of spec.faults) {
    if (f.kind === 'dropout' && !f.target.includes('.')) {
      const both = ['telemetry', 'properties'].map((k) => `${k}.${f.target}`).filter((x) => sensors.has(x));
      if (both.length === 1) f.target = both[0] as string;
    }
    const ok =
      f.kind === 'dropout'
        ? sensors.has(f.target)
        : f.kind === 'degradation'
          ? states.has(f.target)
          : signals.has(f.target) || sensors.has(f.target);
    if (ok) continue;
    const expected =
      f.kind === 'dropout'
        ? 'a telemetry or property mapped by this model (telemetry.NAME or properties.NAME)'
        : f.kind === 'degradation'
          ? 'a state (its derivative grows by the rate)'
          : 'an input, a state, an output, or a mapped telemetry.NAME / properties.NAME';
    const why = slots.has(f.target) ? `'${f.target}' is not ${expected}` : `there is no '${f.target}'`;
    r.problem(
      'sim.behaviour.unknownTarget',
      `Fault '${f.name}' (${f.kind}) must target ${expected}; ${why}.`,
      f.loc,
    );
  }
}

/** How a double is written to a schema, or undefined when the schema is not numeric/boolean. */
export function encodingOf(schema: Schema): MappingSpec['encoding'] | undefined {
  if (schema.kind === 'enum') return schema.valueSchema === 'integer' ? 'integer' : undefined;
  if (schema.kind !== 'primitive') return undefined;
  switch (schema.name) {
    case 'double':
    case 'float':
    case 'decimal':
      return 'double';
    case 'integer':
    case 'long':
    case 'short':
    case 'byte':
    case 'unsignedByte':
    case 'unsignedInteger':
    case 'unsignedLong':
    case 'unsignedShort':
      return 'integer';
    case 'boolean':
      return 'boolean';
    default:
      return undefined;
  }
}

function describeSchema(s: Schema): string {
  return s.kind === 'primitive' ? s.name : s.kind;
}

function checkInterface(
  r: SpecReader,
  spec: BehaviourSpec,
  iface: InterfaceInfo,
  lookup?: ModelLookup,
): void {
  if (spec.interface !== '' && spec.interface !== iface.id) {
    r.problem(
      'sim.behaviour.interfaceMismatch',
      `The model is for '${spec.interface}' but was checked against '${iface.id}'.`,
      spec.interfaceLoc,
    );
  }
  for (const m of [...spec.telemetry, ...spec.properties]) {
    const c = iface.contents.get(m.name);
    if (c === undefined) {
      r.problem(
        'sim.behaviour.unknownContent',
        `Interface '${iface.id}' has no ${m.contentKind === 'Telemetry' ? 'telemetry' : 'property'} '${m.name}'.`,
        m.loc,
      );
      continue;
    }
    if (c.kind !== m.contentKind) {
      r.problem(
        'sim.behaviour.wrongContentKind',
        `'${m.name}' is a ${c.kind} of '${iface.id}', not a ${m.contentKind}.`,
        m.loc,
      );
      continue;
    }
    const enc = encodingOf(c.schema);
    if (enc === undefined) {
      r.problem(
        'sim.behaviour.schemaNotNumeric',
        `'${m.name}' has schema ${describeSchema(c.schema)}; a model can only produce numbers and booleans.`,
        m.loc,
      );
      continue;
    }
    m.encoding = enc;
    // A plain reference to something with a declared unit should agree with the content's unit.
    const ref = m.from.ast.kind === 'name' ? m.from.ast.name : undefined;
    const refUnit = [...spec.parameters, ...spec.inputs, ...spec.states, ...spec.outputs].find(
      (x) => x.name === ref,
    )?.unit;
    if (refUnit !== undefined && c.unit !== undefined && refUnit !== c.unit) {
      r.problem(
        'sim.behaviour.unitMismatch',
        `'${ref}' is in ${refUnit} but '${m.name}' is in ${c.unit}.`,
        m.loc,
        'warning',
      );
    }
  }
  for (const i of spec.inputs) {
    const s = i.source;
    if (s.kind === 'command') {
      const c = iface.contents.get(s.command);
      if (c?.kind !== 'Command') {
        r.problem(
          'sim.behaviour.unknownContent',
          `Interface '${iface.id}' has no command '${s.command}' (input '${i.name}').`,
          i.loc,
        );
        continue;
      }
      let schema = c.request?.schema;
      if (s.field !== undefined) {
        const field = schema?.kind === 'object' ? schema.fields.find((f) => f.name === s.field) : undefined;
        if (field === undefined) {
          r.problem(
            'sim.behaviour.unknownContent',
            `Command '${s.command}' has no request field '${s.field}'.`,
            i.loc,
          );
          continue;
        }
        schema = field.schema;
      }
      if (schema !== undefined && encodingOf(schema) === undefined) {
        r.problem(
          'sim.behaviour.schemaNotNumeric',
          `Command '${s.command}' request has schema ${describeSchema(schema)}; use 'field' or a numeric/boolean request.`,
          i.loc,
        );
      }
    } else if (s.kind === 'property') {
      const c = iface.contents.get(s.property);
      if (c?.kind !== 'Property')
        r.problem(
          'sim.behaviour.unknownContent',
          `Interface '${iface.id}' has no property '${s.property}' (input '${i.name}').`,
          i.loc,
        );
      else if (encodingOf(c.schema) === undefined)
        r.problem(
          'sim.behaviour.schemaNotNumeric',
          `Property '${s.property}' has schema ${describeSchema(c.schema)}.`,
          i.loc,
        );
    } else if (s.kind === 'relationship' && s.direction === 'outgoing') {
      const c = iface.contents.get(s.relationship);
      if (c?.kind !== 'Relationship') {
        r.problem(
          'sim.behaviour.unknownContent',
          `Interface '${iface.id}' has no relationship '${s.relationship}' (input '${i.name}').`,
          i.loc,
        );
        continue;
      }
      const target = c.target === undefined ? undefined : lookup?.getInterface(c.target);
      if (target === undefined) continue; // any twin, or its model is not known here: checked when wired
      const sc = target.contents.get(s.source);
      // A warning only: the twins actually related may be of a model derived from the declared target.
      if (sc === undefined || (sc.kind !== 'Property' && sc.kind !== 'Telemetry')) {
        r.problem(
          'sim.behaviour.unknownContent',
          `'${target.id}' (target of '${s.relationship}') has no property or telemetry '${s.source}'; twins of a derived model must provide it.`,
          i.loc,
          'warning',
        );
      } else if (encodingOf(sc.schema) === undefined) {
        r.problem(
          'sim.behaviour.schemaNotNumeric',
          `'${s.source}' of '${target.id}' has schema ${describeSchema(sc.schema)}.`,
          i.loc,
        );
      }
    }
  }
}
