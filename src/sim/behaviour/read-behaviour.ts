/**
 * Reads the structure of a behaviour model from its located tree into a BehaviourSpec: field names,
 * types, required fields, value ranges and expression syntax. Meaning (names, the interface, cycles)
 * is checked afterwards by check-behaviour.ts. Every problem is collected, none thrown.
 */
import type { Problem } from '../../core/errors/errors.js';
import { TwinloopError } from '../../core/errors/errors.js';
import { parseExpr } from '../expr/parser.js';
import type {
  BehaviourSpec,
  ExprSource,
  FaultKind,
  FaultSpec,
  InputSource,
  InputSpec,
  MappingSpec,
  NoiseSpec,
  OutputSpec,
  ParameterSpec,
  StateSpec,
} from './behaviour-types.js';
import { positionInScalar } from './located-document.js';
import type { LEntry, LNode, Loc } from './located-document.js';

const FAULT_KINDS: readonly FaultKind[] = ['bias', 'drift', 'spike', 'stuck', 'dropout', 'degradation'];

export class SpecReader {
  readonly problems: Problem[] = [];

  constructor(
    private readonly lines: readonly string[],
    private readonly source?: string,
  ) {}

  problem(code: string, message: string, loc: Loc, severity: 'error' | 'warning' = 'error'): void {
    this.problems.push({
      code,
      message,
      pointer: loc.pointer,
      line: loc.line,
      column: loc.column,
      severity,
      ...(this.source === undefined ? {} : { source: this.source }),
    });
  }

  /** The entries of a map with only the allowed keys (others reported); undefined when not a map. */
  map(node: LNode, allowed: readonly string[] | undefined, what: string): Map<string, LEntry> | undefined {
    if (node.kind !== 'map') {
      this.problem('sim.behaviour.type', `${what} must be a mapping.`, node.loc);
      return undefined;
    }
    const out = new Map<string, LEntry>();
    for (const e of node.entries) {
      if (allowed !== undefined && !allowed.includes(e.key)) {
        this.problem(
          'sim.behaviour.unknownField',
          `Unknown field '${e.key}' in ${what}; expected one of: ${allowed.join(', ')}.`,
          e.keyLoc,
        );
        continue;
      }
      out.set(e.key, e);
    }
    return out;
  }

  num(
    node: LNode | undefined,
    what: string,
    opts: { min?: number; positive?: boolean; integer?: boolean } = {},
  ): number | undefined {
    if (node === undefined) return undefined;
    if (node.kind !== 'scalar' || typeof node.value !== 'number' || !Number.isFinite(node.value)) {
      this.problem('sim.behaviour.type', `${what} must be a finite number.`, node.loc);
      return undefined;
    }
    const v = node.value;
    if ((opts.positive && !(v > 0)) || (opts.min !== undefined && v < opts.min)) {
      this.problem(
        'sim.behaviour.invalidValue',
        `${what} must be ${opts.positive ? 'greater than 0' : `at least ${opts.min}`}.`,
        node.loc,
      );
      return undefined;
    }
    return v;
  }

  /** A number, or true/false read as 1/0 (defaults of boolean inputs). */
  numOrBool(node: LNode | undefined, what: string): number | undefined {
    if (node?.kind === 'scalar' && typeof node.value === 'boolean') return node.value ? 1 : 0;
    return this.num(node, what);
  }

  str(node: LNode | undefined, what: string): string | undefined {
    if (node === undefined) return undefined;
    if (node.kind !== 'scalar' || typeof node.value !== 'string' || node.value === '') {
      this.problem('sim.behaviour.type', `${what} must be a non-empty string.`, node.loc);
      return undefined;
    }
    return node.value;
  }

  required(m: Map<string, LEntry>, key: string, at: Loc, what: string): LNode | undefined {
    const e = m.get(key);
    if (e === undefined) this.problem('sim.behaviour.missing', `${what} needs '${key}'.`, at);
    return e?.value;
  }

  /** An expression: a string (or a bare number) parsed now; syntax problems point into the document. */
  expr(node: LNode | undefined, what: string): ExprSource | undefined {
    if (node === undefined) return undefined;
    if (node.kind !== 'scalar' || (typeof node.value !== 'string' && typeof node.value !== 'number')) {
      this.problem('sim.behaviour.type', `${what} must be an expression (a string or a number).`, node.loc);
      return undefined;
    }
    const text = String(node.value);
    try {
      return { text, ast: parseExpr(text), loc: node.loc, style: node.style };
    } catch (e) {
      if (!(e instanceof TwinloopError)) throw e;
      for (const p of e.problems) this.exprProblem(p, { text, loc: node.loc, style: node.style });
      return undefined;
    }
  }

