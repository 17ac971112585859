/**
 * Reads a scenario file (YAML or JSON, docs/pilots.md): every problem at once, each with its line,
 * column and JSON pointer; never throws on bad input. Codes are `sim.scenario.*`.
 */
import type { Problem } from '../../core/errors/errors.js';
import { hasVersion, isDtmi } from '../../core/models/dtdl/dtmi.js';
import { readLocatedDocument, type LEntry, type LNode, type Loc } from '../behaviour/located-document.js';
import { hasIndexPlaceholder } from './asset-pattern.js';
import { plain, ScenarioReader } from './scenario-reader.js';
import type {
  ScenarioAction,
  ScenarioAssetGroup,
  ScenarioEvent,
  ScenarioIncoming,
  ScenarioModelEvent,
  ScenarioOutgoing,
  ScenarioSimulation,
  ScenarioSpec,
} from './scenario-types.js';

export { expandScenarioAssets, expandScenarioFleet } from './expand-assets.js';
export { assetTwinId, fleetTwinId } from './asset-pattern.js';

const ROOT_KEYS = ['scenario', 'description', 'simulation', 'assets', 'fleet', 'events'];
const GROUP_KEYS = ['model', 'count', 'id', 'properties', 'relationships', 'incoming'];
const EVENT_TARGETS = ['twin', 'twins', 'model'] as const;
const EVENT_ACTIONS = ['command', 'fault', 'input'] as const;
/** Fields that go with one action only. */
const ACTION_FIELDS: Readonly<Record<string, (typeof EVENT_ACTIONS)[number]>> = {
  payload: 'command',
  off: 'fault',
  value: 'input',
};
const EVENT_KEYS = ['at', ...EVENT_TARGETS, ...EVENT_ACTIONS, ...Object.keys(ACTION_FIELDS), 'description'];

/** A versioned DTMI, as a twin's model must be. */
const isModelId = (s: string): boolean => isDtmi(s) && hasVersion(s);

function readSimulation(r: ScenarioReader, node: LNode): ScenarioSimulation {
  const simulation: ScenarioSimulation = {};
  const m = r.map(node, ['speed', 'sampleInterval', 'seed'], "'simulation'");
  if (!m) return simulation;
  const speed = r.num(m.get('speed')?.value, "'simulation.speed'", { positive: true });
  const sampleNode = m.get('sampleInterval')?.value;
  const sample = r.time(sampleNode, "'simulation.sampleInterval'");
  if (sample === 0 && sampleNode)
    r.problem(
      'sim.scenario.invalidValue',
      "'simulation.sampleInterval' must be more than 0.",
      sampleNode.loc,
    );
  const seedNode = m.get('seed')?.value;
  const seed = r.num(seedNode, "'simulation.seed'");
  if (seed !== undefined && !Number.isInteger(seed) && seedNode)
    r.problem('sim.scenario.invalidValue', "'simulation.seed' must be a whole number.", seedNode.loc);
  if (speed !== undefined) simulation.speed = speed;
  if (sample) simulation.sampleInterval = sample;
  if (seed !== undefined && Number.isInteger(seed)) simulation.seed = seed;
  return simulation;
}

function readOutgoing(r: ScenarioReader, item: LNode): ScenarioOutgoing | undefined {
  const m = r.map(item, ['name', 'target', 'properties'], 'a relationship of generated twins');
  if (!m) return undefined;
  const name = r.str(r.required(m, 'name', item.loc, 'A relationship'), "'name'");
  const targets = r.names(r.required(m, 'target', item.loc, 'A relationship'), "'target'");
  for (const t of targets) r.pattern(t, "'target'");
  const properties = r.values(m.get('properties')?.value, "the relationship's 'properties'");
  if (!name || targets.length === 0) return undefined;
  return { name, targets: targets.map((t) => t.value), properties, loc: item.loc };
}

function readIncoming(r: ScenarioReader, item: LNode): ScenarioIncoming | undefined {
  const m = r.map(item, ['source', 'name', 'properties'], 'an incoming relationship of generated twins');
  if (!m) return undefined;
  const sources = r.names(r.required(m, 'source', item.loc, 'An incoming relationship'), "'source'");
  for (const s of sources) r.pattern(s, "'source'");
  const name = r.str(r.required(m, 'name', item.loc, 'An incoming relationship'), "'name'");
  const properties = r.values(m.get('properties')?.value, "the relationship's 'properties'");
  if (!name || sources.length === 0) return undefined;
  return { name, sources: sources.map((s) => s.value), properties, loc: item.loc };
}

function list<T>(
  r: ScenarioReader,
  node: LNode | undefined,
  what: string,
  read: (n: LNode) => T | undefined,
): T[] {
  if (node === undefined) return [];
  if (node.kind !== 'seq') {
    r.problem('sim.scenario.type', `${what} must be a list.`, node.loc);
    return [];
  }
  return node.items.flatMap((i) => {
    const v = read(i);
    return v === undefined ? [] : [v];
  });
}

