import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { isValidResult, parseDtdl } from './parse-dtdl.js';
import type { InterfaceInfo } from '../model-types.js';

const base = {
  '@context': 'dtmi:dtdl:context;3',
  '@id': 'dtmi:ex:Base;1',
  '@type': 'Interface',
  displayName: { en: 'Base', fr: 'Base FR' },
  contents: [
    { '@type': ['Telemetry', 'Temperature'], name: 'temp', schema: 'double', unit: 'degreeCelsius' },
    { '@type': 'Property', name: 'serial', schema: 'string', writable: true },
  ],
};
base['@context'] = ['dtmi:dtdl:context;3', 'dtmi:dtdl:extension:quantitativeTypes;1'] as unknown as string;

const derived = {
  '@context': 'dtmi:dtdl:context;3',
  '@id': 'dtmi:ex:Derived;1',
  '@type': 'Interface',
  extends: 'dtmi:ex:Base;1',
  schemas: [
    {
      '@id': 'dtmi:ex:Mode;1',
      '@type': 'Enum',
      valueSchema: 'string',
      enumValues: [
        { name: 'on', enumValue: 'ON' },
        { name: 'off', enumValue: 'OFF' },
      ],
    },
  ],
  contents: [
    { '@type': 'Property', name: 'mode', schema: 'dtmi:ex:Mode;1', writable: true },
    {
      '@type': 'Relationship',
      name: 'feeds',
      target: 'dtmi:ex:Base;1',
      maxMultiplicity: 3,
      properties: [{ '@type': 'Property', name: 'since', schema: 'dateTime' }],
    },
    {
      '@type': 'Command',
      name: 'reset',
      request: { name: 'delay', schema: 'duration' },
      response: { name: 'ok', schema: 'boolean' },
    },
    {
      '@type': 'Component',
      name: 'sub',
      schema: {
        '@id': 'dtmi:ex:Sub;1',
        '@type': 'Interface',
        contents: {
          '@type': 'Telemetry',
          name: 'x',
          schema: {
            '@type': 'Map',
            mapKey: { name: 'k', schema: 'string' },
            mapValue: { name: 'v', schema: { '@type': 'Array', elementSchema: 'integer' } },
          },
        },
      },
    },
  ],
};

function codes(r: ReturnType<typeof parseDtdl>): string[] {
  return r.problems.filter((p) => p.severity !== 'warning').map((p) => p.code);
}

describe('parseDtdl: valid models', () => {
  it('resolves extends, flattens contents and keeps definedIn, ancestors, schemas', () => {
    const r = parseDtdl([{ source: 'a.json', json: [derived, base] }]);
    expect(codes(r)).toEqual([]);
    expect(r.unresolved).toEqual([]);
    const d = r.interfaces.get('dtmi:ex:Derived;1') as InterfaceInfo;
    expect(d.ancestors).toEqual(['dtmi:ex:Base;1']);
    expect([...d.contents.keys()].sort()).toEqual(['feeds', 'mode', 'reset', 'serial', 'sub', 'temp']);
    const temp = d.contents.get('temp');
    expect(temp).toMatchObject({
      kind: 'Telemetry',
      definedIn: 'dtmi:ex:Base;1',
      semanticTypes: ['Temperature'],
      unit: 'degreeCelsius',
    });
    expect(d.contents.get('mode')).toMatchObject({
      kind: 'Property',
      writable: true,
      schema: { kind: 'enum', valueSchema: 'string' },
    });
    expect(d.contents.get('feeds')).toMatchObject({
      kind: 'Relationship',
      target: 'dtmi:ex:Base;1',
      maxMultiplicity: 3,
    });
    expect(d.contents.get('reset')).toMatchObject({
      kind: 'Command',
      request: { name: 'delay', schema: { kind: 'primitive', name: 'duration' } },
    });
    expect(d.contents.get('sub')).toMatchObject({ kind: 'Component', schema: 'dtmi:ex:Sub;1' });
    expect(r.interfaces.get('dtmi:ex:Sub;1')?.contents.get('x')).toMatchObject({
      schema: {
        kind: 'map',
        key: { name: 'k' },
        value: {
          name: 'v',
          schema: { kind: 'array', elementSchema: { kind: 'primitive', name: 'integer' } },
        },
      },
    });
    expect(d.schemas.has('dtmi:ex:Mode;1')).toBe(true);
    expect(r.interfaces.get('dtmi:ex:Base;1')?.displayName).toBe('Base');
  });

  it('resolves references against already known interfaces', () => {
    const first = parseDtdl([{ source: 'base', json: base }]);
    const known = { getInterface: (id: string) => first.interfaces.get(id) };
    const r = parseDtdl([{ source: 'derived', json: { ...derived, contents: [] } }], { known });
    expect(codes(r)).toEqual([]);
    expect(r.interfaces.get('dtmi:ex:Derived;1')?.contents.get('temp')?.definedIn).toBe('dtmi:ex:Base;1');
  });
});

