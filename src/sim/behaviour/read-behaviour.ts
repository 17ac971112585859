/**
 * Reads the structure of a behaviour model from its located tree into a BehaviourSpec: field names,
 * types, required fields, value ranges and expression syntax. Meaning (names, the interface, cycles)
 * is checked afterwards by check-behaviour.ts. Every problem is collected, none thrown.
 */
import type {
  BehaviourSpec,
  FaultKind,
  FaultSpec,
  MappingSpec,
  NoiseSpec,
  OutputSpec,
  ParameterSpec,
  StateSpec,
} from './behaviour-types.js';
import type { LEntry, LNode } from './located-document.js';
import { readInput } from './read-inputs.js';
import type { SpecReader } from './spec-reader.js';

const FAULT_KINDS: readonly FaultKind[] = ['bias', 'drift', 'spike', 'stuck', 'dropout', 'degradation'];

/** Reads a whole document. `root` undefined means the text had syntax errors (already reported). */
export function readBehaviourSpec(r: SpecReader, root: LNode): BehaviourSpec | undefined {
  const top = r.map(
    root,
    [
      'behaviour',
      'interface',
      'description',
      'parameters',
      'inputs',
      'states',
      'outputs',
      'telemetry',
      'properties',
      'faults',
    ],
    'the behaviour model',
  );
  if (top === undefined) return undefined;
  const section = (key: string): readonly LEntry[] => {
    const e = top.get(key);
    if (e === undefined || (e.value.kind === 'scalar' && e.value.value === null)) return [];
    if (e.value.kind !== 'map') {
      r.problem('sim.behaviour.type', `'${key}' must be a mapping of names.`, e.value.loc);
      return [];
    }
    return e.value.entries;
  };
  const behaviour = r.str(r.required(top, 'behaviour', root.loc, 'The behaviour model'), "'behaviour'");
  const ifaceNode = r.required(top, 'interface', root.loc, 'The behaviour model');
  const iface = r.str(ifaceNode, "'interface'");
  const description = r.str(top.get('description')?.value, "'description'");
  const spec: BehaviourSpec = {
    behaviour: behaviour ?? '',
    interface: iface ?? '',
    interfaceLoc: ifaceNode?.loc ?? root.loc,
    ...(description === undefined ? {} : { description }),
    parameters: collect(section('parameters'), (e) => readParameter(r, e)),
    inputs: collect(section('inputs'), (e) => readInput(r, e)),
    states: collect(section('states'), (e) => readState(r, e)),
    outputs: collect(section('outputs'), (e) => readOutput(r, e)),
    telemetry: collect(section('telemetry'), (e) => readMapping(r, e, 'Telemetry')),
    properties: collect(section('properties'), (e) => readMapping(r, e, 'Property')),
    faults: collect(section('faults'), (e) => readFault(r, e)),
  };
  return spec;
}

function collect<T>(entries: readonly LEntry[], read: (e: LEntry) => T | undefined): T[] {
  const out: T[] = [];
  for (const e of entries) {
    const v = read(e);
    if (v !== undefined) out.push(v);
  }
  return out;
}

function readParameter(r: SpecReader, e: LEntry): ParameterSpec | undefined {
  const what = `parameter '${e.key}'`;
  if (e.value.kind === 'scalar') {
    const value = r.num(e.value, what);
    return value === undefined ? undefined : { name: e.key, value, loc: e.keyLoc };
  }
  const m = r.map(e.value, ['value', 'unit', 'min', 'max', 'description'], what);
  if (!m) return undefined;
  const value = r.num(r.required(m, 'value', e.keyLoc, what), `${what} 'value'`);
  const min = r.num(m.get('min')?.value, `${what} 'min'`);
  const max = r.num(m.get('max')?.value, `${what} 'max'`);
  const description = r.str(m.get('description')?.value, `${what} 'description'`);
  if (value === undefined) return undefined;
  if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
    r.problem(
      'sim.behaviour.invalidValue',
      `${what} value ${value} is outside [${min ?? '-inf'}, ${max ?? 'inf'}].`,
      m.get('value')?.value.loc ?? e.keyLoc,
    );
  }
  return {
    name: e.key,
    value,
    ...r.unit(m, what),
    ...(min === undefined ? {} : { min }),
    ...(max === undefined ? {} : { max }),
    ...(description === undefined ? {} : { description }),
    loc: e.keyLoc,
  };
}

function readState(r: SpecReader, e: LEntry): StateSpec | undefined {
  const what = `state '${e.key}'`;
  const m = r.map(e.value, ['initial', 'derivative', 'unit', 'description'], what);
  if (!m) return undefined;
  const initial = r.expr(r.required(m, 'initial', e.keyLoc, what), `${what} 'initial'`);
  const derivative = r.expr(r.required(m, 'derivative', e.keyLoc, what), `${what} 'derivative'`);
  if (!initial || !derivative) return undefined;
  return { name: e.key, initial, derivative, ...r.unit(m, what), loc: e.keyLoc };
}

