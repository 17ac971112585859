/**
 * Report by exception: which derived values (calculated telemetry, anomaly scores) are stored and
 * published, the way a historian (exception deviation and maximum time) or an OPC UA data-change
 * filter (deadband) does it. Every value is still computed and seen by the rules of the run that
 * computed it; only the values that say something new leave it:
 *
 * - the first value of a series (per twin and name) since the run started;
 * - a value that moved by more than `deadband` from the last one reported;
 * - a value `heartbeatMs` or more (of the readings' time) after the last one reported, so a
 *   steady series still shows in history and on the live stream;
 * - a value at or above `atOrAbove` (an anomaly score at its alarm threshold), every time.
 *
 * What history shows then holds to within `deadband` of what was computed, as a step (the last
 * reported value holds until the next). Values with no policy are all reported.
 *
 * State: the last reported value and time of each series of a twin with policies, dropped with the
 * twin (forgetTwin). Pure code, no I/O.
 */
import { setOwnKey } from '../../core/json/own-key.js';

/** How one derived series is reported (times in ms of the readings' time). */
export interface ReportPolicy {
  /** Reported when it moved by more than this since the last report (0: on any change). */
  deadband: number;
  /** Reported at least this often while values come. */
  heartbeatMs: number;
  /** Always reported at or above this value (an anomaly score's alarm threshold). */
  atOrAbove?: number;
}

/** The policies of a twin's series by name (undefined: report everything of that twin). */
export type ReportPoliciesOf = (
  workspace: string,
  twinId: string,
) => ReadonlyMap<string, ReportPolicy> | undefined;

/** Default `heartbeat` when a policy names a deadband only. */
export const DEFAULT_HEARTBEAT_MS = 5 * 60_000;

interface TwinReport {
  policies: ReadonlyMap<string, ReportPolicy>;
  /** name → its policy and last report (null: the name has no policy), one lookup per value. */
  series: Map<string, Series | null>;
}

interface Series {
  policy: ReportPolicy;
  /** A report was made; then its value and time. */
  reported: boolean;
  value: number;
  time: number;
}

export interface ReportFilterStats {
  /** Values computed and reported. */
  reported: number;
  /** Values computed and held back (within the deadband, before the heartbeat). */
  held: number;
}

export class ReportFilter {
  /** workspace → twin → its series' state, or null when the twin has no policies. */
  private readonly twins = new Map<string, Map<string, TwinReport | null>>();
  private readonly counts: ReportFilterStats = { reported: 0, held: 0 };
  /** Scratch of one reportable call: whether each value (in order) is reported. */
  private readonly flags: boolean[] = [];

  constructor(private readonly policiesOf: ReportPoliciesOf) {}

  stats(): ReportFilterStats {
    return { ...this.counts };
  }

  /**
   * The values of a set to report: `values` itself when all are, a new object with those to report
   * when some are held back, undefined when none is to be reported.
   */
  reportable(
    workspace: string,
    twinId: string,
    time: number,
    values: Readonly<Record<string, number>>,
  ): Readonly<Record<string, number>> | undefined {
    let ws = this.twins.get(workspace);
    if (ws === undefined) this.twins.set(workspace, (ws = new Map()));
    let twin = ws.get(twinId);
    if (twin === undefined) {
      const policies = this.policiesOf(workspace, twinId);
      twin = policies && policies.size > 0 ? { policies, series: new Map() } : null;
      ws.set(twinId, twin);
    }
    if (twin === null) {
      for (const name in values) if (Object.hasOwn(values, name)) this.counts.reported++;
      return values;
    }
    const flags = this.flags;
    let n = 0;
    let reported = 0;
    for (const name in values) {
      if (!Object.hasOwn(values, name)) continue;
      const r = this.report(twin, name, time, values[name]!);
      flags[n++] = r;
      if (r) reported++;
    }
    this.counts.reported += reported;
    if (reported === n) return values;
    this.counts.held += n - reported;
    if (reported === 0) return undefined;
    const out: Record<string, number> = {};
    let i = 0;
    for (const name in values)
      if (Object.hasOwn(values, name) && flags[i++] === true) setOwnKey(out, name, values[name]!);
    return out;
  }

  /** Forgets a twin's series (deleted, or replaced by one of another model). */
  forgetTwin(workspace: string, twinId: string): void {
    this.twins.get(workspace)?.delete(twinId);
  }

  /** Whether `v` at `time` is to be reported; records it when it is. */
  private report(twin: TwinReport, name: string, time: number, v: number): boolean {
    let series = twin.series.get(name);
    if (series === undefined) {
      const policy = twin.policies.get(name);
      series = policy === undefined ? null : { policy, reported: false, value: 0, time: 0 };
      twin.series.set(name, series);
    }
    if (series === null) return true;
    const p = series.policy;
    if (
      !series.reported ||
      !(time >= series.time) || // earlier than the last report (a replay, a clock change): said again
      time - series.time >= p.heartbeatMs ||
      !(Math.abs(v - series.value) <= p.deadband) ||
      (p.atOrAbove !== undefined && v >= p.atOrAbove)
    ) {
      series.reported = true;
      series.value = v;
      series.time = time;
      return true;
    }
    return false;
  }
}
