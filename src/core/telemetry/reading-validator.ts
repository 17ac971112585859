/**
 * Checks parsed reading sets against the twin's model: the twin exists, the component exists, every
 * name is a Telemetry of the (component's) interface, every value fits the telemetry's schema, and a
 * unit, when the payload carries one (`{"value": 21, "unit": "degreeCelsius"}`), is the declared unit.
 * Returns the values to store (unit wrappers removed) or every problem with its JSON pointer.
 */
import type { Problem } from '../errors/errors.js';
import type { GraphView, TwinRecord } from '../graph/graph-types.js';
import type { InterfaceInfo, ModelLookup, Schema, TelemetryInfo } from '../models/model-types.js';
import { validateValue } from '../models/validate-value.js';
import { pointerToken } from './payload-parser.js';
import type { ReadingSet } from './telemetry-types.js';

/** The dead-letter codes of a rejected reading set (catalogue codes of core/errors). */
export type ReadingFailureCode = 'DigitalTwinNotFound' | 'ComponentNotFound' | 'InvalidTelemetry';

export type ReadingCheck =
  | {
      ok: true;
      twin: TwinRecord;
      values: Record<string, unknown>;
      /**
       * The reading set's own JSON text (ReadingSet.json) when every value was taken as it is and
       * is a number or a boolean: the text then holds exactly these values, unless it repeats a
       * key (which the live stream checks before using it: live-events.ts).
       */
      json?: string;
    }
  | {
      ok: false;
      code: ReadingFailureCode;
      reason: string;
      problems: Problem[];
      /** The values that were valid (an ADT route stores them and dead-letters the rest). */
      values?: Record<string, unknown>;
    };

/** What a workspace gives ingestion: its twins and its models. */
export interface IngestWorkspace {
  graph: GraphView;
  models: ModelLookup;
}

/**
 * Validates one reading set. `pointer` is where the set sits in its payload ("" or "/3").
 * `modelId`, when the topic named one, must be the twin's model or one of its bases.
 */
export function checkReadingSet(
  rs: ReadingSet,
  ws: IngestWorkspace,
  pointer: string,
  modelId?: string,
): ReadingCheck {
  const twin = ws.graph.getTwin(rs.twinId);
  if (!twin) {
    return fail('DigitalTwinNotFound', `There is no digital twin with id '${rs.twinId}'.`, [
      { code: 'twin.unknown', message: `There is no digital twin with id '${rs.twinId}'.`, pointer },
    ]);
  }
  if (modelId !== undefined && !ws.models.isOfModel(twin.modelId, modelId)) {
    const message = `Twin '${rs.twinId}' has model '${twin.modelId}', not '${modelId}' named by the topic.`;
    return fail('InvalidTelemetry', message, [{ code: 'twin.model', message, pointer }]);
  }
  let iface = ws.models.getInterface(twin.modelId);
  if (!iface) {
    const message = `The model '${twin.modelId}' of twin '${rs.twinId}' is not loaded.`;
    return fail('InvalidTelemetry', message, [{ code: 'model.unknown', message, pointer }]);
  }
  if (rs.component !== undefined) {
    const c = iface.contents.get(rs.component);
    const compIface = c?.kind === 'Component' ? ws.models.getInterface(c.schema) : undefined;
    if (!compIface) {
      const message = `Twin '${rs.twinId}' has no component '${rs.component}'.`;
      return fail('ComponentNotFound', message, [{ code: 'component.unknown', message, pointer }]);
    }
    iface = compIface;
  }
  const problems: Problem[] = [];
  const values: Record<string, unknown> = {};
  const json = rs.json;
  let plain = json !== undefined;
  for (const [name, raw] of Object.entries(rs.values)) {
    if (plain && typeof raw !== 'number' && typeof raw !== 'boolean') plain = false;
    const tel = telemetryOf(iface, name);
    if (!tel) {
      const where =
        rs.component === undefined
          ? `twin '${rs.twinId}' (${iface.id})`
          : `component '${rs.component}' (${iface.id})`;
      problems.push({
        code: 'telemetry.unknown',
        message: `'${name}' is not a telemetry of ${where}.`,
        pointer: pointerAt(pointer, name),
      });
      continue;
    }
    let value = raw;
    if (isUnitWrapper(raw, tel.schema)) {
      if (tel.unit !== raw.unit) {
        const declared = tel.unit === undefined ? 'declares no unit' : `declares '${tel.unit}'`;
        problems.push({
          code: 'telemetry.unit',
          message: `Unit '${raw.unit}' of '${name}' does not match: the model ${declared}.`,
          pointer: `${pointerAt(pointer, name)}/unit`,
        });
        continue;
      }
      value = raw.value;
    }
    const found = validateValue(tel.schema, value, value === raw ? '' : '/value');
    if (found.length === 0) values[name] = value;
    else {
      const base = pointerAt(pointer, name);
      for (const p of found)
        problems.push({
          ...p,
          pointer: base + (p.pointer ?? ''),
          message: `Telemetry '${name}': ${p.message}`,
        });
    }
  }
  if (problems.length) {
    const first = problems[0]!;
    const reason =
      problems.length === 1 ? first.message : `${first.message} (and ${problems.length - 1} more problem(s))`;
    return { ...fail('InvalidTelemetry', reason, problems), values };
  }
  return plain && json !== undefined ? { ok: true, twin, values, json } : { ok: true, twin, values };
}

function telemetryOf(iface: InterfaceInfo, name: string): TelemetryInfo | undefined {
  const c = iface.contents.get(name);
  return c?.kind === 'Telemetry' ? c : undefined;
}

/**
 * `{"value": v, "unit": "u"}` is read as a value with its unit only when the telemetry's schema is
 * not itself an object or map (whose fields could be called value and unit).
 */
function isUnitWrapper(raw: unknown, schema: Schema): raw is { value: unknown; unit: string } {
  if (schema.kind === 'object' || schema.kind === 'map') return false;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return false;
  const keys = Object.keys(raw);
  return (
    keys.length === 2 &&
    'value' in raw &&
    'unit' in raw &&
    typeof (raw as { unit: unknown }).unit === 'string'
  );
}

function fail(code: ReadingFailureCode, reason: string, problems: Problem[]): ReadingCheck {
  return { ok: false, code, reason, problems };
}

/** The JSON pointer of reading `name` in a set at `pointer` (built only for a problem). */
function pointerAt(pointer: string, name: string): string {
  return `${pointer}/${pointerToken(name)}`;
}