  /** Re-homes a problem found inside an expression onto the document line and column. */
  exprProblem(p: Problem, src: Pick<ExprSource, 'text' | 'loc' | 'style'>, code = p.code): void {
    const at = positionInScalar(src.loc, src.style, this.lines, p.line ?? 1, p.column ?? 1);
    this.problem(
      code,
      `${p.message} (in "${src.text}")`,
      { ...at, pointer: src.loc.pointer },
      p.severity ?? 'error',
    );
  }

  unit(m: Map<string, LEntry>, what: string): { unit?: string } {
    const u = this.str(m.get('unit')?.value, `${what} 'unit'`);
    return u === undefined ? {} : { unit: u };
  }
}

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

const INPUT_KINDS = ['command', 'relationship', 'property', 'schedule', 'cycle', 'external'] as const;

function readInput(r: SpecReader, e: LEntry): InputSpec | undefined {
  const what = `input '${e.key}'`;
  const m = r.map(
    e.value,
    [
      ...INPUT_KINDS,
      'default',
      'unit',
      'field',
      'source',
      'aggregate',
      'direction',
      'interpolation',
      'period',
    ],
    what,
  );
  if (!m) return undefined;
  const kinds = INPUT_KINDS.filter((k) => m.has(k));
  if (kinds.length !== 1) {
    r.problem(
      'sim.behaviour.inputKind',
      `${what} needs exactly one of: ${INPUT_KINDS.join(', ')} (found ${kinds.length === 0 ? 'none' : kinds.join(', ')}).`,
      e.keyLoc,
    );
    return undefined;
  }
  const kind = kinds[0] as (typeof INPUT_KINDS)[number];
  const node = (m.get(kind) as LEntry).value;
  const allowedExtra: Record<(typeof INPUT_KINDS)[number], readonly string[]> = {
    command: ['field'],
    relationship: ['source', 'aggregate', 'direction'],
    property: [],
    schedule: ['interpolation', 'period'],
    cycle: [],
    external: [],
  };
  for (const k of ['field', 'source', 'aggregate', 'direction', 'interpolation', 'period']) {
    const x = m.get(k);
    if (x && !allowedExtra[kind].includes(k))
      r.problem('sim.behaviour.unknownField', `'${k}' does not apply to a ${kind} input.`, x.keyLoc);
  }
  let source: InputSource | undefined;
  switch (kind) {
    case 'command': {
      const command = r.str(node, `${what} 'command'`);
      const field = r.str(m.get('field')?.value, `${what} 'field'`);
      if (command !== undefined) source = { kind, command, ...(field === undefined ? {} : { field }) };
      break;
    }
    case 'relationship': {
      const relationship = r.str(node, `${what} 'relationship'`);
      const src = r.str(r.required(m, 'source', e.keyLoc, what), `${what} 'source'`);
      const agg =
        m.get('aggregate') === undefined ? 'first' : r.str(m.get('aggregate')?.value, `${what} 'aggregate'`);
      const aggregates = ['sum', 'mean', 'min', 'max', 'first'] as const;
      const aggregate = aggregates.find((a) => a === agg);
      if (agg !== undefined && aggregate === undefined) {
        r.problem(
          'sim.behaviour.invalidValue',
          `${what} 'aggregate' must be one of: ${aggregates.join(', ')}.`,
          m.get('aggregate')?.value.loc ?? e.keyLoc,
        );
      }
      const dir = m.has('direction') ? r.str(m.get('direction')?.value, `${what} 'direction'`) : 'outgoing';
      if (dir !== undefined && dir !== 'outgoing' && dir !== 'incoming') {
        r.problem(
          'sim.behaviour.invalidValue',
          `${what} 'direction' must be 'outgoing' or 'incoming'.`,
          m.get('direction')?.value.loc ?? e.keyLoc,
        );
      }
      if (
        relationship !== undefined &&
        src !== undefined &&
        aggregate !== undefined &&
        (dir === 'outgoing' || dir === 'incoming')
      ) {
        source = { kind, relationship, source: src, direction: dir, aggregate };
      }
      break;
    }
    case 'property': {
      const property = r.str(node, `${what} 'property'`);
      if (property !== undefined) source = { kind, property };
      break;
    }
    case 'schedule':
      source = readSchedule(r, node, m, what);
      break;
    case 'cycle':
      source = readCycle(r, node, what);
      break;
    case 'external':
      source = { kind };
      break;
  }
  const defaultNode = m.get('default')?.value;
  let dflt = r.numOrBool(defaultNode, `${what} 'default'`);
  if (defaultNode === undefined) {
    if (source?.kind === 'schedule' || source?.kind === 'cycle') dflt = 0;
    else
      r.problem(
        'sim.behaviour.missing',
        `${what} needs 'default' (its value until something sets it).`,
        e.keyLoc,
      );
  }
  if (source === undefined || dflt === undefined) return undefined;
  return { name: e.key, source, default: dflt, ...r.unit(m, what), loc: e.keyLoc };
}