describe('parseDtdl: problems with codes, pointers and positions', () => {
  it('reports a bad DTMI with its pointer and line/column', () => {
    const text =
      '{\n  "@context": "dtmi:dtdl:context;3",\n  "@id": "dtmi:ex:bad id;1",\n  "@type": "Interface"\n}';
    const r = parseDtdl([{ source: 'm.json', text }]);
    const p = r.problems.find((x) => x.code === 'dtdl.dtmi.invalid');
    expect(p).toMatchObject({ source: 'm.json', pointer: '/@id', line: 3, column: 10 });
  });

  it('reports every problem at once, including inherited duplicate names', () => {
    const bad = {
      '@context': 'dtmi:dtdl:context;3',
      '@id': 'dtmi:ex:Bad;1',
      '@type': 'Interface',
      extends: 'dtmi:ex:Base;1',
      contents: [
        { '@type': 'Property', name: 'temp', schema: 'double' },
        { '@type': 'Property', name: '1bad', schema: 'double' },
        { '@type': 'Telemetry', name: 't', schema: 'notASchema' },
        { '@type': 'Relationship', name: 'r', minMultiplicity: 2 },
        { '@type': 'Property', name: 'p', schema: 'string', foo: 1 },
      ],
    };
    const r = parseDtdl([{ source: 'x', json: [bad, base] }]);
    expect(codes(r).sort()).toEqual(
      [
        'dtdl.member.undefined',
        'dtdl.multiplicity.invalid',
        'dtdl.name.duplicate',
        'dtdl.name.invalid',
        'dtdl.schema.invalid',
      ].sort(),
    );
    expect(r.problems.find((p) => p.code === 'dtdl.name.invalid')?.pointer).toBe('/0/contents/1/name');
    expect(r.problems.find((p) => p.code === 'dtdl.member.undefined')?.pointer).toBe('/0/contents/4/foo');
  });

  it('lists references that resolve nowhere as unresolved, not as a crash', () => {
    const r = parseDtdl([{ source: 'x', json: { ...derived, extends: 'dtmi:ex:Missing;1', contents: [] } }]);
    expect(r.unresolved).toEqual(['dtmi:ex:Missing;1']);
    expect(codes(r)).toContain('dtdl.reference.unresolved');
  });

  it('detects extends cycles and too deep hierarchies', () => {
    const a = {
      '@context': 'dtmi:dtdl:context;3',
      '@id': 'dtmi:ex:A;1',
      '@type': 'Interface',
      extends: 'dtmi:ex:B;1',
    };
    const b = {
      '@context': 'dtmi:dtdl:context;3',
      '@id': 'dtmi:ex:B;1',
      '@type': 'Interface',
      extends: 'dtmi:ex:A;1',
    };
    expect(codes(parseDtdl([{ source: 'c', json: [a, b] }]))).toContain('dtdl.extends.cycle');
    const chain = Array.from({ length: 12 }, (_, i) => ({
      '@context': 'dtmi:dtdl:context;3',
      '@id': `dtmi:ex:L${i};1`,
      '@type': 'Interface',
      ...(i < 11 ? { extends: `dtmi:ex:L${i + 1};1` } : {}),
    }));
    expect(codes(parseDtdl([{ source: 'd', json: chain }]))).toContain('dtdl.extends.depth');
  });

  it('rejects undefined extensions unless allowed, and knows quantitativeTypes', () => {
    const m = {
      '@context': ['dtmi:dtdl:context;3', 'dtmi:ex:ext;1'],
      '@id': 'dtmi:ex:E;1',
      '@type': 'Interface',
    };
    expect(codes(parseDtdl([{ source: 'e', json: m }]))).toEqual(['dtdl.context.undefinedExtension']);
    expect(isValidResult(parseDtdl([{ source: 'e', json: m }], { allowUndefinedExtensions: true }))).toBe(
      true,
    );
    const wrongUnit = structuredClone(base);
    (wrongUnit.contents[0] as Record<string, unknown>).unit = 'metre';
    expect(codes(parseDtdl([{ source: 'u', json: wrongUnit }]))).toEqual(['dtdl.unit.invalid']);
  });

  it('reports members named twice in one object (JSON.parse would hide it)', () => {
    const text =
      '{"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:A;1",\n "@type": "Interface", "@id": "dtmi:ex:B;1"}';
    const r = parseDtdl([{ source: 'dup.json', text }]);
    expect(r.problems.find((p) => p.code === 'dtdl.json.duplicateKey')).toMatchObject({
      pointer: '/@id',
      line: 2,
      column: 24,
    });
  });

  it('reports broken JSON with line and column', () => {
    const r = parseDtdl([{ source: 'broken.json', text: '{\n  "@id": "x",\n  oops\n}' }]);
    expect(r.problems[0]).toMatchObject({ code: 'dtdl.json.syntax', line: 3 });
  });
});

