/**
 * Property-based tests of DTDL v2's ranged rules: each generates values across the bound and checks the
 * parser accepts exactly those inside it (and names the rule's code otherwise).
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { isValidResult, parseDtdl } from './parse-dtdl.js';

const CTX = 'dtmi:dtdl:context;2';
const iface = (extra: Record<string, unknown>) => ({
  '@context': CTX,
  '@id': 'dtmi:ex:Thing;1',
  '@type': 'Interface',
  ...extra,
});
const codes = (docs: unknown[]): string[] => {
  const r = parseDtdl(docs.map((json, i) => ({ source: `d${i}`, json })));
  return r.problems.filter((p) => p.severity !== 'warning').map((p) => p.code);
};
const valid = (docs: unknown[]): boolean =>
  isValidResult(parseDtdl(docs.map((json, i) => ({ source: `d${i}`, json }))));
const letters = (n: number) => 'x'.repeat(n);
const prop = (name: string, schema: unknown = 'double') => ({ '@type': 'Property', name, schema });

describe('DTDL v2 ranges', () => {
  it('name: 1 to 64 characters', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), (n) => {
        const c = codes([iface({ contents: [prop(letters(n))] })]);
        expect(c.length === 0).toBe(n <= 64);
        if (n > 64) expect(c).toEqual(['dtdl.name.tooLong']);
      }),
      { numRuns: 60 },
    );
  });

  it('displayName: at most 64 characters, each language', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.constantFrom('en', 'sv', 'de-CH'), (n, lang) => {
        const c = codes([iface({ displayName: { [lang]: letters(n) } })]);
        expect(c.length === 0).toBe(n <= 64);
      }),
      { numRuns: 60 },
    );
  });

  it('Interface @id: at most 128 characters; version an integer of 1 to 9 digits', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 999_999_999 }), (n, v) => {
        const id = `dtmi:${letters(n)};${v}`;
        expect(valid([iface({ '@id': id })])).toBe(id.length <= 128);
      }),
      { numRuns: 60 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 99 }), fc.integer({ min: 1, max: 99 }), (major, minor) => {
        expect(codes([iface({ '@id': `dtmi:ex:Thing;${major}.${minor}` })])).toContain('dtdl.dtmi.invalid');
      }),
      { numRuns: 20 },
    );
  });

  it('Enum enumValues: 1 to 100', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 130 }), (n) => {
        const enumValues = Array.from({ length: n }, (_, i) => ({ name: `v${i}`, enumValue: i }));
        const schema = { '@type': 'Enum', valueSchema: 'integer', enumValues };
        const c = codes([iface({ contents: [prop('e', schema)] })]);
        expect(c.length === 0).toBe(n >= 1 && n <= 100);
        if (c.length) expect(c).toEqual(['dtdl.member.count']);
      }),
      { numRuns: 40 },
    );
  });

  it('Object fields: 1 to 30', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 45 }), (n) => {
        const fields = Array.from({ length: n }, (_, i) => ({ name: `f${i}`, schema: 'double' }));
        const c = codes([iface({ contents: [prop('o', { '@type': 'Object', fields })] })]);
        expect(c.length === 0).toBe(n >= 1 && n <= 30);
      }),
      { numRuns: 40 },
    );
  });

  it('Relationship maxMultiplicity: 1 to 500', () => {
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 2000 }), (n) => {
        const c = codes([iface({ contents: [{ '@type': 'Relationship', name: 'r', maxMultiplicity: n }] })]);
        expect(c.length === 0).toBe(n >= 1 && n <= 500);
      }),
      { numRuns: 60 },
    );
  });

  it('extends: at most 2 bases', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), (n) => {
        const bases = Array.from({ length: n }, (_, i) => iface({ '@id': `dtmi:ex:B${i};1` }));
        const derived = iface({ extends: bases.map((b) => b['@id']) });
        const c = codes([derived, ...bases]);
        expect(c.length === 0).toBe(n <= 2);
      }),
      { numRuns: 12 },
    );
  });

  it('contents: at most 300, own and inherited together', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 320 }), fc.integer({ min: 0, max: 320 }), (own, inherited) => {
        const base = iface({
          '@id': 'dtmi:ex:Base;1',
          contents: Array.from({ length: inherited }, (_, i) => prop(`b${i}`)),
        });
        const derived = iface({
          extends: 'dtmi:ex:Base;1',
          contents: Array.from({ length: own }, (_, i) => prop(`d${i}`)),
        });
        const c = codes([derived, base]);
        expect(c.filter((x) => x !== 'dtdl.contents.count')).toEqual([]);
        expect(c.includes('dtdl.contents.count')).toBe(own + inherited > 300);
      }),
      { numRuns: 25 },
    );
  });

  it('extends depth: at most 10 levels', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 14 }), (levels) => {
        const chain = Array.from({ length: levels + 1 }, (_, i) =>
          iface({ '@id': `dtmi:ex:L${i};1`, ...(i < levels ? { extends: `dtmi:ex:L${i + 1};1` } : {}) }),
        );
        expect(valid(chain)).toBe(levels <= 10);
      }),
      { numRuns: 14 },
    );
  });
});

describe('DTDL v2 hostile input', () => {
  it('never throws on mutated v2 interfaces (prototype names, DTMI forms, wrong shapes)', () => {
    const leaf = fc.oneof(
      fc.constantFrom(
        '__proto__',
        'constructor',
        'toString',
        'Temperature',
        'dtmi:standard:class:Temperature;2',
        'dtmi:standard:unit:kelvin;2',
        'kelvin',
        'CommandPayload',
        'dtmi:dtdl:context;3',
        'dtmi:ex:A',
        'dtmi:ex:A;1',
        'point',
        'Array',
      ),
      fc.jsonValue({ maxDepth: 3 }),
    );
    const element = fc.dictionary(
      fc.constantFrom(
        '@type',
        '@context',
        '@id',
        'name',
        'schema',
        'unit',
        'dtmi:dtdl:property:unit;2',
        '__proto__',
        'constructor',
        'request',
        'properties',
        'fields',
        'x:y',
      ),
      leaf,
    );
    const doc = fc.record({
      '@context': fc.oneof(fc.constant(CTX), fc.constant([CTX, 'dtmi:iotcentral:context;2']), leaf),
      '@id': fc.oneof(fc.constant('dtmi:ex:A;1'), leaf),
      '@type': fc.oneof(fc.constant('Interface'), leaf),
      contents: fc.array(element, { maxLength: 4 }),
      extends: fc.oneof(fc.constant('dtmi:ex:A;1'), leaf),
    });
    fc.assert(
      fc.property(doc, (d) => {
        const r = parseDtdl([{ source: 'fuzz', json: d }]);
        expect(r.problems.some((p) => p.code === 'dtdl.internal')).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('reports a v2 document nested 10,000 schemas deep (JSON or text) without crashing', () => {
    let schema: unknown = 'double';
    for (let i = 0; i < 10_000; i++) schema = { '@type': 'Array', elementSchema: schema };
    const doc = iface({ contents: [{ '@type': 'Telemetry', name: 't', schema }] });
    const c = codes([doc]);
    expect(c).toContain('dtdl.element.tooDeep');
    const deep = '{"@type":"Array","elementSchema":'.repeat(10_000) + '"double"' + '}'.repeat(10_000);
    const text = `{"@context":"${CTX}","@id":"dtmi:ex:Thing;1","@type":"Interface","contents":[{"@type":"Telemetry","name":"t","schema":${deep}}]}`;
    const r = parseDtdl([{ source: 'deep.json', text }]);
    expect(r.problems.map((p) => p.code)).toContain('dtdl.element.tooDeep');
    expect(r.problems.map((p) => p.code)).not.toContain('dtdl.internal');
  });
});
