/**
 * Compiles a behaviour model (YAML/JSON text) against its DTDL interface into a CompiledBehaviour:
 * a slot layout over one Float64Array frame (t, parameters, inputs, states, outputs), compiled
 * expressions, and pure functions shaped for ODE solvers — `derivatives(t, y, dydt, rt)` and
 * `rhs(rt)` — plus outputs, measurements with noise, commands and faults.
 *
 * Per-twin mutable state lives in a BehaviourRuntime (parameter values, raw inputs, fault switches);
 * the compiled model itself is immutable and shared by every twin using it.
 */
import { errors, TwinloopError } from '../../core/errors/errors.js';
import type { Problem } from '../../core/errors/errors.js';
import type { InterfaceInfo, ModelLookup } from '../../core/models/model-types.js';
import { compileChecked } from '../expr/compile-expr.js';
import type { Evaluator } from '../expr/compile-expr.js';
import type { BehaviourSpec, FaultSpec, InputSpec, MappingSpec } from './behaviour-types.js';
import { checkBehaviour } from './check-behaviour.js';
import type { CheckedLayout } from './check-behaviour.js';
import { aggregate, cycleAt, scheduleAt } from './input-signals.js';
import { readLocatedDocument } from './located-document.js';
import { readBehaviourSpec } from './read-behaviour.js';
import { SpecReader } from './spec-reader.js';
import { gaussian } from './random.js';

export interface BehaviourOptions {
  /** Names the document in problems (a file path...). */
  source?: string;
  /** Resolves relationship targets, to check the properties/telemetry read through them. */
  lookup?: ModelLookup;
}

/** The mutable, per-twin side of a compiled model. Create it with `model.createRuntime()`. */
export interface BehaviourRuntime {
  /** The evaluation frame; parameters stay in it, everything else is rewritten on each evaluation. */
  readonly frame: Float64Array;
  /** Raw input values, by input index (what commands, relationships and the runner set). */
  readonly inputs: Float64Array;
  /** Switch-on time of each fault (NaN = off). */
  readonly faultStart: Float64Array;
  /** Value held by each stuck fault (NaN until captured). */
  readonly faultHold: Float64Array;
}

/** One sample of the interface's telemetry and reported properties. */
export interface Measurement {
  telemetry: Record<string, number | boolean>;
  properties: Record<string, number | boolean>;
  /** Names withheld by an active dropout fault. */
  dropped: string[];
  /** Names whose value was not a finite number (withheld too). */
  invalid: string[];
}

export interface BehaviourLayout {
  /** Every name -> frame slot (t is slot 0). */
  readonly slots: ReadonlyMap<string, number>;
  readonly parameters: readonly string[];
  readonly inputs: readonly string[];
  /** State i is y[i]. */
  readonly states: readonly string[];
  /** Outputs in evaluation order; `outputs()` writes them in this order. */
  readonly outputs: readonly string[];
  readonly faults: readonly string[];
}

export interface CompiledBehaviour {
  readonly spec: BehaviourSpec;
  readonly layout: BehaviourLayout;
  /** Problems of severity 'warning' found while compiling. */
  readonly warnings: readonly Problem[];
  /** Inputs read through relationships, for the runner to wire. */
  readonly relationshipInputs: readonly InputSpec[];
  /** @throws TwinloopError('BadRequest') for an unknown parameter or a non-finite value. */
  createRuntime(parameters?: Readonly<Record<string, number>>): BehaviourRuntime;
  /** y(0) from the states' `initial` expressions (over the runtime's parameters). */
  initialState(rt: BehaviourRuntime): Float64Array;
  /** @throws TwinloopError('BadRequest') for an unknown input. */
  setInput(rt: BehaviourRuntime, name: string, value: number): void;
  /** Sets a relationship input from the related twins' values (empty -> its default). */
  setRelationshipInput(rt: BehaviourRuntime, name: string, values: readonly number[]): void;
  /** Applies a command: sets inputs bound to it, switches on faults bound to it. Returns how many. */
  applyCommand(rt: BehaviourRuntime, t: number, command: string, payload?: unknown): number;
  activateFault(rt: BehaviourRuntime, name: string, t: number): void;
  deactivateFault(rt: BehaviourRuntime, name: string): void;
  /** dy/dt at (t, y): fills `dydt` (length = number of states). Allocation-free. */
  derivatives(t: number, y: Float64Array, dydt: Float64Array, rt: BehaviourRuntime): void;
  /** An `f(t, y, dydt)` for ODE solvers, bound to one runtime. */
  rhs(rt: BehaviourRuntime): (t: number, y: Float64Array, dydt: Float64Array) => void;
  /** Algebraic outputs at (t, y) into `out` (layout.outputs order). */
  outputs(t: number, y: Float64Array, rt: BehaviourRuntime, out: Float64Array): void;
  /** Telemetry and properties at (t, y) with noise (from `random`, uniform in [0, 1)) and faults. */
  measure(t: number, y: Float64Array, rt: BehaviourRuntime, random: () => number): Measurement;
}

