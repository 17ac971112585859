/**
 * The pump-line pilot played headless for the fault-detection benchmark and its test: the pilot's
 * models, behaviours and (optionally) its twins, relationships and scenario, stepped by the fleet
 * runner at the scenario's sampling interval with no clock, no MQTT and no server, plus extra
 * stand-alone pumps (fed at the default inlet pressure) that stay healthy or get seeded random
 * faults. Returns every reading as a TelemetryObservation and the list of injected faults with the
 * pumps each one disturbs and when, which is all the scoring needs (fault-eval.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import type { TelemetryObservation } from '../../src/analytics/analytics-types.js';
import { isValidResult, parseDtdl } from '../../src/core/models/dtdl/parse-dtdl.js';
import type { ModelLookup } from '../../src/core/models/model-types.js';
import { installBehaviourPlugin } from '../../src/sim/behaviour/behaviour-plugin.js';
import { compileBehaviour, type CompiledBehaviour } from '../../src/sim/behaviour/compile-behaviour.js';
import { seededRandom } from '../../src/sim/behaviour/random.js';
import { createFleetRunner, type FleetRunner } from '../../src/sim/runner/fleet-runner.js';
import { expandScenarioAssets } from '../../src/sim/scenario/expand-assets.js';
import { readScenario } from '../../src/sim/scenario/read-scenario.js';
import { resolveScenarioEvents, scheduleScenarioEvent } from '../../src/sim/scenario/scenario-events.js';

export const PILOT_DIR = join(fileURLToPath(new URL('.', import.meta.url)), '../../pilots/pump-line');
export const PUMP = 'dtmi:twinloop:pumpline:Pump;1';
export const TANK = 'dtmi:twinloop:pumpline:Tank;1';
const HOUR = 3600;
/** Source time of simulated second 0 (ms). */
export const EPOCH_MS = Date.UTC(2026, 0, 1);
/** The pump faults drawn at random (the behaviour's; supplyLoss is the tanks'). */
export const PUMP_FAULTS = ['bearingDamage', 'cavitation', 'sensorDrift', 'flowDropout'] as const;

/** A simulated twin: its model and its properties (the twin file's, then the behaviour's outputs). */
export interface SimTwin {
  id: string;
  modelId: string;
  props: Record<string, unknown>;
}

/** One disturbance of some pumps: a fault injected, or pumps stopped by command. */
export interface Injection {
  kind: string;
  /** The twin it was applied to (a pump, or a tank for supplyLoss). */
  twin: string;
  /** Pumps whose readings it disturbs: the twin itself, or the pumps downstream of it. */
  pumps: string[];
  /** Simulated seconds. */
  at: number;
  /** When the fault switches off (Infinity: it stays to the end). */
  end: number;
  source: 'scenario' | 'random';
}

export interface PilotSimOptions {
  days: number;
  seed: number;
  /** Play the pilot's twins (7 pumps, 2 tanks) and its scenario (default true). */
  pilot?: boolean;
  /** Stand-alone pumps that stay healthy all along. */
  healthyPumps: number;
  /** Random injections per pump fault kind, each on its own stand-alone pump. */
  randomPerKind: number;
  /** The pump fault kinds drawn (default all of PUMP_FAULTS). */
  kinds?: readonly string[];
  /** Random supplyLoss injections on the pilot's tanks (pilot only; default randomPerKind). */
  randomSupplyLoss?: number;
  /** Random faults start in [earliest, end - latestBeforeEnd] (s; defaults 3 h and 3 h). */
  earliest?: number;
  latestBeforeEnd?: number;
}

export interface PilotSim {
  observations: TelemetryObservation[];
  injections: Injection[];
  /** Every simulated pump id, and those never disturbed. */
  pumps: string[];
  healthy: string[];
  /** Simulated seconds and the sampling interval. */
  seconds: number;
  sampleInterval: number;
  /**
   * Every twin played (the pilot's, the scenario's and the stand-alone pumps), with the properties
   * the simulator last wrote merged in (the pump behaviour writes `vibrationLimit`, which the
   * stand-alone pumps have from nowhere else), and the relationships: what a rule's twin context reads.
   */
  twins: SimTwin[];
  relationships: { from: string; name: string; to: string }[];
}

/** The pilot's models, parsed. @throws Error when they do not parse. */
export function pilotModels(): ModelLookup {
  const parsed = parseDtdl(
    readdirSync(join(PILOT_DIR, 'models'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ source: f, text: readFileSync(join(PILOT_DIR, 'models', f), 'utf8') })),
  );
  if (!isValidResult(parsed)) throw new Error('The pump-line pilot models do not parse.');
  return {
    getInterface: (id) => parsed.interfaces.get(id),
    isOfModel: (m, b) => m === b || (parsed.interfaces.get(m)?.ancestors.includes(b) ?? false),
  };
}

