/**
 * The ADT JSON shape of twins and relationships, and the path accessor the query language uses to
 * read a field of a twin (`T.$dtId`, `T.comp.prop`, `T.$metadata.prop.lastUpdateTime`, ...).
 *
 * Components are told apart from object-valued properties without the model: a property always
 * has its own lastUpdateTime (propertyTimes["prop"]); a component never does, its properties are
 * timed as "comp/prop". Callers that know the model may pass `isComponent` to be exact.
 *
 * A path reads the twin's properties and components only, as in ADT: `T.vibration` is undefined
 * when the twin has no property `vibration`, whatever telemetry arrived. The latest telemetry is
 * read through the `$telemetry` field alone (a Twinloop extension that ADT refuses, so it never
 * changes the answer of an ADT query): `T.$telemetry.vibration`, `T.$telemetry.comp.temp`.
 */
import { connectionMeta, devicePropertyMeta, unsetDeviceKeys } from './device-metadata.js';
import type { RelationshipRecord, TwinRecord } from './graph-types.js';

export type ComponentTest = (twin: TwinRecord, name: string) => boolean;

/** The default component test: an object value without its own property time. */
export const looksLikeComponent: ComponentTest = (twin, name) => {
  const v = twin.contents[name];
  return isPlainObject(v) && twin.propertyTimes[name] === undefined;
};

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * The twin as ADT returns it.
 * @example twinToJson(t) // { $dtId: 'pump-1', $etag: 'W/"…"', $metadata: { $model: 'dtmi:x:Pump;1', … }, rpm: 1200 }
 */
export function twinToJson(
  twin: TwinRecord,
  isComponent: ComponentTest = looksLikeComponent,
): Record<string, unknown> {
  const metadata: Record<string, unknown> = {
    $model: twin.modelId,
    $lastUpdateTime: iso(twin.lastUpdateTime),
  };
  const connection = connectionMeta(twin);
  if (connection !== undefined) metadata.$connection = connection;
  const json: Record<string, unknown> = { $dtId: twin.id, $etag: twin.etag, $metadata: metadata };
  for (const [name, value] of Object.entries(twin.contents)) {
    if (isComponent(twin, name) && isPlainObject(value)) {
      json[name] = { ...value, $metadata: componentMeta(twin, name, value) };
    } else {
      json[name] = value;
      const entry = propertyMeta(twin, name);
      if (entry !== undefined) metadata[name] = entry;
    }
  }
  // Writable properties the device reported (or whose desired value was removed) but not set.
  if (twin.device !== undefined)
    for (const name of unsetDeviceKeys(twin)) {
      const entry = propertyMeta(twin, name);
      if (entry !== undefined) metadata[name] = entry;
    }
  return json;
}

/**
 * `{ lastUpdateTime, sourceTime? }` of one property ("prop" or "comp/prop") and, when it has device
 * state, its desired / reported members (device-metadata.ts); undefined when it has neither.
 */
export function propertyMeta(twin: TwinRecord, key: string): Record<string, unknown> | undefined {
  const t = own(twin.propertyTimes, key);
  const device = twin.device === undefined ? undefined : devicePropertyMeta(twin, key);
  if (typeof t !== 'number') return device;
  const entry: Record<string, unknown> = { lastUpdateTime: iso(t) };
  const source = twin.sourceTimes === undefined ? undefined : own(twin.sourceTimes, key);
  if (typeof source === 'string') entry.sourceTime = source;
  return device === undefined ? entry : { ...entry, ...device };
}

/** A component's `$metadata`: one entry per property with a time. */
export function componentMeta(
  twin: TwinRecord,
  comp: string,
  value: Record<string, unknown>,
): Record<string, unknown> {
  // ADT's component $metadata starts with $lastUpdateTime: the latest write to one of its
  // properties (a component none of whose properties is set: the twin's last update).
  let latest: number | undefined;
  const meta: Record<string, unknown> = { $lastUpdateTime: '' };
  for (const prop of Object.keys(value)) {
    const entry = propertyMeta(twin, `${comp}/${prop}`);
    if (entry === undefined) continue;
    meta[prop] = entry;
    const t = own(twin.propertyTimes, `${comp}/${prop}`) as number;
    if (latest === undefined || t > latest) latest = t;
  }
  if (twin.device !== undefined)
    for (const prop of unsetDeviceKeys(twin, comp)) {
      const entry = propertyMeta(twin, `${comp}/${prop}`);
      if (entry !== undefined) meta[prop] = entry;
    }
  meta.$lastUpdateTime = iso(latest ?? twin.lastUpdateTime);
  return meta;
}

