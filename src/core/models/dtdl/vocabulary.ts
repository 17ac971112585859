/**
 * The DTDL v3 vocabulary: the reserved strings table, the element classes with the members each may have,
 * and the standard (primitive and geospatial) schemas, which v2 shares. Tables, not code, so the element
 * parser stays generic and every rule of the specification maps to one entry here (v2's tables:
 * vocabulary-v2.ts; both behind language.ts).
 */

export type ClassName =
  | 'Interface'
  | 'Command'
  | 'CommandRequest'
  | 'CommandResponse'
  | 'CommandPayload'
  | 'Component'
  | 'Enum'
  | 'EnumValue'
  | 'Field'
  | 'Map'
  | 'MapKey'
  | 'MapValue'
  | 'Object'
  | 'Property'
  | 'Relationship'
  | 'Telemetry'
  | 'Array';

/** The classes of DTDL v3 (v2 has CommandPayload instead of CommandRequest and CommandResponse). */
export const ALL_CLASSES: readonly ClassName[] = [
  'Interface',
  'Command',
  'CommandRequest',
  'CommandResponse',
  'Component',
  'Enum',
  'EnumValue',
  'Field',
  'Map',
  'MapKey',
  'MapValue',
  'Object',
  'Property',
  'Relationship',
  'Telemetry',
  'Array',
];

export const COMPLEX_SCHEMA_CLASSES: readonly ClassName[] = ['Array', 'Enum', 'Map', 'Object'];
export const CONTENT_CLASSES: readonly ClassName[] = [
  'Command',
  'Component',
  'Property',
  'Relationship',
  'Telemetry',
];

/** How a member's value is read. */
export type MemberKind =
  | 'lstring' // localizable string (displayName, description)
  | 'comment' // representational string, array of at most one
  | 'name' // representational string, array of exactly one, name pattern
  | 'boolean' // representational boolean, array of at most one
  | 'integer' // representational integer, array of at most one
  | 'enumValue' // representational integer or string (per the Enum's valueSchema), exactly one
  | 'dtmi' // a DTMI (non-dependent reference), array of at most one
  | 'choice' // one of fixed strings
  | 'elements' // DTDL elements or dependent references
  | 'schema'; // elements, dependent references, or standard schema strings (exactly one)

export type Cardinality = 'many' | 'atMostOne' | 'exactlyOne';

export interface MemberSpec {
  kind: MemberKind;
  /** Fewest / most values an element-valued member may include (DTDL v2 set limits). */
  minCount?: number;
  maxCount?: number;
  required?: boolean;
  card?: Cardinality;
  /** Classes an included or referenced element may conform to. */
  classes?: readonly ClassName[];
  /** Class assumed for a nested element without `@type` (for classes whose `@type` is optional). */
  defaultClass?: ClassName;
  /** Included elements may be DTDL v2 elements (a nested "dtmi:dtdl:context;2"). */
  allowV2?: boolean;
  /** Allowed values for `choice` members (terms; DTMI forms are derived). */
  choices?: readonly string[];
}

export interface ClassSpec {
  typeRequired: boolean;
  /** `@id` required whatever the position (Interface). */
  idRequired?: boolean;
  /** May be co-typed with a quantitativeTypes semantic type. */
  semanticTypes?: boolean;
  members: Readonly<Record<string, MemberSpec>>;
}

const described: Record<string, MemberSpec> = {
  comment: { kind: 'comment' },
  description: { kind: 'lstring' },
  displayName: { kind: 'lstring' },
};
const schemaMember: MemberSpec = {
  kind: 'schema',
  required: true,
  card: 'exactlyOne',
  classes: COMPLEX_SCHEMA_CLASSES,
  allowV2: true,
};
const nameMember: MemberSpec = { kind: 'name', required: true };

export type ClassSpecTable = Readonly<Partial<Record<ClassName, ClassSpec>>>;

