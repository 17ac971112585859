/**
 * A pilot's anomaly plan (`pilots/<name>/anomaly.yaml`): which telemetry of which models is scored,
 * by which detector kind (one configuration for every stream: no per-series tuning), with an
 * optional alarm threshold, and which telemetry of a model are scored together by a multivariate
 * detector (named groups). Read with every problem at once, each at its line and column; checked
 * against the models by `checkAnomalyPlan` (check-anomaly-plan.ts).
 *
 * @example
 * detector: resonance
 * threshold: 0.99
 * streams:
 *   - model: dtmi:twinloop:pumpline:Pump;1
 *     telemetry: [vibration, temperature]
 * multivariate:
 *   - model: dtmi:twinloop:pumpline:Pump;1
 *     name: pump # scored as pumpAnomalyScore, alarm anomaly.pump
 *     telemetry: [vibration, temperature, flow, dischargePressure]
 * report: { deadband: 0.05, heartbeat: 5min } # scores stored by exception (optional)
 */
import type { Problem } from '../../core/errors/errors.js';
import type { LNode, Loc } from '../../sim/behaviour/located-document.js';
import { readLocatedDocument } from '../../sim/behaviour/located-document.js';
import { parseScenarioTime } from '../../sim/scenario/scenario-time.js';
import { DEFAULT_HEARTBEAT_MS } from './report-filter.js';
import { createMultivariateDetector, type MultivariateDetector } from '../anomaly/multivariate-detector.js';

export interface AnomalyPlanSpec {
  detector: string;
  threshold?: number;
  streams: StreamEntrySpec[];
  /** Groups of telemetry scored together (absent when the plan has none). */
  multivariate?: MultivariateGroupSpec[];
  /**
   * Scores reported by exception (`report: { deadband, heartbeat }`): stored and published when
   * they moved by more than the deadband, after the heartbeat, or at or above the threshold
   * (report-filter.ts). Absent: every score is reported.
   */
  report?: { deadband: number; heartbeatMs: number };
}

/** Telemetry of one model, each scored on its own. */
export interface StreamEntrySpec {
  model: string;
  telemetry: string[];
  /** Where each part was written (for the checks against the models; absent when built in code). */
  loc?: { entry: Loc; model: Loc; telemetry: Loc[] };
}

/** Telemetry of one model scored together by a multivariate detector, under a name of its own. */
export interface MultivariateGroupSpec {
  model: string;
  /** The score is written as `<name>AnomalyScore`, the alarm is `anomaly.<name>`. */
  name: string;
  /** 2 to 16 numeric telemetry of the model, in the order of the detector's vector. */
  telemetry: string[];
  /** Where each part was written (for the checks against the models). */
  loc: { entry: Loc; model: Loc; name: Loc; telemetry: Loc[] };
}

