/**
 * Streaming anomaly detection as an analytics operator: one detector per (twin, telemetry) stream
 * of the configured models, fed every numeric reading; each score in [0, 1] is written beside its
 * source as derived telemetry `<name>AnomalyScore`, and a score at or above the threshold raises an
 * alarm (rule id `anomaly.<name>`) that clears once the scores have stayed below `clearBelow` for
 * `quietMs` of source time. Multivariate groups (several telemetry of one twin scored together
 * under a name of their own) get one detector per (twin, group), fed the group's vector of every
 * reading set that has at least one of its telemetry (a missing component is NaN: as expected),
 * with the same score, write and alarm lifecycle under the group's name.
 *
 * State after a restart is rebuilt from history: the first reading of a stream triggers a read of
 * its last `warmUpPoints` points before it, replayed through a fresh detector (their scores are not
 * written); readings arriving meanwhile wait (bounded) and are scored after. A group reads each of
 * its streams' last points and aligns them by timestamp (the readings of one message share one)
 * into at most `warmUpPoints` vectors. A detector's state depends on the recent past it has seen,
 * so a restarted stream scores like one that never stopped once it has seen that much history
 * again (docs/analytics.md).
 */
import {
  ANOMALY_RULE_PREFIX,
  type AlarmSeverity,
  type AlarmSink,
  type DerivedSink,
  type TelemetryObservation,
} from '../analytics-types.js';
import type { AnalyticsOperator } from './analytics-runtime.js';
import { alignByTime, type GroupVector, type HistoryReading } from './anomaly-history.js';

/** One stream's detector: a score in [0, 1] for every reading, bounded memory. */
export interface StreamDetector {
  score(time: number, value: number): number;
}

/** One multivariate group's detector: a score in [0, 1] for every vector (NaN: a missing component). */
export interface GroupDetector {
  score(time: number, values: readonly number[]): number;
}

/** A multivariate group: its name (score `<name>AnomalyScore`, alarm `anomaly.<name>`) and telemetry. */
export interface AnomalyGroup {
  name: string;
  telemetry: readonly string[];
}

export type { HistoryReading } from './anomaly-history.js';

export interface AnomalyOperatorOptions {
  /** Telemetry names to score for twins of a model (undefined or empty: none); asked once per model. */
  streamsOf: (workspace: string, modelId: string) => readonly string[] | undefined;
  /** A fresh detector (one configuration for every stream). */
  createDetector: () => StreamDetector;
  /** Multivariate groups scored for twins of a model (undefined or empty: none); asked once per model. */
  groupsOf?: (workspace: string, modelId: string) => readonly AnomalyGroup[] | undefined;
  /** A fresh detector for a group of `streams` telemetry (required when `groupsOf` gives groups). */
  createGroupDetector?: (streams: number) => GroupDetector;
  sink: DerivedSink;
  /** Where threshold crossings go; without it no alarms are raised. */
  alarms?: AlarmSink;
  /** Score at or above which an alarm is raised (default 0.99). */
  threshold?: number;
  /** Scores below this count as quiet (default 0.5). */
  clearBelow?: number;
  /** Quiet source time after which the alarm's condition clears, ms (default 10 minutes). */
  quietMs?: number;
  severity?: AlarmSeverity;
  /**
   * Streams scored at most (default 100,000), a group of d telemetry counting as d streams; beyond,
   * new streams and groups are counted and skipped.
   */
  maxStreams?: number;
  /** Reads a stream's last points before `before` (oldest first) for the warm-up. */
  recent?: (
    workspace: string,
    twinId: string,
    name: string,
    before: number,
    limit: number,
  ) => Promise<HistoryReading[]>;
  /** Points replayed at warm-up (default 1,000). */
  warmUpPoints?: number;
  /** Readings held per stream while its warm-up runs (default 1,000; beyond, scored cold after it). */
  maxHeld?: number;
  /** Told when a warm-up read fails (the stream then starts cold). */
  onWarmUpError?: (error: unknown) => void;
}

/** Where a stream's or group's alarm stands. */
interface AlarmState {
  /** Alarm raised and not yet cleared. */
  alarmed: boolean;
  /** Source time of the first quiet score since the last high one. */
  quietSince: number | undefined;
}

