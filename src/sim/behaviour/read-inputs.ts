/**
 * Reads the `inputs` section of a behaviour model: commands, relationships, own properties,
 * schedules, duty cycles and external inputs, each with its default.
 */
import type { InputSource, InputSpec } from './behaviour-types.js';
import type { LEntry, LNode } from './located-document.js';
import type { SpecReader } from './spec-reader.js';

const INPUT_KINDS = ['command', 'relationship', 'property', 'schedule', 'cycle', 'external'] as const;

export function readInput(r: SpecReader, e: LEntry): InputSpec | undefined {
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
