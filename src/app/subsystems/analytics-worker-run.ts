/**
 * One analytics run whose operators run in a worker thread (analytics-worker.ts), the default: the
 * thread that acknowledges devices only forwards the committed events and stores what the worker
 * decides, so the analytics use another core. Seen from the subsystem it is an AnalyticsRun like
 * the in-process one (analytics-run.ts): the same operators, writers, rule state and alarms.
 *
 * The worker reads twins from a replica: a snapshot taken when the run starts, then, in the order
 * of the committed events, each changed twin's model and properties and each relationship. The
 * snapshot is taken in the same synchronous step that subscribes to the events, so nothing falls
 * between the two (an event already in the snapshot is applied again, which changes nothing).
 */
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../../adapters/workers/module-worker.js';
import type { ModelLookup } from '../../core/models/model-types.js';
import type { AlarmRecord } from '../../core/alarms/alarm.js';
import type { LiveEvent } from '../../core/live/live-events.js';
import type { AnomalyPlanSpec } from '../../analytics/runtime/anomaly-plan.js';
import type { ForecastPlanSpec } from '../../analytics/runtime/forecast-plan.js';
import { recentPoints } from '../../analytics/runtime/anomaly-history.js';
import type { ReplicaSnapshot } from '../../analytics/runtime/twin-replica.js';
import type { VersionedRule } from '../../analytics/rules/rule-types.js';
import type { RuleEngineStats } from '../../analytics/rules/rule-engine.js';
import {
  derivedPropertyWriter,
  derivedValueWriter,
  flushWriters,
  firstReading,
  forecastHistory,
  type AnalyticsRun,
  type AnalyticsRunOptions,
} from './analytics-run.js';
import type {
  AnalyticsWorkerData,
  FromWorker,
  ToWorker,
  WorkerItem,
  WorkerStats,
} from './analytics-worker-protocol.js';
import { OwnDerivedValues } from './own-derived-values.js';
import { ItemEncoder, OutDecoder, type OutSinks } from './analytics-worker-codec.js';

const NO_RULE_STATS: RuleEngineStats = {
  rules: 0,
  pairs: 0,
  refused: 0,
  late: 0,
  refits: 0,
  refitsDeferred: 0,
  refitsPending: 0,
  refitMs: 0,
  forecastPairs: 0,
  forecastRefused: 0,
};

export interface AnalyticsWorkerRunOptions extends Omit<AnalyticsRunOptions, 'anomaly' | 'forecast'> {
  /** The models' ancestors (the worker's IS_OF_MODEL). */
  models: Pick<ModelLookup, 'getInterface'>;
  anomaly?: AnomalyPlanSpec;
  forecast?: ForecastPlanSpec;
  /** Told once when the worker ends without being asked (a crash): the run does nothing more. */
  onFailed?: (error: Error) => void;
}

/** The worker's module: the compiled .js beside this one, or the TypeScript source under tsx. */
function startWorker(data: AnalyticsWorkerData): Worker {
  return startModuleWorker(import.meta.url, './analytics-worker', { workerData: data, name: 'analytics' });
}