function readOutput(r: SpecReader, e: LEntry): OutputSpec | undefined {
  const what = `output '${e.key}'`;
  if (e.value.kind === 'scalar') {
    const expr = r.expr(e.value, what);
    return expr && { name: e.key, expr, loc: e.keyLoc };
  }
  const m = r.map(e.value, ['expr', 'unit', 'description'], what);
  if (!m) return undefined;
  const expr = r.expr(r.required(m, 'expr', e.keyLoc, what), `${what} 'expr'`);
  return expr && { name: e.key, expr, ...r.unit(m, what), loc: e.keyLoc };
}

function readMapping(
  r: SpecReader,
  e: LEntry,
  contentKind: 'Telemetry' | 'Property',
): MappingSpec | undefined {
  const what = `${contentKind === 'Telemetry' ? 'telemetry' : 'property'} '${e.key}'`;
  // `name: expression` is short for `name: { from: expression }`.
  if (e.value.kind === 'scalar') {
    const from = r.expr(e.value, what);
    return from && { name: e.key, contentKind, from, encoding: 'double', loc: e.keyLoc };
  }
  const m = r.map(e.value, ['from', 'noise'], what);
  if (!m) return undefined;
  const fromNode = m.get('from')?.value;
  const from = fromNode
    ? r.expr(fromNode, `${what} 'from'`)
    : ({
        text: e.key,
        ast: { kind: 'name', name: e.key, pos: { line: 1, column: 1, offset: 0 } },
        loc: e.keyLoc,
        style: 'plain',
      } as const);
  let noise: NoiseSpec | undefined;
  const noiseNode = m.get('noise')?.value;
  if (noiseNode) {
    const nm = r.map(noiseNode, ['std', 'resolution'], `${what} 'noise'`);
    const std =
      nm && r.num(r.required(nm, 'std', noiseNode.loc, `${what} 'noise'`), `${what} noise 'std'`, { min: 0 });
    const resolution = nm?.has('resolution')
      ? r.num(nm.get('resolution')?.value, `${what} noise 'resolution'`, { min: 0 })
      : 0;
    if (std === undefined || resolution === undefined) return undefined;
    noise = { std, resolution };
  }
  return (
    from && { name: e.key, contentKind, from, ...(noise ? { noise } : {}), encoding: 'double', loc: e.keyLoc }
  );
}

function readFault(r: SpecReader, e: LEntry): FaultSpec | undefined {
  const what = `fault '${e.key}'`;
  const m = r.map(
    e.value,
    ['kind', 'target', 'magnitude', 'rate', 'value', 'duration', 'at', 'command', 'description'],
    what,
  );
  if (!m) return undefined;
  const kindText = r.str(r.required(m, 'kind', e.keyLoc, what), `${what} 'kind'`);
  const kind = FAULT_KINDS.find((k) => k === kindText);
  if (kindText !== undefined && kind === undefined) {
    r.problem(
      'sim.behaviour.faultKind',
      `${what} 'kind' must be one of: ${FAULT_KINDS.join(', ')}.`,
      m.get('kind')?.value.loc ?? e.keyLoc,
    );
  }
  const target = r.str(r.required(m, 'target', e.keyLoc, what), `${what} 'target'`);
  const needs: Record<FaultKind, string | undefined> = {
    bias: 'magnitude',
    spike: 'magnitude',
    drift: 'rate',
    degradation: 'rate',
    stuck: undefined,
    dropout: undefined,
  };
  const need = kind && needs[kind];
  for (const k of ['magnitude', 'rate', 'value']) {
    const x = m.get(k);
    if (x && kind && k !== need && !(kind === 'stuck' && k === 'value'))
      r.problem('sim.behaviour.unknownField', `'${k}' does not apply to a ${kind} fault.`, x.keyLoc);
  }
  const amount = need ? r.num(r.required(m, need, e.keyLoc, what), `${what} '${need}'`) : 0;
  const value = m.has('value') ? r.num(m.get('value')?.value, `${what} 'value'`) : NaN;
  const duration = m.has('duration')
    ? r.num(m.get('duration')?.value, `${what} 'duration'`, { positive: true })
    : kind === 'spike'
      ? 1
      : Infinity;
  const at = r.num(m.get('at')?.value, `${what} 'at'`, { min: 0 });
  const command = r.str(m.get('command')?.value, `${what} 'command'`);
  if (!m.has('at') && !m.has('command')) {
    r.problem(
      'sim.behaviour.faultActivation',
      `${what} needs 'at' (a time in seconds) and/or 'command' to switch it on.`,
      e.keyLoc,
    );
  }
  if (!kind || target === undefined || amount === undefined || value === undefined || duration === undefined)
    return undefined;
  return {
    name: e.key,
    kind,
    target,
    magnitude: need === 'magnitude' ? amount : 0,
    rate: need === 'rate' ? amount : 0,
    value,
    duration,
    ...(at === undefined ? {} : { at }),
    ...(command === undefined ? {} : { command }),
    loc: e.keyLoc,
  };
}
