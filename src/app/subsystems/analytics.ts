/**
 * The streaming analytics of a node (derived values, anomaly detection, rules → alarms): where and
 * when they run. What one run is: ./analytics-run.ts.
 *
 * In one process they run from start to stop. On a cluster every api node sees every committed
 * reading, so analytics on each would raise every alarm and write every derived value once per node:
 * there they run on one api node at a time, the holder of the `analytics` lease in the shared store
 * (core/cluster/lease-holder.ts, as event-route delivery does). Taking the lease starts a run (fresh
 * operators subscribed to the live event bus, the workspace's rules read from the store); losing or
 * giving it up stops the run cleanly (queued readings analysed, derived values and alarms written)
 * before the lease is released. A takeover loses what a restart loses: rule durations in progress,
 * windows of derived values and detector state; anomaly detectors warm up from history again, and
 * the alarms left open are taken up by the new run's rules and detectors (docs/analytics.md). Rules changed through any node reach the running engine: this node's own
 * changes directly (`setRules`), the other nodes' over the cluster feed (`reloadRules`).
 */
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { LeaseHolder } from '../../core/cluster/lease-holder.js';
import { TwinloopError } from '../../core/errors/errors.js';
import type { InMemoryTwinGraph } from '../../core/graph/in-memory-twin-graph.js';
import type { LiveEventBus } from '../../core/live/live-events.js';
import type { ModelService } from '../../core/models/model-service.js';
import type { NamedLeases } from '../../core/ports/cluster.js';
import type { DeliveryClock } from '../../core/ports/delivery-ports.js';
import type { HistoryStore } from '../../core/ports/storage-ports.js';
import type { IngestService } from '../../core/telemetry/ingest-service.js';
import { ANOMALY_RULE_PREFIX, type TwinContext } from '../../analytics/analytics-types.js';
import type { AlarmRecord } from '../../core/alarms/alarm.js';
import type { TwinService } from '../../core/twins/twin-service.js';
import type { AlarmService, AlarmServiceStats } from '../../analytics/alarms/alarm-service.js';
import type { DerivedSet } from '../../analytics/derived/derived-types.js';
import type { VersionedRule } from '../../analytics/rules/rule-types.js';
import type { AnalyticsRuntime } from '../../analytics/runtime/analytics-runtime.js';
import { graphTwinContext } from '../../analytics/runtime/graph-twin-context.js';
import { anomalyPlanOf, forecastPlanOf } from '../../analytics/runtime/analytics-plans.js';
import type { AnomalyPlanSpec } from '../../analytics/runtime/anomaly-plan.js';
import type { ForecastPlanSpec } from '../../analytics/runtime/forecast-plan.js';
import type { ActiveRulModel } from '../../analytics/rul/rul-types.js';
import { startAnalyticsWorkerRun } from './analytics-worker-run.js';
import type { TwinloopConfig } from '../config.js';
import {
  startAnalyticsRun,
  type AnalyticsRun,
  type AnalyticsRunStats,
  type RuleStateStore,
} from './analytics-run.js';
import type { Subsystem } from './subsystem.js';

export type { AnomalyPlan, ForecastPlan } from './analytics-run.js';

/** The lease name of the analytics: one api node of a cluster runs them at a time. */
export const ANALYTICS_LEASE = 'analytics';

/** `off`: analytics.enabled is false; `running`: they run here; `standby`: another node runs them. */
export type AnalyticsState = 'off' | 'running' | 'standby';

/** Totals since this node started, over all its runs (for counters), and what waits now. */
export interface AnalyticsTotals {
  observed: number;
  overflowed: number;
  operatorErrors: number;
  derivedWritten: number;
  derivedFailed: number;
  derivedDropped: number;
  /** Derived values computed but held back (report by exception). */
  derivedHeld: number;
  derivedPropertyWritten: number;
  derivedPropertyFailed: number;
  derivedPropertySkipped: number;
  derivedPropertyDropped: number;
  anomalyScored: number;
  /** Forecast refits run (continuous forecasts and forecast rules), and those that waited a tick. */
  forecastRefits: number;
  forecastRefitsDeferred: number;
  /** Readings waiting now (a gauge, not a total). */
  queued: number;
  /** Twins with a derived property waiting to be written now (a gauge). */
  derivedPropertyPending: number;
  /** Rules the running engine evaluates now (0 when not running here). */
  rules: number;
}

