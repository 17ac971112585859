import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAdtTelemetry, type AdtPayloadResult } from './adt-telemetry-payload.js';

const ctx = { twinId: 'r1', receivedAt: 1000 };
const parse = (
  body: string | Buffer,
  extra: Partial<typeof ctx> & { once?: boolean } = {},
): AdtPayloadResult =>
  parseAdtTelemetry(typeof body === 'string' ? Buffer.from(body, 'utf8') : body, { ...ctx, ...extra });
const ok = (r: AdtPayloadResult) => {
  if (!r.ok) throw new Error(`refused: ${JSON.stringify(r.problems)}`);
  return r;
};

describe('parseAdtTelemetry (ADT routes: any JSON)', () => {
  it('reads an object, an array of objects, and a JSON string holding either', () => {
    expect(ok(parse('{"t": 1}')).readings).toEqual([{ twinId: 'r1', time: 1000, values: { t: 1 } }]);
    const s = ok(parse(JSON.stringify(JSON.stringify({ t: 2, $ts: '2024-01-01T00:00:00Z' }))));
    expect(s.unwrapped).toBe(true);
    expect(s.readings).toEqual([
      { twinId: 'r1', time: Date.UTC(2024, 0, 1), sourceTime: true, values: { t: 2 } },
    ]);
    expect(ok(parse(JSON.stringify(JSON.stringify([{ a: 1 }, { b: 2 }])))).readings).toHaveLength(2);
  });

  it('keeps what cannot be a reading as dropped problems with pointers, and the rest', () => {
    const r = ok(parse('[{"a": 1, "$dtId": "x", "$ts": "noon"}, 5, "s", null, {}]'));
    expect(r.readings).toEqual([{ twinId: 'r1', time: 1000, values: { a: 1 } }]);
    expect(r.dropped.map((p) => `${p.pointer} ${p.code}`)).toEqual([
      '/0/$dtId payload.reserved',
      '/0/$ts payload.time',
      '/1 payload.shape',
      '/2 payload.shape',
      '/3 payload.shape',
    ]);
  });

  it('unwraps once: a string in the string, or a string that holds no JSON, is dropped, not refused', () => {
    const nested = ok(parse(JSON.stringify(JSON.stringify(JSON.stringify({ t: 1 })))));
    expect(nested.readings).toEqual([]);
    expect(nested.dropped[0]?.code).toBe('payload.shape');
    const text = ok(parse('"hello"'));
    expect(text.readings).toEqual([]);
    expect(text.dropped[0]?.message).toMatch(/holds no JSON object/);
  });

  it('refuses bytes that are not UTF-8 or not JSON, and forbidden keys or deep nesting even inside the string', () => {
    const refused = (r: AdtPayloadResult) => (r.ok ? 'accepted' : r.problems[0]!.code);
    expect(refused(parse(Buffer.from([0x7b, 0xff, 0x7d])))).toBe('payload.encoding');
    expect(refused(parse('{"t": '))).toBe('json.syntax');
    expect(refused(parse('{"__proto__": {"t": 1}}'))).toBe('json.key.forbidden');
    expect(refused(parse(JSON.stringify('{"constructor": 1}')))).toBe('json.key.forbidden');
    expect(refused(parse(JSON.stringify('['.repeat(10_000) + ']'.repeat(10_000))))).toBe('json.depth');
    // A lone surrogate escape is valid JSON (ADT takes it): a string that holds no JSON, dropped.
    expect(ok(parse(Buffer.from('"\\ud800"'))).dropped[0]?.code).toBe('payload.shape');
  });

  it('marks readings "once" when the transport vouches for the time (Message-Id + Telemetry-Source-Time)', () => {
    expect(ok(parse('{"t": 1}', { once: true })).readings[0]?.sourceTime).toBe(true);
    expect(ok(parse('{"t": 1}')).readings[0]?.sourceTime).toBeUndefined();
  });

  it('property: a body and the JSON string of that body read the same', () => {
    const key = fc
      .string({ minLength: 1, maxLength: 8 })
      .filter((k) => !k.startsWith('$') && !['__proto__', 'constructor', 'prototype'].includes(k));
    const value = fc.oneof(
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.string({ maxLength: 20 }),
    );
    fc.assert(
      fc.property(fc.dictionary(key, value, { minKeys: 1, maxKeys: 6 }), (obj) => {
        const direct = ok(parse(JSON.stringify(obj)));
        const wrapped = ok(parse(JSON.stringify(JSON.stringify(obj))));
        expect(wrapped.readings).toEqual(direct.readings);
        expect(wrapped.dropped).toEqual(direct.dropped);
      }),
      { numRuns: 200 },
    );
  });
});
