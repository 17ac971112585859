/**
 * Turns a what-if request into a plan, or refuses it with every problem at once (each with its JSON
 * pointer into the request): which twins run (a list, or a root and the twins reachable from it),
 * the time grid, the changes at the fork and the events, all checked against the behaviours and the
 * limits before anything is queued. The fork itself (where each twin starts) is what-if-fork.ts.
 */
import { TwinloopError, type Problem } from '../../core/errors/errors.js';
import type { InterfaceInfo } from '../../core/models/model-types.js';
import type { BehaviourCatalog } from '../behaviour/behaviour-catalog.js';
import type { CompiledBehaviour } from '../behaviour/compile-behaviour.js';
import { parseDuration } from './duration.js';
import type { PlannedEvent, WhatIfPlan } from './what-if-engine.js';
import { asNumber, forkTwins, settableInputs, type ForkTarget } from './what-if-fork.js';
import type { WhatIfJob, WhatIfTwinChanges, WhatIfWorld } from './what-if-types.js';

/** What one run may ask for; each limit's message says how to change the request. */
export interface WhatIfLimits {
  /** Most twins in one run (default 1,000). */
  maxTwins: number;
  /** Most samples in one run, all twins together (samples per twin × twins; default 250,000). */
  maxSamples: number;
  /** Most solver steps in one run, all twins together (default 50,000,000). */
  maxSteps: number;
  /** Longest horizon, seconds (default 366 days). */
  maxHorizon: number;
}

export const DEFAULT_WHAT_IF_LIMITS: Readonly<WhatIfLimits> = Object.freeze({
  maxTwins: 1000,
  maxSamples: 250_000,
  maxSteps: 50_000_000,
  maxHorizon: 366 * 86_400,
});

export interface PlanContext {
  catalog: BehaviourCatalog;
  world: WhatIfWorld;
  limits: WhatIfLimits;
  /** DTDL interfaces, for the units of telemetry (optional). */
  interfaces?: { getInterface(id: string): InterfaceInfo | undefined };
}

/** A checked request, forked. */
export interface PlannedRun {
  name?: string;
  plan: WhatIfPlan;
  skipped: WhatIfJob['skipped'];
}

const FIELDS = [
  'name',
  'twins',
  'root',
  'follow',
  'depth',
  'horizon',
  'sampleInterval',
  'method',
  'step',
  'changes',
  'events',
] as const;
const EVENT_FIELDS = ['at', 'twin', 'command', 'payload', 'fault', 'off', 'input', 'value'];
const CHANGE_FIELDS = ['parameters', 'inputs', 'states'] as const;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const escapePointer = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');
const list = (names: readonly string[]): string => (names.length ? names.join(', ') : 'none');

/** Commands a behaviour handles (bound to inputs or faults). */
const commandsOf = (m: CompiledBehaviour): string[] => [
  ...new Set([
    ...m.spec.inputs.flatMap((i) => (i.source.kind === 'command' ? [i.source.command] : [])),
    ...m.spec.faults.flatMap((f) => (f.command !== undefined ? [f.command] : [])),
  ]),
];
const namesOf = (m: CompiledBehaviour, field: (typeof CHANGE_FIELDS)[number]): string[] =>
  field === 'parameters'
    ? [...m.layout.parameters]
    : field === 'states'
      ? [...m.layout.states]
      : settableInputs(m);

/**
 * Checks a request and forks the twins it names.
 * @throws TwinloopError DigitalTwinNotFound when a named twin does not exist; BadRequest with every
 *   problem (`problems[].pointer` into the request) otherwise.
 */
