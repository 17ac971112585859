/**
 * The pump-line pilot's own rules (pilots/pump-line/rules/*.yaml) over a played pilot
 * (pilot-sim.ts), composed as the platform's analytics run composes them (analytics-run.ts): each
 * reading set goes to the DerivedEngine (the pilot's derived/*.yaml) first, then to the RuleEngine,
 * and the derived values it writes reach the rules after the reading that caused them, as the
 * derived writer's committed sets do on the platform; both engines tick on the readings' time base
 * after every sampling instant. The twin context is the simulated graph: the pilot's twins and
 * relationships and the stand-alone pumps, with the properties the simulator writes. Alarms are
 * then matched to the injected faults exactly as the detectors' are (fault-eval.ts alarmFigures).
 */
import type { AlarmRaise, TelemetryObservation, TwinContext } from '../../src/analytics/analytics-types.js';
import { DerivedEngine } from '../../src/analytics/derived/derived-engine.js';
import { derivedNamesOf } from '../../src/analytics/derived/derived-types.js';
import { readRuleText } from '../../src/analytics/rules/read-rule.js';
import { ruleModelSchema } from '../../src/analytics/rules/rule-context.js';
import { RuleEngine, type RuleEngineStats } from '../../src/analytics/rules/rule-engine.js';
import type { VersionedRule } from '../../src/analytics/rules/rule-types.js';
import { readPilotRules } from '../../src/app/pilot-files.js';
import { loadPilotDerived } from '../../src/app/pilot-loader.js';
import { alarmFigures, undisturbedDays, type AlarmFigures } from './fault-eval.js';
import { PILOT_DIR, pilotModels, TANK, type PilotSim } from './pilot-sim.js';

export interface RuleEvalOptions {
  /** Quiet time after a fault ends before alarms count as false (s; default 30 min). */
  graceS?: number;
  /** How long after a fault that ends an alarm still counts as its detection (s; default 30 min). */
  detectWithinS?: number;
}

export interface RuleEvalResult extends AlarmFigures {
  /** The rule ids evaluated. */
  rules: string[];
  /** Every alarm raised, in order. */
  raised: AlarmRaise[];
  /** Pump-days of the never-disturbed pumps and of every pump's undisturbed time (whole run: rules have no probation). */
  healthyPumpDays: number;
  quietPumpDays: number;
  /** Tank-days outside the tanks' fault windows (the tanks' false alarms are counted apart). */
  quietTankDays: number;
  /** Derived value sets written (they went back to the rules). */
  derivedSets: number;
  engine: RuleEngineStats;
  wallMs: number;
}

const WS = 'default';

/** Runs the pilot's derived values and rules over the readings; matches the alarms to the faults. */
export function evaluateRules(sim: PilotSim, o: RuleEvalOptions = {}): RuleEvalResult {
  const models = pilotModels();
  const twins = new Map(sim.twins.map((t) => [t.id, t]));
  const context: TwinContext = {
    modelOf: (_ws, id) => twins.get(id)?.modelId,
    isOfModel: (_ws, m, b) => models.isOfModel(m, b),
    property: (_ws, id, name) => twins.get(id)?.props[name],
    related: (_ws, id, name) =>
      sim.relationships.filter((r) => r.from === id && r.name === name).map((r) => r.to),
  };
  const { sets } = loadPilotDerived(PILOT_DIR, {
    models,
    twinModel: (id) => twins.get(id)?.modelId,
  });
  const derivedNames = (modelId: string): string[] => derivedNamesOf(sets, modelId, models.isOfModel);
  const rules: VersionedRule[] = readPilotRules(PILOT_DIR).map((f) => {
    const r = readRuleText(f.text, /\.json$/.test(f.source) ? 'json' : 'yaml', {
      source: f.source,
      schema: (modelId) => ruleModelSchema(models, modelId, derivedNames),
    });
    if (!r.rule) throw new Error(`${f.source}: ${r.problems.map((p) => p.message).join('; ')}`);
    return { spec: r.rule, version: 1 };
  });

  const raised: AlarmRaise[] = [];
  const engine = new RuleEngine({
    sink: { raise: (a) => raised.push(a), conditionCleared: () => undefined },
    context,
  });
  engine.setRules(WS, rules, 0);
  /** Derived sets written while the engine handles one reading (or tick), for the rules after it. */
  const pending: TelemetryObservation[] = [];
  let derivedSets = 0;
  const derived = new DerivedEngine({
    sets,
    context,
    sink: {
      write: (ws, twinId, time, values) =>
        pending.push({
          workspace: ws,
          twinId,
          modelId: context.modelOf(ws, twinId) ?? '',
          time,
          values: { ...values },
        }),
    },
    // healthIndex goes to the twin's property on the platform; no rule reads it.
    propertySink: { write: () => undefined },
  });
  for (const t of sim.twins) derived.watch(WS, t.id);
  const toRules = (): void => {
    for (const d of pending) engine.observe(d);
    derivedSets += pending.length;
    pending.length = 0;
  };
  const tick = (now: number): void => {
    derived.tick(now);
    toRules();
    engine.tick(now);
  };

  const t0 = performance.now();
  let now = -Infinity;
  for (const obs of sim.observations) {
    if (obs.time > now) {
      if (now > -Infinity) tick(now);
      now = obs.time;
    }
    derived.observe(obs);
    engine.observe(obs);
    toRules();
  }
  if (now > -Infinity) tick(now);
  const wallMs = performance.now() - t0;

  const graceS = o.graceS ?? 1800;
  const figures = alarmFigures(sim, raised, { graceS, detectWithinS: o.detectWithinS ?? 1800 });
  const tanks = sim.twins.filter((t) => t.modelId === TANK).map((t) => t.id);
  return {
    ...figures,
    rules: rules.map((r) => r.spec.id),
    raised,
    healthyPumpDays: (sim.healthy.length * sim.seconds) / 86_400,
    quietPumpDays: undisturbedDays(sim, sim.pumps, 0, graceS),
    quietTankDays: undisturbedDays(sim, tanks, 0, graceS),
    derivedSets,
    engine: engine.stats(),
    wallMs,
  };
}
