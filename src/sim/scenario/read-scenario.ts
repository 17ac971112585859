/**
 * Reads a scenario file (YAML or JSON): every problem at once, with line, column and JSON pointer;
 * never throws on bad input.
 */
import type { Problem } from '../../core/errors/errors.js';
import { readLocatedDocument, type LNode } from '../behaviour/located-document.js';
import { SpecReader } from '../behaviour/spec-reader.js';
import { parseDuration } from '../whatif/duration.js';
import type { ScenarioAction, ScenarioEvent, ScenarioFleet, ScenarioSpec } from './scenario-types.js';

/** The plain JSON value of a located node. */
function plain(node: LNode): unknown {
  if (node.kind === 'scalar') return node.value;
  if (node.kind === 'seq') return node.items.map(plain);
  return Object.fromEntries(node.entries.map((e) => [e.key, plain(e.value)]));
}

function duration(r: SpecReader, node: LNode | undefined, what: string): number | undefined {
  if (node === undefined) return undefined;
  const v = node.kind === 'scalar' ? parseDuration(node.value) : undefined;
  if (v === undefined)
    r.problem(
      'sim.scenario.time',
      `${what} must be seconds ≥ 0 or a duration such as '90s', '30min', '2h', '1d'.`,
      node.loc,
    );
  return v;
}

function strings(r: SpecReader, node: LNode | undefined, what: string): string[] {
  if (node === undefined) return [];
  if (node.kind === 'scalar') {
    const s = r.str(node, what);
    return s === undefined ? [] : [s];
  }
  if (node.kind !== 'seq' || node.items.length === 0) {
    r.problem('sim.scenario.type', `${what} must be a string or a non-empty list of strings.`, node.loc);
    return [];
  }
  return node.items.flatMap((i) => {
    const s = r.str(i, what);
    return s === undefined ? [] : [s];
  });
}

function readFleet(r: SpecReader, node: LNode): ScenarioFleet | undefined {
  const m = r.map(node, ['model', 'count', 'id', 'properties', 'relationships', 'incoming'], "'fleet'");
  if (!m) return undefined;
  const model = r.str(r.required(m, 'model', node.loc, "'fleet'"), "'fleet.model'");
  const count = r.num(r.required(m, 'count', node.loc, "'fleet'"), "'fleet.count'", { min: 0 });
  if (count !== undefined && !Number.isInteger(count))
    r.problem('sim.scenario.type', "'fleet.count' must be a whole number.", m.get('count')!.value.loc);
  const id = r.str(r.required(m, 'id', node.loc, "'fleet'"), "'fleet.id'");
  if (id !== undefined && !/\{n(?::\d+)?\}/.test(id))
    r.problem(
      'sim.scenario.idPattern',
      `'fleet.id' must contain {n} (or {n:3} for 001, 002, …) so each twin gets its own id.`,
      m.get('id')!.value.loc,
    );
  const propsNode = m.get('properties')?.value;
  let properties: Record<string, unknown> = {};
  if (propsNode) {
    if (propsNode.kind !== 'map')
      r.problem('sim.scenario.type', "'fleet.properties' must be a mapping.", propsNode.loc);
    else properties = plain(propsNode) as Record<string, unknown>;
  }
  const relationships: ScenarioFleet['relationships'] = [];
  const relNode = m.get('relationships')?.value;
  if (relNode) {
    if (relNode.kind !== 'seq')
      r.problem('sim.scenario.type', "'fleet.relationships' must be a list.", relNode.loc);
    else
      for (const item of relNode.items) {
        const rm = r.map(item, ['name', 'target'], 'a fleet relationship');
        if (!rm) continue;
        const name = r.str(r.required(rm, 'name', item.loc, 'a fleet relationship'), "'name'");
        const targets = strings(r, r.required(rm, 'target', item.loc, 'a fleet relationship'), "'target'");
        if (name && targets.length) relationships.push({ name, targets });
      }
  }
  const incoming: ScenarioFleet['incoming'] = [];
  const inNode = m.get('incoming')?.value;
  if (inNode) {
    if (inNode.kind !== 'seq') r.problem('sim.scenario.type', "'fleet.incoming' must be a list.", inNode.loc);
    else
      for (const item of inNode.items) {
        const im = r.map(item, ['source', 'name'], 'an incoming fleet relationship');
        if (!im) continue;
        const source = r.str(r.required(im, 'source', item.loc, 'an incoming relationship'), "'source'");
        const name = r.str(r.required(im, 'name', item.loc, 'an incoming relationship'), "'name'");
        if (source && name) incoming.push({ source, name });
      }
  }
  if (model === undefined || count === undefined || id === undefined) return undefined;
  return { model, count, id, properties, relationships, incoming, loc: node.loc };
}