function readGroup(r: ScenarioReader, node: LNode): ScenarioAssetGroup | undefined {
  const what = 'an asset group';
  const m = r.map(node, GROUP_KEYS, what);
  if (!m) return undefined;
  const modelNode = r.required(m, 'model', node.loc, 'An asset group');
  let model = r.str(modelNode, "'model'");
  if (model !== undefined && modelNode && !isModelId(model)) {
    r.problem(
      'sim.scenario.invalidValue',
      `'model' must be a versioned DTMI such as dtmi:com:example:Car;1.`,
      modelNode.loc,
    );
    model = undefined;
  }
  const countNode = r.required(m, 'count', node.loc, 'An asset group');
  let count = r.num(countNode, "'count'", { min: 0 });
  if (count !== undefined && !Number.isInteger(count)) {
    r.problem('sim.scenario.invalidValue', "'count' must be a whole number.", countNode!.loc);
    count = undefined;
  }
  const idNode = r.required(m, 'id', node.loc, 'An asset group');
  let id = r.str(idNode, "'id'");
  if (id !== undefined && idNode) {
    r.pattern({ value: id, loc: idNode.loc }, "'id'");
    if (!hasIndexPlaceholder(id)) {
      r.problem(
        'sim.scenario.idPattern',
        `'id' must contain {index} (or {index:03} for 001, 002, …) so each twin gets its own id.`,
        idNode.loc,
      );
      id = undefined;
    }
  }
  const properties = r.values(m.get('properties')?.value, "'properties'");
  const relationships = list(r, m.get('relationships')?.value, "'relationships'", (i) => readOutgoing(r, i));
  const incoming = list(r, m.get('incoming')?.value, "'incoming'", (i) => readIncoming(r, i));
  if (model === undefined || count === undefined || id === undefined) return undefined;
  return { model, count, id, properties, relationships, incoming, loc: node.loc };
}

/** The one key of `keys` present in `m`, or a problem (none or several). */
function exactlyOne<K extends string>(
  r: ScenarioReader,
  m: Map<string, LEntry>,
  keys: readonly K[],
  at: Loc,
  code: string,
): K | undefined {
  // as written: the second one written is the one too many
  const present = keys
    .filter((k) => m.has(k))
    .sort((a, b) => {
      const la = (m.get(a) as LEntry).keyLoc;
      const lb = (m.get(b) as LEntry).keyLoc;
      return la.line - lb.line || la.column - lb.column;
    });
  if (present.length === 1) return present[0];
  const names = keys.map((k) => `'${k}'`).join(', ');
  r.problem(
    code,
    present.length === 0
      ? `An event needs exactly one of ${names}; it has none.`
      : `An event has exactly one of ${names}; this one has ${present.map((k) => `'${k}'`).join(' and ')}.`,
    present.length === 0 ? at : (m.get(present[1] as string) as LEntry).keyLoc,
  );
  return undefined;
}

type ReadEvent = { twins: { value: string; loc: Loc }[] } | { model: string; loc: Loc };

function readAction(
  r: ScenarioReader,
  m: Map<string, LEntry>,
  node: LNode,
): { action: ScenarioAction; loc: Loc } | undefined {
  const kind = exactlyOne(r, m, EVENT_ACTIONS, node.loc, 'sim.scenario.eventAction');
  for (const [field, owner] of Object.entries(ACTION_FIELDS)) {
    const e = m.get(field);
    if (e && kind !== undefined && owner !== kind)
      r.problem('sim.scenario.unknownField', `'${field}' goes with '${owner}', not '${kind}'.`, e.keyLoc);
  }
  if (kind === undefined) return undefined;
  const nameNode = m.get(kind)?.value;
  const name = r.str(nameNode, `'${kind}'`);
  if (name === undefined || nameNode === undefined) return undefined;
  const loc = nameNode.loc;
  if (kind === 'command') {
    const payload = m.get('payload')?.value;
    return {
      action: { kind: 'command', command: name, ...(payload ? { payload: plain(payload) } : {}) },
      loc,
    };
  }
  if (kind === 'fault') {
    const off = m.get('off')?.value;
    if (off && (off.kind !== 'scalar' || typeof off.value !== 'boolean')) {
      r.problem('sim.scenario.type', "'off' must be true or false.", off.loc);
      return undefined;
    }
    return {
      action: { kind: 'fault', fault: name, on: !(off?.kind === 'scalar' && off.value === true) },
      loc,
    };
  }
  const value = r.numOrBool(r.required(m, 'value', node.loc, 'An input event'), "'value'");
  return value === undefined ? undefined : { action: { kind: 'input', input: name, value }, loc };
}

