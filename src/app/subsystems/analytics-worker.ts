/**
 * The analytics worker thread: the operators of one run (derived values, anomaly detection,
 * forecasts, rules) away from the thread that acknowledges devices, so their work uses another
 * core and never delays an acknowledgement. It reads twins from a TwinReplica kept current by the
 * ingest thread, and sends back what the operators decide; the ingest thread stores it (derived
 * values, properties, alarms) exactly as an in-process run does. Protocol: analytics-worker-protocol.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { AlarmSink } from '../../analytics/analytics-types.js';
import { DerivedWriter } from '../../analytics/runtime/derived-writer.js';
import { anomalyPlanOf, forecastPlanOf } from '../../analytics/runtime/analytics-plans.js';
import {
  buildAnalyticsOperators,
  reportDerivedSets,
  type PropertySinkWithTicks,
} from '../../analytics/runtime/analytics-operators.js';
import { AnalyticsRuntime } from '../../analytics/runtime/analytics-runtime.js';
import type { HistoryReading } from '../../analytics/runtime/anomaly-history.js';
import { TwinReplica } from '../../analytics/runtime/twin-replica.js';
import { loadRulPredictor } from '../../analytics/rul/rul-predictor.js';
import type { LiveEvent } from '../../core/live/live-events.js';
import type {
  AlarmOut,
  AnalyticsWorkerData,
  FromWorker,
  ToWorker,
  WorkerItem,
} from './analytics-worker-protocol.js';
import { ItemDecoder, OutEncoder } from './analytics-worker-codec.js';
import { idleThreadPolicy, lowerThreadPriority } from '../../adapters/workers/thread-priority.js';

const port = parentPort;
if (!port) throw new Error('analytics-worker.ts runs as a worker thread');
const data = workerData as AnalyticsWorkerData;
const send = (m: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);
const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

// Below the ingest thread: when the CPU is short, acknowledgements go first. SCHED_IDLE
// (analytics.workerIdle) where it can be set, else the nice value (analytics.workerNice).
const idle = data.idle ? idleThreadPolicy() : undefined;
if (idle && !idle.applied && process.platform === 'linux')
  send({
    t: 'log',
    level: 'warn',
    message: `the analytics worker could not use SCHED_IDLE: it runs at nice ${data.nice} instead`,
    fields: { reason: idle.reason },
  });
const priority = idle?.applied ? undefined : lowerThreadPriority(data.nice);
if (priority && !priority.applied && data.nice > 0 && process.platform === 'linux')
  send({
    t: 'log',
    level: 'warn',
    message: "the analytics worker could not lower its priority: it runs at the ingest thread's",
    fields: { reason: priority.reason, nice: data.nice },
  });

const replica = new TwinReplica(data.workspace);
replica.load(data.snapshot);
const isOf = (m: string, b: string): boolean => replica.isOfModel(data.workspace, m, b);

/** Hands events to the runtime's inbox (set when the runtime subscribes). */
let deliver: ((events: readonly LiveEvent[]) => void) | undefined;

// ---- outputs, sent in one message per turn
const out = new OutEncoder();
const items = new ItemDecoder<WorkerItem>();
let alarms: AlarmOut[] = [];
let propertyTick: number | undefined;
let forgetTwins: [string, string][] = [];
let flushArmed = false;
const flushOut = (): void => {
  flushArmed = false;
  const batch = out.take();
  if (batch === undefined && alarms.length + forgetTwins.length === 0 && propertyTick === undefined) return;
  send(
    {
      t: 'out',
      ...(batch !== undefined ? { batch } : {}),
      alarms,
      ...(propertyTick !== undefined ? { propertyTick } : {}),
      ...(forgetTwins.length ? { forgetTwins } : {}),
    },
    batch !== undefined ? [batch.wire.nums.buffer as ArrayBuffer] : undefined,
  );
  alarms = [];
  propertyTick = undefined;
  forgetTwins = [];
};
const armFlush = (): void => {
  if (flushArmed) return;
  flushArmed = true;
  setImmediate(flushOut);
};
/**
 * Derived values: merged per twin and time here (a reading's derived values and each detector's
 * score become one set) and sent once per turn; the ingest thread's writer stores them.
 */
const sink = new DerivedWriter({
  write: (sets) => {
    // Stored and published: what says something new (report by exception); the rules see all,
    // here, not back from the ingest thread.
    const events = reportDerivedSets(sets, {
      report: ops.report,
      modelOf: data.rules ? (ws, id) => replica.modelOf(ws, id) : undefined,
      store: (s, reported) => out.derived(s.workspace, s.twinId, s.time, reported),
    });
    if (events.length) deliver?.(events);
    armFlush();
    return Promise.resolve({ refused: [] });
  },
});
const alarmSink: AlarmSink = {
  raise(a) {
    alarms.push({ raise: a });
    armFlush();
  },
  conditionCleared(c) {
    alarms.push({ cleared: c });
    armFlush();
  },
};
const propertySink: PropertySinkWithTicks = {
  write(ws, id, time, name, value, policy) {
    out.property(ws, id, time, name, value, policy);
    armFlush();
  },
  tick(now) {
    propertyTick = now;
    armFlush();
  },
  forgetTwin(ws, id) {
    forgetTwins.push([ws, id]);
    armFlush();
  },
};

