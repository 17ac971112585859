/**
 * A pilot's continuous forecasts (`pilots/<name>/forecast.yaml`): which telemetry of which models
 * is forecast, how far ahead, how often it is refitted and from how much history. Each chosen
 * stream gets derived telemetry beside it — `<name>Forecast` (the point forecast `horizon` ahead),
 * `<name>ForecastLower` and `<name>ForecastUpper` (its prediction interval). Read with every
 * problem at once, each at its line and column; checked against the models when they are given.
 *
 * @example
 * streams:
 *   - model: dtmi:twinloop:pumpline:Tank;1
 *     telemetry: [level]
 *     horizon: 30min
 *     every: 1min # optional: horizon / 12, at least a minute
 *     history: 2h # optional: 4 × horizon
 *     interval: 95 # optional: 80 or 95 (%)
 */
import type { Problem } from '../../core/errors/errors.js';
import type { InterfaceInfo, Schema } from '../../core/models/model-types.js';
import type { LNode, Loc } from '../../sim/behaviour/located-document.js';
import { readLocatedDocument } from '../../sim/behaviour/located-document.js';
import { parseScenarioTime } from '../../sim/scenario/scenario-time.js';

/** One forecast stream of a model, as the operator runs it. */
export interface ForecastStreamSpec {
  telemetry: string;
  /** How far ahead the written forecast is. */
  horizonMs: number;
  /** Refit at most this often (source time). */
  everyMs: number;
  /** How far back the buffer reaches (512 cells over it). */
  historyMs: number;
  /** The prediction interval written, %. */
  interval: 80 | 95;
}

export interface ForecastPlanEntry extends Omit<ForecastStreamSpec, 'telemetry'> {
  model: string;
  telemetry: string[];
}

export interface ForecastPlanSpec {
  streams: ForecastPlanEntry[];
}

/** What the plan is checked against: the models' interfaces, and names already derived. */
export interface ForecastPlanWorld {
  /** A model's interface (contents own and inherited); undefined when unknown. */
  getInterface(modelId: string): InterfaceInfo | undefined;
  /** Names the platform derives already for twins of a model (derived values, anomaly scores). */
  derivedNames?(modelId: string): Iterable<string>;
}

export const FORECAST_SUFFIXES = ['Forecast', 'ForecastLower', 'ForecastUpper'] as const;

/** The derived telemetry a forecast stream writes: `levelForecast`, `levelForecastLower`, `levelForecastUpper`. */
export const forecastNames = (telemetry: string): string[] => FORECAST_SUFFIXES.map((s) => telemetry + s);