/** Reads and checks a behaviour model; never throws on bad input. */
export function validateBehaviour(
  text: string,
  iface: InterfaceInfo,
  options: BehaviourOptions = {},
): { spec?: BehaviourSpec; problems: Problem[] } {
  const { spec, problems } = analyse(text, iface, options);
  return spec === undefined ? { problems } : { spec, problems };
}

function analyse(
  text: string,
  iface: InterfaceInfo,
  options: BehaviourOptions,
): { spec?: BehaviourSpec; layout?: CheckedLayout; problems: Problem[] } {
  const doc = readLocatedDocument(text, options.source);
  const r = new SpecReader(doc.lines, options.source);
  r.problems.push(...doc.problems);
  if (doc.root === undefined) {
    if (doc.problems.length === 0) {
      r.problem('sim.behaviour.missing', 'The document is empty.', { line: 1, column: 1, pointer: '' });
    }
    return { problems: r.problems };
  }
  const spec = readBehaviourSpec(r, doc.root);
  if (spec === undefined) return { problems: r.problems };
  const layout = checkBehaviour(r, spec, iface, options.lookup);
  const problems = r.problems.sort(
    (a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0),
  );
  return { spec, layout, problems };
}

/**
 * Validates and compiles a behaviour model.
 * @throws TwinloopError('ValidationFailed') listing every error (line, column, pointer).
 * @example
 *   const model = compileBehaviour(yamlText, lookup.getInterface('dtmi:twinloop:pumpline:Pump;1')!);
 *   const rt = model.createRuntime();
 *   const y = model.initialState(rt);
 *   model.derivatives(0, y, new Float64Array(y.length), rt);
 */
export function compileBehaviour(
  text: string,
  iface: InterfaceInfo,
  options: BehaviourOptions = {},
): CompiledBehaviour {
  const { spec, layout, problems } = analyse(text, iface, options);
  const errs = problems.filter((p) => p.severity !== 'warning');
  if (spec === undefined || layout === undefined || errs.length > 0) {
    throw errors.validation(
      'ValidationFailed',
      `Behaviour model${options.source ? ` ${options.source}` : ''} is invalid.`,
      errs,
    );
  }
  const warnings = problems.filter((p) => p.severity === 'warning');
  return buildModel(
    spec,
    layout.slots,
    layout.outputOrder.map((o) => o.name),
    warnings,
  );
}

const bad = (message: string): TwinloopError => new TwinloopError('BadRequest', message);

interface FaultPlan {
  spec: FaultSpec;
  index: number;
}