describe('parseDtdl: robustness', () => {
  it('never throws on random JSON and reports problems instead', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (doc) => {
        const r = parseDtdl([{ source: 'rand', json: doc }]);
        expect(Array.isArray(r.problems)).toBe(true);
        expect(r.problems.filter((p) => p.code === 'dtdl.internal')).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on mutated interfaces', () => {
    const leaf = fc.oneof(
      fc.constantFrom('Interface', 'Property', 'Telemetry', 'double', 'dtmi:ex:A;1', 'name', 'schema', '@id'),
      fc.jsonValue(),
    );
    const mutated = fc.record({
      '@context': fc.oneof(fc.constant('dtmi:dtdl:context;3'), leaf),
      '@id': fc.oneof(fc.constant('dtmi:ex:A;1'), leaf),
      '@type': fc.oneof(fc.constant('Interface'), leaf),
      contents: fc.array(
        fc.dictionary(
          fc.constantFrom('@type', 'name', 'schema', 'writable', 'target', 'extends', 'contents', 'x'),
          leaf,
        ),
        { maxLength: 4 },
      ),
      extends: fc.oneof(fc.constant('dtmi:ex:A;1'), leaf),
    });
    fc.assert(
      fc.property(mutated, (doc) => {
        const r = parseDtdl([{ source: 'm', json: doc }]);
        expect(r.problems.filter((p) => p.code === 'dtdl.internal')).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on random text', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const r = parseDtdl([{ source: 't', text }]);
        expect(r.problems.filter((p) => p.code === 'dtdl.internal')).toEqual([]);
        // anything but an empty array is a problem of some kind
        if (text.trim() !== '[]') expect(r.problems.length).toBeGreaterThan(0);
      }),
      { numRuns: 200 },
    );
  });
});