export function planWhatIf(request: unknown, ctx: PlanContext): PlannedRun {
  const { world, limits: L } = ctx;
  const problems: Problem[] = [];
  const problem = (pointer: string, message: string, code = 'whatif.request'): void => {
    problems.push({ code, message, pointer, source: 'request body' });
  };
  const fail = (): never => {
    throw new TwinloopError(
      'BadRequest',
      `The simulation request is not valid: ${problems.map((p) => `${p.pointer || '/'}: ${p.message}`).join('; ')}`,
      { problems },
    );
  };
  if (!isObject(request)) {
    problem('', 'The body must be a JSON object (see docs/what-if.md).');
    fail();
  }
  const r = request as Record<string, unknown>;
  for (const k of Object.keys(r))
    if (!(FIELDS as readonly string[]).includes(k))
      problem(`/${escapePointer(k)}`, `Unknown field '${k}' (known: ${FIELDS.join(', ')}).`);
  if (r.name !== undefined && (typeof r.name !== 'string' || r.name.length > 200))
    problem('/name', "'name' is a label of at most 200 characters.");

  // ---- time
  const horizon = parseDuration(r.horizon);
  if (r.horizon === undefined)
    problem('/horizon', "'horizon' is required: seconds or a duration such as '90min', '24h', '7d'.");
  else if (horizon === undefined || horizon <= 0)
    problem(
      '/horizon',
      `'horizon' must be a positive duration (seconds, '90min', '24h', '7d'), not ${JSON.stringify(r.horizon)}.`,
    );
  else if (horizon > L.maxHorizon)
    problem(
      '/horizon',
      `'horizon' is ${horizon} s; a run is at most ${L.maxHorizon} s (${+(L.maxHorizon / 86_400).toFixed(2)} days): split it into shorter runs.`,
      'whatif.limit',
    );
  const method = r.method ?? 'rk4';
  if (method !== 'rk4' && method !== 'dopri5') problem('/method', "'method' is 'rk4' or 'dopri5'.");
  const step = r.step === undefined ? (method === 'dopri5' ? 60 : 1) : parseDuration(r.step);
  if (step === undefined || step <= 0)
    problem('/step', "'step' must be a positive number of seconds (or a duration such as '10s').");
  const H = horizon !== undefined && horizon > 0 && horizon <= L.maxHorizon ? horizon : undefined;
  let sampleInterval: number | undefined;
  if (r.sampleInterval === undefined)
    sampleInterval = H === undefined ? undefined : Math.max(step ?? 1, H / 500);
  else {
    sampleInterval = parseDuration(r.sampleInterval);
    if (sampleInterval === undefined || sampleInterval <= 0) {
      problem(
        '/sampleInterval',
        `'sampleInterval' must be a positive duration (seconds, '10min'), not ${JSON.stringify(r.sampleInterval)}.`,
      );
      sampleInterval = undefined;
    }
  }

  // ---- which twins
  const ids: string[] = [];
  const seen = new Set<string>();
  const add = (id: string): void => {
    if (!seen.has(id)) {
      seen.add(id);
      ids.push(id);
    }
  };
  const listed = new Set<string>();
  if (r.twins !== undefined) {
    if (!Array.isArray(r.twins) || r.twins.some((t) => typeof t !== 'string'))
      problem('/twins', "'twins' must be an array of twin ids.");
    else
      for (const id of r.twins as string[]) {
        listed.add(id);
        add(id);
      }
  }
  if (r.root !== undefined) {
    const follow = r.follow;
    if (follow !== undefined && (!Array.isArray(follow) || follow.some((f) => typeof f !== 'string')))
      problem('/follow', "'follow' must be an array of relationship names.");
    const depth = r.depth ?? Infinity;
    if (typeof depth !== 'number' || !(depth >= 0) || (Number.isFinite(depth) && !Number.isInteger(depth)))
      problem('/depth', "'depth' must be a whole number of hops ≥ 0.");
    if (typeof r.root !== 'string') problem('/root', "'root' must be a twin id.");
    else if (world.modelOf(r.root) === undefined) add(r.root);
    else {
      const names = Array.isArray(follow) ? new Set(follow as string[]) : undefined;
      const maxDepth = typeof depth === 'number' && depth >= 0 ? depth : 0;
      add(r.root);
      let frontier = [r.root];
      for (let d = 0; frontier.length && d < maxDepth && ids.length <= L.maxTwins * 10; d++) {
        const next: string[] = [];
        for (const id of frontier)
          for (const rel of world.outgoing(id))
            if ((!names || names.has(rel.name)) && !seen.has(rel.targetId)) {
              add(rel.targetId);
              next.push(rel.targetId);
            }
        frontier = next;
      }
    }
  } else {
    if (r.follow !== undefined) problem('/follow', "'follow' goes with 'root'.");
    if (r.depth !== undefined) problem('/depth', "'depth' goes with 'root'.");
  }
  if (r.twins === undefined && r.root === undefined)
    problem('', "Name the twins to run: 'twins' (a list of ids) and/or 'root' (with 'follow' and 'depth').");
  const missing = ids.filter((id) => world.modelOf(id) === undefined);
  if (missing.length)
    throw new TwinloopError(
      'DigitalTwinNotFound',
      `There is no digital twin with id ${missing.map((m) => `'${m}'`).join(', ')}.`,
    );

  const skipped: WhatIfJob['skipped'] = [];
  const chosen: ForkTarget[] = [];
  ids.forEach((id) => {
    const modelId = world.modelOf(id) as string;
    const entry = ctx.catalog.forModel(modelId);
    if (entry) chosen.push({ id, model: entry.model, interfaceId: entry.interfaceId });
    else if (!listed.has(id)) skipped.push({ twinId: id, reason: `model ${modelId} has no behaviour` });
    else
      problem(
        `/twins/${(r.twins as string[]).indexOf(id)}`,
        `Twin '${id}' (model ${modelId}) has no behaviour model to simulate it.`,
        'whatif.noBehaviour',
      );
  });
  if (chosen.length > L.maxTwins)
    problem(
      r.root !== undefined ? '/root' : '/twins',
      `${chosen.length}${ids.length > L.maxTwins * 10 ? '+' : ''} twins to simulate; a run has at most ${L.maxTwins}: list fewer 'twins', or narrow 'follow' or 'depth'.`,
      'whatif.limit',
    );
  if (chosen.length === 0 && problems.length === 0)
    problem(
      r.root !== undefined ? '/root' : '/twins',
      `None of these twins has a behaviour model (${skipped.map((s) => s.twinId).join(', ')}).`,
      'whatif.noBehaviour',
    );
  const indexOf = new Map(chosen.map((c, i) => [c.id, i]));

  // ---- limits on work
  if (H !== undefined && sampleInterval !== undefined && chosen.length > 0) {
    const perTwin = Math.ceil(H / sampleInterval - 1e-9) + 1;
    if (perTwin * chosen.length > L.maxSamples)
      problem(
        '/sampleInterval',
        `${perTwin} samples per twin × ${chosen.length} twins = ${perTwin * chosen.length}; a run keeps at most ${L.maxSamples}: take a 'sampleInterval' of at least ${Math.ceil((H * chosen.length) / (L.maxSamples - chosen.length))} s, or fewer twins.`,
        'whatif.limit',
      );
  }
  if (H !== undefined && step !== undefined && step > 0 && chosen.length > 0) {
    const stepsNeeded = Math.ceil(H / step - 1e-9) * chosen.length;
    if (stepsNeeded > L.maxSteps)
      problem(
        '/step',
        `${method === 'dopri5' ? 'At least ' : ''}${stepsNeeded} solver steps (${Math.ceil(H / step - 1e-9)} per twin × ${chosen.length} twins); a run takes at most ${L.maxSteps}: take a 'step' of at least ${Math.ceil((H * chosen.length) / L.maxSteps)} s${method === 'rk4' ? " (or 'dopri5')" : ''}, a shorter 'horizon' or fewer twins.`,
        'whatif.limit',
      );
  }

  // ---- changes at the fork
  const changes = r.changes ?? {};
  if (!isObject(changes)) problem('/changes', "'changes' must be an object keyed by twin id (or '*').");
  const changeSets = isObject(changes) ? changes : {};
  for (const [key, c] of Object.entries(changeSets)) {
    const base = `/changes/${escapePointer(key)}`;
    if (key !== '*' && !indexOf.has(key)) {
      problem(
        base,
        `Twin '${key}' is not simulated in this run (it runs: ${list(chosen.map((x) => x.id))}).`,
      );
      continue;
    }
    if (!isObject(c)) {
      problem(base, 'Changes are an object { parameters?, inputs?, states? } of numbers by name.');
      continue;
    }
    for (const k of Object.keys(c))
      if (!(CHANGE_FIELDS as readonly string[]).includes(k))
        problem(`${base}/${escapePointer(k)}`, `Unknown change '${k}' (known: ${CHANGE_FIELDS.join(', ')}).`);
    const models =
      key === '*'
        ? chosen.map((x) => x.model)
        : [(chosen[indexOf.get(key) as number] as { model: CompiledBehaviour }).model];
    for (const field of CHANGE_FIELDS) {
      const v = c[field];
      if (v === undefined) continue;
      if (!isObject(v)) {
        problem(`${base}/${field}`, `'${field}' is an object of numbers by name.`);
        continue;
      }
      for (const [name, value] of Object.entries(v)) {
        const at = `${base}/${field}/${escapePointer(name)}`;
        if (asNumber(value) === undefined) problem(at, `'${name}' must be a finite number (or a boolean).`);
        const has = models.filter((m) => namesOf(m, field).includes(name));
        if (has.length > 0) continue;
        const m = models[0] as CompiledBehaviour | undefined;
        if (!m) continue;
        const kind = field.slice(0, -1);
        if (field === 'inputs' && m.layout.inputs.includes(name))
          problem(
            at,
            `Input '${name}' of behaviour '${m.spec.behaviour}' follows a schedule or a duty cycle and cannot be set (settable: ${list(settableInputs(m))}).`,
          );
        else if (key === '*')
          problem(
            at,
            `No behaviour of this run has a${kind === 'input' ? 'n' : ''} ${kind} '${name}' (${[...new Set(models.map((x) => x.spec.behaviour))].join(', ')}).`,
          );
        else
          problem(
            at,
            `Behaviour '${m.spec.behaviour}' has no ${kind === 'input' ? 'settable input' : kind} '${name}' (it has: ${list(namesOf(m, field))}).`,
          );
      }
    }
  }
  const changesFor = (id: string): WhatIfTwinChanges[] =>
    [changeSets['*'], changeSets[id]].filter((c): c is WhatIfTwinChanges => isObject(c));

  // ---- events
  const events: PlannedEvent[] = [];
  const evs = r.events ?? [];
  if (!Array.isArray(evs)) problem('/events', "'events' must be an array.");
  else
    evs.forEach((raw: unknown, n) => {
      const base = `/events/${n}`;
      if (!isObject(raw))
        return problem(base, 'An event is an object { at, twin, command | fault | input }.');
      const e = raw;
      for (const k of Object.keys(e))
        if (!EVENT_FIELDS.includes(k))
          problem(
            `${base}/${escapePointer(k)}`,
            `Unknown event field '${k}' (known: ${EVENT_FIELDS.join(', ')}).`,
          );
      const at = parseDuration(e.at);
      if (at === undefined)
        problem(`${base}/at`, "'at' is the time after the fork: seconds or a duration ('2h').");
      else if (H !== undefined && at > H)
        problem(`${base}/at`, `'at' (${at} s) is after the horizon (${H} s).`);
      const twin = typeof e.twin === 'string' ? indexOf.get(e.twin) : undefined;
      if (twin === undefined)
        return problem(
          `${base}/twin`,
          `'twin' must name a twin of this run${typeof e.twin === 'string' ? ` ('${e.twin}' is not one; it runs: ${list(chosen.map((x) => x.id))})` : ''}.`,
        );
      const model = (chosen[twin] as { model: CompiledBehaviour }).model;
      const kinds = ['command', 'fault', 'input'].filter((k) => e[k] !== undefined);
      if (kinds.length !== 1)
        return problem(base, "An event has exactly one of 'command', 'fault' or 'input'.");
      let planned: Omit<PlannedEvent, 'at' | 'twin'> | undefined;
      if (e.command !== undefined) {
        const cmd = e.command;
        if (typeof cmd !== 'string' || !commandsOf(model).includes(cmd))
          problem(
            `${base}/command`,
            `Behaviour '${model.spec.behaviour}' does not handle command ${JSON.stringify(cmd)} (it handles: ${list(commandsOf(model))}).`,
          );
        else {
          try {
            model.applyCommand(model.createRuntime(), 0, cmd, e.payload); // checks the payload
            planned = { apply: (m, rt, t) => void m.applyCommand(rt, t, cmd, e.payload) };
          } catch (x) {
            problem(`${base}/payload`, (x as Error).message);
          }
        }
      } else if (e.fault !== undefined) {
        const f = e.fault;
        if (typeof f !== 'string' || !model.layout.faults.includes(f))
          problem(
            `${base}/fault`,
            `Behaviour '${model.spec.behaviour}' has no fault ${JSON.stringify(f)} (it has: ${list(model.layout.faults)}).`,
          );
        if (e.off !== undefined && typeof e.off !== 'boolean')
          problem(`${base}/off`, "'off' is true or false.");
        if (typeof f === 'string')
          planned = {
            apply:
              e.off === true ? (m, rt) => m.deactivateFault(rt, f) : (m, rt, t) => m.activateFault(rt, f, t),
          };
      } else {
        const name = e.input;
        const value = asNumber(e.value);
        if (typeof name !== 'string' || !settableInputs(model).includes(name))
          problem(
            `${base}/input`,
            `Behaviour '${model.spec.behaviour}' has no settable input ${JSON.stringify(name)} (settable: ${list(settableInputs(model))}).`,
          );
        if (value === undefined) problem(`${base}/value`, "'value' must be a finite number (or a boolean).");
        if (typeof name === 'string' && value !== undefined)
          planned = { apply: (m, rt) => m.setInput(rt, name, value), pins: name };
      }
      if (e.command === undefined && e.payload !== undefined)
        problem(`${base}/payload`, "'payload' goes with 'command'.");
      if (e.fault === undefined && e.off !== undefined) problem(`${base}/off`, "'off' goes with 'fault'.");
      if (e.input === undefined && e.value !== undefined)
        problem(`${base}/value`, "'value' goes with 'input'.");
      if (planned && at !== undefined) events.push({ at, twin, ...planned });
    });
  if (problems.length) fail();
  events.sort((a, b) => a.at - b.at); // stable: same-time events keep the request's order

  const twins = forkTwins(chosen, changesFor, world, ctx.interfaces);
  return {
    ...(typeof r.name === 'string' ? { name: r.name } : {}),
    plan: {
      twins,
      horizon: H as number,
      sampleInterval: sampleInterval as number,
      method: method as 'rk4' | 'dopri5',
      step: step as number,
      events,
      couplingInterval: step as number,
      maxSteps: L.maxSteps,
    },
    skipped,
  };
}