// ---- history reads, answered by the ingest thread
let nextRead = 0;
const reads = new Map<number, { resolve: (p: HistoryReading[]) => void; reject: (e: Error) => void }>();
const read = (r: Extract<FromWorker, { t: 'history' }>['read']): Promise<HistoryReading[]> =>
  new Promise((resolve, reject) => {
    const id = ++nextRead;
    reads.set(id, { resolve, reject });
    send({ t: 'history', id, read: r });
  });

/** What live RUL inference could not do (the operator limits how often). */
const rulErrors = (e: unknown, what: string): void =>
  send({
    t: 'log',
    level: 'warn',
    message: `live RUL inference: ${what} failed`,
    fields: { error: errorText(e) },
  });

const ops = buildAnalyticsOperators({
  workspace: data.workspace,
  context: replica,
  sink,
  alarms: alarmSink,
  ...(data.properties ? { properties: propertySink } : {}),
  ...(data.derived ? { derived: data.derived } : {}),
  rules: data.rules,
  ...(data.anomaly ? { anomaly: anomalyPlanOf(data.anomaly, isOf) } : {}),
  anomalyThreshold: data.anomalyThreshold,
  deadbands: data.deadbands,
  ...(data.forecast ? { forecast: forecastPlanOf(data.forecast, isOf) } : {}),
  recentPoints: (ws, twinId, name, before, limit) =>
    read({ kind: 'recent', ws, twinId, name, before, limit }),
  forecastHistory: (ws, twinId, name, from, to, spacing) =>
    read({ kind: 'cells', ws, twinId, name, from, to, spacing }),
  ...(data.rul
    ? {
        rul: {
          load: loadRulPredictor,
          first: async (ws: string, twinId: string, name: string) =>
            (await read({ kind: 'first', ws, twinId, name }))[0]?.time,
          onError: rulErrors,
        },
      }
    : {}),
  onWarmUpError: (op, e) =>
    send({
      t: 'log',
      level: 'warn',
      message: `${op} warm-up from history failed; the stream starts cold`,
      fields: { error: errorText(e) },
    }),
  twinIds: replica.twinIds(),
});

// ---- the runtime: the items' telemetry go to its inbox
let lastOpError = 0;
const runtime = new AnalyticsRuntime({
  subscribe: (l) => {
    deliver = l;
    return () => (deliver = undefined);
  },
  operators: ops.operators,
  maxInboxObservations: data.maxQueued,
  onOverflow: (total) =>
    send({
      t: 'log',
      level: 'warn',
      message:
        'the analytics fall behind ingest: readings beyond analytics.maxQueued are stored but not analysed (no derived value, anomaly score or rule evaluation); see twinloop_analytics_overflowed_total',
      fields: { overflowedTotal: total, maxQueued: data.maxQueued },
    }),
  onOperatorError: (operator, e) => {
    if (Date.now() - lastOpError < 60_000) return;
    lastOpError = Date.now();
    send({
      t: 'log',
      level: 'error',
      message: 'an analytics operator failed on a reading (counted; later ones go on)',
      fields: { operator, error: errorText(e) },
    });
  },
});

const isUpdate = (i: WorkerItem): i is Extract<WorkerItem, { k: string }> => 'k' in i;
function take(items: readonly WorkerItem[]): void {
  let telemetry: LiveEvent[] = [];
  for (const i of items) {
    if (isUpdate(i)) {
      replica.apply(i);
      continue;
    }
    if (i.type === 'telemetry') {
      telemetry.push(i);
      continue;
    }
    // In order: the readings before a lifecycle event reach the inbox before it is handled.
    if (telemetry.length) deliver?.(telemetry);
    telemetry = [];
    ops.onLifecycle(i);
  }
  if (telemetry.length) deliver?.(telemetry);
}

let lastStats = '';
const sendStats = (): void => {
  const stats = { runtime: runtime.stats(), ...ops.stats() };
  const s = JSON.stringify(stats);
  if (s === lastStats) return;
  lastStats = s;
  send({ t: 'stats', stats });
};
const statsTimer = setInterval(sendStats, 250);

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'items':
      take(items.decode(m.wire, m.rest));
      return;
    case 'setRules':
      ops.rules?.setRules(data.workspace, m.rules);
      return;
    case 'setRulModels':
      ops.rul?.setModels(m.models);
      return;
    case 'restore':
      send({ t: 'reply', id: m.id, value: ops.rules ? ops.rules.restore(m.snapshot) : 0 });
      return;
    case 'resume': {
      const r = ops.rules ? ops.rules.resumeOpen(data.workspace, m.ofRules) : { resumed: 0, cleared: 0 };
      const a = ops.anomaly ? ops.anomaly.resumeOpen(m.open) : 0;
      send({ t: 'reply', id: m.id, value: { resumed: r.resumed + a, cleared: r.cleared } });
      return;
    }
    case 'ruleState':
      send({ t: 'reply', id: m.id, value: ops.rules?.snapshot() });
      return;
    case 'history': {
      const r = reads.get(m.id);
      reads.delete(m.id);
      if (m.error !== undefined) r?.reject(new Error(m.error));
      else r?.resolve(m.points ?? []);
      return;
    }
    case 'stop':
      // What was queued is analysed first; then the outputs, the statistics and the rules' state.
      runtime.close();
      clearInterval(statsTimer);
      void sink.flush().then(() => {
        flushOut();
        lastStats = '';
        sendStats();
        send({ t: 'reply', id: m.id, value: ops.rules?.snapshot() });
      });
      return;
  }
});