/** The relationship as ADT returns it. */
export function relationshipToJson(rel: RelationshipRecord): Record<string, unknown> {
  return {
    $relationshipId: rel.id,
    $etag: rel.etag,
    $sourceId: rel.sourceId,
    $relationshipName: rel.name,
    $targetId: rel.targetId,
    ...rel.properties,
  };
}

/**
 * Reads one field of a twin by path; undefined means "not defined" (IS_DEFINED is false).
 * @example twinField(t, ['$metadata', '$model']); twinField(t, ['thermostat', 'setPoint']); twinField(t, ['$telemetry', 'vibration'])
 */
export function twinField(twin: TwinRecord, path: readonly string[]): unknown {
  const head = path[0];
  if (head === undefined) return twinToJson(twin);
  switch (head) {
    case '$dtId':
      return path.length === 1 ? twin.id : undefined;
    case '$etag':
      return path.length === 1 ? twin.etag : undefined;
    case '$metadata':
      return metadataField(twin, path);
    case '$telemetry':
      return telemetryField(twin, path, 1);
  }
  const value = own(twin.contents, head);
  if (value !== undefined) {
    if (
      path.length > 1 &&
      path[1] === '$metadata' &&
      isPlainObject(value) &&
      looksLikeComponent(twin, head)
    ) {
      return componentMetadata(twin, head, value, path.slice(2));
    }
    return member(value, path, 1);
  }
  return undefined;
}

/** Reads one field of a relationship by path (`$relationshipId`, `$sourceId`, `$targetId`, `$relationshipName`, `$etag`, properties). */
export function relationshipField(rel: RelationshipRecord, path: readonly string[]): unknown {
  const head = path[0];
  if (head === undefined) return relationshipToJson(rel);
  const rest = path.length === 1;
  switch (head) {
    case '$relationshipId':
      return rest ? rel.id : undefined;
    case '$sourceId':
      return rest ? rel.sourceId : undefined;
    case '$targetId':
      return rest ? rel.targetId : undefined;
    case '$relationshipName':
      return rest ? rel.name : undefined;
    case '$etag':
      return rest ? rel.etag : undefined;
  }
  return member(own(rel.properties, head), path, 1);
}

function metadataField(twin: TwinRecord, path: readonly string[]): unknown {
  const key = path[1];
  if (key === undefined) return (twinToJson(twin) as { $metadata: unknown }).$metadata;
  if (key === '$model') return path.length === 2 ? twin.modelId : undefined;
  if (key === '$lastUpdateTime') return path.length === 2 ? iso(twin.lastUpdateTime) : undefined;
  if (key === '$connection') return member(connectionMeta(twin), path, 2);
  return member(propertyMeta(twin, key), path, 2);
}

function componentMetadata(
  twin: TwinRecord,
  comp: string,
  value: Record<string, unknown>,
  rest: readonly string[],
): unknown {
  return member(componentMeta(twin, comp, value), rest, 0);
}

function telemetryField(twin: TwinRecord, path: readonly string[], from: number): unknown {
  const a = path[from];
  if (a === undefined) return undefined;
  const b = path[from + 1];
  if (b !== undefined) {
    const inComp = own(twin.telemetry, `${a}/${b}`) as { value: unknown } | undefined;
    if (inComp !== undefined) return member(inComp.value, path, from + 2);
  }
  const reading = own(twin.telemetry, a) as { value: unknown } | undefined;
  return reading === undefined ? undefined : member(reading.value, path, from + 1);
}

/** Walks object members path[from..]; undefined as soon as one is missing or not an object. */
function member(value: unknown, path: readonly string[], from: number): unknown {
  let v = value;
  for (let i = from; i < path.length; i++) {
    if (!isPlainObject(v)) return undefined;
    v = own(v, path[i] as string);
    if (v === undefined) return undefined;
  }
  return v;
}

/** An own property only: a query must never reach Object.prototype (`T.constructor`). */
function own(obj: object, key: string): unknown {
  return Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
