/** DTDL v2: one failing document per rule of the specification, checked by problem code and JSON pointer. */
import { describe, it, expect } from 'vitest';
import { isValidResult, parseDtdl } from './parse-dtdl.js';
import type { ParseDtdlOptions, ParseDtdlResult } from './parse-dtdl.js';

const CTX = 'dtmi:dtdl:context;2';

function parse(docs: unknown[], options: ParseDtdlOptions = {}): ParseDtdlResult {
  return parseDtdl(
    docs.map((json, i) => ({ source: `doc${i}`, json })),
    options,
  );
}
const errors = (r: ParseDtdlResult) => r.problems.filter((p) => p.severity !== 'warning');

/** A v2 Interface with the given contents (and other members). */
function iface(contents: unknown[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { '@context': CTX, '@id': 'dtmi:ex:Thing;1', '@type': 'Interface', contents, ...extra };
}
const prop = (schema: unknown, extra: Record<string, unknown> = {}) => ({
  '@type': 'Property',
  name: 'p',
  schema,
  ...extra,
});

interface Case {
  rule: string;
  docs: unknown[];
  code: string;
  pointer: string;
}

const long = (n: number) => 'a'.repeat(n);
const many = (n: number, f: (i: number) => unknown) => Array.from({ length: n }, (_, i) => f(i));
const enumOf = (values: unknown[]) => ({ '@type': 'Enum', valueSchema: 'integer', enumValues: values });
const objectOf = (fields: unknown[]) => ({ '@type': 'Object', fields });

const CASES: Case[] = [
  {
    rule: 'top-level needs the DTDL context',
    docs: [iface([], { '@context': 'dtmi:ex:ext;1' })],
    code: 'dtdl.context.missing',
    pointer: '/@context',
  },
  {
    rule: 'v2 context must come first',
    docs: [iface([], { '@context': ['dtmi:ex:ext;1', CTX] })],
    code: 'dtdl.context.order',
    pointer: '/@context/1',
  },
  {
    rule: 'context values are v2 DTMIs (no minor version)',
    docs: [iface([], { '@context': [CTX, 'dtmi:ex:ext;1.2'] })],
    code: 'dtdl.context.invalid',
    pointer: '/@context/1',
  },
  {
    rule: 'quantitativeTypes is a v3 extension',
    docs: [iface([], { '@context': [CTX, 'dtmi:dtdl:extension:quantitativeTypes;1'] })],
    code: 'dtdl.context.undefinedExtension',
    pointer: '/@context/1',
  },
  {
    rule: '@id needs a version',
    docs: [iface([], { '@id': 'dtmi:ex:Thing' })],
    code: 'dtdl.dtmi.invalid',
    pointer: '/@id',
  },
  {
    rule: '@id version is an integer',
    docs: [iface([], { '@id': 'dtmi:ex:Thing;1.2' })],
    code: 'dtdl.dtmi.invalid',
    pointer: '/@id',
  },
  {
    rule: 'Interface @id at most 128 characters',
    docs: [iface([], { '@id': `dtmi:ex:${long(120)};1` })],
    code: 'dtdl.id.tooLong',
    pointer: '/@id',
  },
  {
    rule: '@id must not use a reserved prefix',
    docs: [iface([], { '@id': 'dtmi:standard:Thing;1' })],
    code: 'dtdl.id.reserved',
    pointer: '/@id',
  },
  {
    rule: 'extends needs versioned DTMIs',
    docs: [iface([], { extends: 'dtmi:ex:Base' })],
    code: 'dtdl.member.value',
    pointer: '/extends',
  },
  {
    rule: 'target needs a versioned DTMI',
    docs: [iface([{ '@type': 'Relationship', name: 'r', target: 'dtmi:ex:Other' }])],
    code: 'dtdl.dtmi.invalid',
    pointer: '/contents/0/target',
  },
  {
    rule: 'name at most 64 characters',
    docs: [iface([prop('string', { name: long(65) })])],
    code: 'dtdl.name.tooLong',
    pointer: '/contents/0/name',
  },
  {
    rule: 'name pattern',
    docs: [iface([prop('string', { name: 'bad-name' })])],
    code: 'dtdl.name.invalid',
    pointer: '/contents/0/name',
  },
  {
    rule: 'displayName at most 64 characters',
    docs: [iface([], { displayName: { en: long(65) } })],
    code: 'dtdl.string.tooLong',
    pointer: '/displayName/en',
  },
  {
    rule: 'description at most 512 characters',
    docs: [iface([], { description: long(513) })],
    code: 'dtdl.string.tooLong',
    pointer: '/description',
  },
  {
    rule: 'no Array in a Property',
    docs: [iface([prop({ '@type': 'Array', elementSchema: 'double' })])],
    code: 'dtdl.property.schemaExcluded',
    pointer: '/contents/0/schema',
  },
  {
    rule: 'no Array anywhere in a Property schema',
    docs: [iface([prop(objectOf([{ name: 'xs', schema: { '@type': 'Array', elementSchema: 'double' } }]))])],
    code: 'dtdl.property.schemaExcluded',
    pointer: '/contents/0/schema',
  },
  {
    rule: 'no geospatial schema in a Property',
    docs: [iface([prop('point')])],
    code: 'dtdl.property.schemaExcluded',
    pointer: '/contents/0/schema',
  },
  {
    rule: 'no geospatial schema in a Relationship property',
    docs: [
      iface([
        {
          '@type': 'Relationship',
          name: 'r',
          properties: [
            prop({
              '@type': 'Map',
              mapKey: { name: 'k', schema: 'string' },
              mapValue: { name: 'v', schema: 'polygon' },
            }),
          ],
        },
      ]),
    ],
    code: 'dtdl.property.schemaExcluded',
    pointer: '/contents/0/properties/0/schema',
  },
  {
    rule: 'Enum needs enumValues',
    docs: [iface([prop({ '@type': 'Enum', valueSchema: 'integer' })])],
    code: 'dtdl.member.required',
    pointer: '/contents/0/schema',
  },
  {
    rule: 'Enum needs at least one value',
    docs: [iface([prop(enumOf([]))])],
    code: 'dtdl.member.count',
    pointer: '/contents/0/schema/enumValues',
  },
  {
    rule: 'Enum at most 100 values',
    docs: [iface([prop(enumOf(many(101, (i) => ({ name: `v${i}`, enumValue: i }))))])],
    code: 'dtdl.member.count',
    pointer: '/contents/0/schema/enumValues',
  },
  {
    rule: 'Object needs fields',
    docs: [iface([prop({ '@type': 'Object' })])],
    code: 'dtdl.member.required',
    pointer: '/contents/0/schema',
  },
  {
    rule: 'Object at most 30 fields',
    docs: [iface([prop(objectOf(many(31, (i) => ({ name: `f${i}`, schema: 'double' }))))])],
    code: 'dtdl.member.count',
    pointer: '/contents/0/schema/fields',
  },
  {
    rule: 'at most 2 extends',
    docs: [iface([], { extends: many(3, (i) => ({ '@id': `dtmi:ex:B${i};1`, '@type': 'Interface' })) })],
    code: 'dtdl.member.count',
    pointer: '/extends',
  },
  {
    rule: 'at most 300 contents',
    docs: [iface(many(301, (i) => prop('double', { name: `p${i}` })))],
    code: 'dtdl.contents.count',
    pointer: '/contents',
  },
  {
    rule: 'at most 300 contents including inherited ones',
    docs: [
      iface(
        many(200, (i) => prop('double', { name: `p${i}` })),
        { extends: 'dtmi:ex:Base;1' },
      ),
      iface(
        many(101, (i) => prop('double', { name: `q${i}` })),
        { '@id': 'dtmi:ex:Base;1' },
      ),
    ],
    code: 'dtdl.contents.count',
    pointer: '/contents',
  },
  {
    rule: 'at most 300 Relationship properties',
    docs: [
      iface([
        {
          '@type': 'Relationship',
          name: 'r',
          properties: many(301, (i) => prop('double', { name: `p${i}` })),
        },
      ]),
    ],
    code: 'dtdl.member.count',
    pointer: '/contents/0/properties',
  },
  {
    rule: 'maxMultiplicity at most 500',
    docs: [iface([{ '@type': 'Relationship', name: 'r', maxMultiplicity: 501 }])],
    code: 'dtdl.multiplicity.invalid',
    pointer: '/contents/0/maxMultiplicity',
  },
  {
    rule: 'minMultiplicity is 0',
    docs: [iface([{ '@type': 'Relationship', name: 'r', minMultiplicity: 1 }])],
    code: 'dtdl.multiplicity.invalid',
    pointer: '/contents/0/minMultiplicity',
  },
  {
    rule: 'a semantic type requires unit',
    docs: [iface([{ '@type': ['Telemetry', 'Temperature'], name: 't', schema: 'double' }])],
    code: 'dtdl.unit.missing',
    pointer: '/contents/0',
  },
  {
    rule: 'unit from the row of the semantic type',
    docs: [iface([{ '@type': ['Telemetry', 'Temperature'], name: 't', schema: 'double', unit: 'metre' }])],
    code: 'dtdl.unit.invalid',
    pointer: '/contents/0/unit',
  },
  {
    rule: 'unit from the v2 table (wattHour is v3 only)',
    docs: [iface([{ '@type': ['Telemetry', 'Energy'], name: 'e', schema: 'double', unit: 'wattHour' }])],
    code: 'dtdl.unit.invalid',
    pointer: '/contents/0/unit',
  },
  {
    rule: 'one semantic type per element',
    docs: [
      iface([
        { '@type': ['Telemetry', 'Temperature', 'Length'], name: 't', schema: 'double', unit: 'kelvin' },
      ]),
    ],
    code: 'dtdl.semanticType.multiple',
    pointer: '/contents/0/@type',
  },
  {
    rule: 'a semantic type needs a numeric schema',
    docs: [iface([{ '@type': ['Property', 'Temperature'], name: 't', schema: 'string', unit: 'kelvin' }])],
    code: 'dtdl.semanticType.schema',
    pointer: '/contents/0/schema',
  },
  {
    rule: 'no semantic type on a Field',
    docs: [
      iface([
        prop(objectOf([{ '@type': ['Field', 'Temperature'], name: 'f', schema: 'double', unit: 'kelvin' }])),
      ]),
    ],
    code: 'dtdl.type.irrelevant',
    pointer: '/contents/0/schema/fields/0/@type/1',
  },
  {
    rule: 'unit only with a semantic type',
    docs: [iface([prop('double', { unit: 'kelvin' })])],
    code: 'dtdl.member.irrelevant',
    pointer: '/contents/0/unit',
  },
  {
    rule: 'no nullable (v4) on a CommandPayload',
    docs: [
      iface([{ '@type': 'Command', name: 'c', request: { name: 'x', schema: 'double', nullable: true } }]),
    ],
    code: 'dtdl.member.undefined',
    pointer: '/contents/0/request/nullable',
  },
  {
    rule: 'CommandRequest is v3; v2 has CommandPayload',
    docs: [
      iface([
        {
          '@type': 'Command',
          name: 'c',
          request: { '@type': 'CommandRequest', name: 'x', schema: 'double' },
        },
      ]),
    ],
    code: 'dtdl.type.notAllowed',
    pointer: '/contents/0/request/@type',
  },
  {
    rule: 'no schema other than the standard ones (scaledDecimal)',
    docs: [iface([prop('scaledDecimal')])],
    code: 'dtdl.schema.invalid',
    pointer: '/contents/0/schema',
  },
  {
    rule: 'no @graph',
    docs: [iface([prop('double', { '@graph': [] })])],
    code: 'dtdl.member.keyword',
    pointer: '/contents/0/@graph',
  },
  {
    rule: 'no DTDL v3 element inside a v2 element',
    docs: [iface([{ ...prop('double'), '@context': 'dtmi:dtdl:context;3' }])],
    code: 'dtdl.context.version',
    pointer: '/contents/0',
  },
  {
    rule: 'co-type starting with dtmi: must be a v2 DTMI',
    docs: [iface([prop('double', { '@type': ['Property', 'dtmi:ex:Kind'] })])],
    code: 'dtdl.type.invalidDtmi',
    pointer: '/contents/0/@type/1',
  },
  {
    rule: 'no undefined DTMI co-type',
    docs: [iface([prop('double', { '@type': ['Property', 'dtmi:ex:Kind;1'] })])],
    code: 'dtdl.type.irrelevant',
    pointer: '/contents/0/@type/1',
  },
  {
    rule: 'no undefined member without an informal co-type',
    docs: [iface([prop('double', { brand: 'x' })])],
    code: 'dtdl.member.undefined',
    pointer: '/contents/0/brand',
  },
  {
    rule: 'no reserved member that does not belong (writable on Telemetry)',
    docs: [iface([{ '@type': 'Telemetry', name: 't', schema: 'double', writable: true }])],
    code: 'dtdl.member.irrelevant',
    pointer: '/contents/0/writable',
  },
  {
    rule: 'complex schemas at most 5 deep',
    docs: [
      iface([
        {
          '@type': 'Telemetry',
          name: 't',
          schema: [1, 2, 3, 4, 5, 6].reduce<unknown>(
            (s) => ({ '@type': 'Array', elementSchema: s }),
            'double',
          ),
        },
      ]),
    ],
    code: 'dtdl.schema.depth',
    pointer: '/contents/0/schema',
  },
  {
    rule: 'no Component inside a Component',
    docs: [
      iface([
        {
          '@type': 'Component',
          name: 'c',
          schema: {
            '@id': 'dtmi:ex:C;1',
            '@type': 'Interface',
            contents: [
              { '@type': 'Component', name: 'd', schema: { '@id': 'dtmi:ex:D;1', '@type': 'Interface' } },
            ],
          },
        },
      ]),
    ],
    code: 'dtdl.component.nested',
    pointer: '/contents/0/schema',
  },
  {
    rule: 'names unique among contents, inherited included',
    docs: [
      iface([prop('double')], {
        extends: { '@id': 'dtmi:ex:B;1', '@type': 'Interface', contents: [prop('string')] },
      }),
    ],
    code: 'dtdl.name.duplicate',
    pointer: '/contents/0',
  },
];

describe('DTDL v2: one failing document per rule (code and pointer)', () => {
  it.each(CASES)('$rule', ({ docs, code, pointer }) => {
    const r = parse(docs);
    expect(isValidResult(r)).toBe(false);
    expect(errors(r)).toContainEqual(expect.objectContaining({ code, pointer }));
  });

  it('gives the line and column of a problem in the uploaded text', () => {
    const text = `{\n  "@context": "${CTX}",\n  "@id": "dtmi:ex:Thing;1",\n  "@type": "Interface",\n  "contents": [\n    { "@type": ["Telemetry", "Temperature"], "name": "t", "schema": "double", "unit": "metre" }\n  ]\n}`;
    const r = parseDtdl([{ source: 'thing.json', text }]);
    const line6 = text.split('\n')[5] ?? '';
    expect(errors(r)).toEqual([
      expect.objectContaining({
        code: 'dtdl.unit.invalid',
        pointer: '/contents/0/unit',
        line: 6,
        column: line6.indexOf('"metre"') + 1,
      }),
    ]);
  });
});