export interface AnalyticsSubsystem extends Subsystem {
  /** The runtime of the run on this node; undefined when analytics are off or run elsewhere. */
  readonly runtime: AnalyticsRuntime | undefined;
  /** The alarm service it raises through. */
  alarms: AlarmService;
  context: TwinContext;
  state(): AnalyticsState;
  /** Statistics of the current run (empty when none runs here). */
  stats(): AnalyticsRunStats & { alarms?: AlarmServiceStats };
  totals(): AnalyticsTotals;
  /** Gives the running rule engine these rules (a change made through this node); no-op elsewhere. */
  setRules(rules: readonly VersionedRule[]): void;
  /** Reads the rules from the store for the running engine (changed on another node); no-op elsewhere. */
  reloadRules(): Promise<void>;
  /** Reads the active RUL models for live inference (one was promoted or rolled back); no-op elsewhere. */
  reloadRulModels(): Promise<void>;
  /**
   * Starts: in one process a run begins at once (resolves once its rules are set); on a cluster the
   * node begins trying the lease (resolves at once).
   */
  start(): Promise<void>;
}

export interface AnalyticsLeaseOptions {
  leases: NamedLeases;
  /** This node (unique per process). */
  owner?: string;
  /** How long a take or renewal holds, ms. */
  ttlMs: number;
  /** Between two tries to take or renew, ms (default min(1 s, ttl / 4)). */
  everyMs?: number;
  clock?: DeliveryClock;
}

export interface StartAnalyticsOptions {
  config: Readonly<Pick<TwinloopConfig, 'analytics'>>;
  logger: Logger;
  workspace: string;
  live: LiveEventBus;
  ingest: IngestService;
  graph: InMemoryTwinGraph;
  models: ModelService;
  history: HistoryStore;
  /** The alarm service (rules and anomaly detectors raise through it; created by the platform). */
  alarms: AlarmService;
  /** The pilot's derived values (checked). */
  derived?: readonly DerivedSet[];
  /** The workspace's twin service (derived values with `target: property` are patched through it). */
  twins?: Pick<TwinService, 'update'>;
  /**
   * Whether a rule id is one the rule store knows (deleted or disabled rules included): at the
   * start of a run the open alarms of such rules are taken up (their conditions clear them), as are
   * the detectors' (`anomaly.*`); other raisers' alarms are left alone. Without it, only the alarms
   * of the current rules are.
   */
  wasRule?: (ruleId: string) => Promise<boolean>;
  /**
   * The workspace's enabled rules in the store (RuleService.enabled), read at the start of each run
   * and by `reloadRules`. Without it no rules are evaluated.
   */
  rules?: () => Promise<readonly VersionedRule[]>;
  /** Anomaly detection (anomaly.yaml, checked). */
  anomaly?: AnomalyPlanSpec;
  /** Continuous forecasts (forecast.yaml, checked). */
  forecast?: ForecastPlanSpec;
  /**
   * The registry's active RUL models (live inference), read at the start of each run, by
   * `reloadRulModels`, and on a cluster every `rulRefreshMs` (a promotion through another node).
   * Without it no RUL inference runs.
   */
  rulModels?: () => Promise<readonly ActiveRulModel[]>;
  /** On a cluster: between two reads of the active RUL models, ms (default 30,000). */
  rulRefreshMs?: number;
  /** Keeps the rule engine's state between runs of this process (not with `lease`). */
  ruleState?: RuleStateStore;
  /** An api node of a cluster: the analytics run only while this node holds the analytics lease. */
  lease?: AnalyticsLeaseOptions;
  /** How long a stopping run waits for its derived values to be written, ms (default 10 000). */
  stopFlushMs?: number;
  /** Delay before a failed read of the rules is tried again, ms (default 5 000). */
  rulesRetryMs?: number;
}

const ZERO = {
  observed: 0,
  overflowed: 0,
  operatorErrors: 0,
  derivedWritten: 0,
  derivedFailed: 0,
  derivedDropped: 0,
  derivedHeld: 0,
  derivedPropertyWritten: 0,
  derivedPropertyFailed: 0,
  derivedPropertySkipped: 0,
  derivedPropertyDropped: 0,
  anomalyScored: 0,
  forecastRefits: 0,
  forecastRefitsDeferred: 0,
} as const satisfies Record<string, number>;

