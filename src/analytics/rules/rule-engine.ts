/**
 * The streaming rule evaluator: readings in (observe), time passing (tick), alarm decisions out
 * (AlarmSink). State is kept per (rule, twin), bounded (maxStates pairs; rate windows capped), and can
 * be snapshotted and restored as JSON.
 *
 * Semantics (docs/rules.md): a condition must hold without a break for the rule's `for` (between
 * readings the last value stands) before `raise` is called, once per episode; with `repeatEvery` it is
 * called again with the latest value at most that often while the condition holds. `conditionCleared`
 * is called once when the clear side of the condition (hysteresis) is met. Readings older than the
 * last one of the pair are ignored. Times are source times (ms); tick(now) should use the same clock.
 *
 * Forecast conditions refit a model now and then, which costs milliseconds (forecast-buffer.ts): at
 * most `maxRefitsPerTick` refits run between two ticks. A refit that falls due beyond that waits
 * in a first-in first-out queue that the next ticks serve (it is then judged at its pair's last
 * reading time), so a rule over many twins delays its refits instead of stalling the event loop.
 */
import {
  ANOMALY_RULE_PREFIX,
  type AlarmSink,
  type TelemetryObservation,
  type TwinContext,
} from '../analytics-types.js';
import { RefitBudget } from '../forecast/refit-budget.js';
import { compileRule, type CompiledRule, type Judgement, type PairInputs } from './compile-rule.js';
import type { RuleLookup } from './rule-inputs.js';
import { ScratchMap } from '../scratch-map.js';
import { formatEta, formatNumber, renderMessage } from './rule-message.js';
import type { VersionedRule } from './rule-types.js';
import { PairStore, type PairState } from './rule-state.js';

export interface RuleEpisode {
  workspace: string;
  ruleId: string;
  ruleVersion: number;
  twinId: string;
  /** When the alarm was raised (the condition had held for the rule's duration). */
  start: number;
  /** When it cleared; absent while it is still raised. */
  end?: number;
  /** The most extreme value seen while raised (highest for `above`, lowest for `below`). */
  peak?: number;
}

export interface RuleEngineOptions {
  sink: AlarmSink;
  context: TwinContext;
  /** Most (rule, twin) pairs tracked; readings for new pairs beyond it are counted and skipped. Default 100 000. */
  maxStates?: number;
  /** Told when an episode ends (backtests collect them). */
  onEpisode?: (e: RuleEpisode) => void;
  /** Forecast refits run between two ticks at most (default 2; a refit of 512 cells costs ~2-14 ms of CPU, bench/forecast/refit.ts). */
  maxRefitsPerTick?: number;
  /** (rule, twin) pairs of forecast conditions at most, each holding a buffer of ≈ 12 KiB (default 10 000). */
  maxForecastPairs?: number;
  /** Monotonic clock in ms, to measure refits (default performance.now). */
  clock?: () => number;
}

export interface RuleEngineStats {
  rules: number;
  pairs: number;
  /** Readings skipped because maxStates pairs are tracked already. */
  refused: number;
  /** Readings older than the pair's last one. */
  late: number;
  /** Forecast refits run. */
  refits: number;
  /** Refits that fell due when the budget of a tick was spent, and waited for a later tick. */
  refitsDeferred: number;
  /** Refits waiting now. */
  refitsPending: number;
  /** CPU time spent in refits, ms. */
  refitMs: number;
  /** Pairs of forecast conditions holding a buffer. */
  forecastPairs: number;
  /** Readings skipped because maxForecastPairs pairs hold buffers already. */
  forecastRefused: number;
}

interface PendingRefit {
  workspace: string;
  ruleId: string;
  version: number;
  twinId: string;
}

/**
 * @example
 *   const engine = new RuleEngine({ sink: alarms, context });
 *   engine.setRules('default', [{ spec, version: 1 }]);
 *   engine.observe({ workspace: 'default', twinId: 'pump-1', modelId, time, values: { vibration: 7.9 } });
 *   setInterval(() => engine.tick(Date.now()), 1000);
 */
