/**
 * The DTDL v2 vocabulary (DTDL.Specification.v2.md): its element classes with their members and set limits,
 * and its reserved strings table. v2 differs from v3 in ways the tables carry: CommandPayload instead of
 * CommandRequest/CommandResponse, required and bounded `enumValues` (1..100) and `fields` (1..30), at most
 * 2 `extends` and 300 Relationship `properties`, semantic types on Property and Telemetry only, and no
 * member accepting elements of another DTDL version.
 */
import { SEMANTIC_UNITS_V2, UNITS_V2, UNIT_TYPES_V2 } from './semantic-types-v2.js';
import {
  CLASS_SPECS,
  COMPLEX_SCHEMA_CLASSES,
  CONTENT_CLASSES,
  GEOSPATIAL_SCHEMAS,
  PRIMITIVE_SCHEMAS,
} from './vocabulary.js';
import type { ClassName, ClassSpec, ClassSpecTable, MemberSpec } from './vocabulary.js';

/** The classes of DTDL v2. */
export const ALL_CLASSES_V2: readonly ClassName[] = [
  'Interface',
  'Command',
  'CommandPayload',
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

/** Most contents of an Interface, including those inherited through `extends`. */
export const MAX_CONTENTS_V2 = 300;
/** Longest `name` and `displayName` value in v2 (v3: 512). */
export const MAX_NAME_LENGTH_V2 = 64;
/** Largest `maxMultiplicity` of a v2 Relationship. */
export const MAX_MULTIPLICITY_V2 = 500;

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
};
const nameMember: MemberSpec = { kind: 'name', required: true };
const payload: MemberSpec = {
  kind: 'elements',
  card: 'atMostOne',
  classes: ['CommandPayload'],
  defaultClass: 'CommandPayload',
};

function v3(cls: ClassName): ClassSpec {
  return CLASS_SPECS[cls] as ClassSpec;
}

export const CLASS_SPECS_V2: ClassSpecTable = {
  Interface: {
    typeRequired: true,
    idRequired: true,
    members: {
      ...described,
      contents: { kind: 'elements', card: 'many', classes: CONTENT_CLASSES },
      extends: { kind: 'elements', card: 'many', classes: ['Interface'], maxCount: 2 },
      schemas: { kind: 'elements', card: 'many', classes: COMPLEX_SCHEMA_CLASSES },
    },
  },
  Command: {
    typeRequired: true,
    members: {
      ...described,
      name: nameMember,
      commandType: { kind: 'choice', card: 'atMostOne', choices: ['asynchronous', 'synchronous'] },
      request: payload,
      response: payload,
    },
  },
  CommandPayload: {
    typeRequired: false,
    members: { ...described, name: nameMember, schema: schemaMember },
  },
  Component: {
    typeRequired: true,
    members: {
      ...described,
      name: nameMember,
      schema: { kind: 'elements', required: true, card: 'exactlyOne', classes: ['Interface'] },
    },
  },
  Enum: {
    typeRequired: true,
    members: {
      ...v3('Enum').members,
      enumValues: {
        kind: 'elements',
        required: true,
        card: 'many',
        classes: ['EnumValue'],
        defaultClass: 'EnumValue',
        minCount: 1,
        maxCount: 100,
      },
    },
  },
  EnumValue: v3('EnumValue'),
  Field: { typeRequired: false, members: { ...described, name: nameMember, schema: schemaMember } },
  Map: v3('Map'),
  MapKey: v3('MapKey'),
  MapValue: { typeRequired: false, members: { ...described, name: nameMember, schema: schemaMember } },
  Object: {
    typeRequired: true,
    members: {
      ...described,
      fields: {
        kind: 'elements',
        required: true,
        card: 'many',
        classes: ['Field'],
        defaultClass: 'Field',
        minCount: 1,
        maxCount: 30,
      },
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
      ...v3('Relationship').members,
      properties: { kind: 'elements', card: 'many', classes: ['Property'], maxCount: 300 },
    },
  },
  Telemetry: {
    typeRequired: true,
    semanticTypes: true,
    members: { ...described, name: nameMember, schema: schemaMember },
  },
  Array: { typeRequired: true, members: { ...described, elementSchema: schemaMember } },
};

// ---- reserved strings of v2: term -> DTMI ----

const RESERVED_V2: ReadonlyMap<string, string> = (() => {
  const m = new Map<string, string>();
  const add = (terms: Iterable<string>, prefix: string): void => {
    for (const t of terms) m.set(t, `${prefix}${t};2`);
  };
  add(
    'Array Boolean Command CommandPayload CommandType ComplexSchema Component Content Date DateTime Double Duration Entity Enum EnumValue Field Float Integer Interface Long Map MapKey MapValue NamedEntity NumericSchema Object PrimitiveSchema Property Relationship Schema SchemaField SemanticType SemanticUnit String Telemetry TemporalSchema Time Unit UnitAttribute'.split(
      ' ',
    ),
    'dtmi:dtdl:class:',
  );
  add(
    'baseUnit bottomUnit commandType comment contents description displayName elementSchema enumValue enumValues exponent extends fields languageMajorVersion mapKey mapValue maxMultiplicity minMultiplicity name prefix properties request response schema schemas symbol target topUnit unit valueSchema writable'.split(
      ' ',
    ),
    'dtmi:dtdl:property:',
  );
  add(PRIMITIVE_SCHEMAS, 'dtmi:dtdl:instance:Schema:');
  add(GEOSPATIAL_SCHEMAS, 'dtmi:standard:schema:geospatial:');
  add(['asynchronous', 'synchronous'], 'dtmi:dtdl:instance:CommandType:');
  add(SEMANTIC_UNITS_V2.keys(), 'dtmi:standard:class:');
  add(UNIT_TYPES_V2, 'dtmi:standard:class:');
  add(
    'BinaryPrefix BinaryUnit DecimalPrefix DecimalUnit QuantitativeType RatioUnit'.split(' '),
    'dtmi:standard:class:',
  );
  add(UNITS_V2, 'dtmi:standard:unit:');
  add(
    'atto centi deci deka exa exbi femto gibi giga hecto kibi kilo mebi mega micro milli nano pebi peta pico tebi tera yobi yocto yotta zebi zepto zetta'.split(
      ' ',
    ),
    'dtmi:standard:unitprefix:',
  );
  return m;
})();

const RESERVED_V2_DTMIS: ReadonlySet<string> = new Set(RESERVED_V2.values());

/** The v2 DTMI of a reserved term ("Property" -> "dtmi:dtdl:class:Property;2"). */
export function reservedDtmiV2(term: string): string | undefined {
  return RESERVED_V2.get(term);
}

/** True when a string is in v2's reserved strings table (either column). */
export function isReservedV2(s: string): boolean {
  return RESERVED_V2.has(s) || RESERVED_V2_DTMIS.has(s);
}