function totalsOf(st: AnalyticsRunStats): Totals {
  return {
    observed: st.runtime?.observed ?? 0,
    overflowed: st.runtime?.overflowed ?? 0,
    operatorErrors: Object.values(st.runtime?.operatorErrors ?? {}).reduce((x, y) => x + y, 0),
    derivedWritten: st.derived?.written ?? 0,
    derivedFailed: st.derived?.failed ?? 0,
    derivedDropped: st.derived?.dropped ?? 0,
    derivedHeld: st.report?.held ?? 0,
    derivedPropertyWritten: st.derivedProperties?.written ?? 0,
    derivedPropertyFailed: st.derivedProperties?.failed ?? 0,
    derivedPropertySkipped: st.derivedProperties?.skipped ?? 0,
    derivedPropertyDropped: st.derivedProperties?.dropped ?? 0,
    anomalyScored: st.anomaly?.scored ?? 0,
    forecastRefits: (st.forecast?.refits ?? 0) + (st.rules?.refits ?? 0),
    forecastRefitsDeferred: (st.forecast?.refitsDeferred ?? 0) + (st.rules?.refitsDeferred ?? 0),
  };
}

type Totals = Omit<AnalyticsTotals, 'queued' | 'rules' | 'derivedPropertyPending'>;

function add(a: Totals, b: Totals): Totals {
  const out = { ...a };
  for (const k of Object.keys(b) as (keyof Totals)[]) out[k] = a[k] + b[k];
  return out;
}

/** Most open alarms taken up at a start (as many as the rule engine keeps pairs). */
const MAX_RESUMED = 100_000;

/** The workspace's open alarms (active or acknowledged), newest first, at most MAX_RESUMED. */
async function openAlarms(alarms: AlarmService, workspace: string): Promise<AlarmRecord[]> {
  await alarms.flush();
  const out: AlarmRecord[] = [];
  const limit = 1000;
  let after: { firstTime: number; id: string } | undefined;
  while (out.length < MAX_RESUMED) {
    const page = await alarms.list({
      workspace,
      states: ['active', 'acknowledged'],
      limit,
      ...(after ? { after } : {}),
    });
    out.push(...page);
    if (page.length < limit) break;
    const last = page[page.length - 1]!;
    after = { firstTime: last.firstTime, id: last.id };
  }
  return out;
}