/** A twin's applicable rules, and its pair of each by position (undefined: not made yet). */
interface TwinRules {
  modelId: string;
  generation: number;
  rules: readonly CompiledRule[];
  /** Each rule's `reads` as an array (walked without an iterator per reading). */
  reads: (readonly string[])[];
  pairs: (PairState | undefined)[];
  lookup: { property: (name: string) => unknown } | undefined;
}

/** The rules that apply to a model's twins, and every name they read. */
interface ModelRules {
  rules: readonly CompiledRule[];
  reads: ReadonlySet<string>;
  twinSets: boolean;
}

/** A reading as a rule sees it: numbers (finite), booleans as 1/0; anything else NaN (not read). */
const ruleNumber = (raw: unknown): number =>
  typeof raw === 'number'
    ? Number.isFinite(raw)
      ? raw
      : NaN
    : typeof raw === 'boolean'
      ? raw
        ? 1
        : 0
      : NaN;

export class RuleEngine {
  private readonly rules = new Map<string, CompiledRule[]>();
  /** workspace → model → the rules that apply to its twins, and every name they read. */
  private readonly byModel = new Map<string, Map<string, ModelRules>>();
  /** workspace → twin → its property lookup (one object per twin, not one per reading). */
  private readonly lookups = new Map<string, Map<string, { property: (name: string) => unknown }>>();
  /** The values of one reading one rule reads (reused: cleared for each rule). */
  private readonly scratch = new ScratchMap<string, number>();
  private readonly pairs: PairStore;
  /** workspace → twin → its rules and pairs (twinRules); valid while `generation` is unchanged. */
  private readonly twinCache = new Map<string, Map<string, TwinRules>>();
  private generation = 0;
  private late = 0;
  /** Forecast refits: a per-tick budget, and those that wait for a tick, by pair key. */
  private readonly refits: RefitBudget<PendingRefit>;
  private readonly maxForecastPairs: number;
  private forecastPairs = 0;
  private forecastRefused = 0;

  constructor(private readonly o: RuleEngineOptions) {
    this.pairs = new PairStore(o.maxStates ?? 100_000);
    this.refits = new RefitBudget(o.maxRefitsPerTick ?? 2, o.clock);
    this.maxForecastPairs = o.maxForecastPairs ?? 10_000;
  }

  /**
   * Replaces the rules of a workspace (disabled ones are left out). A rule that is gone or whose
   * version changed loses its state; its raised alarms are cleared ("rule deleted" / "rule changed").
   */
  setRules(workspace: string, rules: readonly VersionedRule[], now = Date.now()): void {
    const next = rules.filter((r) => r.spec.enabled).map(compileRule);
    const keep = new Map(next.map((r) => [r.spec.id, r.version]));
    for (const old of this.rules.get(workspace) ?? []) {
      const v = keep.get(old.spec.id);
      if (v === old.version) continue;
      for (const s of this.pairs.drop(workspace, old.spec.id)) {
        if (!s.active) continue;
        this.o.sink.conditionCleared({
          workspace,
          twinId: s.twinId,
          ruleId: old.spec.id,
          time: now,
          reason: v === undefined ? 'rule deleted or disabled' : `rule changed (version ${v})`,
        });
        this.endEpisode(workspace, old, s, now);
      }
    }
    this.rules.set(workspace, next);
    this.byModel.delete(workspace);
    this.generation++;
    this.countForecastPairs();
  }

