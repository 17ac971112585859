/**
 * Micro-benchmark of the analytics operators alone: the pump-line pilot's derived values, anomaly
 * plan and rules, composed exactly as the analytics worker composes them (buildAnalyticsOperators
 * over a TwinReplica, the DerivedWriter merging each reading's derived values and scores, report by
 * exception, derived values handed back to the rules), fed the readings `bench:analytics` sends
 * (payload 'pump': a healthy pump's telemetry with the pilot's sensor noise) for N pumps at the
 * spacing they reach the platform at under saturating load. No broker, no store, no thread hop:
 * the CPU time per message the operators cost, which bounds the ingest ratio of bench:analytics.
 *
 * Usage: npx tsx bench/analytics/operators.ts [--pumps 1000] [--messages 200000] [--rounds 5]
 *   [--spacing-ms 50] [--every] [--write]. `--every`: every derived value stored (no deadbands).
 *   Profile: node --cpu-prof --import tsx bench/analytics/operators.ts --rounds 1
 */
import os from 'node:os';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { AlarmSink, TelemetryObservation } from '../../src/analytics/analytics-types.js';
import { checkDerived } from '../../src/analytics/derived/check-derived.js';
import { readDerived } from '../../src/analytics/derived/read-derived.js';
import { readRuleText } from '../../src/analytics/rules/read-rule.js';
import type { VersionedRule } from '../../src/analytics/rules/rule-types.js';
import { anomalyPlanOf } from '../../src/analytics/runtime/analytics-plans.js';
import { buildAnalyticsOperators } from '../../src/analytics/runtime/analytics-operators.js';
import { AnalyticsRuntime } from '../../src/analytics/runtime/analytics-runtime.js';
import { DerivedWriter } from '../../src/analytics/runtime/derived-writer.js';
import { TwinReplica, type ReplicaSnapshot } from '../../src/analytics/runtime/twin-replica.js';
import { readPilotAnomalyPlan } from '../../src/app/pilot-analytics.js';
import { readPilotDerived, readPilotRules, resolvePilotDir } from '../../src/app/pilot-files.js';
import { DETECTOR_KINDS } from '../../src/analytics/anomaly/detector.js';
import type { LiveEvent } from '../../src/core/live/live-events.js';
import { parseDtdl } from '../../src/core/models/dtdl/parse-dtdl.js';
import type { ModelLookup } from '../../src/core/models/model-types.js';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';

const argv = process.argv.slice(2);
const pumps = numberFlag(argv, '--pumps', 1000);
const messages = numberFlag(argv, '--messages', 200_000);
const rounds = numberFlag(argv, '--rounds', 5);
const spacingMs = numberFlag(argv, '--spacing-ms', 50);
const every = argv.includes('--every');
const WS = 'default';
const PUMP = 'dtmi:twinloop:pumpline:Pump;1';

