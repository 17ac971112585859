/**
 * Checks an anomaly plan against the models: every problem at once, each at its line and column.
 * A stream entry's model must exist and its telemetry be numeric telemetry of it, whose score name
 * the model does not have already. A group's model must exist; its telemetry must be numeric telemetry of that
 * model (booleans are not: a flip would be an outlier of every standardised vector); what the group
 * writes must not clash with anything else a twin of the model (or of a model extending it) has:
 * its name is not a content of the model, `<name>AnomalyScore` is neither a content nor a derived
 * value, and no univariate stream of those models has the group's name (both would write
 * `<name>AnomalyScore` and raise `anomaly.<name>`).
 */
import type { Problem } from '../../core/errors/errors.js';
import type { ModelLookup, Schema } from '../../core/models/model-types.js';
import type { Loc } from '../../sim/behaviour/located-document.js';
import type { AnomalyPlanSpec } from './anomaly-plan.js';
import { planStreams } from './anomaly-plan.js';
import { ANOMALY_SCORE_SUFFIX } from './anomaly-operator.js';

export interface AnomalyPlanWorld {
  models: ModelLookup;
  /** Every model id known, to find the models extending a group's model (their contents count too). */
  modelIds?(): Iterable<string>;
  /** Names of the derived values twins of a model get (model and twin definition files). */
  derivedNames(modelId: string): Iterable<string>;
}

const NUMERIC = new Set([
  'double', 'float', 'decimal', 'integer', 'long', 'short', 'byte',
  'unsignedByte', 'unsignedShort', 'unsignedInteger', 'unsignedLong',
]); // prettier-ignore

const isNumeric = (s: Schema): boolean => s.kind === 'primitive' && NUMERIC.has(s.name);

/**
 * Problems of the plan's multivariate groups (empty when they are sound); `source` names the file.
 * @example const problems = checkAnomalyPlan(plan, 'pilots/pump-line/anomaly.yaml', world);
 */
export function checkAnomalyPlan(plan: AnomalyPlanSpec, source: string, world: AnomalyPlanWorld): Problem[] {
  const problems: Problem[] = [];
  const at = (loc: Loc, code: string, message: string): void => {
    problems.push({
      code,
      message: `${source}:${loc.line}:${loc.column}: ${message}`,
      pointer: loc.pointer,
      line: loc.line,
      column: loc.column,
      source,
    });
  };
  /** Says why `t` is not a numeric telemetry of `model` (`iface`); true when it is one. */
  const numericTelemetry = (
    iface: NonNullable<ReturnType<typeof world.models.getInterface>>,
    model: string,
    t: string,
    loc: Loc,
    scorer: string,
  ): boolean => {
    const c = iface.contents.get(t);
    if (!c || c.kind !== 'Telemetry')
      at(
        loc,
        'anomaly.plan.unknownTelemetry',
        c ? `'${t}' is a ${c.kind} of ${model}, not a telemetry.` : `'${t}' is not a telemetry of ${model}.`,
      );
    else if (!isNumeric(c.schema))
      at(loc, 'anomaly.plan.notNumeric', `Telemetry '${t}' is not numeric (${scorer} scores numbers).`);
    else return true;
    return false;
  };
  const { models } = world;
  const allIds = world.modelIds ? [...world.modelIds()] : undefined;
  // Streams scored on their own: a model that exists, numeric telemetry of it (a name the model does
  // not have would silently never be scored).
  for (const st of plan.streams) {
    if (!st.loc) continue;
    const iface = models.getInterface(st.model);
    if (!iface) {
      at(st.loc.model, 'anomaly.plan.unknownModel', `There is no model '${st.model}'.`);
      continue;
    }
    st.telemetry.forEach((t, i) => {
      const loc = st.loc!.telemetry[i] ?? st.loc!.entry;
      if (numericTelemetry(iface, st.model, t, loc, 'a detector')) {
        const score = t + ANOMALY_SCORE_SUFFIX;
        const clash = iface.contents.get(score);
        if (clash) at(loc, 'anomaly.plan.nameClash', `'${score}' is already a ${clash.kind} of ${st.model}.`);
      }
    });
  }
  for (const g of plan.multivariate ?? []) {
    const iface = models.getInterface(g.model);
    if (!iface) {
      at(g.loc.model, 'anomaly.plan.unknownModel', `There is no model '${g.model}'.`);
      continue;
    }
    g.telemetry.forEach((t, i) => {
      const loc = g.loc.telemetry[i] ?? g.loc.entry;
      numericTelemetry(iface, g.model, t, loc, 'a group');
    });
    const score = g.name + ANOMALY_SCORE_SUFFIX;
    const own = iface.contents.get(g.name);
    if (own) at(g.loc.name, 'anomaly.plan.nameClash', `'${g.name}' is already a ${own.kind} of ${g.model}.`);
    // Twins of the group's model and of every model extending it get the score.
    const covered = [g.model, ...(allIds ?? []).filter((m) => m !== g.model && models.isOfModel(m, g.model))];
    for (const m of covered) {
      const c = models.getInterface(m)?.contents.get(score);
      if (c) {
        at(g.loc.name, 'anomaly.plan.nameClash', `'${score}' is already a ${c.kind} of ${m}.`);
        break;
      }
      if ([...world.derivedNames(m)].includes(score)) {
        at(g.loc.name, 'anomaly.plan.nameClash', `'${score}' is already a derived value of twins of ${m}.`);
        break;
      }
      if (planStreams(plan, m, (a, b) => models.isOfModel(a, b)).includes(g.name)) {
        at(
          g.loc.name,
          'anomaly.plan.nameClash',
          `'${g.name}' is also a stream scored for ${m} (both would write '${score}' and raise 'anomaly.${g.name}').`,
        );
        break;
      }
    }
  }
  return problems;
}