  /**
   * Takes up the alarms still open from before a restart (or a takeover), so their conditions can
   * clear them: an alarm of a current rule version makes its pair raised again (the next reading on
   * the clear side clears it, as if the platform had never stopped); an alarm of a rule deleted,
   * disabled or changed meanwhile is cleared at once, as setRules would have done. Alarms of other
   * raisers (the anomaly detectors' `anomaly.*`) are left alone. Call after setRules.
   */
  resumeOpen(
    workspace: string,
    open: readonly {
      twinId: string;
      ruleId: string;
      ruleVersion: number;
      firstTime: number;
      lastTime: number;
    }[],
    now = Date.now(),
  ): { resumed: number; cleared: number } {
    const current = new Map(this.rulesOf(workspace).map((r) => [r.spec.id, r]));
    let resumed = 0;
    let cleared = 0;
    for (const a of open) {
      if (a.ruleId.startsWith(ANOMALY_RULE_PREFIX)) continue;
      const rule = current.get(a.ruleId);
      if (rule === undefined || rule.version !== a.ruleVersion) {
        this.o.sink.conditionCleared({
          workspace,
          twinId: a.twinId,
          ruleId: a.ruleId,
          time: now,
          reason:
            rule === undefined
              ? 'rule deleted or disabled while the analytics were stopped'
              : `rule changed (version ${rule.version}) while the analytics were stopped`,
        });
        cleared++;
        continue;
      }
      const s = this.pairs.getOrCreate(workspace, a.ruleId, a.twinId);
      if (!s || s.active) continue;
      s.active = true;
      s.since = a.firstTime;
      s.raisedAt = a.firstTime;
      s.lastRaiseAt = a.lastTime;
      resumed++;
    }
    return { resumed, cleared };
  }

  /** The compiled rules of a workspace. */
  rulesOf(workspace: string): readonly CompiledRule[] {
    return this.rules.get(workspace) ?? [];
  }

  observe(obs: TelemetryObservation): void {
    if (this.unread(obs)) return;
    const twin = this.twinRules(obs.workspace, obs.twinId, obs.modelId);
    const rules = twin.rules;
    if (rules.length === 0) return;
    const prefix = obs.component === undefined ? '' : `${obs.component}/`;
    const own = obs.values;
    const names = prefix === '' ? undefined : Object.keys(own);
    // One scratch for every rule: a rule's update reads it and keeps nothing of it.
    const values = this.scratch;
    for (let r = 0; r < rules.length; r++) {
      const rule = rules[r] as CompiledRule;
      values.clear();
      if (names === undefined) {
        // A rule reads a handful of names: look them up rather than walk every value of the set.
        const reads = twin.reads[r] as readonly string[];
        for (let k = 0; k < reads.length; k++) {
          const key = reads[k] as string;
          if (!Object.hasOwn(own, key)) continue;
          const v = ruleNumber(own[key]);
          if (v === v) values.set(key, v);
        }
      } else
        for (const name of names) {
          const key = prefix + name;
          if (!rule.reads.has(key)) continue;
          const v = ruleNumber(own[name]);
          if (v === v) values.set(key, v);
        }
      if (values.size === 0) continue;
      if (
        rule.refit &&
        this.forecastPairs >= this.maxForecastPairs &&
        !this.pairs.get(obs.workspace, rule.spec.id, obs.twinId)?.inputs.buffer
      ) {
        this.forecastRefused++;
        continue;
      }
      let s = twin.pairs[r];
      if (s === undefined) {
        s = this.pairs.getOrCreate(obs.workspace, rule.spec.id, obs.twinId);
        if (!s) continue;
        twin.pairs[r] = s;
      }
      if (s.lastTime !== undefined && obs.time < s.lastTime) {
        this.late++;
        continue;
      }
      s.lastTime = obs.time;
      const hadBuffer = s.inputs.buffer !== undefined;
      rule.update(s.inputs, obs.time, values);
      if (!hadBuffer && s.inputs.buffer !== undefined) this.forecastPairs++;
      const lookup = (twin.lookup ??= this.lookup(obs.workspace, obs.twinId));
      if (rule.refit) this.refitIfDue(obs.workspace, rule, s, obs.time, lookup);
      const j = rule.judge(s.inputs, obs.time, lookup);
      this.step(obs.workspace, rule, s, j, obs.time);
    }
  }