export function startAnalytics(o: StartAnalyticsOptions): AnalyticsSubsystem {
  const { config, logger, workspace, graph, models, alarms } = o;
  const context = graphTwinContext({
    graphOf: (ws) => (ws === workspace ? graph : undefined),
    isOfModel: (_ws, m, b) => models.matchesModel(m, b),
  });
  const log = logger.child({ component: 'analytics' });
  const enabled = config.analytics.enabled;
  // A wiring error: said at once, not when (on a cluster: if ever) this node takes the lease.
  if (!o.twins && o.derived?.some((set) => set.values.some((v) => v.property !== undefined)))
    throw new Error('startAnalytics: derived properties need the twin service (options.twins).');

  /** The run on this node, and one still stopping (its figures count until it has stopped). */
  let run: AnalyticsRun | undefined;
  let stopping: AnalyticsRun | undefined;
  let retired: Totals = ZERO;
  /** Rules handed to the engine: a read of the store that began before a newer hand-over is dropped. */
  let rulesTicket = 0;
  let rulesRetry: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const reloadRules = async (): Promise<void> => {
    const r = run;
    if (!o.rules || !r) return;
    const ticket = ++rulesTicket;
    try {
      const rules = await o.rules();
      if (ticket === rulesTicket && run === r) r.setRules(rules);
    } catch (err) {
      log.warn({ err }, 'could not read the rules from the store (trying again)');
      if (rulesRetry === undefined && run === r) {
        rulesRetry = setTimeout(() => {
          rulesRetry = undefined;
          void reloadRules();
        }, o.rulesRetryMs ?? 5000);
        rulesRetry.unref();
      }
    }
  };

  let rulTicket = 0;
  let rulRetry: ReturnType<typeof setTimeout> | undefined;
  const reloadRulModels = async (): Promise<void> => {
    const r = run;
    if (!o.rulModels || !r) return;
    const ticket = ++rulTicket;
    try {
      const models = await o.rulModels();
      if (ticket === rulTicket && run === r) r.setRulModels(models);
    } catch (err) {
      log.warn({ err }, 'could not read the active RUL models (trying again)');
      if (rulRetry === undefined && run === r) {
        rulRetry = setTimeout(() => {
          rulRetry = undefined;
          void reloadRulModels();
        }, o.rulesRetryMs ?? 5000);
        rulRetry.unref();
      }
    }
  };
  const rulRefresh =
    enabled && o.rulModels && o.lease
      ? setInterval(() => void reloadRulModels(), o.rulRefreshMs ?? 30_000)
      : undefined;
  rulRefresh?.unref();

  /** Starts a run here (fresh state, subscribed from now on) and reads its rules. */
  const begin = (): Promise<void> => {
    if (run || closed) return Promise.resolve();
    lastBegin = Date.now();
    const common = {
      config,
      log,
      workspace,
      live: o.live,
      ingest: o.ingest,
      graph,
      history: o.history,
      context,
      alarms,
      ...(o.derived ? { derived: o.derived } : {}),
      ...(o.twins ? { twins: o.twins } : {}),
      rules: o.rules !== undefined,
      rul: o.rulModels !== undefined,
      ...(o.ruleState && !o.lease ? { ruleState: o.ruleState } : {}),
    };
    const isOf = (m: string, b: string): boolean => models.matchesModel(m, b);
    run = config.analytics.worker
      ? startAnalyticsWorkerRun({
          ...common,
          models,
          ...(o.anomaly ? { anomaly: o.anomaly } : {}),
          ...(o.forecast ? { forecast: o.forecast } : {}),
          onFailed: () => restartAfterFailure(),
        })
      : startAnalyticsRun({
          ...common,
          ...(o.anomaly ? { anomaly: anomalyPlanOf(o.anomaly, isOf) } : {}),
          ...(o.forecast ? { forecast: forecastPlanOf(o.forecast, isOf) } : {}),
        });
    const r: AnalyticsRun = run;
    return Promise.all([reloadRules(), reloadRulModels()]).then(async () => {
      if (run !== r) return;
      const restored = await r.restoreRuleState();
      if (restored) log.info({ pairs: restored }, 'rule state restored from the last run');
      return resumeOpen(r);
    });
  };

  /** Hands the alarms left open before this run to its rules and detectors (see `wasRule`). */
  const resumeOpen = async (r: AnalyticsRun): Promise<void> => {
    try {
      const open = await openAlarms(alarms, workspace);
      if (run !== r || open.length === 0) return;
      const current = new Set(r.ruleIds());
      const known = new Map<string, boolean>();
      const ofRules: AlarmRecord[] = [];
      for (const x of open) {
        if (x.ruleId.startsWith(ANOMALY_RULE_PREFIX)) continue;
        let k = current.has(x.ruleId) || known.get(x.ruleId);
        if (k === undefined)
          known.set(x.ruleId, (k = o.wasRule ? await o.wasRule(x.ruleId).catch(() => false) : false));
        if (k) ofRules.push(x);
      }
      if (run !== r) return;
      const out = await r.resumeOpen(open, ofRules);
      log.info({ open: open.length, ...out }, 'open alarms taken up by the analytics');
    } catch (err) {
      log.warn(
        { err },
        'could not read the open alarms: those raised before stay open until cleared by hand',
      );
    }
  };

  /** Stops the run here: analysed what was queued, written what was derived and raised. */
  const end = async (): Promise<void> => {
    const r = run;
    if (!r) return;
    run = undefined;
    stopping = r;
    if (rulesRetry !== undefined) clearTimeout(rulesRetry);
    rulesRetry = undefined;
    if (rulRetry !== undefined) clearTimeout(rulRetry);
    rulRetry = undefined;
    try {
      await r.stop(o.stopFlushMs);
    } finally {
      retired = add(retired, totalsOf(r.stats()));
      stopping = undefined;
    }
  };

  /**
   * The worker of the run died (a defect, logged): the run ends and a new one starts as after a
   * restart (rules read again, rule state restored, open alarms taken up): after a second, then
   * twice as long after each failure within a minute of the last start, at most a minute.
   */
  let restartTimer: ReturnType<typeof setTimeout> | undefined;
  let restartDelay = 500;
  let lastBegin = 0;
  /** On a cluster: this node holds the analytics lease. */
  let holding = false;
  const restartAfterFailure = (): void => {
    if (!run || closed) return;
    restartDelay = Date.now() - lastBegin < 60_000 ? Math.min(60_000, restartDelay * 2) : 1000;
    const delay = restartDelay;
    log.warn({ restartInMs: delay }, 'the analytics run ended with its worker; a new one starts soon');
    void end().then(() => {
      restartTimer = setTimeout(() => {
        restartTimer = undefined;
        if (closed || run || (holder && !holding)) return;
        begin().catch((err: unknown) => log.error({ err }, 'could not restart the analytics'));
      }, delay);
      restartTimer.unref();
    });
  };

  let holder: LeaseHolder | undefined;
  if (enabled && o.lease) {
    const l = o.lease;
    const owner = l.owner ?? `analytics-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
    holder = new LeaseHolder({
      leases: l.leases,
      name: ANALYTICS_LEASE,
      owner,
      ttlMs: l.ttlMs,
      everyMs: l.everyMs ?? Math.max(50, Math.min(1000, Math.floor(l.ttlMs / 4))),
      clock: l.clock ?? {
        now: Date.now,
        setTimeout: (fn, ms) => {
          const t = setTimeout(fn, ms);
          t.unref();
          return () => clearTimeout(t);
        },
      },
      onAcquired: () => {
        log.info(
          { lease: ANALYTICS_LEASE, owner },
          'took the analytics lease: the streaming analytics run on this node now',
        );
        holding = true;
        void begin();
      },
      onLost: async (why) => {
        holding = false;
        const t0 = Date.now();
        await end();
        log[why === 'stopping' ? 'info' : 'warn'](
          { lease: ANALYTICS_LEASE, owner, why, stopMs: Date.now() - t0 },
          'gave up the analytics lease: the streaming analytics no longer run on this node',
        );
      },
      log: (level, message, fields) => log[level](fields ?? {}, message),
    });
  }

  const current = (): AnalyticsRunStats => run?.stats() ?? {};
  return {
    get runtime() {
      return run?.runtime;
    },
    alarms,
    context,
    state: () => (!enabled ? 'off' : run ? 'running' : 'standby'),
    stats: () => ({ ...current(), ...(run ? { alarms: { ...alarms.stats } } : {}) }),
    totals: () => {
      let t = retired;
      if (stopping) t = add(t, totalsOf(stopping.stats()));
      const st = current();
      if (run) t = add(t, totalsOf(st));
      return {
        ...t,
        queued: st.runtime?.queued ?? 0,
        rules: st.rules?.rules ?? 0,
        derivedPropertyPending: st.derivedProperties?.pendingTwins ?? 0,
      };
    },
    setRules: (rules) => {
      if (!run) return;
      rulesTicket++;
      run.setRules(rules);
    },
    reloadRules,
    reloadRulModels,
    start: () => {
      if (!enabled) return Promise.resolve();
      if (holder) {
        holder.start();
        return Promise.resolve();
      }
      const r = begin();
      log.info({ operators: operatorsOf(o) }, 'streaming analytics running');
      return r;
    },
    async close() {
      closed = true;
      if (restartTimer !== undefined) clearTimeout(restartTimer);
      if (rulRefresh !== undefined) clearInterval(rulRefresh);
      // The lease is released once the run has stopped: a successor starts after its last writes.
      if (holder) await holder.stop();
      else await end();
    },
  };
}

/** The names of the operators a run has (for the start log line). */
function operatorsOf(o: StartAnalyticsOptions): string[] {
  return [
    ...(o.derived && o.derived.length > 0 ? ['derived'] : []),
    ...(o.anomaly ? ['anomaly'] : []),
    ...(o.forecast ? ['forecast'] : []),
    ...(o.rules ? ['rules'] : []),
    ...(o.rulModels ? ['rul'] : []),
  ];
}

/** The lease options of an api node of a cluster. @throws InvalidConfig without a shared store. */
export function analyticsLease(
  config: Readonly<Pick<TwinloopConfig, 'analytics'>>,
  leases: NamedLeases | undefined,
  owner: string,
): AnalyticsLeaseOptions {
  if (!leases)
    throw new TwinloopError(
      'InvalidConfig',
      'An api node of a cluster needs a shared store with leases (PostgreSQL) to run the analytics.',
    );
  return { leases, owner, ttlMs: config.analytics.leaseMs };
}
