/**
 * The fork of a what-if run: each twin's own copy of its behaviour's runtime, where it starts (the
 * live simulator's state, else its shadow's, else the model's initial state), with which parameters,
 * inputs and faults, and how its relationship inputs are wired. It reads the world once and copies
 * what it keeps: nothing live is written, and the run never looks at the world again.
 */
import type { InterfaceInfo } from '../../core/models/model-types.js';
import type { CompiledBehaviour } from '../behaviour/compile-behaviour.js';
import { probesOf, type Probes } from './probes.js';
import type { PlannedRelationship, PlannedTwin } from './what-if-engine.js';
import type { ForkSource, WhatIfTwinChanges, WhatIfWorld } from './what-if-types.js';

/** A twin chosen for a run, with its behaviour. */
export interface ForkTarget {
  id: string;
  model: CompiledBehaviour;
  /** The interface the behaviour simulates. */
  interfaceId: string;
}

/** A number, a boolean as 0/1, else undefined. */
export const asNumber = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'boolean' ? (v ? 1 : 0) : undefined;

/** Inputs a request may set: all but those that follow a schedule or a duty cycle. */
export const settableInputs = (m: CompiledBehaviour): string[] =>
  m.spec.inputs.filter((i) => i.source.kind !== 'schedule' && i.source.kind !== 'cycle').map((i) => i.name);

/**
 * Forks the twins of a run (already checked: every name in `changesFor` exists). Parameters: model <
 * applied (calibration) < live snapshot < changes; states: fork < changes; inputs: snapshot, else
 * defaults and `property` inputs from the twin, then changes (which pin them).
 */
export function forkTwins(
  chosen: readonly ForkTarget[],
  changesFor: (twinId: string) => WhatIfTwinChanges[],
  world: WhatIfWorld,
  interfaces?: { getInterface(id: string): InterfaceInfo | undefined },
): PlannedTwin[] {
  const now = world.now();
  const probes = new Map<CompiledBehaviour, Probes>();
  const probesFor = (m: CompiledBehaviour): Probes => {
    let p = probes.get(m);
    if (!p) probes.set(m, (p = probesOf(m)));
    return p;
  };
  const indexOf = new Map(chosen.map((c, i) => [c.id, i]));
  return chosen.map(({ id, model, interfaceId }) => {
    const layout = model.layout;
    const live = usableSnapshot(world.snapshot?.(id), model);
    const ch = changesFor(id);
    const params: Record<string, number> = {
      ...(world.parameters?.(id) ?? {}),
      ...(live?.snapshot.parameters ?? {}),
    };
    for (const c of ch)
      for (const [k, v] of Object.entries(c.parameters ?? {})) params[k] = asNumber(v) as number;
    for (const [k, v] of Object.entries(params))
      if (!layout.parameters.includes(k) || !Number.isFinite(v)) delete params[k];
    const rt = model.createRuntime(params);
    rt.faultStart.fill(NaN); // faults scheduled by the model file belong to the live simulator's clock
    const p = probesFor(model);
    let fork: ForkSource = 'model';
    let forkTime = now;
    let y0: Float64Array;
    if (live) {
      fork = live.source;
      forkTime = live.snapshot.t;
      y0 = Float64Array.from(live.snapshot.state);
      if (live.snapshot.inputs) rt.inputs.set(live.snapshot.inputs);
      if (live.snapshot.faultStart) rt.faultStart.set(live.snapshot.faultStart);
      if (live.snapshot.faultHold) rt.faultHold.set(live.snapshot.faultHold);
    } else {
      y0 = model.initialState(rt);
      // A state that a mapping reads as it is starts at the twin's latest value of that mapping.
      for (const probe of p.list) {
        const v = probe.state >= 0 ? asNumber(world.latest(id, probe.name)) : undefined;
        if (v !== undefined) y0[probe.state] = v;
      }
    }
    if (!live?.snapshot.inputs)
      for (const input of model.spec.inputs)
        if (input.source.kind === 'property') {
          const v = asNumber(world.property(id, input.source.property));
          if (v !== undefined) model.setInput(rt, input.name, v);
        }
    const pinned = new Set<string>();
    for (const c of ch) {
      for (const [k, v] of Object.entries(c.inputs ?? {}))
        if (settableInputs(model).includes(k)) {
          model.setInput(rt, k, asNumber(v) as number);
          pinned.add(k);
        }
      for (const [k, v] of Object.entries(c.states ?? {})) {
        const s = layout.states.indexOf(k);
        if (s >= 0) y0[s] = asNumber(v) as number;
      }
    }
    const relationships: PlannedRelationship[] = model.relationshipInputs
      .filter((input) => !pinned.has(input.name))
      .map((input) => {
        const src = input.source as Extract<typeof input.source, { kind: 'relationship' }>;
        const fromRun: PlannedRelationship['fromRun'] = [];
        const held: number[] = [];
        for (const other of world.related(id, src.relationship, src.direction)) {
          const j = indexOf.get(other);
          const probe =
            j === undefined ? undefined : probesFor((chosen[j] as ForkTarget).model).index.get(src.source);
          if (j !== undefined && probe !== undefined) fromRun.push({ twin: j, probe });
          else {
            const v = asNumber(world.latest(other, src.source));
            if (v !== undefined) held.push(v);
          }
        }
        return { input: input.name, fromRun, held };
      });
    return {
      twinId: id,
      model,
      probes: p,
      fork,
      forkTime,
      rt,
      y0,
      relationships,
      units: unitsOf(model, interfaces?.getInterface(interfaceId)),
    };
  });
}

/** The live state when it fits the behaviour (a snapshot of another version of it is not used). */
function usableSnapshot(
  live: ReturnType<NonNullable<WhatIfWorld['snapshot']>>,
  model: CompiledBehaviour,
): ReturnType<NonNullable<WhatIfWorld['snapshot']>> {
  if (!live) return undefined;
  const s = live.snapshot;
  const { states, inputs, faults } = model.layout;
  const fits =
    Number.isFinite(s.t) &&
    s.state.length === states.length &&
    s.state.every((v) => Number.isFinite(v)) &&
    (s.inputs === undefined || s.inputs.length === inputs.length) &&
    (s.faultStart === undefined || s.faultStart.length === faults.length) &&
    (s.faultHold === undefined || s.faultHold.length === faults.length);
  return fits ? live : undefined;
}

/** Units by series name: the behaviour's, and the DTDL interface's for telemetry and properties. */
function unitsOf(model: CompiledBehaviour, iface: InterfaceInfo | undefined): Record<string, string> {
  const units: Record<string, string> = {};
  for (const s of model.spec.states) if (s.unit) units[s.name] = s.unit;
  for (const o of model.spec.outputs) if (o.unit) units[o.name] = o.unit;
  for (const m of [...model.spec.telemetry, ...model.spec.properties]) {
    const declared = iface?.contents.get(m.name)?.unit;
    const from = m.from.ast.kind === 'name' ? units[m.from.ast.name] : undefined;
    const unit = declared ?? from;
    if (unit && units[m.name] === undefined) units[m.name] = unit;
  }
  return units;
}