  /**
   * A twin's applicable rules and their pairs by position, looked up once per reading (not once
   * per rule); made again when its model changes or when pairs may have gone (setRules, restore,
   * forgetTwin: `generation`).
   */
  private twinRules(workspace: string, twinId: string, modelId: string): TwinRules {
    let inWs = this.twinCache.get(workspace);
    if (inWs === undefined) this.twinCache.set(workspace, (inWs = new Map()));
    let t = inWs.get(twinId);
    if (t === undefined || t.modelId !== modelId || t.generation !== this.generation) {
      const rules = this.applicable(workspace, twinId, modelId);
      t = {
        modelId,
        generation: this.generation,
        rules,
        reads: rules.map((r) => [...r.reads]),
        pairs: [],
        lookup: undefined,
      };
      // Bounded like the lookups: a flood of ids starts afresh.
      if (inWs.size >= 1_000_000) inWs.clear();
      inWs.set(twinId, t);
    }
    return t;
  }

  /**
   * Time passes: the refit budget is renewed and waiting refits run (oldest first), durations that
   * have elapsed raise, silent telemetry becomes missing.
   */
  tick(now: number): void {
    this.refits.tick((p) => this.waitingRefit(p));
    for (const [workspace, rules] of this.rules) {
      for (const rule of rules) {
        if (!rule.needsTick) continue;
        for (const s of this.pairs.statesOf(workspace, rule.spec.id)) {
          if (s.lastTime !== undefined && now < s.lastTime) continue;
          if (rule.spec.condition.kind === 'missing') {
            if (s.active || s.inputs.lastSeen === undefined) continue;
            const j = rule.judge(s.inputs, now, this.lookup(workspace, s.twinId));
            // The condition began when the telemetry had been silent for `after`.
            if (j.on) s.since ??= s.inputs.lastSeen + rule.spec.condition.afterMs;
            this.step(workspace, rule, s, j, now);
          } else if (!s.active && s.since !== undefined && s.since + rule.spec.forMs <= now) {
            this.raise(workspace, rule, s, s.since + rule.spec.forMs, s.value, s.limit);
          }
        }
      }
    }
  }

  /** Forgets a deleted twin (its raised alarms are the alarm service's to close). */
  forgetTwin(workspace: string, twinId: string): void {
    this.pairs.forgetTwin(workspace, twinId);
    this.lookups.get(workspace)?.delete(twinId);
    this.twinCache.get(workspace)?.delete(twinId);
    this.generation++;
    this.countForecastPairs();
  }

  /** Episodes still open (raised, not cleared), e.g. at the end of a backtest. */
  openEpisodes(): RuleEpisode[] {
    const out: RuleEpisode[] = [];
    for (const [workspace, rules] of this.rules)
      for (const rule of rules)
        for (const s of this.pairs.statesOf(workspace, rule.spec.id))
          if (s.active && s.raisedAt !== undefined)
            out.push({
              workspace,
              ruleId: rule.spec.id,
              ruleVersion: rule.version,
              twinId: s.twinId,
              start: s.raisedAt,
              ...(s.peak !== undefined ? { peak: s.peak } : {}),
            });
    return out;
  }

  stats(): RuleEngineStats {
    let rules = 0;
    for (const r of this.rules.values()) rules += r.length;
    return {
      rules,
      pairs: this.pairs.size,
      refused: this.pairs.refused,
      late: this.late,
      ...this.refits.stats(),
      forecastPairs: this.forecastPairs,
      forecastRefused: this.forecastRefused,
    };
  }

  /** The state as JSON-safe data (rules are not included: set them again before restore). */
  snapshot(): unknown {
    return this.pairs.snapshot(
      (ws, ruleId) => this.rules.get(ws)?.find((r) => r.spec.id === ruleId)?.version,
    );
  }

  /** Restores a snapshot for the rules set now (pairs of other rules or versions are left out). @returns pairs restored */
  restore(snapshot: unknown): number {
    const n = this.pairs.restore(
      snapshot,
      (ws, ruleId) => this.rules.get(ws)?.find((r) => r.spec.id === ruleId)?.version,
    );
    this.generation++;
    this.countForecastPairs();
    return n;
  }

