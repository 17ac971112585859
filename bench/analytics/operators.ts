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
 *   [--spacing-ms 50] [--every] [--write] [--digest] [--by-name] [--payload pump|pumpline]. `--every`: every derived value stored (no
 *   deadbands). `--by-name`: how many values of each name the last round stored. `--digest`: prints a digest of everything the operators decided in each round
 *   (every derived set with its values, what was stored, property values, alarms), to show that a
 *   change of the code keeps them (it costs CPU: not for the figures).
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
import {
  buildAnalyticsOperators,
  reportDerivedSets,
} from '../../src/analytics/runtime/analytics-operators.js';
import { AnalyticsRuntime } from '../../src/analytics/runtime/analytics-runtime.js';
import { DerivedWriter } from '../../src/analytics/runtime/derived-writer.js';
import { TwinReplica, type ReplicaSnapshot } from '../../src/analytics/runtime/twin-replica.js';
import { readPilotAnomalyPlan } from '../../src/app/pilot-analytics.js';
import { readPilotDerived, readPilotRules, resolvePilotDir } from '../../src/app/pilot-files.js';
import { DETECTOR_KINDS } from '../../src/analytics/anomaly/detector.js';
import type { LiveEvent } from '../../src/core/live/live-events.js';
import { parseDtdl } from '../../src/core/models/dtdl/parse-dtdl.js';
import type { ModelLookup } from '../../src/core/models/model-types.js';
import { pumpPayloadJson, uniformSource } from '../ingest/pump-payload.js';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';

const argv = process.argv.slice(2);
const pumps = numberFlag(argv, '--pumps', 1000);
const messages = numberFlag(argv, '--messages', 200_000);
const rounds = numberFlag(argv, '--rounds', 5);
const spacingMs = numberFlag(argv, '--spacing-ms', 50);
const every = argv.includes('--every');
const digest = argv.includes('--digest');
const byName = argv.includes('--by-name');
/** 'pump' (default: a healthy pump) or 'pumpline' (bench:ingest's sawtooth ramps: the pilot's rules and detectors raise and clear alarms). */
const payload = argv.includes('--payload') ? (argv[argv.indexOf('--payload') + 1] ?? '') : 'pump';
if (payload !== 'pump' && payload !== 'pumpline')
  throw new Error(`--payload: '${payload}' is not pump or pumpline`);
/** The sawtooth of load-generator.ts's 'pumpline' payload, message `seq` of a device. */
const pumplineJson = (seq: number): string =>
  `{"vibration":${(2 + (seq % 31) / 10).toFixed(1)},"temperature":${(40 + (seq % 50) / 10).toFixed(1)},"flow":${40 + (seq % 9)},"dischargePressure":${(3 + (seq % 13) / 10).toFixed(1)},"running":${seq % 211 !== 0}}`;

/** FNV-1a over strings and numbers (their exact bits): the digest of a round's outputs. */
class Digest {
  private h = 0x811c9dc5;
  private readonly f = new Float64Array(1);
  private readonly b = new Uint8Array(this.f.buffer);
  str(s: string): void {
    for (let i = 0; i < s.length; i++) this.h = Math.imul(this.h ^ s.charCodeAt(i), 0x01000193);
    this.h = Math.imul(this.h ^ 0xff, 0x01000193);
  }
  num(x: number): void {
    this.f[0] = x;
    for (const byte of this.b) this.h = Math.imul(this.h ^ byte, 0x01000193);
  }
  values(v: Readonly<Record<string, unknown>>): void {
    for (const k of Object.keys(v)) {
      this.str(k);
      const x = v[k];
      if (typeof x === 'number') this.num(x);
      else this.str(String(x));
    }
  }
  get hex(): string {
    return (this.h >>> 0).toString(16).padStart(8, '0');
  }
}
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
const uniform = uniformSource();
const T0 = 1_800_000_000_000;
function reading(i: number): TelemetryObservation {
  const p = i % pumps;
  // Values as the ingest thread hands them on: parsed from the JSON the devices send.
  const json = payload === 'pump' ? pumpPayloadJson(p, uniform) : pumplineJson(Math.floor(i / pumps));
  const values = JSON.parse(json) as Record<string, unknown>;
  return {
    workspace: WS,
    twinId: `pump-${p + 1}`,
    modelId: PUMP,
    time: T0 + Math.floor(i / pumps) * spacingMs + p * (spacingMs / pumps),
    values,
  };
}