let pluginsInstalled = false;

/** Plays the pilot; deterministic for a given seed. */
export async function simulatePilot(o: PilotSimOptions): Promise<PilotSim> {
  const withPilot = o.pilot ?? true;
  if (withPilot && !pluginsInstalled) {
    for (const f of readdirSync(join(PILOT_DIR, 'behaviours')).filter((x) => x.endsWith('.plugin.mjs'))) {
      const file = join(PILOT_DIR, 'behaviours', f);
      const mod = (await import(pathToFileURL(file).href)) as { default: unknown };
      installBehaviourPlugin(mod.default, file);
    }
    pluginsInstalled = true;
  }
  const lookup = pilotModels();
  const scenarioFile = join(PILOT_DIR, 'scenario.yaml');
  const scenario = readScenario(readFileSync(scenarioFile, 'utf8'), scenarioFile).scenario;
  if (!scenario) throw new Error('The pump-line scenario does not read.');
  const sampleInterval = scenario.simulation.sampleInterval ?? 10;

  const compiled = new Map<string, CompiledBehaviour>();
  for (const f of readdirSync(join(PILOT_DIR, 'behaviours')).filter((x) => x.endsWith('.yaml'))) {
    const text = readFileSync(join(PILOT_DIR, 'behaviours', f), 'utf8');
    const iface = String((parseYaml(text) as { interface: unknown }).interface);
    if (!withPilot && iface !== PUMP) continue;
    const def = lookup.getInterface(iface);
    if (!def) throw new Error(`No interface ${iface}.`);
    compiled.set(iface, compileBehaviour(text, def, { source: f, lookup }));
  }
  const pumpModel = compiled.get(PUMP);
  if (!pumpModel) throw new Error('The pilot has no pump behaviour.');

  // ---- the twins: the pilot's, then the stand-alone pumps ----
  const twins: SimTwin[] = [];
  const relationships: { from: string; name: string; to: string }[] = [];
  if (withPilot) {
    const graph = JSON.parse(readFileSync(join(PILOT_DIR, 'twins.json'), 'utf8')) as {
      twins: Record<string, unknown>[];
      relationships: Record<string, unknown>[];
    };
    const generated = expandScenarioAssets(scenario);
    for (const t of [...graph.twins, ...generated.twins])
      twins.push({
        id: String(t.$dtId),
        modelId: String((t.$metadata as { $model: string }).$model),
        props: t,
      });
    for (const r of [...graph.relationships, ...generated.relationships])
      relationships.push({
        from: String(r.$sourceId),
        name: String(r.$relationshipName),
        to: String(r.$targetId),
      });
  }
  const random = seededRandom(o.seed);
  const extra = (name: string): string => {
    twins.push({ id: name, modelId: PUMP, props: {} });
    return name;
  };
  for (let i = 0; i < o.healthyPumps; i++) extra(`pump-h${i + 1}`);
  const seconds = o.days * 24 * HOUR;
  const earliest = o.earliest ?? 3 * HOUR;
  const latest = seconds - (o.latestBeforeEnd ?? 3 * HOUR);
  const onGrid = (t: number): number => Math.round(t / sampleInterval) * sampleInterval;
  const draw = (): number => onGrid(earliest + random() * Math.max(0, latest - earliest));
  const faultSpec = (model: CompiledBehaviour, name: string) => {
    const f = model.spec.faults.find((x) => x.name === name);
    if (!f) throw new Error(`No fault ${name}.`);
    return f;
  };

  const related = (id: string, name: string, dir: 'outgoing' | 'incoming'): string[] =>
    relationships
      .filter((r) => r.name === name && (dir === 'outgoing' ? r.from : r.to) === id)
      .map((r) => (dir === 'outgoing' ? r.to : r.from));
  /** The pumps a twin's trouble reaches: itself if a pump, and every pump downstream (feeds). */
  const downstream = (id: string): string[] => {
    const out = new Set<string>();
    const visit = (x: string): void => {
      for (const y of related(x, 'feeds', 'outgoing'))
        if (!out.has(y)) {
          out.add(y);
          visit(y);
        }
    };
    visit(id);
    if (twins.find((t) => t.id === id)?.modelId === PUMP) out.add(id);
    return [...out].filter((p) => twins.find((t) => t.id === p)?.modelId === PUMP).sort();
  };

  // Each random pump fault on its own stand-alone pump (degradation and drift never switch off).
  const planned: Injection[] = [];
  for (const kind of o.kinds ?? PUMP_FAULTS)
    for (let k = 0; k < o.randomPerKind; k++) {
      const id = extra(`pump-f-${kind}-${k + 1}`);
      planned.push({ kind, twin: id, pumps: [id], at: draw(), end: Infinity, source: 'random' });
    }

  // ---- runners, one per behaviour, stepped together ----
  const latestValues = new Map<string, Record<string, number | boolean>>();
  const observations: TelemetryObservation[] = [];
  const runners = new Map<string, FleetRunner>();
  const twinById = new Map(twins.map((t) => [t.id, t]));
  for (const [iface, model] of compiled) {
    const ids = twins.filter((t) => t.modelId === iface).map((t) => t.id);
    const runner = createFleetRunner({
      model,
      assets: ids.map((id) => ({ id })),
      sampleInterval,
      seed: o.seed,
      sink: (r) => {
        latestValues.set(r.assetId, { ...latestValues.get(r.assetId), ...r.values });
        // As the platform's simulator does: the behaviour's property outputs patch the twin.
        const twin = twinById.get(r.assetId);
        if (twin) for (const [k, v] of Object.entries(r.properties)) twin.props[k] = v;
        observations.push({
          workspace: 'default',
          twinId: r.assetId,
          modelId: iface,
          time: EPOCH_MS + r.time * 1000,
          values: r.values,
        });
      },
      relationships: (id, input) => {
        const src = input.source;
        if (src.kind !== 'relationship') return [];
        return related(id, src.relationship, src.direction).flatMap((other) => {
          const v =
            latestValues.get(other)?.[src.source] ?? twins.find((t) => t.id === other)?.props[src.source];
          return typeof v === 'number' ? [v] : typeof v === 'boolean' ? [v ? 1 : 0] : [];
        });
      },
    });
    for (const input of model.spec.inputs)
      if (input.source.kind === 'property')
        for (const id of ids) {
          const v = twins.find((t) => t.id === id)?.props[input.source.property];
          if (typeof v === 'number') runner.setInput(id, input.name, v);
        }
    runners.set(iface, runner);
  }

  // ---- the faults: the scenario's, then the random ones ----
  const injections: Injection[] = [];
  if (withPilot) {
    const stopped = new Map<string, number>();
    const scenarioTwins = twins.map((t) => ({ id: t.id, modelId: t.modelId }));
    for (const e of resolveScenarioEvents(scenario, scenarioTwins, lookup.isOfModel)) {
      const modelId = twins.find((t) => t.id === e.twin)?.modelId ?? '';
      const runner = runners.get(modelId);
      if (!runner || e.at > seconds) continue;
      scheduleScenarioEvent(runner, e);
      const a = e.action;
      if (a.kind === 'fault' && a.on) {
        const f = faultSpec(compiled.get(modelId)!, a.fault);
        injections.push({
          kind: a.fault,
          twin: e.twin,
          pumps: downstream(e.twin),
          at: e.at,
          end: e.at + f.duration,
          source: 'scenario',
        });
      } else if (a.kind === 'command' && a.command === 'setRunning') {
        if (a.payload === false) stopped.set(e.twin, e.at);
        else if (stopped.has(e.twin)) {
          const at = stopped.get(e.twin)!;
          stopped.delete(e.twin);
          injections.push({
            kind: 'stopped (command)',
            twin: e.twin,
            pumps: downstream(e.twin),
            at,
            end: e.at,
            source: 'scenario',
          });
        }
      }
    }
  }
  const pumpRunner = runners.get(PUMP)!;
  if (withPilot) {
    const tanks = twins.filter((t) => t.modelId === TANK).map((t) => t.id);
    const tankModel = compiled.get(TANK);
    for (let k = 0; k < (o.randomSupplyLoss ?? o.randomPerKind) && tankModel && tanks.length; k++) {
      const tank = tanks[k % tanks.length]!;
      const at = draw();
      runners.get(TANK)!.activateFault(tank, 'supplyLoss', at);
      injections.push({
        kind: 'supplyLoss',
        twin: tank,
        pumps: downstream(tank),
        at,
        end: at + faultSpec(tankModel, 'supplyLoss').duration,
        source: 'random',
      });
    }
  }
  for (const inj of planned) {
    pumpRunner.activateFault(inj.twin, inj.kind, inj.at);
    inj.end = inj.at + faultSpec(pumpModel, inj.kind).duration;
    injections.push(inj);
  }

  const end = onGrid(seconds);
  for (let t = 0; t <= end; t += sampleInterval) for (const r of runners.values()) r.advanceTo(t);
  const pumps = twins.filter((t) => t.modelId === PUMP).map((t) => t.id);
  const disturbed = new Set(injections.flatMap((i) => i.pumps));
  return {
    observations,
    injections: injections.sort((a, b) => a.at - b.at),
    pumps,
    healthy: pumps.filter((p) => !disturbed.has(p)),
    seconds: end,
    sampleInterval,
    twins,
    relationships,
  };
}