interface Stream extends AlarmState {
  detector: StreamDetector;
  /** `<name>AnomalyScore`, made once (not a string built per reading). */
  scoreKey: string;
  /** Readings waiting for the warm-up; undefined once warm. */
  held: HistoryReading[] | undefined;
}

interface GroupState extends AlarmState {
  detector: GroupDetector;
  scoreKey: string;
  /** The vector of one reading, reused once the group is warm (detectors keep nothing of it). */
  scratch: number[];
  /** Streams it counts for (its telemetry). */
  size: number;
  /** Vectors waiting for the warm-up; undefined once warm. */
  held: GroupVector[] | undefined;
}

/** A twin's streams and groups by position in its model's names and groups (undefined: not made yet). */
interface TwinView {
  modelId: string;
  names: readonly string[];
  groups: readonly AnomalyGroup[];
  streams: (Stream | undefined)[];
  groupStates: (GroupState | undefined)[];
}

export interface AnomalyOperatorStats {
  streams: number;
  scored: number;
  alarmsRaised: number;
  streamsSkipped: number;
  warmUpFailures: number;
  /** Multivariate detectors (twin × group), vectors they scored, groups not scored (the cap). */
  groups: number;
  groupsScored: number;
  groupsSkipped: number;
}

export const ANOMALY_SCORE_SUFFIX = 'AnomalyScore';

export class AnomalyOperator implements AnalyticsOperator {
  readonly name = 'anomaly';
  /** workspace → twin → telemetry name → stream (no key strings built per reading). */
  private readonly streams = new Map<string, Map<string, Map<string, Stream>>>();
  private streamCount = 0;
  /** Streams (workspace, twin, name) whose alarm was open at start, until they are created. */
  private readonly resumed = new Set<string>();
  private readonly namesByModel = new Map<string, Map<string, readonly string[]>>();
  /** workspace → twin → group name → its detector state (no key strings built per reading). */
  private readonly groups = new Map<string, Map<string, Map<string, GroupState>>>();
  private groupCount = 0;
  /** Streams the groups count for (sum of their sizes). */
  private groupStreams = 0;
  private readonly groupsByModel = new Map<string, Map<string, readonly AnomalyGroup[]>>();
  /** workspace → twin → its streams and groups by position (see view). */
  private readonly views = new Map<string, Map<string, TwinView>>();
  private readonly threshold: number;
  private readonly clearBelow: number;
  private readonly quietMs: number;
  private readonly maxStreams: number;
  private readonly warmUpPoints: number;
  private readonly maxHeld: number;
  private readonly counts = {
    scored: 0,
    alarmsRaised: 0,
    streamsSkipped: 0,
    warmUpFailures: 0,
    groupsScored: 0,
    groupsSkipped: 0,
  };

  constructor(private readonly opts: AnomalyOperatorOptions) {
    this.threshold = opts.threshold ?? 0.99;
    this.clearBelow = opts.clearBelow ?? 0.5;
    this.quietMs = opts.quietMs ?? 10 * 60_000;
    this.maxStreams = opts.maxStreams ?? 100_000;
    this.warmUpPoints = opts.warmUpPoints ?? 1_000;
    this.maxHeld = opts.maxHeld ?? 1_000;
  }

  stats(): AnomalyOperatorStats {
    return { streams: this.streamCount, groups: this.groupCount, ...this.counts };
  }

  /**
   * Alarms of the detectors still open from before a restart (or a takeover): the stream they
   * belong to starts as alarmed when it is created, so its quiet scores clear the alarm as they
   * would have without the restart. Other alarms are ignored.
   */
  resumeOpen(open: readonly { workspace: string; twinId: string; ruleId: string }[]): number {
    let n = 0;
    for (const a of open) {
      if (!a.ruleId.startsWith(ANOMALY_RULE_PREFIX)) continue;
      const name = a.ruleId.slice(ANOMALY_RULE_PREFIX.length);
      const existing =
        this.streams.get(a.workspace)?.get(a.twinId)?.get(name) ??
        this.groups.get(a.workspace)?.get(a.twinId)?.get(name);
      if (existing !== undefined) existing.alarmed = true;
      else this.resumed.add(`${a.workspace}\u0000${a.twinId}\u0000${name}`);
      n++;
    }
    return n;
  }