function readSchedule(
  r: SpecReader,
  node: LNode,
  m: Map<string, LEntry>,
  what: string,
): InputSource | undefined {
  if (node.kind !== 'seq' || node.items.length === 0) {
    r.problem(
      'sim.behaviour.type',
      `${what} 'schedule' must be a non-empty list of [time, value] pairs.`,
      node.loc,
    );
    return undefined;
  }
  const points: [number, number][] = [];
  let ok = true;
  for (const item of node.items) {
    if (item.kind !== 'seq' || item.items.length !== 2) {
      r.problem('sim.behaviour.type', `${what}: each schedule point must be [time, value].`, item.loc);
      ok = false;
      continue;
    }
    const t = r.num(item.items[0], `${what} schedule time`);
    const v = r.numOrBool(item.items[1], `${what} schedule value`);
    if (t === undefined || v === undefined) {
      ok = false;
      continue;
    }
    const prev = points[points.length - 1];
    if (prev !== undefined && t <= prev[0]) {
      r.problem(
        'sim.behaviour.invalidValue',
        `${what}: schedule times must increase (${t} after ${prev[0]}).`,
        item.loc,
      );
      ok = false;
    }
    points.push([t, v]);
  }
  const interp =
    m.get('interpolation') === undefined
      ? 'linear'
      : r.str(m.get('interpolation')?.value, `${what} 'interpolation'`);
  if (interp !== undefined && interp !== 'linear' && interp !== 'step') {
    r.problem(
      'sim.behaviour.invalidValue',
      `${what} 'interpolation' must be 'linear' or 'step'.`,
      m.get('interpolation')?.value.loc ?? node.loc,
    );
    ok = false;
  }
  const period = r.num(m.get('period')?.value, `${what} 'period'`, { positive: true });
  if (period !== undefined && points.some(([t]) => t < 0 || t > period)) {
    r.problem(
      'sim.behaviour.invalidValue',
      `${what}: a repeating schedule's times must lie within [0, period].`,
      node.loc,
    );
    ok = false;
  }
  if (!ok || interp === undefined) return undefined;
  return {
    kind: 'schedule',
    points,
    interpolation: interp as 'linear' | 'step',
    ...(period === undefined ? {} : { period }),
  };
}

function readCycle(r: SpecReader, node: LNode, what: string): InputSource | undefined {
  const m = r.map(node, ['period', 'duty', 'high', 'low', 'phase'], `${what} 'cycle'`);
  if (!m) return undefined;
  const period = r.num(r.required(m, 'period', node.loc, `${what} 'cycle'`), `${what} cycle 'period'`, {
    positive: true,
  });
  const duty = r.num(r.required(m, 'duty', node.loc, `${what} 'cycle'`), `${what} cycle 'duty'`, { min: 0 });
  if (duty !== undefined && duty > 1)
    r.problem(
      'sim.behaviour.invalidValue',
      `${what} cycle 'duty' is a fraction in [0, 1].`,
      m.get('duty')?.value.loc ?? node.loc,
    );
  const high = m.has('high') ? r.numOrBool(m.get('high')?.value, `${what} cycle 'high'`) : 1;
  const low = m.has('low') ? r.numOrBool(m.get('low')?.value, `${what} cycle 'low'`) : 0;
  const phase = m.has('phase') ? r.num(m.get('phase')?.value, `${what} cycle 'phase'`) : 0;
  if (
    period === undefined ||
    duty === undefined ||
    duty > 1 ||
    high === undefined ||
    low === undefined ||
    phase === undefined
  )
    return undefined;
  return { kind: 'cycle', period, duty, high, low, phase };
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