interface RoundResult {
  digest?: string;
  /** Values stored per derived value name (--by-name). */
  storedByName?: Map<string, number>;
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
  const storedByName = byName ? new Map<string, number>() : undefined;
  let alarms = 0;
  const d = digest ? new Digest() : undefined;
  const alarmSink: AlarmSink = {
    raise: (a) => {
      alarms++;
      if (d) {
        d.str(`raise ${a.twinId} ${a.ruleId} ${a.message}`);
        d.num(a.time);
        d.num(a.value ?? NaN);
      }
    },
    conditionCleared: (c) => {
      if (d) {
        d.str(`clear ${c.twinId} ${c.ruleId} ${c.reason}`);
        d.num(c.time);
      }
    },
  };
  // As analytics-worker.ts: report by exception on what is stored, every value back to the rules.
  let flush: (() => void) | undefined;
  const writer: DerivedWriter = new DerivedWriter({
    schedule: (fn) => void (flush = fn),
    write: (sets) => {
      if (d)
        for (const s of sets) {
          d.str(`set ${s.twinId}`);
          d.num(s.time);
          d.values(s.values);
        }
      const events = reportDerivedSets(sets, {
        report: ops.report,
        modelOf: (ws, id) => replica.modelOf(ws, id),
        store: (s, reported) => {
          stored += Object.keys(reported).length;
          if (storedByName)
            for (const k of Object.keys(reported)) storedByName.set(k, (storedByName.get(k) ?? 0) + 1);
          if (d) {
            d.str(`stored ${s.twinId}`);
            d.num(s.time);
            d.values(reported);
          }
        },
      });
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
    properties: {
      write: (_ws, id, time, name, value) => {
        if (d) {
          d.str(`property ${id} ${name}`);
          d.num(time);
          d.num(value);
        }
      },
      tick: () => undefined,
      forgetTwin: () => undefined,
    },
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
    ...(d ? { digest: d.hex } : {}),
    ...(storedByName ? { storedByName } : {}),
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
  `- \`npm run bench:analytics:operators -- --pumps ${pumps} --messages ${messages} --rounds ${rounds} --spacing-ms ${spacingMs}${every ? ' --every' : ''}${payload !== 'pump' ? ` --payload ${payload}` : ''}\`; ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}. ${loadNote()}`,
  `- The pump-line pilot's derived values, anomaly plan and rules over ${pumps} pumps, composed as the analytics worker composes them (report by exception ${every ? 'off: every derived value stored' : 'on'}), fed the '${payload}' payload of bench:analytics (5 readings per message) at ${spacingMs} ms per pump; CPU time of the operators only (no broker, store or thread hop), after one warm-up round.`,
  `- **${median(us).toFixed(1)} µs of CPU per message** (median of ${rounds}; per round ${us.map((u) => u.toFixed(1)).join(' / ')}); last round: ${last.scored.toLocaleString('en')} readings scored, ${last.stored.toLocaleString('en')} derived values stored, ${last.held.toLocaleString('en')} held back, ${last.alarms} alarms.`,
  '',
].join('\n');
console.log(block);
if (last.storedByName)
  console.log(
    `stored by name, last round: ${[...last.storedByName]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n.toLocaleString('en')}`)
      .join(', ')}`,
  );
if (digest) console.log(`digests per round (warm-up excluded): ${results.map((r) => r.digest).join(' ')}`);
if (argv.includes('--write')) appendResults(block);