function readEvent(r: SpecReader, node: LNode): ScenarioEvent | undefined {
  const m = r.map(
    node,
    ['at', 'twin', 'command', 'payload', 'fault', 'off', 'input', 'value', 'description'],
    'an event',
  );
  if (!m) return undefined;
  const at = duration(r, r.required(m, 'at', node.loc, 'An event'), "'at'");
  const twin = r.str(r.required(m, 'twin', node.loc, 'An event'), "'twin'");
  const kinds = ['command', 'fault', 'input'].filter((k) => m.has(k));
  if (kinds.length !== 1) {
    r.problem('sim.scenario.event', "An event has exactly one of 'command', 'fault' or 'input'.", node.loc);
    return undefined;
  }
  let action: ScenarioAction | undefined;
  if (m.has('command')) {
    const command = r.str(m.get('command')?.value, "'command'");
    const payload = m.get('payload')?.value;
    if (command) action = { kind: 'command', command, ...(payload ? { payload: plain(payload) } : {}) };
  } else if (m.has('fault')) {
    const fault = r.str(m.get('fault')?.value, "'fault'");
    const off = m.get('off')?.value;
    if (off && (off.kind !== 'scalar' || typeof off.value !== 'boolean'))
      r.problem('sim.scenario.type', "'off' must be true or false.", off.loc);
    if (fault) action = { kind: 'fault', fault, on: !(off?.kind === 'scalar' && off.value === true) };
  } else {
    const input = r.str(m.get('input')?.value, "'input'");
    const value = r.numOrBool(r.required(m, 'value', node.loc, 'An input event'), "'value'");
    if (input && value !== undefined) action = { kind: 'input', input, value };
  }
  if (at === undefined || twin === undefined || action === undefined) return undefined;
  return { at, twin, action, loc: node.loc };
}

/**
 * Reads a scenario document. `scenario` is undefined when the document is unusable; problems of
 * severity 'error' mean it must not be used.
 */
export function readScenario(
  text: string,
  source?: string,
): { scenario?: ScenarioSpec; problems: Problem[] } {
  const doc = readLocatedDocument(text, source);
  const r = new SpecReader(doc.lines, source);
  r.problems.push(...doc.problems);
  const root = doc.root;
  if (root === undefined) return { problems: r.problems };
  const m = r.map(root, ['scenario', 'description', 'simulation', 'fleet', 'events'], 'The scenario');
  if (!m) return { problems: r.problems };
  const name = r.str(r.required(m, 'scenario', root.loc, 'The scenario'), "'scenario'");
  const description = r.str(m.get('description')?.value, "'description'");
  const simulation: ScenarioSpec['simulation'] = {};
  const simNode = m.get('simulation')?.value;
  if (simNode) {
    const sm = r.map(simNode, ['speed', 'sampleInterval', 'seed'], "'simulation'");
    if (sm) {
      const speed = r.num(sm.get('speed')?.value, "'simulation.speed'", { positive: true });
      const sample = duration(r, sm.get('sampleInterval')?.value, "'simulation.sampleInterval'");
      if (sample === 0)
        r.problem(
          'sim.scenario.time',
          "'simulation.sampleInterval' must be more than 0.",
          sm.get('sampleInterval')!.value.loc,
        );
      const seed = r.num(sm.get('seed')?.value, "'simulation.seed'");
      if (speed !== undefined) simulation.speed = speed;
      if (sample) simulation.sampleInterval = sample;
      if (seed !== undefined) simulation.seed = seed;
    }
  }
  const fleetNode = m.get('fleet')?.value;
  const fleet = fleetNode ? readFleet(r, fleetNode) : undefined;
  const events: ScenarioEvent[] = [];
  const evNode = m.get('events')?.value;
  if (evNode) {
    if (evNode.kind !== 'seq') r.problem('sim.scenario.type', "'events' must be a list.", evNode.loc);
    else
      for (const item of evNode.items) {
        const e = readEvent(r, item);
        if (e) events.push(e);
      }
  }
  if (name === undefined) return { problems: r.problems };
  return {
    scenario: {
      scenario: name,
      ...(description ? { description } : {}),
      simulation,
      ...(fleet ? { fleet } : {}),
      events: events.sort((a, b) => a.at - b.at),
    },
    problems: r.problems,
  };
}

/** The id of the n-th (1-based) generated twin. */
export function fleetTwinId(pattern: string, n: number): string {
  return pattern.replace(/\{n(?::(\d+))?\}/g, (_, width: string | undefined) =>
    width ? String(n).padStart(Number(width), '0') : String(n),
  );
}

/**
 * The twins and relationships a scenario's fleet generates (ADT JSON, like twins.json), `count`
 * overridden by `overrideCount` (--assets N).
 */
export function expandScenarioFleet(
  fleet: ScenarioFleet,
  overrideCount?: number,
): { twins: Record<string, unknown>[]; relationships: Record<string, unknown>[] } {
  const count = overrideCount ?? fleet.count;
  const twins: Record<string, unknown>[] = [];
  const relationships: Record<string, unknown>[] = [];
  const fill = (v: unknown, n: number): unknown =>
    typeof v === 'string'
      ? fleetTwinId(v, n)
      : Array.isArray(v)
        ? v.map((x) => fill(x, n))
        : v && typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x, n)]))
          : v;
  for (let n = 1; n <= count; n++) {
    const id = fleetTwinId(fleet.id, n);
    twins.push({ $dtId: id, $metadata: { $model: fleet.model }, ...(fill(fleet.properties, n) as object) });
    for (const rel of fleet.relationships) {
      const target = rel.targets[(n - 1) % rel.targets.length] as string;
      relationships.push({
        $sourceId: id,
        $relationshipId: `${rel.name}-${target}`,
        $relationshipName: rel.name,
        $targetId: target,
      });
    }
    for (const inc of fleet.incoming)
      relationships.push({
        $sourceId: inc.source,
        $relationshipId: `${inc.name}-${id}`,
        $relationshipName: inc.name,
        $targetId: id,
      });
  }
  return { twins, relationships };
}
