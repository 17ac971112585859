/**
 * The resolved, ready-to-use shape of DTDL v2 and v3 interfaces that the rest of Twinloop consumes
 * (twin validation, ingestion, query, simulation). The parser (dtdl/) produces it from DTDL
 * JSON-LD documents; nothing outside models/ needs to know JSON-LD.
 */

/** Every DTDL v3 primitive schema. */
export type PrimitiveSchemaName =
  | 'boolean'
  | 'byte'
  | 'bytes'
  | 'date'
  | 'dateTime'
  | 'decimal'
  | 'double'
  | 'duration'
  | 'float'
  | 'integer'
  | 'long'
  | 'short'
  | 'string'
  | 'time'
  | 'unsignedByte'
  | 'unsignedInteger'
  | 'unsignedLong'
  | 'unsignedShort'
  | 'uuid'
  // geospatial schemas (GeoJSON objects)
  | 'point'
  | 'lineString'
  | 'polygon'
  | 'multiPoint'
  | 'multiLineString'
  | 'multiPolygon'
  // the scaledDecimal schema of v3
  | 'scaledDecimal';

export type Schema =
  | { kind: 'primitive'; name: PrimitiveSchemaName }
  | { kind: 'array'; id?: string; elementSchema: Schema }
  | {
      kind: 'enum';
      id?: string;
      valueSchema: 'integer' | 'string';
      values: readonly { name: string; value: string | number; displayName?: string }[];
    }
  | {
      kind: 'map';
      id?: string;
      key: { name: string }; // v3 map keys are always strings
      value: { name: string; schema: Schema };
    }
  | { kind: 'object'; id?: string; fields: readonly { name: string; schema: Schema }[] };

interface ContentBase {
  name: string;
  /** The element's own @id when it has one (explicit or generated). */
  id?: string;
  displayName?: string;
  description?: string;
  comment?: string;
  /** Semantic types besides the element's class, e.g. ["Temperature"] from the quantitativeTypes extension. */
  semanticTypes: readonly string[];
  /** Unit from the quantitativeTypes extension (e.g. "degreeCelsius"), when declared. */
  unit?: string;
  /** The interface that declared this content (differs from the owner when inherited through extends). */
  definedIn: string;
}

export interface PropertyInfo extends ContentBase {
  kind: 'Property';
  schema: Schema;
  writable: boolean;
}

export interface TelemetryInfo extends ContentBase {
  kind: 'Telemetry';
  schema: Schema;
}

export interface CommandPayloadInfo {
  name: string;
  schema: Schema;
  nullable: boolean;
}

export interface CommandInfo extends ContentBase {
  kind: 'Command';
  request?: CommandPayloadInfo;
  response?: CommandPayloadInfo;
}

export interface RelationshipInfo extends ContentBase {
  kind: 'Relationship';
  /** Target interface DTMI; undefined means any twin. */
  target?: string;
  minMultiplicity?: number;
  maxMultiplicity?: number;
  writable: boolean;
  properties: ReadonlyMap<string, PropertyInfo>;
}

export interface ComponentInfo extends ContentBase {
  kind: 'Component';
  /** The component's interface DTMI. */
  schema: string;
}

export type ContentInfo = PropertyInfo | TelemetryInfo | CommandInfo | RelationshipInfo | ComponentInfo;

/** One DTDL Interface, with everything inherited through `extends` flattened in. */
export interface InterfaceInfo {
  id: string;
  /** DTDL language version of the Interface's definition (2 or 3; absent means 3). */
  dtdlVersion?: 2 | 3;
  displayName?: string;
  description?: string;
  comment?: string;
  /** Direct bases, as written. */
  extends: readonly string[];
  /** Every base, transitively (not including itself). */
  ancestors: readonly string[];
  /** All contents by name, own and inherited. */
  contents: ReadonlyMap<string, ContentInfo>;
  /** Named schemas declared in the interface's `schemas`. */
  schemas: ReadonlyMap<string, Schema>;
}

/** Read access to the models known to the platform (the twin service and ingestion depend on this). */
export interface ModelLookup {
  /** The resolved interface, or undefined when unknown. */
  getInterface(id: string): InterfaceInfo | undefined;
  /** True when `modelId` is `baseId` or extends it (transitively). */
  isOfModel(modelId: string, baseId: string): boolean;
}