  /** A due refit runs now when the tick's budget allows and none waits; else it waits for a tick. */
  private refitIfDue(
    workspace: string,
    rule: CompiledRule,
    s: PairState,
    time: number,
    lookup: RuleLookup,
  ): void {
    const key = `${workspace}\u0000${rule.spec.id}\u0000${s.twinId}`;
    if (this.refits.isWaiting(key) || !rule.refit!.due(s.inputs, time, lookup)) return;
    this.refits.due(key, { workspace, ruleId: rule.spec.id, version: rule.version, twinId: s.twinId }, () =>
      rule.refit!.run(s.inputs, time, lookup),
    );
  }

  /** A waiting refit, if its rule and pair are still there: refit, then judge at the pair's last reading. */
  private waitingRefit(p: PendingRefit): (() => void) | undefined {
    const rule = this.rules.get(p.workspace)?.find((r) => r.spec.id === p.ruleId);
    if (!rule?.refit || rule.version !== p.version) return undefined;
    const s = this.pairs.get(p.workspace, p.ruleId, p.twinId);
    const time = s?.lastTime;
    if (!s || time === undefined) return undefined;
    const lookup = this.lookup(p.workspace, p.twinId);
    if (!rule.refit.due(s.inputs, time, lookup)) return undefined;
    return () => {
      rule.refit!.run(s.inputs, time, lookup);
      this.step(p.workspace, rule, s, rule.judge(s.inputs, time, lookup), time);
    };
  }

  private countForecastPairs(): void {
    let n = 0;
    for (const [workspace, rules] of this.rules)
      for (const rule of rules)
        if (rule.refit)
          for (const s of this.pairs.statesOf(workspace, rule.spec.id)) if (s.inputs.buffer) n++;
    this.forecastPairs = n;
  }

  private step(workspace: string, rule: CompiledRule, s: PairState, j: Judgement, time: number): void {
    if (j.value !== undefined) s.value = j.value;
    if (j.limit !== undefined) s.limit = j.limit;
    if (!s.active) {
      if (!j.on) {
        // "For 5 minutes" means without a break: anything but the condition starts the wait again.
        delete s.since;
        return;
      }
      s.since ??= time;
      if (time - s.since >= rule.spec.forMs)
        this.raise(workspace, rule, s, s.since + rule.spec.forMs, j.value, j.limit);
      return;
    }
    if (j.off) {
      this.clear(workspace, rule, s, j, time);
      return;
    }
    if (j.value !== undefined) s.peak = extreme(rule, s.peak, j.value);
    const every = rule.spec.repeatEveryMs;
    if (every !== undefined && s.lastRaiseAt !== undefined && time - s.lastRaiseAt >= every)
      this.raise(workspace, rule, s, time, j.value, j.limit);
  }

  private raise(
    workspace: string,
    rule: CompiledRule,
    s: PairState,
    time: number,
    value?: number,
    limit?: number,
  ): void {
    if (!s.active) {
      s.active = true;
      s.raisedAt = time;
      delete s.peak;
    }
    if (value !== undefined) s.peak = extreme(rule, s.peak, value);
    s.lastRaiseAt = time;
    const lookup = this.lookup(workspace, s.twinId);
    const c = rule.spec.condition;
    const forecast =
      c.kind === 'forecast' && value !== undefined
        ? { eta: value * 1000, probability: value === 0 ? 1 : (s.inputs.fit?.probability ?? 0) }
        : {};
    this.o.sink.raise({
      workspace,
      twinId: s.twinId,
      ruleId: rule.spec.id,
      ruleVersion: rule.version,
      severity: rule.spec.severity,
      message: renderMessage(rule.spec.message, {
        ...(value !== undefined ? { value } : {}),
        ...(limit !== undefined ? { limit } : {}),
        twinId: s.twinId,
        ruleId: rule.spec.id,
        forMs: rule.spec.forMs,
        ...(rule.telemetry !== undefined ? { telemetry: rule.telemetry } : {}),
        property: lookup.property,
        reading: (n) => s.inputs.latest[n],
        ...forecast,
      }),
      time,
      ...(value !== undefined ? { value } : {}),
    });
  }

