/**
 * A pilot's anomaly plan (`pilots/<name>/anomaly.yaml`): which telemetry of which models is scored,
 * by which detector kind (one configuration for every stream: no per-series tuning), with an
 * optional alarm threshold. Read with every problem at once, each at its line and column.
 *
 * @example
 * detector: resonance
 * threshold: 0.99
 * streams:
 *   - model: dtmi:twinloop:pumpline:Pump;1
 *     telemetry: [vibration, temperature]
 */
import type { Problem } from '../../core/errors/errors.js';
import type { LNode, Loc } from '../../sim/behaviour/located-document.js';
import { readLocatedDocument } from '../../sim/behaviour/located-document.js';

export interface AnomalyPlanSpec {
  detector: string;
  threshold?: number;
  streams: { model: string; telemetry: string[] }[];
}

/** Most stream entries and names per entry (a plan is written by hand). */
const MAX_ENTRIES = 1000;
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
        const telemetry: string[] = [];
        let sawTelemetry = false;
        for (const f of item.entries) {
          if (f.key === 'model') {
            const v = scalar(f.value);
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
              if (typeof v === 'string' && NAME.test(v)) telemetry.push(v);
              else
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
        if (model !== undefined && telemetry.length > 0) streams.push({ model, telemetry });
      }
    } else
      at(e.keyLoc, 'anomaly.plan.member', `'${e.key.slice(0, 64)}' is not a setting of an anomaly plan.`);
  }
  if (detector === undefined && !root.entries.some((e) => e.key === 'detector'))
    at(root.loc, 'anomaly.plan.detector', `the plan needs a detector (${kinds.join(', ')}).`);
  if (problems.length || detector === undefined) return { problems };
  return { plan: threshold === undefined ? { detector, streams } : { detector, threshold, streams } };
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