function buildModel(
  spec: BehaviourSpec,
  slots: ReadonlyMap<string, number>,
  outputNames: readonly string[],
  warnings: Problem[],
): CompiledBehaviour {
  const slot = (name: string): number => slots.get(name) as number;
  const frameSize = slots.size;
  const nStates = spec.states.length;
  const faultIndex = new Map(spec.faults.map((f, i) => [f.name, i]));
  const faultsOn = (target: string, kinds: readonly FaultSpec['kind'][]): FaultPlan[] =>
    spec.faults.flatMap((f, index) =>
      f.target === target && kinds.includes(f.kind) ? [{ spec: f, index }] : [],
    );
  const VALUE_FAULTS = ['bias', 'drift', 'spike', 'stuck'] as const;

  const inputs = spec.inputs.map((i, k) => ({
    spec: i,
    k,
    slot: slot(i.name),
    timed:
      i.source.kind === 'schedule'
        ? (
            (s) => (t: number) =>
              scheduleAt(s, t)
          )(i.source)
        : i.source.kind === 'cycle'
          ? (
              (c) => (t: number) =>
                cycleAt(c, t)
            )(i.source)
          : undefined,
    faults: faultsOn(i.name, VALUE_FAULTS),
  }));
  const states = spec.states.map((s) => ({
    slot: slot(s.name),
    initial: compileChecked(s.initial.ast, slots),
    derivative: compileChecked(s.derivative.ast, slots),
    faults: faultsOn(s.name, VALUE_FAULTS),
    degradation: faultsOn(s.name, ['degradation']),
  }));
  const outputSpecs = new Map(spec.outputs.map((o) => [o.name, o]));
  const outputs = outputNames.map((name) => ({
    slot: slot(name),
    ev: compileChecked((outputSpecs.get(name) as (typeof spec.outputs)[number]).expr.ast, slots),
    faults: faultsOn(name, VALUE_FAULTS),
  }));
  const mappings = [...spec.telemetry, ...spec.properties].map((m: MappingSpec) => ({
    spec: m,
    ev: compileChecked(m.from.ast, slots),
    dropout: faultsOn(sensorName(m), ['dropout']),
    faults: faultsOn(sensorName(m), VALUE_FAULTS),
  }));

  const isOn = (rt: BehaviourRuntime, f: FaultSpec, index: number, t: number): boolean => {
    const start = rt.faultStart[index] as number;
    return t >= start && t < start + f.duration; // false while start is NaN
  };
  /** Applies the active value faults of one signal to its value. */
  const applyFaults = (plans: readonly FaultPlan[], v: number, t: number, rt: BehaviourRuntime): number => {
    for (const { spec: f, index } of plans) {
      if (!isOn(rt, f, index, t)) continue;
      switch (f.kind) {
        case 'bias':
        case 'spike':
          v += f.magnitude;
          break;
        case 'drift':
          v += f.rate * (t - (rt.faultStart[index] as number));
          break;
        case 'stuck':
          // Captured the first time the fault is seen on: "the value it had when it stuck".
          if (Number.isNaN(rt.faultHold[index])) rt.faultHold[index] = v;
          v = rt.faultHold[index] as number;
          break;
        default:
          break;
      }
    }
    return v;
  };

  /** Fills the frame at (t, y): inputs, states as seen, outputs in dependency order. */
  const evaluate = (t: number, y: Float64Array, rt: BehaviourRuntime): void => {
    const f = rt.frame;
    f[0] = t;
    for (const i of inputs) {
      const raw = i.timed ? i.timed(t) : (rt.inputs[i.k] as number);
      f[i.slot] = i.faults.length ? applyFaults(i.faults, raw, t, rt) : raw;
    }
    for (let s = 0; s < nStates; s++) {
      const st = states[s] as (typeof states)[number];
      const v = y[s] as number;
      f[st.slot] = st.faults.length ? applyFaults(st.faults, v, t, rt) : v;
    }
    for (const o of outputs) {
      const v = o.ev(f);
      f[o.slot] = o.faults.length ? applyFaults(o.faults, v, t, rt) : v;
    }
  };

  const derivatives = (t: number, y: Float64Array, dydt: Float64Array, rt: BehaviourRuntime): void => {
    evaluate(t, y, rt);
    const f = rt.frame;
    for (let s = 0; s < nStates; s++) {
      const st = states[s] as (typeof states)[number];
      let d = (st.derivative as Evaluator)(f);
      for (const { spec: fs, index } of st.degradation) if (isOn(rt, fs, index, t)) d += fs.rate;
      dydt[s] = d;
    }
  };

  const inputIndex = new Map(spec.inputs.map((i, k) => [i.name, k]));
  const faultOf = (name: string): number => {
    const k = faultIndex.get(name);
    if (k === undefined) throw bad(`Behaviour '${spec.behaviour}' has no fault '${name}'.`);
    return k;
  };
  const commandValue = (payload: unknown, field: string | undefined, command: string): number => {
    let v = payload;
    if (field !== undefined)
      v =
        typeof payload === 'object' && payload !== null
          ? (payload as Record<string, unknown>)[field]
          : undefined;
    if (v === undefined || v === null) return 1; // a command without a value is a trigger
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    throw bad(
      `Command '${command}' needs a number or boolean${field ? ` in '${field}'` : ''}, got ${JSON.stringify(v)}.`,
    );
  };

  return {
    spec,
    layout: {
      slots,
      parameters: spec.parameters.map((p) => p.name),
      inputs: spec.inputs.map((i) => i.name),
      states: spec.states.map((s) => s.name),
      outputs: outputNames,
      faults: spec.faults.map((f) => f.name),
    },
    warnings,
    relationshipInputs: spec.inputs.filter((i) => i.source.kind === 'relationship'),
    createRuntime(parameters = {}) {
      const frame = new Float64Array(frameSize);
      for (const p of spec.parameters) frame[slot(p.name)] = p.value;
      for (const [name, value] of Object.entries(parameters)) {
        const p = spec.parameters.find((x) => x.name === name);
        if (p === undefined) throw bad(`Behaviour '${spec.behaviour}' has no parameter '${name}'.`);
        if (!Number.isFinite(value)) throw bad(`Parameter '${name}' must be a finite number.`);
        frame[slot(name)] = value;
      }
      return {
        frame,
        inputs: Float64Array.from(spec.inputs, (i) => i.default),
        faultStart: Float64Array.from(spec.faults, (f) => f.at ?? NaN),
        faultHold: Float64Array.from(spec.faults, (f) => f.value),
      };
    },
    initialState(rt) {
      return Float64Array.from(states, (s) => s.initial(rt.frame));
    },
    setInput(rt, name, value) {
      const k = inputIndex.get(name);
      if (k === undefined) throw bad(`Behaviour '${spec.behaviour}' has no input '${name}'.`);
      rt.inputs[k] = value;
    },
    setRelationshipInput(rt, name, values) {
      const k = inputIndex.get(name);
      const i = k === undefined ? undefined : spec.inputs[k];
      if (k === undefined || i?.source.kind !== 'relationship')
        throw bad(`'${name}' is not a relationship input.`);
      rt.inputs[k] = aggregate(i.source.aggregate, values) ?? i.default;
    },
    applyCommand(rt, t, command, payload) {
      let n = 0;
      spec.inputs.forEach((i, k) => {
        if (i.source.kind === 'command' && i.source.command === command) {
          rt.inputs[k] = commandValue(payload, i.source.field, command);
          n++;
        }
      });
      for (const f of spec.faults) {
        if (f.command === command) {
          this.activateFault(rt, f.name, t);
          n++;
        }
      }
      return n;
    },
    activateFault(rt, name, t) {
      const k = faultOf(name);
      rt.faultStart[k] = t;
      rt.faultHold[k] = (spec.faults[k] as FaultSpec).value;
    },
    deactivateFault(rt, name) {
      rt.faultStart[faultOf(name)] = NaN;
    },
    derivatives,
    rhs(rt) {
      return (t, y, dydt) => derivatives(t, y, dydt, rt);
    },
    outputs(t, y, rt, out) {
      evaluate(t, y, rt);
      for (let i = 0; i < outputs.length; i++)
        out[i] = rt.frame[(outputs[i] as (typeof outputs)[number]).slot] as number;
    },
    measure(t, y, rt, random) {
      evaluate(t, y, rt);
      const m: Measurement = { telemetry: {}, properties: {}, dropped: [], invalid: [] };
      for (const map of mappings) {
        const name = map.spec.name;
        if (map.dropout.some(({ spec: f, index }) => isOn(rt, f, index, t))) {
          m.dropped.push(name);
          continue;
        }
        let v = map.ev(rt.frame);
        if (map.faults.length) v = applyFaults(map.faults, v, t, rt);
        const noise = map.spec.noise;
        if (noise && noise.std > 0) v += noise.std * gaussian(random);
        if (noise && noise.resolution > 0) v = quantise(v, noise.resolution);
        if (!Number.isFinite(v)) {
          m.invalid.push(name);
          continue;
        }
        const value =
          map.spec.encoding === 'boolean' ? v >= 0.5 : map.spec.encoding === 'integer' ? Math.round(v) : v;
        (map.spec.contentKind === 'Telemetry' ? m.telemetry : m.properties)[name] = value;
      }
      return m;
    },
  };
}

/** How sensor faults name a mapping: telemetry.NAME or properties.NAME. */
function sensorName(m: MappingSpec): string {
  return `${m.contentKind === 'Telemetry' ? 'telemetry' : 'properties'}.${m.name}`;
}

/** Decimal places of a resolution as written (0.25 → 2, 1e-3 → 3, 5 → 0). */
function decimalsOf(step: number): number {
  const [mantissa = '', exponent] = String(step).split('e');
  const fraction = mantissa.split('.')[1]?.length ?? 0;
  return Math.max(0, fraction - Number(exponent ?? 0));
}

/**
 * `v` on the sensor's grid of `step`, printed as the sensor would: 1.511 rather than
 * 1.5110000000000001 (the rounding error of the multiplication is rounded away).
 */
function quantise(v: number, step: number): number {
  const q = Math.round(v / step) * step;
  const d = decimalsOf(step);
  return d <= 15 ? Number(q.toFixed(d)) : q;
}