/** Most stream entries and names per entry (a plan is written by hand). */
const MAX_ENTRIES = 1000;
/** Most multivariate groups, and telemetry per group (the detector costs O(d²) per reading). */
const MAX_GROUPS = 1000;
export const GROUP_MIN_STREAMS = 2;
export const GROUP_MAX_STREAMS = 16;
const NAME = /^[A-Za-z](?:[A-Za-z0-9_]{0,62}[A-Za-z0-9])?$/;
const DTMI =
  /^dtmi:[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?(?::[A-Za-z_](?:[A-Za-z0-9_]*[A-Za-z0-9])?)*;[1-9][0-9]{0,8}$/;

/**
 * Reads and checks a plan; `kinds` are the detector kinds there are. Problems carry `source`
 * line:column and a JSON pointer.
 */
export function readAnomalyPlan(
  text: string,
  source: string,
  kinds: readonly string[],
): { plan: AnomalyPlanSpec } | { problems: Problem[] } {
  const doc = readLocatedDocument(text, source);
  const problems: Problem[] = [...doc.problems];
  const at = (loc: Loc, code: string, message: string): void => {
    problems.push({ code, message: `${source}:${loc.line}:${loc.column}: ${message}`, pointer: loc.pointer });
  };
  const root = doc.root;
  if (root === undefined || root.kind !== 'map') {
    if (!problems.length)
      problems.push({
        code: 'anomaly.plan.type',
        message: `${source}: the plan must be a mapping.`,
        pointer: '',
      });
    return { problems };
  }
  let detector: string | undefined;
  let threshold: number | undefined;
  const streams: AnomalyPlanSpec['streams'] = [];
  let groups: MultivariateGroupSpec[] | undefined;
  let report: AnomalyPlanSpec['report'];
  const scalar = (n: LNode): unknown => (n.kind === 'scalar' ? n.value : undefined);
  for (const e of root.entries) {
    if (e.key === 'detector') {
      const v = scalar(e.value);
      if (typeof v === 'string' && kinds.includes(v)) detector = v;
      else at(e.value.loc, 'anomaly.plan.detector', `detector must be one of ${kinds.join(', ')}.`);
    } else if (e.key === 'threshold') {
      const v = scalar(e.value);
      if (typeof v === 'number' && v > 0 && v <= 1) threshold = v;
      else at(e.value.loc, 'anomaly.plan.threshold', 'threshold must be a number above 0 and at most 1.');
    } else if (e.key === 'streams') {
      if (e.value.kind !== 'seq' || e.value.items.length > MAX_ENTRIES) {
        at(e.value.loc, 'anomaly.plan.streams', `streams must be a list of at most ${MAX_ENTRIES} entries.`);
        continue;
      }
      for (const item of e.value.items) {
        if (item.kind !== 'map') {
          at(item.loc, 'anomaly.plan.stream', 'each stream entry is a mapping with model and telemetry.');
          continue;
        }
        let model: string | undefined;
        let modelLoc: Loc = item.loc;
        const telemetry: string[] = [];
        const telemetryLocs: Loc[] = [];
        let sawTelemetry = false;
        for (const f of item.entries) {
          if (f.key === 'model') {
            const v = scalar(f.value);
            modelLoc = f.value.loc;
            if (typeof v === 'string' && v.length <= 2048 && DTMI.test(v)) model = v;
            else at(f.value.loc, 'anomaly.plan.model', 'model must be a DTMI with a version (dtmi:…;1).');
          } else if (f.key === 'telemetry') {
            sawTelemetry = true;
            if (f.value.kind !== 'seq' || f.value.items.length === 0 || f.value.items.length > 64) {
              at(
                f.value.loc,
                'anomaly.plan.telemetry',
                'telemetry must be a list of 1 to 64 telemetry names.',
              );
              continue;
            }
            for (const t of f.value.items) {
              const v = scalar(t);
              if (typeof v === 'string' && NAME.test(v)) {
                telemetry.push(v);
                telemetryLocs.push(t.loc);
              } else
                at(
                  t.loc,
                  'anomaly.plan.telemetry',
                  'a telemetry name (letters, digits, _; 1 to 64 characters).',
                );
            }
          } else
            at(
              f.keyLoc,
              'anomaly.plan.member',
              `'${f.key.slice(0, 64)}' is not a setting of a stream entry.`,
            );
        }
        if (model === undefined && !item.entries.some((f) => f.key === 'model'))
          at(item.loc, 'anomaly.plan.model', 'a stream entry needs a model.');
        if (!sawTelemetry) at(item.loc, 'anomaly.plan.telemetry', 'a stream entry needs telemetry.');
        if (model !== undefined && telemetry.length > 0)
          streams.push({
            model,
            telemetry,
            loc: { entry: item.loc, model: modelLoc, telemetry: telemetryLocs },
          });
      }
    } else if (e.key === 'multivariate') {
      groups = readGroups(e.value, at);
    } else if (e.key === 'report') {
      report = readReport(e.value, at);
    } else
      at(e.keyLoc, 'anomaly.plan.member', `'${e.key.slice(0, 64)}' is not a setting of an anomaly plan.`);
  }
  if (detector === undefined && !root.entries.some((e) => e.key === 'detector'))
    at(root.loc, 'anomaly.plan.detector', `the plan needs a detector (${kinds.join(', ')}).`);
  if (problems.length || detector === undefined) return { problems };
  return {
    plan: {
      detector,
      ...(threshold === undefined ? {} : { threshold }),
      streams,
      ...(groups === undefined ? {} : { multivariate: groups }),
      ...(report === undefined ? {} : { report }),
    },
  };
}

/** The longest heartbeat of reported scores: one day. */
const MAX_HEARTBEAT_MS = 86_400_000;

/** `report: { deadband, heartbeat }`: how scores are reported by exception. */
function readReport(
  node: LNode,
  at: (loc: Loc, code: string, message: string) => void,
): AnomalyPlanSpec['report'] {
  const what =
    "report is a mapping with 'deadband' (a score difference from 0 to 1) and an optional 'heartbeat' (a duration such as 5min)";
  if (node.kind !== 'map') {
    at(node.loc, 'anomaly.plan.report', `${what}.`);
    return undefined;
  }
  let deadband: number | undefined;
  let heartbeatMs = DEFAULT_HEARTBEAT_MS;
  let ok = true;
  for (const f of node.entries) {
    const v = f.value.kind === 'scalar' ? f.value.value : undefined;
    if (f.key === 'deadband') {
      if (typeof v === 'number' && v >= 0 && v <= 1) deadband = v;
      else {
        at(f.value.loc, 'anomaly.plan.report', 'deadband must be a number from 0 to 1 (a score difference).');
        ok = false;
      }
    } else if (f.key === 'heartbeat') {
      const t = parseScenarioTime(v);
      const ms = t.ok ? t.seconds * 1000 : NaN;
      if (ms >= 1000 && ms <= MAX_HEARTBEAT_MS) heartbeatMs = ms;
      else {
        at(
          f.value.loc,
          'anomaly.plan.report',
          `heartbeat must be a duration from 1 s to 24 h${t.ok ? '' : ` (${t.message})`}.`,
        );
        ok = false;
      }
    } else {
      at(f.keyLoc, 'anomaly.plan.member', `'${f.key.slice(0, 64)}' is not a setting of report (${what}).`);
      ok = false;
    }
  }
  if (deadband === undefined) {
    if (ok) at(node.loc, 'anomaly.plan.report', `${what}: deadband is missing.`);
    return undefined;
  }
  return ok ? { deadband, heartbeatMs } : undefined;
}

/** The `multivariate:` list: each group's model, name and telemetry; names unique in the plan. */
function readGroups(
  node: LNode,
  at: (loc: Loc, code: string, message: string) => void,
): MultivariateGroupSpec[] {
  const out: MultivariateGroupSpec[] = [];
  if (node.kind !== 'seq' || node.items.length > MAX_GROUPS) {
    at(node.loc, 'anomaly.plan.multivariate', `multivariate must be a list of at most ${MAX_GROUPS} groups.`);
    return out;
  }
  const names = new Map<string, Loc>();
  for (const item of node.items) {
    if (item.kind !== 'map') {
      at(
        item.loc,
        'anomaly.plan.group',
        'each multivariate group is a mapping with model, name and telemetry.',
      );
      continue;
    }
    let model: { value: string; loc: Loc } | undefined;
    let name: { value: string; loc: Loc } | undefined;
    const telemetry: string[] = [];
    const telemetryLocs: Loc[] = [];
    let telemetryOk = false;
    const seen = new Set<string>();
    for (const f of item.entries) {
      const v = f.value.kind === 'scalar' ? f.value.value : undefined;
      if (f.key === 'model') {
        if (typeof v === 'string' && v.length <= 2048 && DTMI.test(v)) model = { value: v, loc: f.value.loc };
        else at(f.value.loc, 'anomaly.plan.model', 'model must be a DTMI with a version (dtmi:…;1).');
      } else if (f.key === 'name') {
        if (typeof v !== 'string' || !NAME.test(v))
          at(
            f.value.loc,
            'anomaly.plan.groupName',
            'name must be a name (a letter, then letters, digits, _; at most 64).',
          );
        else if (names.has(v)) {
          const first = names.get(v) as Loc;
          at(f.value.loc, 'anomaly.plan.duplicate', `'${v}' already names the group at line ${first.line}.`);
        } else {
          names.set(v, f.value.loc);
          name = { value: v, loc: f.value.loc };
        }
      } else if (f.key === 'telemetry') {
        const list = f.value;
        if (
          list.kind !== 'seq' ||
          list.items.length < GROUP_MIN_STREAMS ||
          list.items.length > GROUP_MAX_STREAMS
        ) {
          at(
            list.loc,
            'anomaly.plan.telemetry',
            `a group's telemetry is a list of ${GROUP_MIN_STREAMS} to ${GROUP_MAX_STREAMS} telemetry names.`,
          );
          continue;
        }
        telemetryOk = true;
        for (const t of list.items) {
          const tv = scalarOf(t);
          if (typeof tv !== 'string' || !NAME.test(tv)) {
            telemetryOk = false;
            at(t.loc, 'anomaly.plan.telemetry', 'a telemetry name (letters, digits, _; 1 to 64 characters).');
          } else if (seen.has(tv)) {
            telemetryOk = false;
            at(t.loc, 'anomaly.plan.telemetry', `'${tv}' is already in this group.`);
          } else {
            seen.add(tv);
            telemetry.push(tv);
            telemetryLocs.push(t.loc);
          }
        }
      } else
        at(
          f.keyLoc,
          'anomaly.plan.member',
          `'${f.key.slice(0, 64)}' is not a setting of a multivariate group.`,
        );
    }
    const has = (k: string): boolean => item.entries.some((f) => f.key === k);
    if (!has('model')) at(item.loc, 'anomaly.plan.model', 'a multivariate group needs a model.');
    if (!has('name')) at(item.loc, 'anomaly.plan.groupName', 'a multivariate group needs a name.');
    if (!has('telemetry')) at(item.loc, 'anomaly.plan.telemetry', 'a multivariate group needs telemetry.');
    if (model && name && telemetryOk)
      out.push({
        model: model.value,
        name: name.value,
        telemetry,
        loc: { entry: item.loc, model: model.loc, name: name.loc, telemetry: telemetryLocs },
      });
  }
  return out;
}

const scalarOf = (n: LNode): unknown => (n.kind === 'scalar' ? n.value : undefined);

/**
 * The multivariate groups a plan scores for twins of a model, IS_OF_MODEL included (a group on a
 * base model covers the models that extend it).
 */
export function planGroups(
  plan: AnomalyPlanSpec,
  modelId: string,
  isOfModel: (modelId: string, baseId: string) => boolean,
): MultivariateGroupSpec[] {
  return (plan.multivariate ?? []).filter((g) => isOfModel(modelId, g.model));
}

/**
 * The telemetry names a plan scores for a model, IS_OF_MODEL included (a plan on a base model
 * covers the models that extend it); names from several entries are merged.
 */
export function planStreams(
  plan: AnomalyPlanSpec,
  modelId: string,
  isOfModel: (modelId: string, baseId: string) => boolean,
): string[] {
  const names = new Set<string>();
  for (const s of plan.streams) if (isOfModel(modelId, s.model)) for (const t of s.telemetry) names.add(t);
  return [...names];
}

/**
 * The detector a group of `streams` telemetry runs with (the platform's and the benchmark's): the
 * robust Mahalanobis distance alone, without per-stream detectors. One stream's own outlier already
 * raises D²; per-stream detectors would repeat the univariate scores and cost d more detectors.
 * Default probation (750 vectors).
 * @throws TwinloopError InvalidConfig when `streams` is outside [1, 32].
 */
export function createGroupDetector(streams: number): MultivariateDetector {
  return createMultivariateDetector({ streams, perStreamDetectors: 0 });
}