/** The element classes of DTDL v3 (v2's table is in vocabulary-v2.ts). */
export const CLASS_SPECS: ClassSpecTable = {
  Interface: {
    typeRequired: true,
    idRequired: true,
    members: {
      ...described,
      contents: { kind: 'elements', card: 'many', classes: CONTENT_CLASSES, allowV2: true },
      extends: { kind: 'elements', card: 'many', classes: ['Interface'], allowV2: true },
      schemas: { kind: 'elements', card: 'many', classes: COMPLEX_SCHEMA_CLASSES },
    },
  },
  Command: {
    typeRequired: true,
    members: {
      ...described,
      name: nameMember,
      commandType: { kind: 'choice', card: 'atMostOne', choices: ['asynchronous', 'synchronous'] },
      request: {
        kind: 'elements',
        card: 'atMostOne',
        classes: ['CommandRequest'],
        defaultClass: 'CommandRequest',
      },
      response: {
        kind: 'elements',
        card: 'atMostOne',
        classes: ['CommandResponse'],
        defaultClass: 'CommandResponse',
      },
    },
  },
  CommandRequest: {
    typeRequired: false,
    semanticTypes: true,
    members: { ...described, name: nameMember, schema: schemaMember },
  },
  CommandResponse: {
    typeRequired: false,
    semanticTypes: true,
    members: { ...described, name: nameMember, schema: schemaMember },
  },
  Component: {
    typeRequired: true,
    members: {
      ...described,
      name: nameMember,
      schema: { kind: 'elements', required: true, card: 'exactlyOne', classes: ['Interface'], allowV2: true },
    },
  },
  Enum: {
    typeRequired: true,
    members: {
      ...described,
      valueSchema: { kind: 'choice', required: true, card: 'exactlyOne', choices: ['integer', 'string'] },
      enumValues: { kind: 'elements', card: 'many', classes: ['EnumValue'], defaultClass: 'EnumValue' },
    },
  },
  EnumValue: {
    typeRequired: false,
    members: { ...described, name: nameMember, enumValue: { kind: 'enumValue', required: true } },
  },
  Field: {
    typeRequired: false,
    semanticTypes: true,
    members: { ...described, name: nameMember, schema: schemaMember },
  },
  Map: {
    typeRequired: true,
    members: {
      ...described,
      mapKey: {
        kind: 'elements',
        required: true,
        card: 'exactlyOne',
        classes: ['MapKey'],
        defaultClass: 'MapKey',
      },
      mapValue: {
        kind: 'elements',
        required: true,
        card: 'exactlyOne',
        classes: ['MapValue'],
        defaultClass: 'MapValue',
      },
    },
  },
  MapKey: {
    typeRequired: false,
    members: {
      ...described,
      name: nameMember,
      schema: { kind: 'choice', required: true, card: 'exactlyOne', choices: ['string'] },
    },
  },
  MapValue: {
    typeRequired: false,
    semanticTypes: true,
    members: { ...described, name: nameMember, schema: schemaMember },
  },
  Object: {
    typeRequired: true,
    members: {
      ...described,
      fields: { kind: 'elements', card: 'many', classes: ['Field'], defaultClass: 'Field' },
    },
  },
  Property: {
    typeRequired: true,
    semanticTypes: true,
    members: { ...described, name: nameMember, schema: schemaMember, writable: { kind: 'boolean' } },
  },
  Relationship: {
    typeRequired: true,
    members: {
      ...described,
      name: nameMember,
      maxMultiplicity: { kind: 'integer' },
      minMultiplicity: { kind: 'integer' },
      properties: { kind: 'elements', card: 'many', classes: ['Property'], allowV2: true },
      target: { kind: 'dtmi' },
      writable: { kind: 'boolean' },
    },
  },
  Telemetry: {
    typeRequired: true,
    semanticTypes: true,
    members: { ...described, name: nameMember, schema: schemaMember },
  },
  Array: {
    typeRequired: true,
    members: { ...described, elementSchema: { ...schemaMember } },
  },
};

/** Complex schemas need an `@id` when they are declared in an Interface's `schemas`. */
export function idRequiredIn(cls: ClassName, memberName: string | undefined): boolean {
  return cls === 'Interface' || (memberName === 'schemas' && COMPLEX_SCHEMA_CLASSES.includes(cls));
}

/** Members whose value counts as a `schema` step for the depth limit of complex schemas. */
export const SCHEMA_STEP_MEMBERS = new Set(['schema', 'elementSchema']);

// ---- reserved strings: term -> kind of DTMI it stands for ----

type ReservedKind = 'class' | 'property' | 'schema' | 'geo' | 'commandType' | 'meta';