  /** Forgets a twin's streams and groups (deleted twin). */
  forgetTwin(workspace: string, twinId: string): void {
    this.views.get(workspace)?.delete(twinId);
    const twins = this.streams.get(workspace);
    const gone = twins?.get(twinId);
    if (gone !== undefined) {
      this.streamCount -= gone.size;
      twins!.delete(twinId);
    }
    const groups = this.groups.get(workspace);
    const goneGroups = groups?.get(twinId);
    if (goneGroups !== undefined) {
      for (const g of goneGroups.values()) this.groupStreams -= g.size;
      this.groupCount -= goneGroups.size;
      groups!.delete(twinId);
    }
  }

  observe(obs: TelemetryObservation): void {
    if (obs.component !== undefined) return;
    const view = this.view(obs.workspace, obs.twinId, obs.modelId);
    const names = view.names;
    const groups = view.groups;
    if (names.length === 0 && groups.length === 0) return;
    const values = obs.values;
    let scores: Record<string, number> | undefined;
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string;
      const v = values[name];
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      let s = view.streams[i];
      if (s === undefined) {
        const twin = this.twinStreams(obs.workspace, obs.twinId);
        s = twin.get(name) ?? this.stream(obs, name, twin);
        if (s === undefined) continue;
        view.streams[i] = s;
      }
      if (s.held !== undefined) {
        if (s.held.length < this.maxHeld) s.held.push({ time: obs.time, value: v });
        continue;
      }
      const score = this.scoreOne(obs.workspace, obs.twinId, name, s, obs.time, v);
      (scores ??= {})[s.scoreKey] = score;
    }
    for (let j = 0; j < groups.length; j++) {
      const group = groups[j] as AnomalyGroup;
      const telemetry = group.telemetry;
      let present = false;
      for (let i = 0; i < telemetry.length && !present; i++) present = finite(values[telemetry[i] as string]);
      if (!present) continue;
      let g = view.groupStates[j];
      if (g === undefined) {
        g = this.group(obs, group);
        if (g === undefined) continue;
        view.groupStates[j] = g;
      }
      // Held vectors are kept: each its own array; a warm group's detector reads the scratch and keeps nothing.
      const vector = g.held !== undefined ? new Array<number>(telemetry.length) : g.scratch;
      for (let i = 0; i < telemetry.length; i++) {
        const v = values[telemetry[i] as string];
        vector[i] = finite(v) ? v : Number.NaN;
      }
      if (g.held !== undefined) {
        if (g.held.length < this.maxHeld) g.held.push({ time: obs.time, values: vector });
        continue;
      }
      (scores ??= {})[g.scoreKey] = this.scoreGroup(obs, group, g, obs.time, vector);
    }
    if (scores !== undefined) this.opts.sink.write(obs.workspace, obs.twinId, obs.time, scores);
  }

  /**
   * A twin's streams and groups in the order of its model's names and groups, looked up once per
   * reading (not once per name); rebuilt when the twin's model changes, dropped with the twin.
   */
  private view(workspace: string, twinId: string, modelId: string): TwinView {
    let inWs = this.views.get(workspace);
    if (inWs === undefined) this.views.set(workspace, (inWs = new Map()));
    let v = inWs.get(twinId);
    if (v === undefined || v.modelId !== modelId) {
      v = {
        modelId,
        names: this.names(workspace, modelId),
        groups: this.groupsOf(workspace, modelId),
        streams: [],
        groupStates: [],
      };
      inWs.set(twinId, v);
    }
    return v;
  }

  private names(workspace: string, modelId: string): readonly string[] {
    let inWs = this.namesByModel.get(workspace);
    if (inWs === undefined) this.namesByModel.set(workspace, (inWs = new Map()));
    let n = inWs.get(modelId);
    if (n === undefined) {
      n = this.opts.streamsOf(workspace, modelId) ?? [];
      inWs.set(modelId, n);
    }
    return n;
  }

  private groupsOf(workspace: string, modelId: string): readonly AnomalyGroup[] {
    if (this.opts.groupsOf === undefined) return NO_GROUPS;
    let inWs = this.groupsByModel.get(workspace);
    if (inWs === undefined) this.groupsByModel.set(workspace, (inWs = new Map()));
    let g = inWs.get(modelId);
    if (g === undefined) {
      g = this.opts.groupsOf(workspace, modelId) ?? NO_GROUPS;
      inWs.set(modelId, g);
    }
    return g;
  }

  private twinStreams(workspace: string, twinId: string): Map<string, Stream> {
    let twins = this.streams.get(workspace);
    if (twins === undefined) this.streams.set(workspace, (twins = new Map()));
    let t = twins.get(twinId);
    if (t === undefined) twins.set(twinId, (t = new Map()));
    return t;
  }

  /** A new stream of the twin (warmed up from history), or undefined past `maxStreams`. */
  private stream(obs: TelemetryObservation, name: string, twin: Map<string, Stream>): Stream | undefined {
    if (this.streamCount + this.groupStreams >= this.maxStreams) {
      this.counts.streamsSkipped++;
      return undefined;
    }
    const resumedKey = this.resumed.size > 0 ? `${obs.workspace}\u0000${obs.twinId}\u0000${name}` : '';
    const s: Stream = {
      detector: this.opts.createDetector(),
      scoreKey: name + ANOMALY_SCORE_SUFFIX,
      held: undefined,
      alarmed: resumedKey !== '' && this.resumed.delete(resumedKey),
      quietSince: undefined,
    };
    twin.set(name, s);
    this.streamCount++;
    if (this.opts.recent !== undefined && this.warmUpPoints > 0) this.warmUp(obs, name, s);
    return s;
  }

  /** Replays the stream's recent history through its fresh detector, then scores what waited. */
  private warmUp(obs: TelemetryObservation, name: string, s: Stream): void {
    const held: HistoryReading[] = [];
    s.held = held;
    const recent = this.opts.recent as NonNullable<AnomalyOperatorOptions['recent']>;
    const done = (past: readonly HistoryReading[]): void => {
      for (const p of past) if (Number.isFinite(p.value)) s.detector.score(p.time, p.value);
      s.held = undefined;
      if (held.length === 0) return;
      const scores: { time: number; score: number }[] = [];
      for (const r of held)
        scores.push({
          time: r.time,
          score: this.scoreOne(obs.workspace, obs.twinId, name, s, r.time, r.value),
        });
      for (const x of scores)
        this.opts.sink.write(obs.workspace, obs.twinId, x.time, { [name + ANOMALY_SCORE_SUFFIX]: x.score });
    };
    recent(obs.workspace, obs.twinId, name, obs.time, this.warmUpPoints).then(done, (e: unknown) => {
      this.counts.warmUpFailures++;
      this.opts.onWarmUpError?.(e);
      done([]);
    });
  }

  private scoreOne(
    workspace: string,
    twinId: string,
    name: string,
    s: Stream,
    time: number,
    v: number,
  ): number {
    const score = clampScore(s.detector.score(time, v));
    this.counts.scored++;
    if (this.judge(workspace, twinId, name, s, time, score))
      this.raise(
        workspace,
        twinId,
        name,
        time,
        `${name} is anomalous: score ${score.toFixed(3)} at value ${v}`,
        v,
      );
    return score;
  }

  /** A twin's detector of a group: created (and warmed up) on the group's first reading, capped. */
  private group(obs: TelemetryObservation, group: AnomalyGroup): GroupState | undefined {
    let inWs = this.groups.get(obs.workspace);
    if (inWs === undefined) this.groups.set(obs.workspace, (inWs = new Map()));
    let twin = inWs.get(obs.twinId);
    if (twin === undefined) inWs.set(obs.twinId, (twin = new Map()));
    let g = twin.get(group.name);
    if (g !== undefined) return g;
    const size = group.telemetry.length;
    const create = this.opts.createGroupDetector;
    if (create === undefined || this.streamCount + this.groupStreams + size > this.maxStreams) {
      this.counts.groupsSkipped++;
      return undefined;
    }
    g = {
      detector: create(size),
      scoreKey: group.name + ANOMALY_SCORE_SUFFIX,
      scratch: new Array<number>(size).fill(Number.NaN),
      size,
      held: undefined,
      alarmed:
        this.resumed.size > 0 &&
        this.resumed.delete(`${obs.workspace}\u0000${obs.twinId}\u0000${group.name}`),
      quietSince: undefined,
    };
    twin.set(group.name, g);
    this.groupCount++;
    this.groupStreams += size;
    if (this.opts.recent !== undefined && this.warmUpPoints > 0) this.warmUpGroup(obs, group, g);
    return g;
  }

  /**
   * Reads each of the group's streams' recent history, aligns it by timestamp into vectors, replays
   * them through the fresh detector, then scores what waited (as the univariate warm-up does).
   */
  private warmUpGroup(obs: TelemetryObservation, group: AnomalyGroup, g: GroupState): void {
    const held: GroupVector[] = [];
    g.held = held;
    const recent = this.opts.recent as NonNullable<AnomalyOperatorOptions['recent']>;
    const limit = this.warmUpPoints;
    const done = (past: readonly GroupVector[]): void => {
      for (const p of past) g.detector.score(p.time, p.values);
      g.held = undefined;
      const scores = held.map((r) => ({
        time: r.time,
        score: this.scoreGroup(obs, group, g, r.time, r.values),
      }));
      for (const x of scores)
        this.opts.sink.write(obs.workspace, obs.twinId, x.time, {
          [group.name + ANOMALY_SCORE_SUFFIX]: x.score,
        });
    };
    Promise.all(group.telemetry.map((t) => recent(obs.workspace, obs.twinId, t, obs.time, limit)))
      .then(
        (series) => done(alignByTime(series, limit)),
        (e: unknown) => {
          this.counts.warmUpFailures++;
          this.opts.onWarmUpError?.(e);
          done([]);
        },
      )
      // A detector or sink that throws while replaying must not become an unhandled rejection.
      .catch((e: unknown) => this.opts.onWarmUpError?.(e));
  }

  private scoreGroup(
    obs: TelemetryObservation,
    group: AnomalyGroup,
    g: GroupState,
    time: number,
    values: readonly number[],
  ): number {
    const score = clampScore(g.detector.score(time, values));
    this.counts.groupsScored++;
    if (this.judge(obs.workspace, obs.twinId, group.name, g, time, score))
      this.raise(
        obs.workspace,
        obs.twinId,
        group.name,
        time,
        `${group.name} is anomalous: score ${score.toFixed(3)} at ${group.telemetry
          .map((t, i) => `${t} ${Number.isFinite(values[i]) ? String(values[i]) : '–'}`)
          .join(', ')}`,
      );
    return score;
  }

  /**
   * The alarm lifecycle shared by streams and groups: raise at the threshold, clear after quiet.
   * @returns true when an alarm is to be raised now (the caller describes it: no message is built
   *   for the scores that raise nothing)
   */
  private judge(
    workspace: string,
    twinId: string,
    name: string,
    s: AlarmState,
    time: number,
    score: number,
  ): boolean {
    const alarms = this.opts.alarms;
    if (alarms === undefined) return false;
    if (score >= this.threshold) {
      s.quietSince = undefined;
      if (!s.alarmed) {
        s.alarmed = true;
        this.counts.alarmsRaised++;
        return true;
      }
    } else if (s.alarmed && score < this.clearBelow) {
      s.quietSince ??= time;
      if (time - s.quietSince >= this.quietMs) {
        s.alarmed = false;
        s.quietSince = undefined;
        alarms.conditionCleared({
          workspace,
          twinId,
          ruleId: ANOMALY_RULE_PREFIX + name,
          time,
          reason: `${name} scores stayed below ${this.clearBelow} for ${Math.round(this.quietMs / 60_000)} min`,
        });
      }
    } else s.quietSince = undefined;
    return false;
  }

  private raise(
    workspace: string,
    twinId: string,
    name: string,
    time: number,
    message: string,
    value?: number,
  ): void {
    this.opts.alarms?.raise({
      workspace,
      twinId,
      ruleId: ANOMALY_RULE_PREFIX + name,
      ruleVersion: 1,
      severity: this.opts.severity ?? 'warning',
      time,
      message,
      ...(value !== undefined ? { value } : {}),
    });
  }
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

const NO_GROUPS: readonly AnomalyGroup[] = [];

function clampScore(score: number): number {
  return Number.isFinite(score) ? Math.min(1, Math.max(0, score)) : 0;
}