export function startAnalyticsWorkerRun(o: AnalyticsWorkerRunOptions): AnalyticsRun {
  const { config, log, workspace, graph, alarms } = o;
  /** The values this run is storing: their events are not sent back (the worker's rules had them). */
  const ours = new OwnDerivedValues();
  const writer = derivedValueWriter({
    log,
    ingest: { ingestDerivedMany: (sets) => ours.storing(sets, (s) => o.ingest.ingestDerivedMany(s)) },
  });
  const needsProperties = o.derived?.some((set) => set.values.some((v) => v.property !== undefined)) ?? false;
  if (needsProperties && !o.twins)
    throw new Error('startAnalyticsWorkerRun: derived properties need the twin service (options.twins).');
  const properties = needsProperties && o.twins ? derivedPropertyWriter(o, o.twins) : undefined;

  // ---- events → items, one message per turn
  const sentModels = new Set<string>();
  const ancestorsOf = (id: string): string[] => [...(o.models.getInterface(id)?.ancestors ?? [])];
  // Telemetry compacted (analytics-worker-codec.ts): ~3.4 µs per message less than cloning it.
  const items = new ItemEncoder<WorkerItem>();
  let postArmed = false;
  let posted = 0;
  let failed = false;
  const post = (m: ToWorker, transfer?: ArrayBuffer[]): void => {
    if (!failed) worker.postMessage(m, transfer);
  };
  const postItems = (): void => {
    postArmed = false;
    const b = items.take();
    if (b === undefined) return;
    post({ t: 'items', wire: b.wire, rest: b.rest }, [b.wire.nums.buffer as ArrayBuffer]);
  };
  const twinItem = (id: string): void => {
    const t = graph.getTwin(id);
    if (!t) return;
    if (!sentModels.has(t.modelId)) {
      sentModels.add(t.modelId);
      items.add({ k: 'model', id: t.modelId, ancestors: ancestorsOf(t.modelId) });
    }
    items.add({ k: 'twin', id, modelId: t.modelId, contents: t.contents });
  };
  const take = (events: readonly LiveEvent[]): void => {
    for (const e of events) {
      switch (e.type) {
        case 'telemetry':
          // Derived values go only to the rules (no other operator reads them), and the worker's
          // own only once (it hands them to its rules itself).
          if (e.derived && (ours.take(e.values) || !o.rules)) break;
          items.add(e);
          posted++;
          break;
        case 'twinCreated':
        case 'twinReplaced':
          twinItem(e.twinId);
          items.add(e);
          break;
        case 'propertyChange':
          twinItem(e.twinId);
          break;
        case 'twinDeleted':
          items.add({ k: 'twinDeleted', id: e.twinId });
          items.add(e);
          break;
        case 'relationshipCreated':
        case 'relationshipReplaced':
          items.add({
            k: 'rel',
            source: e.twinId,
            relId: e.relationshipId,
            name: e.relationshipName,
            target: e.targetId,
          });
          break;
        case 'relationshipDeleted':
          items.add({ k: 'relDeleted', source: e.twinId, relId: e.relationshipId });
          break;
        default:
          break;
      }
    }
    if (!items.empty && !postArmed) {
      postArmed = true;
      setImmediate(postItems);
    }
  };
  const unlisten = o.live.subscribe(take);
  const snapshot: ReplicaSnapshot = { twins: [], rels: [], models: [] };
  for (const t of graph.allTwins()) {
    snapshot.twins.push({ id: t.id, modelId: t.modelId, contents: t.contents });
    if (!sentModels.has(t.modelId)) {
      sentModels.add(t.modelId);
      snapshot.models.push([t.modelId, ancestorsOf(t.modelId)]);
    }
  }
  for (const r of graph.allRelationships()) snapshot.rels.push([r.sourceId, r.id, r.name, r.targetId]);

  // (post, above, runs only from later turns: the worker exists by then)
  const worker = startWorker({
    workspace,
    ...(o.derived ? { derived: [...o.derived] } : {}),
    ...(o.anomaly ? { anomaly: o.anomaly } : {}),
    ...(o.forecast ? { forecast: o.forecast } : {}),
    anomalyThreshold: config.analytics.anomalyThreshold,
    deadbands: config.analytics.deadbands,
    rules: o.rules,
    rul: o.rul === true,
    properties: properties !== undefined,
    maxQueued: config.analytics.maxQueued,
    nice: config.analytics.workerNice,
    idle: config.analytics.workerIdle,
    snapshot,
  });

  // ---- requests and their replies
  let nextId = 0;
  const waiting = new Map<number, (value: unknown) => void>();
  const request = (m: (id: number) => ToWorker, fallback: unknown, timeoutMs = 30_000): Promise<unknown> =>
    new Promise((resolve) => {
      if (failed) return resolve(fallback);
      const id = ++nextId;
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve(fallback);
      }, timeoutMs);
      timer.unref();
      waiting.set(id, (v) => {
        clearTimeout(timer);
        resolve(v === undefined ? fallback : v);
      });
      post(m(id));
    });

  const outs = new OutDecoder();
  const sinks: OutSinks = {
    // Merged per twin and time by the worker already: taken whole.
    derived: (ws, id, time, values) => writer.writeSet(ws, id, time, values),
    property: (ws, id, time, name, value, policy) => properties?.write(ws, id, time, name, value, policy),
  };
  let stats: WorkerStats | undefined;
  let stopping = false;
  const onMessage = (m: FromWorker): void => {
    switch (m.t) {
      case 'out':
        if (m.batch !== undefined) outs.decode(m.batch, sinks);
        for (const a of m.alarms)
          if ('raise' in a) alarms.raise(a.raise);
          else alarms.conditionCleared(a.cleared);
        if (m.propertyTick !== undefined) properties?.tick(m.propertyTick);
        for (const [ws, id] of m.forgetTwins ?? []) properties?.forgetTwin(ws, id);
        return;
      case 'stats':
        stats = m.stats;
        return;
      case 'reply':
        waiting.get(m.id)?.(m.value);
        waiting.delete(m.id);
        return;
      case 'history': {
        const r = m.read;
        const points =
          r.kind === 'recent'
            ? recentPoints(o.history, r.ws, r.twinId, r.name, r.before, r.limit)
            : r.kind === 'first'
              ? firstReading(o.history, r.ws, r.twinId, r.name).then((t) =>
                  t === undefined ? [] : [{ time: t, value: 0 }],
                )
              : forecastHistory(o.history, r.ws, r.twinId, r.name, r.from, r.to, r.spacing);
        points.then(
          (p) => post({ t: 'history', id: m.id, points: p }),
          (e: unknown) => post({ t: 'history', id: m.id, error: e instanceof Error ? e.message : String(e) }),
        );
        return;
      }
      case 'log':
        log[m.level](m.fields, m.message);
        return;
    }
  };
  const fail = (error: Error): void => {
    if (failed) return;
    failed = true;
    for (const w of waiting.values()) w(undefined);
    waiting.clear();
    if (stopping) return;
    log.error({ err: error }, 'the analytics worker stopped unexpectedly');
    o.onFailed?.(error);
  };
  worker.on('message', onMessage);
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the analytics worker exited (code ${code})`)));

  // ---- rule state: saved from the worker's snapshot
  const saveRuleState = (snap: unknown): void => {
    if (!o.ruleState || snap === undefined) return;
    try {
      o.ruleState.save(snap);
    } catch (err) {
      log.warn({ err }, 'could not save the rule state (a restart will start the rules afresh)');
    }
  };
  const ruleStateTimer =
    o.rules && o.ruleState
      ? setInterval(() => {
          void request((id) => ({ t: 'ruleState', id }), undefined).then(saveRuleState);
        }, o.ruleStateEveryMs ?? 60_000)
      : undefined;
  ruleStateTimer?.unref();

  let rules: readonly VersionedRule[] = [];
  const enabledRules = (): number => rules.filter((r) => r.spec.enabled).length;
  let stopped: Promise<void> | undefined;
  const noResume = { resumed: 0, cleared: 0 };
  return {
    setRules(list) {
      if (!o.rules) return;
      rules = list;
      postItems(); // the readings before the change are judged by the rules before it
      post({ t: 'setRules', rules: [...list] });
    },
    setRulModels(models) {
      if (!o.rul) return;
      postItems(); // the readings before the change are predicted by the models before it
      post({ t: 'setRulModels', models: [...models] });
    },
    ruleIds: () => (o.rules ? rules.filter((r) => r.spec.enabled).map((r) => r.spec.id) : []),
    async restoreRuleState() {
      if (!o.rules || !o.ruleState) return 0;
      const snap = o.ruleState.load();
      if (snap === undefined) return 0;
      return (await request((id) => ({ t: 'restore', id, snapshot: snap }), 0)) as number;
    },
    async resumeOpen(open: readonly AlarmRecord[], ofRules: readonly AlarmRecord[]) {
      const out = await request(
        (id) => ({ t: 'resume', id, open: [...open], ofRules: [...ofRules] }),
        noResume,
      );
      return out as { resumed: number; cleared: number };
    },
    stats() {
      const runtime = stats?.runtime;
      // Readings sent but not yet taken by the worker count as queued.
      const inFlight = runtime ? Math.max(0, posted - runtime.observed) : posted;
      return {
        runtime: runtime
          ? { ...runtime, queued: runtime.queued + inFlight }
          : { observed: 0, processed: 0, overflowed: 0, queued: inFlight, operatorErrors: {} },
        derived: writer.stats(),
        ...(properties ? { derivedProperties: properties.stats() } : {}),
        ...(stats?.derivedEngine ? { derivedEngine: stats.derivedEngine } : {}),
        ...(stats?.anomaly ? { anomaly: stats.anomaly } : {}),
        ...(stats?.forecast ? { forecast: stats.forecast } : {}),
        ...(stats?.rul ? { rul: stats.rul } : {}),
        ...(stats?.report ? { report: stats.report } : {}),
        // The rules handed over count at once (the worker's figures come every 250 ms).
        ...(o.rules ? { rules: { ...(stats?.rules ?? NO_RULE_STATS), rules: enabledRules() } } : {}),
      };
    },
    stop: (flushMs = 10_000) =>
      (stopped ??= (async () => {
        unlisten();
        postItems();
        if (ruleStateTimer !== undefined) clearInterval(ruleStateTimer);
        // The worker analyses what it has queued, sends its last outputs and its rules' state.
        const snap = await request((id) => ({ t: 'stop', id }), undefined, flushMs);
        stopping = true;
        saveRuleState(snap);
        await flushWriters(writer, properties, flushMs, log);
        await alarms.flush();
        await worker.terminate();
      })()),
  };
}