// ---- the pilot: models, twins (its own and `pumps` extra pumps), derived values, anomaly plan, rules
const pilotDir = resolvePilotDir('pump-line');
const parsed = parseDtdl(
  readdirSync(path.join(pilotDir, 'models'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => ({ source: f, text: readFileSync(path.join(pilotDir, 'models', f), 'utf8') })),
);
const lookup: ModelLookup = {
  getInterface: (id) => parsed.interfaces.get(id),
  isOfModel: (m, b) => m === b || (parsed.interfaces.get(m)?.ancestors.includes(b) ?? false),
};
type PilotTwin = { $dtId: string; $metadata: { $model: string }; [k: string]: unknown };
type PilotRel = { $sourceId: string; $relationshipId: string; $relationshipName: string; $targetId: string };
const pilot = JSON.parse(readFileSync(path.join(pilotDir, 'twins.json'), 'utf8')) as {
  twins: PilotTwin[];
  relationships: PilotRel[];
};
const snapshot: ReplicaSnapshot = { twins: [], rels: [], models: [] };
for (const t of pilot.twins) {
  const { $dtId, $metadata, ...contents } = t;
  snapshot.twins.push({ id: $dtId, modelId: $metadata.$model, contents });
}
for (const r of pilot.relationships)
  snapshot.rels.push([r.$sourceId, r.$relationshipId, r.$relationshipName, r.$targetId]);
for (let i = 1; i <= pumps; i++)
  snapshot.twins.push({
    id: `pump-${i}`,
    modelId: PUMP,
    contents: { serialNumber: `BENCH-${i}`, vibrationLimit: 7.1, flowSetpoint: 42 },
  });
for (const id of parsed.interfaces.keys())
  snapshot.models.push([id, [...(parsed.interfaces.get(id)?.ancestors ?? [])]]);
const twinModel = (id: string): string | undefined => snapshot.twins.find((t) => t.id === id)?.modelId;

const specs = readPilotDerived('pump-line').map((f) => {
  const r = readDerived(f.text, f.source);
  if (!r.spec) throw new Error(JSON.stringify(r.problems));
  return r.spec;
});
const checked = checkDerived(specs, { models: lookup, twinModel, modelIds: () => parsed.interfaces.keys() });
if (checked.problems.some((p) => p.severity !== 'warning')) throw new Error(JSON.stringify(checked.problems));
const anomalySpec = readPilotAnomalyPlan('pump-line', DETECTOR_KINDS);
const rules: VersionedRule[] = readPilotRules('pump-line').map((f) => {
  const r = readRuleText(f.text, 'yaml', { source: f.source });
  if (!r.rule) throw new Error(JSON.stringify(r.problems));
  return { spec: r.rule, version: 1 };
});

// ---- the readings: payload 'pump' of bench/ingest/load-generator.ts, round-robin over the pumps
let rng = 0x9e3779b9;
function uniform(): number {
  rng ^= rng << 13;
  rng ^= rng >>> 17;
  rng ^= rng << 5;
  return (rng >>> 0) / 4294967296;
}
const normal = (): number => (uniform() + uniform() + uniform() + uniform() - 2) * Math.sqrt(3);
const T0 = 1_800_000_000_000;
function reading(i: number): TelemetryObservation {
  const p = i % pumps;
  const d = p % 10;
  // Values as the ingest thread hands them on: parsed from the JSON the devices send.
  const values = JSON.parse(
    `{"vibration":${(2 + 0.05 * d + 0.05 * normal()).toFixed(2)},"temperature":${(50 + d + 0.1 * normal()).toFixed(1)},"flow":${(40 + d + 0.3 * normal()).toFixed(2)},"dischargePressure":${(4 + 0.1 * d + 0.01 * normal()).toFixed(3)},"running":true}`,
  ) as Record<string, unknown>;
  return {
    workspace: WS,
    twinId: `pump-${p + 1}`,
    modelId: PUMP,
    time: T0 + Math.floor(i / pumps) * spacingMs + p * (spacingMs / pumps),
    values,
  };
}

interface RoundResult {
  usPerMessage: number;
  stored: number;
  held: number;
  alarms: number;
  scored: number;
}

/** One round: fresh operators, `messages` readings prepared, then fed in batches of 100 as the bus does. */
async function round(): Promise<RoundResult> {
  const replica = new TwinReplica(WS);
  replica.load(snapshot);
  let deliver: ((events: readonly LiveEvent[]) => void) | undefined;
  let stored = 0;
  let alarms = 0;
  const alarmSink: AlarmSink = { raise: () => void alarms++, conditionCleared: () => undefined };
  // As analytics-worker.ts: report by exception on what is stored, every value back to the rules.
  let flush: (() => void) | undefined;
  const writer: DerivedWriter = new DerivedWriter({
    schedule: (fn) => void (flush = fn),
    write: (sets) => {
      const events: LiveEvent[] = [];
      for (const s of sets) {
        const reported = ops.report
          ? ops.report.reportable(s.workspace, s.twinId, s.time, s.values)
          : s.values;
        if (reported !== undefined) stored += Object.keys(reported).length;
        const modelId = replica.modelOf(s.workspace, s.twinId);
        if (modelId !== undefined)
          events.push({
            type: 'telemetry',
            workspace: s.workspace,
            twinId: s.twinId,
            modelId,
            time: s.time,
            values: s.values,
            derived: true,
          });
      }
      if (events.length) deliver?.(events);
      return Promise.resolve({ refused: [] });
    },
  });
  const isOf = (m: string, b: string): boolean => replica.isOfModel(WS, m, b);
  const ops = buildAnalyticsOperators({
    workspace: WS,
    context: replica,
    sink: writer,
    alarms: alarmSink,
    properties: { write: () => undefined, tick: () => undefined, forgetTwin: () => undefined },
    derived: checked.sets,
    rules: true,
    ...(anomalySpec ? { anomaly: anomalyPlanOf(anomalySpec, isOf) } : {}),
    anomalyThreshold: 0.9,
    deadbands: !every,
    recentPoints: () => Promise.resolve([]),
    forecastHistory: () => Promise.resolve([]),
    onWarmUpError: () => undefined,
    twinIds: replica.twinIds(),
  });
  ops.rules?.setRules(WS, rules);
  const runtime = new AnalyticsRuntime({
    subscribe: (l) => {
      deliver = l;
      return () => (deliver = undefined);
    },
    operators: ops.operators,
    tickMs: 0,
    schedule: () => undefined, // drained below, by hand
  });
  const batch: TelemetryObservation[][] = [];
  for (let i = 0; i < messages; i += 100) {
    const b: TelemetryObservation[] = [];
    for (let j = i; j < Math.min(messages, i + 100); j++) b.push(reading(j));
    batch.push(b);
  }
  let turns = 0;
  const cpu0 = process.cpuUsage();
  for (const b of batch) {
    deliver?.(b.map((o) => ({ type: 'telemetry', ...o }) as LiveEvent));
    runtime.drainAll();
    const f = flush;
    flush = undefined;
    f?.();
    runtime.drainAll(); // the derived values handed back to the rules
    // The anomaly streams' warm-ups (history reads, answered empty here) resolve between turns.
    if (++turns % 50 === 1) await new Promise((r) => setImmediate(r));
  }
  const cpu = process.cpuUsage(cpu0);
  runtime.close();
  const s = ops.stats();
  return {
    usPerMessage: (cpu.user + cpu.system) / messages,
    stored,
    held: s.report?.held ?? 0,
    alarms,
    scored: s.anomaly?.scored ?? 0,
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
await round(); // warm-up (JIT)
const results: RoundResult[] = [];
for (let r = 0; r < rounds; r++) results.push(await round());
const us = results.map((r) => r.usPerMessage);
const last = results[results.length - 1] as RoundResult;
const block = [
  `### Analytics operators alone (bench/analytics/operators.ts) — ${new Date().toISOString()}`,
  '',
  `- \`npm run bench:analytics:operators -- --pumps ${pumps} --messages ${messages} --rounds ${rounds} --spacing-ms ${spacingMs}${every ? ' --every' : ''}\`; ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}. ${loadNote()}`,
  `- The pump-line pilot's derived values, anomaly plan and rules over ${pumps} pumps, composed as the analytics worker composes them (report by exception ${every ? 'off: every derived value stored' : 'on'}), fed the 'pump' payload of bench:analytics (5 readings per message) at ${spacingMs} ms per pump; CPU time of the operators only (no broker, store or thread hop), after one warm-up round.`,
  `- **${median(us).toFixed(1)} µs of CPU per message** (median of ${rounds}; per round ${us.map((u) => u.toFixed(1)).join(' / ')}); last round: ${last.scored.toLocaleString('en')} readings scored, ${last.stored.toLocaleString('en')} derived values stored, ${last.held.toLocaleString('en')} held back, ${last.alarms} alarms.`,
  '',
].join('\n');
console.log(block);
if (argv.includes('--write')) appendResults(block);
