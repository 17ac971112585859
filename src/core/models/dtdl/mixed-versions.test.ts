/**
 * DTDL v2 and v3 together, per the v3 specification (v3 members such as `extends`, `contents`, a
 * Component's `schema`, Relationship `properties` and schema members admit v2 elements) and Azure Digital
 * Twins (v3 may extend or embed v2; v2 may not extend or embed v3; relationships point either way).
 * Both directions, within one batch and across uploads.
 */
import { describe, it, expect } from 'vitest';
import { isValidResult, parseDtdl } from './parse-dtdl.js';
import type { ParseDtdlResult } from './parse-dtdl.js';
import { ModelRegistry } from '../model-registry.js';
import { TwinloopError } from '../../errors/errors.js';

const V2 = 'dtmi:dtdl:context;2';
const V3 = 'dtmi:dtdl:context;3';
const parse = (...docs: unknown[]): ParseDtdlResult =>
  parseDtdl(docs.map((json, i) => ({ source: `d${i}`, json })));
const errors = (r: ParseDtdlResult) => r.problems.filter((p) => p.severity !== 'warning');

const v2Base = {
  '@context': V2,
  '@id': 'dtmi:ex:Equipment;1',
  '@type': 'Interface',
  contents: [
    { '@type': ['Telemetry', 'Temperature'], name: 'temp', schema: 'double', unit: 'degreeCelsius' },
    { '@type': 'Relationship', name: 'feeds', target: 'dtmi:ex:Pump;1' },
  ],
};
const v3Pump = {
  '@context': V3,
  '@id': 'dtmi:ex:Pump;1',
  '@type': 'Interface',
  extends: 'dtmi:ex:Equipment;1',
  contents: [
    { '@type': 'Property', name: 'speeds', schema: { '@type': 'Array', elementSchema: 'double' } },
    { '@type': 'Component', name: 'legacy', schema: 'dtmi:ex:Legacy;1' },
    { '@type': 'Relationship', name: 'partOf', target: 'dtmi:ex:Equipment;1' },
  ],
};
const v2Legacy = { '@context': V2, '@id': 'dtmi:ex:Legacy;1', '@type': 'Interface' };

describe('v3 referring to v2 (allowed)', () => {
  it('a v3 Interface extends a v2 one and embeds a v2 Component; relationships point both ways', () => {
    const r = parse(v3Pump, v2Base, v2Legacy);
    expect(errors(r)).toEqual([]);
    const pump = r.interfaces.get('dtmi:ex:Pump;1')!;
    expect(pump.dtdlVersion).toBe(3);
    expect(r.interfaces.get('dtmi:ex:Equipment;1')?.dtdlVersion).toBe(2);
    expect(pump.ancestors).toEqual(['dtmi:ex:Equipment;1']);
    expect(pump.contents.get('temp')).toMatchObject({
      semanticTypes: ['Temperature'],
      unit: 'degreeCelsius',
    });
    expect(pump.contents.get('legacy')).toMatchObject({ kind: 'Component', schema: 'dtmi:ex:Legacy;1' });
  });

  it('accepts v2 elements nested in the v3 members that admit them (spec example and Relationship properties)', () => {
    const r = parse({
      '@context': V3,
      '@id': 'dtmi:ex:Later;1',
      '@type': 'Interface',
      contents: [
        {
          '@type': 'Component',
          name: 'subunit',
          schema: { '@context': V2, '@id': 'dtmi:ex:Earlier;1', '@type': 'Interface' },
        },
        {
          '@type': 'Relationship',
          name: 'r',
          properties: [
            {
              '@context': V2,
              '@type': ['Property', 'Length'],
              name: 'dist',
              schema: 'double',
              unit: 'metre',
            },
          ],
        },
      ],
    });
    expect(errors(r)).toEqual([]);
    expect(r.interfaces.get('dtmi:ex:Earlier;1')?.dtdlVersion).toBe(2);
  });

  it('refuses a v2 element in a v3 member that does not admit one (Object fields)', () => {
    const r = parse({
      '@context': V3,
      '@id': 'dtmi:ex:Later;1',
      '@type': 'Interface',
      schemas: [
        {
          '@id': 'dtmi:ex:Obj;1',
          '@type': 'Object',
          fields: [{ '@context': V2, name: 'f', schema: 'double' }],
        },
      ],
    });
    expect(errors(r)).toContainEqual(
      expect.objectContaining({ code: 'dtdl.context.version', pointer: '/schemas/0/fields/0' }),
    );
  });
});

describe('v2 referring to v3 (refused)', () => {
  const v3Base = { '@context': V3, '@id': 'dtmi:ex:New;1', '@type': 'Interface' };

  it('a v2 Interface may not extend a v3 Interface', () => {
    const r = parse({ ...v2Legacy, extends: 'dtmi:ex:New;1' }, v3Base);
    expect(isValidResult(r)).toBe(false);
    expect(errors(r)).toEqual([
      expect.objectContaining({ code: 'dtdl.reference.version', pointer: '/extends', source: 'd0' }),
    ]);
  });

  it('a v2 Component may not have a v3 Interface as schema', () => {
    const r = parse(
      { ...v2Legacy, contents: [{ '@type': 'Component', name: 'c', schema: 'dtmi:ex:New;1' }] },
      v3Base,
    );
    expect(errors(r)).toEqual([
      expect.objectContaining({ code: 'dtdl.reference.version', pointer: '/contents/0/schema' }),
    ]);
  });

  it('a v2 element may not include a v3 element inline', () => {
    const r = parse({
      ...v2Legacy,
      contents: [{ '@type': 'Component', name: 'c', schema: { ...v3Base, '@id': 'dtmi:ex:Inline;1' } }],
    });
    expect(errors(r)).toContainEqual(
      expect.objectContaining({ code: 'dtdl.context.version', pointer: '/contents/0/schema' }),
    );
  });

  it('a v2 Relationship may target a v3 Interface', () => {
    const r = parse(
      { ...v2Legacy, contents: [{ '@type': 'Relationship', name: 'r', target: 'dtmi:ex:New;1' }] },
      v3Base,
    );
    expect(errors(r)).toEqual([]);
  });
});

describe('across uploads (the registry knows earlier models and their versions)', () => {
  it('v3 uploaded later may extend a v2 model uploaded before; IS_OF_MODEL sees through', () => {
    const reg = new ModelRegistry();
    reg.add([{ source: 'first', json: [v2Base, v2Legacy] }]);
    reg.add([{ source: 'second', json: v3Pump }]);
    expect(reg.isOfModel('dtmi:ex:Pump;1', 'dtmi:ex:Equipment;1')).toBe(true);
    expect(reg.getInterface('dtmi:ex:Pump;1')?.contents.get('temp')?.unit).toBe('degreeCelsius');
  });

  it('v2 uploaded later may not extend a v3 model uploaded before (DTDLParserError with the pointer)', () => {
    const reg = new ModelRegistry();
    reg.add([{ source: 'first', json: { '@context': V3, '@id': 'dtmi:ex:New;1', '@type': 'Interface' } }]);
    let err: unknown;
    try {
      reg.add([{ source: 'second', json: { ...v2Legacy, extends: 'dtmi:ex:New;1' } }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TwinloopError);
    expect((err as TwinloopError).code).toBe('DTDLParserError');
    expect((err as TwinloopError).problems).toContainEqual(
      expect.objectContaining({ code: 'dtdl.reference.version', pointer: '/extends', source: 'second' }),
    );
    expect(reg.getInterface('dtmi:ex:Legacy;1')).toBeUndefined();
  });
});