const RESERVED: Readonly<Record<string, ReservedKind>> = (() => {
  const r: Record<string, ReservedKind> = {};
  const classes =
    'AdjunctType Alias Array Boolean Command CommandPayload CommandRequest CommandResponse CommandType ComplexSchema Component Content Date DateTime Double Duration Entity Enum EnumValue Field Float Integer Interface LatentType Long Map MapKey MapValue NamedEntity NamedLatentType NumericSchema Object PrimitiveSchema Property Relationship Schema SchemaField SemanticType SemanticUnit String Telemetry TemporalSchema Time Unit UnitAttribute';
  const props =
    'aliasFor commandType comment contents description displayName elementSchema enumValue enumValues exponent extends fields languageMajorVersion mapKey mapValue maxMultiplicity minMultiplicity name properties request response schema schemas symbol target valueSchema writable';
  for (const c of classes.split(' ')) r[c] = 'class';
  for (const p of props.split(' ')) r[p] = 'property';
  for (const s of PRIMITIVE_TERMS()) r[s] = 'schema';
  for (const g of GEO_TERMS()) r[g] = 'geo';
  r.asynchronous = 'commandType';
  r.synchronous = 'commandType';
  r.DtdlExtension = 'meta';
  r.metamodel = 'meta';
  r.model = 'meta';
  return r;
})();

function PRIMITIVE_TERMS(): string[] {
  return ['boolean', 'date', 'dateTime', 'double', 'duration', 'float', 'integer', 'long', 'string', 'time'];
}
function GEO_TERMS(): string[] {
  return ['lineString', 'multiLineString', 'multiPoint', 'multiPolygon', 'point', 'polygon'];
}

export const PRIMITIVE_SCHEMAS: readonly string[] = PRIMITIVE_TERMS();
export const GEOSPATIAL_SCHEMAS: readonly string[] = GEO_TERMS();
export const NUMERIC_SCHEMAS: ReadonlySet<string> = new Set(['double', 'float', 'integer', 'long']);

/** The DTMI that a reserved term stands for in a given DTDL version. */
export function reservedDtmi(term: string, version: number): string | undefined {
  const kind = RESERVED[term];
  switch (kind) {
    case undefined:
      return undefined;
    case 'class':
      return `dtmi:dtdl:class:${term};${version}`;
    case 'property':
      return `dtmi:dtdl:property:${term};${version}`;
    case 'schema':
      return `dtmi:dtdl:instance:Schema:${term};${version}`;
    case 'geo':
      return `dtmi:standard:schema:geospatial:${term};${version}`;
    case 'commandType':
      return `dtmi:dtdl:instance:CommandType:${term};${version}`;
    case 'meta':
      return `dtmi:dtdl:meta:${term};${version}`;
  }
}

export function isReservedTerm(s: string): boolean {
  return Object.prototype.hasOwnProperty.call(RESERVED, s);
}

const RESERVED_DTMIS: ReadonlyMap<string, string> = (() => {
  const m = new Map<string, string>();
  for (const term of Object.keys(RESERVED)) {
    for (const v of [2, 3]) {
      const d = reservedDtmi(term, v);
      if (d) m.set(d, term);
    }
  }
  return m;
})();

/** The term a reserved DTMI stands for ("dtmi:dtdl:class:Property;3" -> "Property"), whatever the version. */
export function reservedTermOfDtmi(dtmi: string): string | undefined {
  return RESERVED_DTMIS.get(dtmi);
}

/** True when a string is listed in the reserved strings table (term or DTMI column). */
export function isReserved(s: string): boolean {
  return isReservedTerm(s) || RESERVED_DTMIS.has(s);
}

/** Reads a standard schema string ("double", "dtmi:dtdl:instance:Schema:double;3", geospatial too). */
export function standardSchemaOf(s: string, version: number): { name: string; viaDtmi: boolean } | undefined {
  if (PRIMITIVE_SCHEMAS.includes(s) || GEOSPATIAL_SCHEMAS.includes(s)) return { name: s, viaDtmi: false };
  for (const t of [...PRIMITIVE_SCHEMAS, ...GEOSPATIAL_SCHEMAS]) {
    if (reservedDtmi(t, version) === s) return { name: t, viaDtmi: true };
  }
  return undefined;
}

/** Maps a member name written as a DTMI ("dtmi:dtdl:property:name;3") to its term, for the element's version. */
export function memberTermOfDtmi(key: string, version: number): string | undefined {
  const prefix = 'dtmi:dtdl:property:';
  const suffix = `;${version}`;
  if (key.startsWith(prefix) && key.endsWith(suffix)) return key.slice(prefix.length, -suffix.length);
  return undefined;
}