function readEvent(
  r: ScenarioReader,
  node: LNode,
): { events: ScenarioEvent[]; modelEvents: ScenarioModelEvent[] } | undefined {
  const m = r.map(node, EVENT_KEYS, 'an event');
  if (!m) return undefined;
  const at = r.time(r.required(m, 'at', node.loc, 'An event'), "'at'");
  const description = r.str(m.get('description')?.value, "'description'");
  let target: ReadEvent | undefined;
  const targetKind = exactlyOne(r, m, EVENT_TARGETS, node.loc, 'sim.scenario.eventTarget');
  if (targetKind === 'model') {
    const modelNode = m.get('model')?.value;
    const model = r.str(modelNode, "'model'");
    if (model !== undefined && modelNode && !isModelId(model))
      r.problem(
        'sim.scenario.invalidValue',
        `'model' must be a versioned DTMI such as dtmi:com:example:Car;1.`,
        modelNode.loc,
      );
    else if (model !== undefined && modelNode) target = { model, loc: modelNode.loc };
  } else if (targetKind === 'twin') {
    const twinNode = m.get('twin')?.value;
    const twin = r.str(twinNode, "'twin'");
    if (twin !== undefined && twinNode) target = { twins: [{ value: twin, loc: twinNode.loc }] };
  } else if (targetKind === 'twins') {
    const twinsNode = m.get('twins')?.value;
    if (twinsNode && twinsNode.kind !== 'seq')
      r.problem('sim.scenario.type', "'twins' must be a non-empty list of twin ids.", twinsNode.loc);
    else {
      const twins = r.names(twinsNode, "'twins'");
      if (twins.length) target = { twins };
    }
  }
  const action = readAction(r, m, node);
  if (at === undefined || target === undefined || action === undefined) return undefined;
  const common = {
    at,
    action: action.action,
    actionLoc: action.loc,
    loc: node.loc,
    ...(description ? { description } : {}),
  };
  if ('model' in target)
    return { events: [], modelEvents: [{ ...common, model: target.model, targetLoc: target.loc }] };
  return {
    events: target.twins.map((t) => ({ ...common, twin: t.value, targetLoc: t.loc })),
    modelEvents: [],
  };
}

/** Every problem under the scenario's own codes (the shared reader speaks of behaviours). */
function scenarioCodes(problems: Problem[]): Problem[] {
  return problems.map((p) =>
    p.code.startsWith('sim.behaviour.') ? { ...p, code: `sim.scenario.${p.code.slice(14)}` } : p,
  );
}

/**
 * Reads a scenario document. `scenario` is undefined when the document is unusable; problems of
 * severity 'error' mean it must not be used (warnings may be shown and ignored).
 * @example
 *   const { scenario, problems } = readScenario(text, 'pilots/ev-fleet/scenario.yaml');
 *   if (problems.some((p) => p.severity !== 'warning')) throw errors.validation('ValidationFailed', 'Bad scenario', problems);
 */
export function readScenario(
  text: string,
  source?: string,
): { scenario?: ScenarioSpec; problems: Problem[] } {
  const doc = readLocatedDocument(text, source);
  const r = new ScenarioReader(doc.lines, source);
  r.problems.push(...doc.problems);
  const root = doc.root;
  if (root === undefined || (root.kind === 'scalar' && root.value === null)) {
    if (r.problems.length === 0)
      r.problem('sim.scenario.missing', 'The document is empty.', { line: 1, column: 1, pointer: '' });
    return { problems: scenarioCodes(r.problems) };
  }
  const m = r.map(root, ROOT_KEYS, 'The scenario');
  if (!m) return { problems: scenarioCodes(r.problems) };
  const name = r.str(r.required(m, 'scenario', root.loc, 'The scenario'), "'scenario'");
  const description = r.str(m.get('description')?.value, "'description'");
  const simNode = m.get('simulation')?.value;
  const simulation = simNode ? readSimulation(r, simNode) : {};

  const assets = list(r, m.get('assets')?.value, "'assets'", (i) => readGroup(r, i));
  const fleet = m.get('fleet');
  if (fleet) {
    if (m.has('assets'))
      r.problem('sim.scenario.unknownField', "Give 'assets' or the older 'fleet', not both.", fleet.keyLoc);
    else {
      r.problem(
        'sim.scenario.deprecated',
        "'fleet' is the older form of one asset group; write it as 'assets: [ … ]'.",
        fleet.keyLoc,
        'warning',
      );
      const g = readGroup(r, fleet.value);
      if (g) assets.push(g);
    }
  }
  const seen = new Map<string, Loc>();
  for (const g of assets) {
    const first = seen.get(g.id);
    if (first)
      r.problem(
        'sim.scenario.duplicateId',
        `Two asset groups generate ids from '${g.id}' (the other at line ${first.line}).`,
        g.loc,
      );
    else seen.set(g.id, g.loc);
  }

  const events: ScenarioEvent[] = [];
  const modelEvents: ScenarioModelEvent[] = [];
  for (const e of list(r, m.get('events')?.value, "'events'", (i) => readEvent(r, i))) {
    events.push(...e.events);
    modelEvents.push(...e.modelEvents);
  }
  const problems = scenarioCodes(r.problems);
  if (name === undefined) return { problems };
  // Array.prototype.sort is stable: events at the same time keep the order they are written in.
  return {
    scenario: {
      scenario: name,
      ...(description ? { description } : {}),
      ...(source === undefined ? {} : { source }),
      simulation,
      assets,
      ...(assets[0] ? { fleet: assets[0] } : {}),
      events: events.sort((a, b) => a.at - b.at),
      modelEvents: modelEvents.sort((a, b) => a.at - b.at),
    },
    problems,
  };
}
