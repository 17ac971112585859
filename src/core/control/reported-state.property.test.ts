/**
 * checkReported is a parser of untrusted input: for any bytes and any JSON it answers (never
 * throws), and what it accepts holds only properties of the model, each valid for its schema.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ModelRegistry } from '../models/model-registry.js';
import { validateValue } from '../models/validate-value.js';
import { checkReported } from './reported-state.js';

const ctx = 'dtmi:dtdl:context;3';
const registry = new ModelRegistry();
registry.add([
  {
    source: 'test',
    json: [
      {
        '@id': 'dtmi:p:Valve;1',
        '@type': 'Interface',
        '@context': ctx,
        contents: [
          { '@type': 'Property', name: 'opening', schema: 'double', writable: true },
          { '@type': 'Property', name: 'position', schema: 'integer' },
        ],
      },
      {
        '@id': 'dtmi:p:Pump;1',
        '@type': 'Interface',
        '@context': ctx,
        contents: [
          { '@type': 'Property', name: 'setpoint', schema: 'double', writable: true },
          { '@type': 'Property', name: 'serial', schema: 'string' },
          {
            '@type': 'Property',
            name: 'tags',
            schema: { '@type': 'Array', elementSchema: 'string' },
            writable: true,
          },
          { '@type': 'Telemetry', name: 'flow', schema: 'double' },
          { '@type': 'Component', name: 'valve', schema: 'dtmi:p:Valve;1' },
        ],
      },
    ],
  },
]);
const iface = registry.getInterface('dtmi:p:Pump;1')!;
const names = [
  'setpoint',
  'serial',
  'tags',
  'flow',
  'valve',
  'opening',
  'position',
  '$ack',
  '__proto__',
  'x',
];
const member = fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 6 }));
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.double(),
    fc.integer(),
    fc.string({ maxLength: 5 }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(member, tie('v'), { maxKeys: 4 }),
  ),
})).v;
const message = fc.dictionary(member, value, { maxKeys: 6 });

describe('checkReported (property)', () => {
  it('answers any bytes without throwing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const r = checkReported(bytes, iface, registry);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 500 },
    );
  });

  it('accepts only properties of the model with valid values; refuses with at least one pointed problem', () => {
    fc.assert(
      fc.property(message, (m) => {
        const r = checkReported(Buffer.from(JSON.stringify(m)), iface, registry);
        if (!r.ok) {
          expect(r.problems.length).toBeGreaterThan(0);
          expect(r.problems.every((p) => typeof p.code === 'string' && p.message.length > 0)).toBe(true);
          return;
        }
        for (const [key, v] of [...r.reported, ...r.readOnly]) {
          const [a, b] = key.split('/') as [string, string | undefined];
          const info =
            b === undefined
              ? iface.contents.get(a)
              : registry.getInterface('dtmi:p:Valve;1')!.contents.get(b);
          expect(info?.kind).toBe('Property');
          if (info?.kind === 'Property') {
            expect(validateValue(info.schema, v, '')).toEqual([]);
            expect(r.reported.has(key)).toBe(info.writable);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});