  private clear(workspace: string, rule: CompiledRule, s: PairState, j: Judgement, time: number): void {
    const what = rule.telemetry ?? 'condition';
    const c = rule.spec.condition;
    const reason =
      c.kind === 'missing'
        ? `${c.telemetry} reported again`
        : c.kind === 'forecast'
          ? `${c.telemetry} no longer forecast to reach ${j.limit !== undefined ? formatNumber(j.limit) : 'its limit'} within ${formatEta(c.clearWithinMs)}`
          : j.value !== undefined
            ? `${what} ${formatNumber(j.value)} no longer meets the condition${j.limit !== undefined ? ` (limit ${formatNumber(j.limit)})` : ''}`
            : `${what} no longer meets the condition`;
    this.o.sink.conditionCleared({ workspace, twinId: s.twinId, ruleId: rule.spec.id, time, reason });
    this.endEpisode(workspace, rule, s, time);
    s.active = false;
    delete s.since;
    delete s.raisedAt;
    delete s.lastRaiseAt;
    delete s.peak;
  }

  private endEpisode(workspace: string, rule: CompiledRule, s: PairState, end: number): void {
    if (!this.o.onEpisode || s.raisedAt === undefined) return;
    this.o.onEpisode({
      workspace,
      ruleId: rule.spec.id,
      ruleVersion: rule.version,
      twinId: s.twinId,
      start: s.raisedAt,
      end,
      ...(s.peak !== undefined ? { peak: s.peak } : {}),
    });
  }

  private lookup(workspace: string, twinId: string): { property: (name: string) => unknown } {
    let inWs = this.lookups.get(workspace);
    if (inWs === undefined) this.lookups.set(workspace, (inWs = new Map()));
    let l = inWs.get(twinId);
    if (l === undefined) {
      const ctx = this.o.context;
      l = { property: (name) => ctx.property(workspace, twinId, name) };
      // Bounded like the graph: a twin's lookup goes with forgetTwin; a flood of ids starts afresh.
      if (inWs.size >= 1_000_000) inWs.clear();
      inWs.set(twinId, l);
    }
    return l;
  }

  private applicable(workspace: string, twinId: string, modelId: string): readonly CompiledRule[] {
    const m = this.ofModel(workspace, modelId);
    if (m === undefined) return [];
    return m.twinSets ? m.rules.filter((r) => r.twinSet === undefined || r.twinSet.has(twinId)) : m.rules;
  }

  private ofModel(workspace: string, modelId: string): ModelRules | undefined {
    const all = this.rules.get(workspace);
    if (!all || all.length === 0) return undefined;
    let inWs = this.byModel.get(workspace);
    if (inWs === undefined) this.byModel.set(workspace, (inWs = new Map()));
    let m = inWs.get(modelId);
    if (!m) {
      const rules = all.filter(
        (r) =>
          r.spec.appliesTo.model === undefined ||
          this.o.context.isOfModel(workspace, modelId, r.spec.appliesTo.model),
      );
      const reads = new Set<string>();
      for (const r of rules) for (const n of r.reads) reads.add(n);
      m = { rules, reads, twinSets: rules.some((r) => r.twinSet !== undefined) };
      if (inWs.size > 10_000) inWs.clear();
      inWs.set(modelId, m);
    }
    return m;
  }

  /** True when no rule of the twin's model reads any of these values (most derived sets). */
  private unread(obs: TelemetryObservation): boolean {
    const m = this.ofModel(obs.workspace, obs.modelId);
    if (m === undefined) return true;
    const prefix = obs.component === undefined ? '' : `${obs.component}/`;
    for (const name in obs.values) if (m.reads.has(prefix === '' ? name : prefix + name)) return false;
    return true;
  }
}

function extreme(rule: CompiledRule, peak: number | undefined, v: number): number {
  const c = rule.spec.condition;
  // A forecast's value is its ETA: the soonest is the most extreme.
  const low =
    (c.kind === 'threshold' && c.below !== undefined) ||
    (c.kind === 'rateOfChange' && c.above === undefined) ||
    c.kind === 'forecast';
  if (peak === undefined) return v;
  return low ? Math.min(peak, v) : Math.max(peak, v);
}

export type { PairInputs };
