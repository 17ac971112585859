import { describe, it, expect } from 'vitest';
import { parseDtdl } from './parse-dtdl.js';
import type { ParseDtdlOptions, ParseDtdlResult } from './parse-dtdl.js';
import { V2, V2_MODELS } from '../../../../test/support/dtdl-v2-models.js';

const CTX = 'dtmi:dtdl:context;2';

function parse(docs: unknown[], options: ParseDtdlOptions = {}): ParseDtdlResult {
  return parseDtdl(
    docs.map((json, i) => ({ source: `doc${i}`, json })),
    options,
  );
}
const errors = (r: ParseDtdlResult) => r.problems.filter((p) => p.severity !== 'warning');
const warnings = (r: ParseDtdlResult) => r.problems.filter((p) => p.severity === 'warning');

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

describe('DTDL v2: the hand-written ontology fixtures', () => {
  const r = parse(V2_MODELS);

  it('parses every fixture without error and marks them DTDL v2', () => {
    expect(errors(r)).toEqual([]);
    expect(r.unresolved).toEqual([]);
    expect(r.interfaces.size).toBe(V2_MODELS.length);
    for (const info of r.interfaces.values()) expect(info.dtdlVersion).toBe(2);
  });

  it('reads built-in semantic types and units, whether written as terms or DTMIs', () => {
    const space = r.interfaces.get(V2.space)!;
    expect(space.contents.get('area')).toMatchObject({ semanticTypes: ['Area'], unit: 'squareMetre' });
    expect(space.contents.get('temperature')).toMatchObject({
      kind: 'Telemetry',
      semanticTypes: ['Temperature'],
      unit: 'degreeCelsius',
    });
    // "dtmi:standard:class:RelativeHumidity;2" and "dtmi:dtdl:property:unit;2" normalize to terms
    expect(space.contents.get('humidity')).toMatchObject({
      semanticTypes: ['RelativeHumidity'],
      unit: 'percent',
    });
    expect(warnings(r).map((w) => w.code)).toContain('dtdl.style.preferTerm');
  });

  it('flattens extends chains across documents (two bases), with ancestors for IS_OF_MODEL', () => {
    const conf = r.interfaces.get(V2.conferenceRoom)!;
    expect(conf.ancestors).toEqual(expect.arrayContaining([V2.room, V2.space, V2.asset]));
    expect([...conf.contents.keys()]).toEqual(
      expect.arrayContaining(['seats', 'temperatureSetpoint', 'area', 'name', 'customTags', 'locatedIn']),
    );
    expect(conf.contents.get('area')?.definedIn).toBe(V2.space);
  });

  it('reads Maps written with DTMI member names, Relationship properties, Enums, Components, Commands', () => {
    const asset = r.interfaces.get(V2.asset)!;
    expect(asset.displayName).toBe('Asset');
    expect(asset.contents.get('customTags')).toMatchObject({
      writable: true,
      schema: { kind: 'map', key: { name: 'tagName' }, value: { name: 'tagValue' } },
    });
    const rel = asset.contents.get('locatedIn');
    expect(rel).toMatchObject({ kind: 'Relationship', target: V2.space, maxMultiplicity: 1 });
    expect(rel?.kind === 'Relationship' && [...rel.properties.keys()]).toEqual(['since', 'confidence']);
    const occ = r.interfaces.get(V2.space)!.contents.get('occupancy');
    expect(
      occ?.kind === 'Property' && occ.schema.kind === 'enum' && occ.schema.values.map((v) => v.name),
    ).toEqual(['vacant', 'occupied', 'unknown']);
    expect(r.interfaces.get(V2.building)!.contents.get('weather')).toMatchObject({
      kind: 'Component',
      schema: V2.weather,
    });
    const cmd = r.interfaces.get(V2.weather)!.contents.get('recalibrate');
    expect(cmd).toMatchObject({
      kind: 'Command',
      request: { name: 'delaySeconds', schema: { kind: 'primitive', name: 'integer' } },
      response: { name: 'result', schema: { kind: 'object' } },
    });
    expect(warnings(r).some((w) => w.code === 'dtdl.style.deprecated')).toBe(true); // commandType
  });
});

describe('DTDL v2: what the specification allows', () => {
  it('accepts an informal co-type (an undefined term or another IRI) and then undefined members', () => {
    const r = parse([
      iface([
        prop('double', { '@type': ['Property', 'Commercial'], brand: 'Honeywell' }),
        { '@type': ['Telemetry', 'http://example.org/Reading'], name: 't', schema: 'double', extra: 1 },
        // ApparentPower is a v3 quantitativeTypes type, not a v2 one: an informal co-type in v2
        { '@type': ['Telemetry', 'ApparentPower'], name: 'va', schema: 'double', unit: 'voltAmpere' },
      ]),
    ]);
    expect(errors(r)).toEqual([]);
    expect(r.interfaces.get('dtmi:ex:Thing;1')!.contents.get('va')?.semanticTypes).toEqual([]);
  });

  it('warns (does not fail) on keywords other than @graph and on extra keywords in value objects', () => {
    const r = parse([
      iface([prop('string', { '@foo': 1, comment: { '@value': 'c', '@type': 'xsd:string', '@lang': 'x' } })]),
    ]);
    expect(errors(r)).toEqual([]);
    expect(warnings(r).map((w) => w.code)).toEqual(
      expect.arrayContaining(['dtdl.member.keyword', 'dtdl.literal.keyword']),
    );
  });

  it("lets IoT Central's context precede the DTDL context, with a warning", () => {
    const r = parse([iface([], { '@context': ['dtmi:iotcentral:context;2', CTX] })], {
      allowUndefinedExtensions: true,
    });
    expect(errors(r)).toEqual([]);
    expect(warnings(r).map((w) => w.code)).toContain('dtdl.context.order');
  });

  it('accepts Arrays and geospatial schemas in Telemetry and Command payloads', () => {
    const r = parse([
      iface([
        { '@type': 'Telemetry', name: 'route', schema: 'lineString' },
        { '@type': 'Telemetry', name: 'series', schema: { '@type': 'Array', elementSchema: 'double' } },
        { '@type': 'Command', name: 'go', request: { name: 'to', schema: 'point' } },
      ]),
    ]);
    expect(errors(r)).toEqual([]);
  });
});