/** Most stream entries (a plan is written by hand). */
const MAX_ENTRIES = 1000;
const MIN_HORIZON_MS = 60_000;
const MAX_DURATION_MS = 366 * 86_400_000;
/** A name short enough that `<name>ForecastUpper` is still a name (64 characters at most). */
const NAME = /^[A-Za-z](?:[A-Za-z0-9_]{0,49}[A-Za-z0-9])?$/;
const DTMI =
  /^dtmi:[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?(?::[A-Za-z_](?:[A-Za-z0-9_]*[A-Za-z0-9])?)*;[1-9][0-9]{0,8}$/;
const ENTRY_KEYS = ['model', 'telemetry', 'horizon', 'every', 'history', 'interval'];
const NUMERIC = new Set([
  'double', 'float', 'decimal', 'integer', 'long', 'short', 'byte',
  'unsignedByte', 'unsignedShort', 'unsignedInteger', 'unsignedLong',
]); // prettier-ignore
const isNumeric = (s: Schema): boolean =>
  (s.kind === 'primitive' && NUMERIC.has(s.name)) || (s.kind === 'enum' && s.valueSchema === 'integer');

/** The default refit period: horizon / 12, at least a minute, never above the horizon. */
export const defaultForecastEvery = (horizonMs: number): number =>
  Math.min(horizonMs, Math.max(60_000, Math.round(horizonMs / 12)));

/**
 * Reads and checks a plan. Problems carry `source:line:column` in their message and a JSON
 * pointer; with `world`, models, telemetry (numeric, of the model) and the derived names (no clash
 * with the model's contents or with values derived already) are checked too.
 */
export function readForecastPlan(
  text: string,
  source: string,
  world?: ForecastPlanWorld,
): { plan: ForecastPlanSpec } | { problems: Problem[] } {
  const doc = readLocatedDocument(text, source);
  const problems: Problem[] = [...doc.problems];
  const at = (loc: Loc, code: string, message: string): void => {
    problems.push({ code, message: `${source}:${loc.line}:${loc.column}: ${message}`, pointer: loc.pointer });
  };
  const root = doc.root;
  if (root === undefined || root.kind !== 'map') {
    if (!problems.length)
      problems.push({
        code: 'forecast.plan.type',
        message: `${source}: the plan must be a mapping with streams.`,
        pointer: '',
      });
    return { problems };
  }
  const scalar = (n: LNode): unknown => (n.kind === 'scalar' ? n.value : undefined);
  const duration = (n: LNode, what: string, minMs: number): number | undefined => {
    const r = parseScenarioTime(scalar(n));
    if (!r.ok) {
      at(n.loc, 'forecast.plan.duration', `${what} ${r.message}.`);
      return undefined;
    }
    const ms = Math.round(r.seconds * 1000);
    if (ms < minMs || ms > MAX_DURATION_MS) {
      at(n.loc, 'forecast.plan.duration', `${what} must be from ${minMs / 1000} s to 366 d.`);
      return undefined;
    }
    return ms;
  };
  const streams: ForecastPlanEntry[] = [];
  const seen = new Set<string>();
  let sawStreams = false;
  for (const e of root.entries) {
    if (e.key !== 'streams') {
      at(e.keyLoc, 'forecast.plan.member', `'${e.key.slice(0, 64)}' is not a setting of a forecast plan.`);
      continue;
    }
    sawStreams = true;
    if (e.value.kind !== 'seq' || e.value.items.length > MAX_ENTRIES) {
      at(e.value.loc, 'forecast.plan.streams', `streams must be a list of at most ${MAX_ENTRIES} entries.`);
      continue;
    }
    for (const item of e.value.items) {
      if (item.kind !== 'map') {
        at(
          item.loc,
          'forecast.plan.stream',
          'each stream entry is a mapping with model, telemetry and horizon.',
        );
        continue;
      }
      const f = new Map(item.entries.map((x) => [x.key, x] as const));
      for (const x of item.entries)
        if (!ENTRY_KEYS.includes(x.key))
          at(x.keyLoc, 'forecast.plan.member', `'${x.key.slice(0, 64)}' is not a setting of a stream entry.`);
      let ok = true;
      for (const k of ['model', 'telemetry', 'horizon'])
        if (!f.has(k)) {
          at(item.loc, `forecast.plan.${k}`, `a stream entry needs ${k}.`);
          ok = false;
        }
      // model
      const modelNode = f.get('model')?.value;
      let model: string | undefined;
      let iface: InterfaceInfo | undefined;
      if (modelNode) {
        const v = scalar(modelNode);
        if (typeof v === 'string' && v.length <= 2048 && DTMI.test(v)) model = v;
        else at(modelNode.loc, 'forecast.plan.model', 'model must be a DTMI with a version (dtmi:…;1).');
        if (model !== undefined && world) {
          iface = world.getInterface(model);
          if (!iface) {
            at(modelNode.loc, 'forecast.plan.model', `there is no model ${model}.`);
            model = undefined;
          }
        }
      }
      ok &&= model !== undefined;
      // telemetry
      const telemetry: string[] = [];
      const tNode = f.get('telemetry')?.value;
      if (tNode) {
        if (tNode.kind !== 'seq' || tNode.items.length === 0 || tNode.items.length > 64) {
          at(tNode.loc, 'forecast.plan.telemetry', 'telemetry must be a list of 1 to 64 telemetry names.');
          ok = false;
        } else
          for (const t of tNode.items) {
            const v = scalar(t);
            if (typeof v !== 'string' || !NAME.test(v)) {
              at(
                t.loc,
                'forecast.plan.telemetry',
                'a telemetry name (letters, digits, _; 1 to 51 characters).',
              );
              ok = false;
              continue;
            }
            if (model !== undefined && seen.has(`${model}\u0000${v}`)) {
              at(t.loc, 'forecast.plan.telemetry', `${v} of ${model} is forecast by an earlier entry.`);
              ok = false;
              continue;
            }
            if (iface && model !== undefined) {
              const c = iface.contents.get(v);
              if (!c || c.kind !== 'Telemetry' || !isNumeric(c.schema)) {
                at(t.loc, 'forecast.plan.telemetry', `${model} has no numeric telemetry '${v}'.`);
                ok = false;
                continue;
              }
              const taken = new Set(world?.derivedNames?.(model) ?? []);
              const clash = forecastNames(v).find((n) => iface!.contents.has(n) || taken.has(n));
              if (clash !== undefined) {
                at(
                  t.loc,
                  'forecast.plan.telemetry',
                  `'${clash}' is a content of ${model} or derived already.`,
                );
                ok = false;
                continue;
              }
            }
            if (model !== undefined) seen.add(`${model}\u0000${v}`);
            telemetry.push(v);
          }
      }
      // durations and interval
      const hNode = f.get('horizon')?.value;
      const horizonMs = hNode ? duration(hNode, 'horizon', MIN_HORIZON_MS) : undefined;
      const evNode = f.get('every')?.value;
      let everyMs = evNode ? duration(evNode, 'every', 1000) : undefined;
      const hiNode = f.get('history')?.value;
      let historyMs = hiNode ? duration(hiNode, 'history', MIN_HORIZON_MS) : undefined;
      ok &&=
        horizonMs !== undefined && (!evNode || everyMs !== undefined) && (!hiNode || historyMs !== undefined);
      if (horizonMs !== undefined && everyMs !== undefined && everyMs > horizonMs) {
        at(evNode!.loc, 'forecast.plan.every', 'every must not be longer than the horizon.');
        ok = false;
      }
      if (horizonMs !== undefined && historyMs !== undefined && historyMs < horizonMs) {
        at(hiNode!.loc, 'forecast.plan.history', 'history must be at least the horizon.');
        ok = false;
      }
      let interval: 80 | 95 = 95;
      const iNode = f.get('interval')?.value;
      if (iNode) {
        const v = scalar(iNode);
        if (v === 80 || v === 95) interval = v;
        else {
          at(iNode.loc, 'forecast.plan.interval', 'interval must be 80 or 95 (%).');
          ok = false;
        }
      }
      if (!ok || model === undefined || horizonMs === undefined || telemetry.length === 0) continue;
      everyMs ??= defaultForecastEvery(horizonMs);
      historyMs ??= Math.min(MAX_DURATION_MS, 4 * horizonMs);
      streams.push({ model, telemetry, horizonMs, everyMs, historyMs, interval });
    }
  }
  if (!sawStreams) at(root.loc, 'forecast.plan.streams', 'the plan needs streams.');
  if (problems.length) return { problems };
  return { plan: { streams } };
}

/**
 * The forecast streams of a plan for a model, IS_OF_MODEL included (a plan on a base model covers
 * the models that extend it); when two entries name the same telemetry, the first one counts.
 */
export function planForecastStreams(
  plan: ForecastPlanSpec,
  modelId: string,
  isOfModel: (modelId: string, baseId: string) => boolean,
): ForecastStreamSpec[] {
  const out = new Map<string, ForecastStreamSpec>();
  for (const s of plan.streams) {
    if (!isOfModel(modelId, s.model)) continue;
    for (const telemetry of s.telemetry)
      if (!out.has(telemetry))
        out.set(telemetry, {
          telemetry,
          horizonMs: s.horizonMs,
          everyMs: s.everyMs,
          historyMs: s.historyMs,
          interval: s.interval,
        });
  }
  return [...out.values()];
}
